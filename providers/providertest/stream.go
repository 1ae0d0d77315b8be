package providertest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// sseData frames payload as one server-sent event of data.
func sseData(payload []byte) []byte {
	b := make([]byte, 0, len(payload)+8)
	b = append(b, "data: "...)
	b = append(b, payload...)
	return append(b, "\n\n"...)
}

// stream answers 200 with text/event-stream and writes frames one at a time,
// each flushed, then end. It waits the chunk delay before each frame after the
// first, and plays the call's cut fault. It stops, recording the request as
// cancelled, when it notices that the client has gone.
func (c *call) stream(w http.ResponseWriter, r *http.Request, frames [][]byte, end []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	ctx := r.Context()
	rc := http.NewResponseController(w)
	delay := c.p.cfg.chunkDelay
	if c.fault.ChunkDelay > 0 {
		delay = c.fault.ChunkDelay
	}
	cut := c.fault.CutAfter
	for i, frame := range frames {
		if cut > 0 && i == cut {
			abort(w)
		}
		if i > 0 && delay > 0 && !c.wait(ctx, delay) {
			return
		}
		_, err := w.Write(frame)
		if err == nil {
			err = rc.Flush()
		}
		if ctx.Err() != nil {
			c.cancelled()
			return
		}
		if err != nil {
			return
		}
	}
	if cut > 0 {
		abort(w)
	}
	if _, err := w.Write(end); err == nil {
		_ = rc.Flush()
	}
}

// writeCut sends the headers and the first half of body, then aborts, so the
// client reads a truncated body.
func writeCut(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body[:len(body)/2])
	abort(w)
}

// sseEvent frames payload as one server-sent event with a name.
func sseEvent(name string, payload []byte) []byte {
	b := make([]byte, 0, len(name)+len(payload)+16)
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, payload...)
	return append(b, "\n\n"...)
}

// writeJSON answers 200 with v as JSON, malformed or cut if the call's fault
// says so; fail answers if v cannot be encoded.
func writeJSON(w http.ResponseWriter, c *call, fail func(http.ResponseWriter, int, string), v any) {
	body, err := json.Marshal(v)
	if err != nil {
		fail(w, http.StatusInternalServerError, "providertest: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if c.fault.Malformed {
		body = body[:len(body)/2]
	}
	if c.fault.CutAfter > 0 {
		writeCut(w, http.StatusOK, body)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
