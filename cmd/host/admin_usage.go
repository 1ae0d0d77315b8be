package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/tracking"
)

// usageRoutes serves the usage ledger, the outbox's state and its dead
// letters on the admin listener. The admin listener is unauthenticated:
// keep it on loopback or a private network (replay and purge change state).
// A sink filter must name a sink db holds events for, or one of
// configured: the config's sinks, which a gateway has registered in db
// but a stopped one has not.
func usageRoutes(mux *http.ServeMux, db *tracking.DB, configured []string) {
	mux.HandleFunc("GET /admin/usage", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if !knownParams(w, r.URL.Path, v, "customer", "from", "to", "group_by") {
			return
		}
		q, err := usageQuery(v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		rep, err := db.Usage(r.Context(), q)
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, tracking.ErrBadQuery) {
				status = http.StatusBadRequest
			}
			writeJSON(w, status, map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("GET /admin/usage/outbox", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stats": db.Stats(), "health": db.Health().Detail})
	})
	mux.HandleFunc("GET /admin/usage/dead-letters", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if !knownParams(w, r.URL.Path, v, "sink", "id", "limit") || !knownSink(w, v, db, configured) {
			return
		}
		limit := 0
		if s := v.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("limit: want a count of 0 or more (0: all), got %q", s)})
				return
			}
			limit = n
		}
		dls, err := db.DeadLetters(selector(v), limit)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
			return
		}
		if dls == nil {
			dls = []tracking.DeadLetter{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"dead_letters": dls})
	})
	mux.HandleFunc("POST /admin/usage/dead-letters/replay", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if !knownParams(w, r.URL.Path, v, "sink", "id") || !knownSink(w, v, db, configured) {
			return
		}
		n, err := db.Replay(selector(v))
		if err != nil {
			writeJSON(w, deadLetterStatus(err), map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"replayed": n})
	})
	mux.HandleFunc("POST /admin/usage/dead-letters/purge", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		if !knownParams(w, r.URL.Path, v, "sink", "id") || !knownSink(w, v, db, configured) {
			return
		}
		n, err := db.Purge(selector(v))
		if err != nil {
			writeJSON(w, deadLetterStatus(err), map[string]any{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"purged": n})
	})
}

// deadLetterStatus is the answer's status for a replay's or purge's err:
// an id that is no dead letter is 404.
func deadLetterStatus(err error) int {
	if errors.Is(err, tracking.ErrNoDeadLetter) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// knownParams answers 400 and returns false when the query has a parameter
// the route does not take, an empty one, or a second value of one that
// takes one (all but repeatable). A filter that went wrong must not widen
// what a call reads, or deletes: purge?snk=tracker or purge?sink= would
// otherwise purge every sink's dead letters, and sink=a&sink=b one sink's.
func knownParams(w http.ResponseWriter, route string, v url.Values, known ...string) bool {
	for _, name := range slices.Sorted(maps.Keys(v)) {
		var msg string
		switch vals := v[name]; {
		case !slices.Contains(known, name):
			msg = fmt.Sprintf("unknown parameter %q: %s takes %s", name, route, strings.Join(known, ", "))
		case slices.Contains(vals, ""):
			msg = fmt.Sprintf("parameter %q is empty: to not filter by it, leave it out", name)
		case len(vals) > 1 && !slices.Contains(repeatable, name):
			msg = fmt.Sprintf("parameter %q is given %d times (%s): it takes one value", name, len(vals), strings.Join(vals, ", "))
		default:
			continue
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": msg})
		return false
	}
	return true
}

// knownSink answers 400 and returns false when the query's sink names no
// sink: a typo must not list, replay or purge nothing and answer 0. The
// answer names the sinks there are, in "sinks" too, for the command to
// say them its own way.
func knownSink(w http.ResponseWriter, v url.Values, db *tracking.DB, configured []string) bool {
	sink := v.Get("sink")
	if sink == "" {
		return true
	}
	stored, err := db.SinkNames()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return false
	}
	if u := checkSink(sink, stored, configured); u != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": u.says("sink"), "unknown_sink": u.value, "sinks": u.sinks})
		return false
	}
	return true
}

// repeatable are the parameters that take a list, one item per value.
var repeatable = []string{"id", "group_by"}

// usageQuery reads customer, from, to and group_by.
func usageQuery(v url.Values) (tracking.Query, error) {
	q := tracking.Query{Customer: v.Get("customer")}
	var err error
	if q.From, err = parseDay(v.Get("from")); err != nil {
		return q, fmt.Errorf("from: %w", err)
	}
	if q.To, err = parseDay(v.Get("to")); err != nil {
		return q, fmt.Errorf("to: %w", err)
	}
	for _, g := range v["group_by"] {
		for _, d := range strings.Split(g, ",") {
			if d = strings.TrimSpace(d); d != "" {
				q.GroupBy = append(q.GroupBy, d)
			}
		}
	}
	return q, nil
}

// parseDay reads YYYY-MM-DD or an RFC 3339 time; empty is the zero time.
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a day like 2026-03-01, got %q", s)
}

func selector(v url.Values) tracking.Selector {
	return tracking.Selector{Sink: v.Get("sink"), IDs: v["id"]}
}
