package core_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

// An output guardrail refuses an answer the upstream gave: the client gets
// the refusal and the outcome still counts the tokens spent.
func TestRefusedAnswerCountsItsUsage(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp := &core.Response{Status: 200, Body: []byte("four"), Header: http.Header{"X-Request-Id": {"up-1"}}}
		return resp, &core.Error{Kind: core.KindDenied, Code: "policy_denied", Message: "no", Reasons: []string{"pii"}}
	}, rec)
	_, err := eng.Do(context.Background(), &core.Request{Path: "/op"})
	if !errors.Is(err, core.ErrDenied) {
		t.Fatalf("err = %v", err)
	}
	o := rec.all[0]
	if o.Status != core.StatusDenied || o.Usage.OutputTokens != 4 || o.UpstreamRequestID != "up-1" {
		t.Errorf("outcome = %+v", o)
	}
}

// A stage that cuts a stream short with a denial ends it cleanly: the client
// sees every event the stage let through and a complete response, and the
// outcome records status denied.
func TestDeniedStreamEndsCleanly(t *testing.T) {
	rec := &outcomes{}
	eng := newEngine(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		inner, n := events(5), 0
		return &core.Response{Status: 200, Stream: core.StreamFunc{NextFunc: func() (*core.Event, error) {
			if n++; n == 3 {
				return nil, &core.Error{Kind: core.KindDenied, Code: "policy_denied", Message: "no"}
			}
			return inner.Next()
		}}}, nil
	}, rec)
	srv := httptest.NewServer(eng.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/op", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("the stream did not end cleanly: %v", err)
	}
	if string(body) != "data: x\n\ndata: x\n\n" {
		t.Errorf("body %q", body)
	}
	if o := rec.all[0]; o.Status != core.StatusDenied || o.HTTPStatus != 200 || o.Usage.OutputTokens != 2 {
		t.Errorf("outcome = %+v", o)
	}
}
