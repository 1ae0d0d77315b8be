package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an [Error]. Every kind maps to the HTTP status the host
// answers with, so the host and the library report a failure the same way.
type Kind uint8

// The kinds of error.
const (
	KindInternal         Kind = iota // a bug or an unexpected failure: 500
	KindValidation                   // the request is malformed: 400
	KindTooLarge                     // the request body is over the limit: 413
	KindNotFound                     // no such endpoint: 404
	KindConfig                       // the gateway is misconfigured for this call: 500
	KindAuth                         // missing or bad credentials: 401
	KindDenied                       // refused by policy: 403
	KindRateLimit                    // over a rate limit: 429
	KindUpstream                     // the provider answered with an error: its status
	KindUnreachable                  // the provider could not be reached: 502
	KindRetriesExhausted             // every attempt failed: the last status, else 502
	KindCircuitOpen                  // the upstream's circuit breaker is open: 503
	KindTimeout                      // a deadline passed: 504
	KindClientGone                   // the client went away: 499
)

var kindNames = [...]string{"internal", "validation", "too_large", "not_found", "config", "auth",
	"denied", "rate_limit", "upstream", "unreachable", "retries_exhausted", "circuit_open", "timeout", "client_gone"}

var kindStatus = [...]int{500, 400, 413, 404, 500, 401, 403, 429, 502, 502, 502, 503, 504, 499}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Sentinels for errors.Is: errors.Is(err, core.ErrDenied) is true for any
// [*Error] of that kind.
var (
	ErrValidation       = &Error{Kind: KindValidation}
	ErrTooLarge         = &Error{Kind: KindTooLarge}
	ErrNotFound         = &Error{Kind: KindNotFound}
	ErrConfig           = &Error{Kind: KindConfig}
	ErrAuth             = &Error{Kind: KindAuth}
	ErrDenied           = &Error{Kind: KindDenied}
	ErrRateLimit        = &Error{Kind: KindRateLimit}
	ErrUpstream         = &Error{Kind: KindUpstream}
	ErrUnreachable      = &Error{Kind: KindUnreachable}
	ErrRetriesExhausted = &Error{Kind: KindRetriesExhausted}
	ErrCircuitOpen      = &Error{Kind: KindCircuitOpen}
	ErrTimeout          = &Error{Kind: KindTimeout}
	ErrClientGone       = &Error{Kind: KindClientGone}
)

// ClientGone is the error of a call whose context ended: its client went
// away or, when the context was cancelled with a cause of its own (a host
// cutting the calls in flight at shutdown), that cause; err is what the
// call was doing then, if anything.
func ClientGone(ctx context.Context, err error) *Error {
	msg := "the client went away"
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		msg = "the call was cut: " + cause.Error()
	}
	return &Error{Kind: KindClientGone, Code: "client_gone", Message: msg, Err: err}
}

// Error is the one error type of tollgate. Check for it with errors.As, or for
// a kind with errors.Is against the Err… sentinels.
type Error struct {
	Kind Kind
	// Status overrides the kind's HTTP status (an upstream error keeps the
	// provider's status).
	Status int
	// Code is a short machine-readable reason, e.g. "invalid_json".
	Code string
	// Message says what was wrong and where.
	Message string
	// Stage names the stage that produced the error, if any.
	Stage string
	// Param names the offending request field, if any.
	Param string
	// Header holds headers to answer with (Retry-After, x-ratelimit-*).
	Header http.Header
	// Body is the provider's own error body, passed to the client verbatim.
	Body []byte
	// Reasons lists policy denial reasons.
	Reasons []string
	// Err is the underlying cause.
	Err error
}

// Errorf returns an [*Error] of the kind with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = e.Kind.String()
	}
	if e.Stage != "" {
		return "stage " + e.Stage + ": " + msg
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is a sentinel of the same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == "" && t.Kind == e.Kind
}

// HTTPStatus is the status the host answers with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if int(e.Kind) < len(kindStatus) {
		return kindStatus[e.Kind]
	}
	return http.StatusInternalServerError
}

// AsError returns err as an [*Error], wrapping a foreign error as internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: "internal_error", Message: err.Error(), Err: err}
}

// statusOf maps an error to a usage-event status.
func statusOf(err error) string {
	switch AsError(err).Kind {
	case KindValidation, KindTooLarge, KindNotFound:
		return StatusInvalid
	case KindAuth:
		return StatusUnauthorized
	case KindDenied:
		return StatusDenied
	case KindRateLimit:
		return StatusRateLimited
	case KindUpstream, KindUnreachable, KindRetriesExhausted:
		return StatusUpstreamError
	case KindCircuitOpen:
		return StatusCircuitOpen
	case KindTimeout:
		return StatusTimeout
	case KindClientGone:
		return StatusClientAborted
	}
	return StatusError
}
