package h1server

import (
	"net/http"
	"sync/atomic"
	"time"
)

// date is the Date header's value, formatted once a second rather than
// per response (net/http formats it every time).
type date struct {
	unix int64
	text [len(http.TimeFormat)]byte
}

var lastDate atomic.Pointer[date]

// appendDate appends the current time in http.TimeFormat.
func appendDate(b []byte) []byte {
	now := time.Now()
	if d := lastDate.Load(); d != nil && d.unix == now.Unix() {
		return append(b, d.text[:]...)
	}
	d := &date{unix: now.Unix()}
	now.UTC().AppendFormat(d.text[:0], http.TimeFormat)
	lastDate.Store(d)
	return append(b, d.text[:]...)
}
