package builtin

import "github.com/tollgate-dev/tollgate/pipeline"

func init() {
	pipeline.RegisterBuiltin("validate", newValidate)
	pipeline.RegisterBuiltin("call", newCall)
	pipeline.RegisterBuiltin("track", newTrack)
}
