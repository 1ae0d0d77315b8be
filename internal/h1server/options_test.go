package h1server

import (
	"net/http"
	"testing"
)

// TestGeneralOptionsCanBeDisabled: with DisableGeneralOptionsHandler
// (copied from net/http's server by FromStandard), "OPTIONS *" reaches
// the handler, as in net/http.
func TestGeneralOptionsCanBeDisabled(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	req := &http.Request{Method: "OPTIONS", RequestURI: "*"}
	s := FromStandard(&http.Server{Handler: h, DisableGeneralOptionsHandler: true})
	if _, ok := s.handlerFor(req).(http.HandlerFunc); !ok {
		t.Errorf("DisableGeneralOptionsHandler: OPTIONS * went to %T, want the handler", s.handlerFor(req))
	}
	s = FromStandard(&http.Server{Handler: h})
	if _, ok := s.handlerFor(req).(generalOptions); !ok {
		t.Errorf("OPTIONS * went to %T, want the server's own answer", s.handlerFor(req))
	}
	if _, ok := s.handlerFor(&http.Request{Method: "OPTIONS", RequestURI: "/v1/models"}).(http.HandlerFunc); !ok {
		t.Error("OPTIONS of a path did not go to the handler")
	}
}
