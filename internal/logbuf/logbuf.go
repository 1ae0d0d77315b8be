// Package logbuf is a buffer that many goroutines may write to: tests
// point a logger at one and read what it wrote.
package logbuf

import (
	"strings"
	"sync"
)

// Buffer collects writes; its zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
