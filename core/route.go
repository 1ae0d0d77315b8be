package core

import (
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
)

// HeaderMatcher is an optional interface of a [Format] whose calls share
// paths with another format's and are told apart by their headers: Anthropic
// and OpenAI both serve GET /v1/models, and Anthropic's clients always send
// anthropic-version. When the engine has the client's headers it calls
// MatchHeader instead of Match; h is the header as the client sent it.
type HeaderMatcher interface {
	MatchHeader(method, path string, h http.Header) (operation string, ok bool)
}

// route is where a call goes: its format, operation and upstream, and the
// path with any route prefix taken off.
type route struct {
	format   Format
	op       string
	upstream *Upstream // nil: chosen later by header, model or default
	path     string
}

// unknownEndpoint is the 404 of a path no format serves; it quotes a
// bounded part of what the client sent.
func unknownEndpoint(method, path string) *Error {
	return Errorf(KindNotFound, "unknown_endpoint", "tollgate does not serve %s %s", clip(method, 32), clip(path, 256))
}

// checkPath refuses a path with an empty, "." or ".." segment (decoded:
// %2e%2e and %2F count), which is to say a "//", a trailing "/" or dots.
// The path is forwarded as it is, and an upstream that resolves the dots
// or merges the slashes (nginx does by default) would answer a different
// endpoint than the one the gateway routed, metered and checked its
// policies for: a pass-through /v1/chat/completions/ or
// /v1beta/files/../models/m:generateContent would be an unmetered call.
func checkPath(p string) error {
	if !strings.Contains(p, "/.") && !strings.Contains(p, "//") && (len(p) <= 1 || p[len(p)-1] != '/') {
		return nil
	}
	for i, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || (seg == "" && i > 0) {
			return Errorf(KindValidation, "invalid_path", "the path %s has %s; tollgate forwards only paths without empty, . and .. segments",
				clip(p, 256), segmentName(seg))
		}
	}
	return nil
}

// checkMethod refuses a standard method spelt in another case. Methods
// are case-sensitive, so "post" matches none of the gateway's metered
// routes and would be passed through, unmetered, to an upstream that may
// take it for POST.
func checkMethod(m string) error {
	switch m {
	case http.MethodPost, http.MethodGet, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return nil // the usual ones, spelt right: no loop
	}
	for _, std := range standardMethods {
		if m != std && strings.EqualFold(m, std) {
			return Errorf(KindValidation, "invalid_method", "the method %q is %s in another case; HTTP methods are case-sensitive: send %s", m, std, std)
		}
	}
	return nil
}

var standardMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace}

func segmentName(seg string) string {
	if seg == "" {
		return "an empty segment (a // or a trailing /)"
	}
	return fmt.Sprintf("a %q segment", seg)
}

// route finds the format, operation and, for a route prefix, the upstream of
// a call. A path whose first segment names a configured upstream
// (/azure-eu/v1/chat/completions) goes to that upstream and is matched, without
// the prefix, against that upstream's format only.
func (e *Engine) route(method, p string, h http.Header) (route, bool) {
	if name, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/"); ok {
		if u, ok := e.byName[name]; ok {
			rest = "/" + rest
			for _, f := range e.formats {
				if f.Name() != u.Format {
					continue
				}
				if op, ok := matchFormat(f, method, rest, h); ok {
					return route{format: f, op: op, upstream: u, path: rest}, true
				}
			}
		}
	}
	f, op, ok := e.match(method, p, h)
	return route{format: f, op: op, path: p}, ok
}

// match finds the wire format and operation for a method and path; h, if
// not nil, is the client's header.
func (e *Engine) match(method, path string, h http.Header) (Format, string, bool) {
	for _, f := range e.formats {
		if op, ok := matchFormat(f, method, path, h); ok {
			return f, op, true
		}
	}
	return nil, "", false
}

func matchFormat(f Format, method, path string, h http.Header) (string, bool) {
	if hm, ok := f.(HeaderMatcher); ok && h != nil {
		return hm.MatchHeader(method, path, h)
	}
	return f.Match(method, path)
}

// pickUpstream chooses the upstream of a parsed request that has none yet:
// the one the upstream header names, else the first of its format whose
// model patterns match the model, else the format's default.
func (e *Engine) pickUpstream(req *Request, named string) error {
	format := req.Format.Name()
	if named != "" {
		u, ok := e.byName[named]
		if !ok {
			return Errorf(KindNotFound, "unknown_upstream", "the %s header names upstream %q, which is not configured; configured upstreams: %s",
				e.upstreamHeader, clip(named, 256), e.upstreamList(""))
		}
		if u.Format != format {
			return Errorf(KindValidation, "upstream_format_mismatch", "upstream %q speaks %s, but this is a %s call (%s %s); %s upstreams: %s",
				named, u.Format, format, req.Method, req.Path, format, e.upstreamList(format))
		}
		req.Upstream = u
		return nil
	}
	if req.Model != "" {
		for _, u := range e.upstreams {
			if u.Format == format && u.Serves(req.Model) {
				req.Upstream = u
				return nil
			}
		}
	}
	if u, ok := e.defaults[format]; ok {
		req.Upstream = u
		return nil
	}
	if list := e.upstreamList(format); list != "" {
		return &Error{Kind: KindNotFound, Code: "model_not_found", Param: "model",
			Message: "no configured upstream serves model " + quoteOr(req.Model, "(none given)") + "; " + format + " upstreams: " + list}
	}
	return Errorf(KindConfig, "no_upstream", "no upstream is configured for provider %q: add one under providers in the config", format)
}

// upstreamList names the configured upstreams of a format ("" for all), with
// their model patterns, for error messages.
func (e *Engine) upstreamList(format string) string {
	var names []string
	for _, u := range e.upstreams {
		if format != "" && u.Format != format {
			continue
		}
		s := u.Name
		if len(u.Models) > 0 {
			s += " (models " + strings.Join(u.Models, ", ") + ")"
		} else if format == "" {
			s += " (" + u.Format + ")"
		}
		names = append(names, s)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Serves reports whether one of the upstream's model patterns (path.Match
// syntax, e.g. "llama-*") matches model.
func (u *Upstream) Serves(model string) bool {
	for _, m := range u.Models {
		if ok, _ := path.Match(m, model); ok {
			return true
		}
	}
	return false
}

func quoteOr(s, empty string) string {
	if s == "" {
		return empty
	}
	return `"` + s + `"`
}
