package core

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestUsageEventOfACacheHit(t *testing.T) {
	u := Usage{InputTokens: 12, OutputTokens: 7, TotalTokens: 19, CachedInputTokens: 2}
	tests := []struct {
		name      string
		hit       bool
		wantSaved bool
	}{
		{"a call is billed its usage", false, false},
		{"a hit is billed nothing and records what it saved", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := NewUsageEvent(&Outcome{Request: &Request{ID: "x", CacheHit: tt.hit}, Usage: u, Status: StatusOK})
			if tt.wantSaved {
				if ev.Saved == nil || *ev.Saved != u || ev.InputTokens != 0 || ev.OutputTokens != 0 || ev.TotalTokens != 0 || ev.CachedInputTokens != 0 {
					t.Errorf("hit event = %+v, saved %+v", ev, ev.Saved)
				}
				return
			}
			if ev.Saved != nil || ev.TotalTokens != 19 || ev.CachedInputTokens != 2 {
				t.Errorf("event = %+v", ev)
			}
		})
	}
}

// TestUsageEventWithoutMetadata: a call with no tags records metadata as
// {} (never null), without a map of its own.
func TestUsageEventWithoutMetadata(t *testing.T) {
	ev := NewUsageEvent(&Outcome{Request: &Request{ID: "x"}, Status: StatusOK})
	if got := string(ev.AppendJSON(nil)); !strings.Contains(got, `"metadata":{}`) {
		t.Fatalf("event JSON %s: want \"metadata\":{}", got)
	}
}

// TestRecycledEventStartsClean: an event built after another was recycled
// carries nothing of the first, whichever object the pool hands back.
func TestRecycledEventStartsClean(t *testing.T) {
	full := &Outcome{
		Request: &Request{ID: "full", Customer: "acme", Model: "m", Stream: true, CacheHit: true, Retries: 2,
			Metadata: map[string]string{"team": "ml"}},
		Usage:            Usage{InputTokens: 10, OutputTokens: 5, TotalTokens: 15},
		Err:              &Error{Kind: KindDenied, Code: "denied", Message: "no", Reasons: []string{"pii"}},
		Status:           StatusDenied,
		HTTPStatus:       403,
		TimeToFirstToken: time.Millisecond,
	}
	plain := &Outcome{Request: &Request{ID: "plain"}, Status: StatusOK, HTTPStatus: 200}
	want := *NewUsageEvent(plain)
	for range 100 {
		ev := NewUsageEvent(full)
		if ev.Saved == nil || ev.TimeToFirstToken == nil || len(ev.Reasons) != 1 || ev.Error == "" {
			t.Fatalf("the full outcome's event lacks fields: %+v", ev)
		}
		RecycleUsageEvent(ev)
		got := NewUsageEvent(plain)
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("event after a recycled one:\n got %+v\nwant %+v", *got, want)
		}
		RecycleUsageEvent(got)
	}
}

// TestUsageEventBoundsErrorAndReasons: an error quoting a megabyte of what
// the client sent, or a policy giving many long reasons, makes an event of
// at most a few kilobytes; short ones are kept as they are.
func TestUsageEventBoundsErrorAndReasons(t *testing.T) {
	reasons := make([]string, 40)
	for i := range reasons {
		reasons[i] = strings.Repeat("é", 2000)
	}
	err := &Error{Kind: KindDenied, Code: "denied", Message: "tollgate does not serve POST /" + strings.Repeat("p", 1<<20), Reasons: reasons}
	ev := NewUsageEvent(&Outcome{Request: &Request{ID: "x"}, Err: err, Status: StatusDenied})
	if len(ev.Error) > MaxEventErrorBytes+len("…") || !strings.HasSuffix(ev.Error, "…") || !strings.HasPrefix(ev.Error, "tollgate does not serve POST /ppp") {
		t.Errorf("error of %d bytes: %.60q…", len(ev.Error), ev.Error)
	}
	if len(ev.Reasons) != MaxEventReasons || ev.Reasons[MaxEventReasons-1] != "… and 25 more" {
		t.Fatalf("%d reasons, the last %.40q; want %d, the last saying 25 more", len(ev.Reasons), ev.Reasons[len(ev.Reasons)-1], MaxEventReasons)
	}
	for _, r := range ev.Reasons[:MaxEventReasons-1] {
		if len(r) > MaxEventErrorBytes+len("…") || !utf8.ValidString(r) {
			t.Fatalf("a reason of %d bytes (valid UTF-8: %v)", len(r), utf8.ValidString(r))
		}
	}
	short := NewUsageEvent(&Outcome{Request: &Request{ID: "y"}, Err: &Error{Message: "no", Reasons: []string{"a", "b"}}})
	if short.Error != "no" || len(short.Reasons) != 2 || short.Reasons[1] != "b" {
		t.Errorf("short error and reasons changed: %q %q", short.Error, short.Reasons)
	}
}
