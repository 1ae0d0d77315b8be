package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"strings"
	"time"
)

// traceWindow writes an execution trace to path during window
// ("START+LENGTH", e.g. "5s+2s"), in the background.
func traceWindow(path, window string) error {
	if window == "" {
		window = "5s+2s"
	}
	a, b, ok := strings.Cut(window, "+")
	start, err1 := time.ParseDuration(a)
	length, err2 := time.ParseDuration(b)
	if !ok || err1 != nil || err2 != nil || length <= 0 {
		return fmt.Errorf("LOADTEST_TRACE_WINDOW: want START+LENGTH such as 5s+2s, got %q", window)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	time.AfterFunc(start, func() {
		if err := trace.Start(f); err != nil {
			f.Close()
			return
		}
		time.AfterFunc(length, func() { trace.Stop(); f.Close() })
	})
	return nil
}
