package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// mock runs the fake provider, so the gateway can be tried without an API
// key: point a provider's base_url at it.
func mock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("mock", pflag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:9090", "`host:port` to listen on")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if code, ok := noArgs(fs, stderr); !ok {
		return code
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate mock: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: providertest.NewHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "tollgate mock: a fake provider speaking OpenAI (/v1), Anthropic (/v1/messages) and Gemini (/v1beta) on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "  try: TOLLGATE_PROVIDERS__OPENAI__BASE_URL=http://%s/v1 OPENAI_API_KEY=sk-mock tollgate serve\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "tollgate mock: %v\n", err)
		return 1
	}
	return 0
}
