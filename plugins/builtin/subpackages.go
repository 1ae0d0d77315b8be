package builtin

// The built-ins that live in their own packages, registered when builtin is
// imported: retry, breaker and fallback (resilience), ratelimit and cache.
import (
	_ "github.com/tollgate-dev/tollgate/plugins/builtin/cache"
	_ "github.com/tollgate-dev/tollgate/plugins/builtin/ratelimit"
	_ "github.com/tollgate-dev/tollgate/plugins/builtin/resilience"
)
