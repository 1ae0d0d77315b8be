//go:build unix

package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// heapProfileOnSignal writes a heap profile to path.N at the Nth SIGUSR1.
func heapProfileOnSignal(path string) {
	// SIGUSR1 writes a heap profile now (to look inside a load), with
	// the signal count in its name.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for n := 1; ; n++ {
			<-usr1
			if f, err := os.Create(fmt.Sprintf("%s.%d", path, n)); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if f, err := os.Create(fmt.Sprintf("%s.%d.txt", path, n)); err == nil {
				fmt.Fprintf(f, "heap in use %d KiB, heap idle %d KiB (released %d KiB), stacks %d KiB, goroutines %d, other runtime %d KiB, total from the OS %d KiB\n",
					m.HeapInuse>>10, m.HeapIdle>>10, m.HeapReleased>>10, m.StackInuse>>10, runtime.NumGoroutine(),
					(m.MSpanSys+m.MCacheSys+m.BuckHashSys+m.GCSys+m.OtherSys)>>10, m.Sys>>10)
				f.Close()
			}
		}
	}()
}
