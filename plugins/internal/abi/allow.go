package abi

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// Grants are the capabilities a plugin's config grants it beyond log and
// config: the destinations it may deliver to and the sinks it may emit to.
type Grants struct {
	DeliverTo []string
	EmitTo    []string
}

// CheckGrants reports config mistakes in the allow-lists: a destination
// must be an absolute http(s) URL.
func CheckGrants(g Grants) error {
	for i, d := range g.DeliverTo {
		u, err := url.Parse(d)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("deliver_to[%d]: %q is not an http(s) URL", i, d)
		}
	}
	for i, s := range g.EmitTo {
		if s == "" || strings.ContainsAny(s, " /:") {
			return fmt.Errorf("emit_to[%d]: %q is not a sink name", i, s)
		}
	}
	return nil
}

// MayDeliver reports whether dest is on the allow-list: equal to an entry,
// or under an entry that ends in "/".
func (g Grants) MayDeliver(dest string) bool {
	for _, d := range g.DeliverTo {
		if dest == d || (strings.HasSuffix(d, "/") && strings.HasPrefix(dest, d)) {
			return true
		}
	}
	return false
}

// MayEmit reports whether sink is on the allow-list.
func (g Grants) MayEmit(sink string) bool { return slices.Contains(g.EmitTo, sink) }

// SinkDest is the Deliverer destination of a named sink.
func SinkDest(sink string) string { return "sink:" + sink }

// Deliver checks a delivery against the grants and hands it to d; it
// returns a host function code.
func Deliver(ctx context.Context, d core.Deliverer, g Grants, dest string, payload []byte) (int32, error) {
	if len(payload) > MaxPayload {
		return ErrTooLarge, fmt.Errorf("payload of %d bytes is over the limit of %d", len(payload), MaxPayload)
	}
	if !g.MayDeliver(dest) {
		return ErrDenied, fmt.Errorf("destination %q is not on the plugin's deliver_to allow-list", dest)
	}
	if err := d.Deliver(ctx, dest, payload); err != nil {
		return ErrFailed, err
	}
	return OK, nil
}

// Emit checks an emitted event against the grants and hands it to d.
func Emit(ctx context.Context, d core.Deliverer, g Grants, sink string, payload []byte) (int32, error) {
	if len(payload) > MaxPayload {
		return ErrTooLarge, fmt.Errorf("event of %d bytes is over the limit of %d", len(payload), MaxPayload)
	}
	if !g.MayEmit(sink) {
		return ErrDenied, fmt.Errorf("sink %q is not on the plugin's emit_to allow-list", sink)
	}
	if err := d.Deliver(ctx, SinkDest(sink), payload); err != nil {
		return ErrFailed, err
	}
	return OK, nil
}
