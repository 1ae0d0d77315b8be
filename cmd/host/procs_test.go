package main

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/datasync"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// TestServeFollowsTheLoadWithItsProcessors: with server.procs_follow_load
// (the default) an idle gateway drops to one Go processor, goes back to
// all of them while calls overlap, and drops again when they stop; a
// GOMAXPROCS in the environment is left alone. Read from the runtime's own
// gauge on /metrics.
func TestServeFollowsTheLoadWithItsProcessors(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU here: there is nothing to follow")
	}
	up := providertest.NewServer(t)
	t.Run("default", func(t *testing.T) {
		if _, why := datasync.Mode(); why != nil {
			t.Skipf("io_uring is refused here (%v): the gateway would not follow; the next subtest covers that", why)
		}
		h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey)
		defer h.stop(t)
		log := h.stderr.String()
		i := strings.Index(log, `"procs":"1-`)
		if i < 0 {
			t.Fatalf("the serving line does not say the processors follow the load:\n%s", log)
		}
		all, err := strconv.Atoi(strings.SplitN(log[i+len(`"procs":"1-`):], ",", 2)[0])
		if err != nil || all < 2 {
			t.Fatalf("the serving line's procs: %v\n%s", err, log)
		}
		waitProcs(t, h, 1, "idle")

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if code, _, body := h.post(t, chat); code != http.StatusOK {
						t.Errorf("call under load: %d %s", code, body)
						return
					}
				}
			})
		}
		waitProcs(t, h, all, "eight clients at once")
		close(stop)
		wg.Wait()
		waitProcs(t, h, 1, "idle again")
	})
	// As in a container under Docker's default seccomp profile: the usage
	// file's syncs are system calls, and one processor would wait for each.
	t.Run("fsyncs are system calls", func(t *testing.T) {
		h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey, refuseIOURing)
		log := h.stderr.String()
		for _, want := range []string{`"fsync":"system call (`, `not following the load: fsyncs are system calls`} {
			if !strings.Contains(log, want) {
				t.Fatalf("under a filter refusing io_uring the serving line lacks %q:\n%s", want, log)
			}
		}
		all := gomaxprocs(t, h)
		if all < 2 {
			t.Fatalf("GOMAXPROCS %d at start, want the default (this machine has %d CPUs)", all, runtime.NumCPU())
		}
		if code, _, body := h.post(t, chat); code != http.StatusOK {
			t.Fatalf("a call: %d %s", code, body)
		}
		staysAt(t, h, all, "one processor would hold each sync")
		h.stop(t)
		if evs := h.events(t); len(evs) != 1 {
			t.Fatalf("%d usage events synced through the system call, want 1", len(evs))
		}
	})
	// A ring the kernel sets up but will not run: the gateway finds out at
	// start-up (a no-op through it) and says so, rather than following the
	// load on a ring that is not there.
	t.Run("io_uring_enter refused", func(t *testing.T) {
		h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey, refuseIOURingEnter)
		log := h.stderr.String()
		for _, want := range []string{`"fsync":"system call (io_uring_enter: operation not permitted)"`, `not following the load: fsyncs are system calls`} {
			if !strings.Contains(log, want) {
				t.Fatalf("under a filter refusing io_uring_enter the serving line lacks %q:\n%s", want, log)
			}
		}
		if code, _, body := h.post(t, chat); code != http.StatusOK {
			t.Fatalf("a call: %d %s", code, body)
		}
		h.stop(t)
		if evs := h.events(t); len(evs) != 1 {
			t.Fatalf("%d usage events synced through the system call, want 1", len(evs))
		}
	})
	t.Run("GOMAXPROCS in the environment", func(t *testing.T) {
		h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey, "GOMAXPROCS=2")
		defer h.stop(t)
		if !strings.Contains(h.stderr.String(), `"procs":"2 (GOMAXPROCS in the environment)"`) {
			t.Fatalf("the serving line does not say GOMAXPROCS is the operator's:\n%s", h.stderr)
		}
		staysAt(t, h, 2, "the environment's")
	})
}

// staysAt checks that the gateway's GOMAXPROCS is still want after two
// quiet periods, in which a follower would have lowered it.
func staysAt(t *testing.T, h *host, want int, why string) {
	t.Helper()
	time.Sleep(2*procsPeriod + 500*time.Millisecond)
	if n := gomaxprocs(t, h); n != want {
		t.Fatalf("GOMAXPROCS %d after two quiet periods, want %d (%s)", n, want, why)
	}
}

// waitProcs waits until the gateway's GOMAXPROCS is want; a gateway that
// never gets there fails the test after 15 s.
func waitProcs(t *testing.T, h *host, want int, when string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		n := gomaxprocs(t, h)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: GOMAXPROCS is %d, want %d", when, n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gomaxprocs reads the runtime's gauge from the admin listener's /metrics.
func gomaxprocs(t *testing.T, h *host) int {
	t.Helper()
	for line := range strings.Lines(scrape(t, h.admin)) {
		if v, ok := strings.CutPrefix(line, "go_sched_gomaxprocs_threads "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("go_sched_gomaxprocs_threads %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no go_sched_gomaxprocs_threads on /metrics")
	return 0
}
