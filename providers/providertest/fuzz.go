package providertest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

// ExerciseFormat feeds body to every part of format that reads what a
// client or a provider sent, for each endpoint it matches: the request
// parser and validator, the usage reader of a whole answer, the prompt's
// estimate, the stream observer over the SSE decoder, and the error
// renderer. Endpoints are
// "METHOD /path". A provider's fuzz target calls it with the fuzzer's
// bytes: none of them may panic.
func ExerciseFormat(t *testing.T, format core.Format, endpoints []string, body []byte) {
	for _, ep := range endpoints {
		method, path, _ := strings.Cut(ep, " ")
		op, ok := match(format, method, path)
		if !ok {
			continue
		}
		req := &core.Request{Method: method, Path: path, Operation: op, Format: format,
			Body: bytes.Clone(body), Header: http.Header{}}
		format.Parse(req)
		format.Validate(req)
		format.Usage(req, body)
		if af, ok := format.(core.AnswerFailer); ok {
			af.AnswerFailure(req, body)
		}
		if pe, ok := format.(core.PromptEstimator); ok {
			if n := pe.PromptTokens(req); n < 0 {
				t.Fatalf("a prompt estimated at %d tokens", n)
			}
		}
		obs := format.ObserveStream(req)
		s := sse.NewReader(bytes.NewReader(body))
		var u core.Usage
		for {
			ev, err := s.Next()
			if err != nil {
				if err != io.EOF && ev != nil {
					t.Fatalf("an event with an error: %v", err)
				}
				break
			}
			if obs != nil {
				obs.Observe(ev, &u)
			}
		}
		if obs != nil {
			obs.Finished()
		}
		if f, ok := obs.(core.StreamFailer); ok {
			f.Failure()
		}
		format.ErrorBody(&core.Error{Kind: core.KindValidation, Message: string(body)})
	}
}

// match finds an endpoint's operation as the engine would without the
// client's headers to tell formats apart.
func match(format core.Format, method, path string) (string, bool) {
	if hm, ok := format.(core.HeaderMatcher); ok {
		if op, ok := hm.MatchHeader(method, path, http.Header{}); ok {
			return op, true
		}
	}
	return format.Match(method, path)
}
