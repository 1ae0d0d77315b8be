package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// Redacted replaces a credential in log output.
const Redacted = "[REDACTED]"

// minSecretLen is the length below which a secret passed to NewRedactor is
// ignored: replacing a short string everywhere would mangle the logs.
const minSecretLen = 8

// NewRedactor wraps h so that credentials never reach it:
//
//   - an attribute whose key, in any case, is authorization,
//     proxy-authorization, x-api-key, x-goog-api-key, api_key, api-key,
//     apikey, key, token, secret, password, cookie or set-cookie, or ends in
//     _key or _token, has its value replaced by [Redacted], at any depth of
//     groups (a group with such a key is replaced whole, and so is
//     everything logged under a logger's WithGroup of such a name);
//   - an http.Header value has the values of those header names replaced;
//   - each of secrets, wherever it appears in the message, a string value,
//     a header value, an error's text or the printed form of any other
//     value, is replaced by [Redacted]. Secrets shorter than 8 bytes are
//     ignored.
//
// A record with nothing to redact is passed on as it is, without copying.
// The handler is safe for concurrent use if h is.
func NewRedactor(h slog.Handler, secrets ...string) slog.Handler {
	var keep []string
	for _, s := range secrets {
		if len(s) >= minSecretLen && !slices.Contains(keep, s) {
			keep = append(keep, s)
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(keep, func(a, b string) int { return len(b) - len(a) })
	r := &redactor{next: h, secrets: keep}
	if len(keep) > 0 {
		pairs := make([]string, 0, 2*len(keep))
		for _, s := range keep {
			pairs = append(pairs, s, Redacted)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r
}

// redactor is the handler NewRedactor returns.
type redactor struct {
	next     slog.Handler
	secrets  []string
	replacer *strings.Replacer // nil when there are no secrets
	all      bool              // under a WithGroup with a sensitive name
}

// Enabled reports whether the wrapped handler handles level.
func (r *redactor) Enabled(ctx context.Context, level slog.Level) bool {
	return r.next.Enabled(ctx, level)
}

// Handle redacts rec and passes it on.
func (r *redactor) Handle(ctx context.Context, rec slog.Record) error {
	msg, changed := r.scrub(rec.Message)
	if !changed {
		rec.Attrs(func(a slog.Attr) bool {
			_, changed = r.attr(a)
			return !changed
		})
	}
	if !changed {
		return r.next.Handle(ctx, rec)
	}
	out := slog.NewRecord(rec.Time, rec.Level, msg, rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		a, _ = r.attr(a)
		out.AddAttrs(a)
		return true
	})
	return r.next.Handle(ctx, out)
}

// WithAttrs redacts attrs and passes them on.
func (r *redactor) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i], _ = r.attr(a)
	}
	c := *r
	c.next = r.next.WithAttrs(out)
	return &c
}

// WithGroup passes the group on; under a group with a sensitive name every
// attribute is redacted.
func (r *redactor) WithGroup(name string) slog.Handler {
	c := *r
	c.next = r.next.WithGroup(name)
	c.all = r.all || sensitiveKey(name)
	return &c
}

// attr returns a redacted a, and whether anything changed.
func (r *redactor) attr(a slog.Attr) (slog.Attr, bool) {
	if r.all || sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted), true
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s, ok := r.scrub(a.Value.String()); ok {
			return slog.String(a.Key, s), true
		}
	case slog.KindGroup:
		return r.group(a)
	case slog.KindLogValuer:
		// Keep the original when nothing changes: a LogValuer may carry
		// more than its value, like tint's colour.
		if na, ok := r.attr(slog.Attr{Key: a.Key, Value: a.Value.Resolve()}); ok {
			return na, true
		}
	case slog.KindAny:
		return r.any(a)
	}
	return a, false
}

// group redacts the attributes of a group attribute.
func (r *redactor) group(a slog.Attr) (slog.Attr, bool) {
	attrs := a.Value.Group()
	var out []slog.Attr // nil until something changes
	for i, ga := range attrs {
		na, changed := r.attr(ga)
		if changed && out == nil {
			out = slices.Clone(attrs)
		}
		if out != nil {
			out[i] = na
		}
	}
	if out == nil {
		return a, false
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}, true
}

// any redacts an attribute of kind Any: headers field by field, anything
// else by its printed form when secrets are set.
func (r *redactor) any(a slog.Attr) (slog.Attr, bool) {
	switch v := a.Value.Any().(type) {
	case http.Header:
		if h, ok := r.header(v); ok {
			return slog.Any(a.Key, h), true
		}
		return a, false
	case map[string][]string:
		if h, ok := r.header(v); ok {
			return slog.Any(a.Key, map[string][]string(h)), true
		}
		return a, false
	}
	if r.replacer == nil {
		return a, false
	}
	var s string
	switch v := a.Value.Any().(type) {
	case error:
		s = v.Error()
	case []byte:
		s = string(v)
	default:
		s = fmt.Sprintf("%+v", v)
	}
	if s, ok := r.scrub(s); ok {
		return slog.String(a.Key, s), true
	}
	return a, false
}

// header returns a copy of h with sensitive headers' values redacted and
// secrets replaced in the others, or false when there is nothing to do.
func (r *redactor) header(h http.Header) (http.Header, bool) {
	need := false
	for name, vals := range h {
		if r.headerChanges(name, vals) {
			need = true
			break
		}
	}
	if !need {
		return h, false
	}
	out := make(http.Header, len(h))
	for name, vals := range h {
		if !r.headerChanges(name, vals) {
			out[name] = vals
			continue
		}
		nv := make([]string, len(vals))
		for i, v := range vals {
			if sensitiveKey(name) {
				nv[i] = Redacted
			} else {
				nv[i], _ = r.scrub(v)
			}
		}
		out[name] = nv
	}
	return out, true
}

// headerChanges reports whether redaction changes a header's values.
func (r *redactor) headerChanges(name string, vals []string) bool {
	if sensitiveKey(name) {
		return len(vals) > 0
	}
	for _, v := range vals {
		if _, ok := r.scrub(v); ok {
			return true
		}
	}
	return false
}

// scrub replaces the secrets in s, reporting whether there were any.
func (r *redactor) scrub(s string) (string, bool) {
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return r.replacer.Replace(s), true
		}
	}
	return s, false
}

// sensitiveKey reports whether an attribute key or header name names a
// credential: see NewRedactor for the list. It does not allocate for keys
// of up to 64 bytes.
func sensitiveKey(k string) bool {
	var buf [64]byte
	if len(k) > len(buf) {
		return sensitiveLower([]byte(strings.ToLower(k)))
	}
	lower := buf[:len(k)]
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return sensitiveLower(lower)
}

// sensitiveLower is sensitiveKey for a lowercase key.
func sensitiveLower(k []byte) bool {
	switch string(k) { // a switch on string(bytes) does not copy
	case "authorization", "proxy-authorization", "x-api-key", "x-goog-api-key",
		"api_key", "api-key", "apikey", "key", "token", "secret", "password",
		"cookie", "set-cookie":
		return true
	}
	return bytes.HasSuffix(k, []byte("_key")) || bytes.HasSuffix(k, []byte("_token"))
}

var _ slog.Handler = (*redactor)(nil)
