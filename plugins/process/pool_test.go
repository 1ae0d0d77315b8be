package process_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/process"
)

// holdCalls starts n calls of the hold hook (selfplugin_test.go) on a
// plugin of the given processes, whose barrier is dir. wait returns their
// answers and errors once the test has released them.
func holdCalls(t *testing.T, processes, n int, dir string) (stage core.Stage, wait func() ([]string, []error)) {
	t.Helper()
	p, err := openSelf(t, "sdk", func(c *process.Config) {
		c.Processes = processes
		c.Config = map[string]string{"dir": dir}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage = process.NewStage(p, "self", nil)
	bodies, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := stage.Handle(context.Background(), selfRequest("hold", nil), next)
			if resp != nil {
				bodies[i] = string(resp.Body)
			}
			errs[i] = err
		})
	}
	return stage, func() ([]string, []error) { wg.Wait(); return bodies, errs }
}

// waitArrivals waits until n calls have arrived in the plugin.
func waitArrivals(t *testing.T, dir string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); countFiles(dir, "arrived-") < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			got := countFiles(dir, "arrived-")
			release(t, dir)
			t.Fatalf("only %d of %d calls were in the plugin at once", got, n)
		}
	}
}

func release(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProcessesParallel holds three calls in a plugin of three processes:
// all three are in the plugin at once, one per process.
func TestProcessesParallel(t *testing.T) {
	dir := t.TempDir()
	_, wait := holdCalls(t, 3, 3, dir)
	waitArrivals(t, dir, 3)
	release(t, dir)
	_, errs := wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestProcessesSerial holds three calls in a plugin of one process: one
// is in it, the others wait in the gateway for the process (a call whose
// context ends meanwhile fails with plugin_busy), and each ran alone.
func TestProcessesSerial(t *testing.T) {
	dir := t.TempDir()
	stage, wait := holdCalls(t, 1, 3, dir)
	waitArrivals(t, dir, 1)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := stage.Handle(ctx, selfRequest("fine", nil), next)
	want := "every process of process plugin self was busy (processes 1) until the call's deadline"
	if codeOf(err) != "plugin_busy" || !strings.Contains(err.Error(), want) {
		t.Errorf("a call while the process is held: %v\nwant plugin_busy: %s", err, want)
	}

	release(t, dir)
	bodies, errs := wait()
	for i := range bodies {
		if errs[i] != nil || bodies[i] != `{"inside":1}` {
			t.Errorf("call %d: %s, %v; want {\"inside\":1}: one call in the plugin at a time", i, bodies[i], errs[i])
		}
	}
}

// TestProcessesQueue sends 30 calls at once to one process whose hook takes
// 100 ms, with a call_timeout of 2 s: the calls queue in the gateway, whose
// wait the call_timeout does not count, so none times out and the process
// is not killed. (When they queued in the plugin, the call_timeout ran
// from the send: the calls past the first twenty timed out, and the
// healthy process was killed as hung.)
func TestProcessesQueue(t *testing.T) {
	p, err := openSelf(t, "sdk", func(c *process.Config) { c.CallTimeout = pipeline.Duration(2 * time.Second) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage := process.NewStage(p, "self", nil)
	errs := handleAtOnce(stage, 30, "sleep-100ms")
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

// TestProcessesHungCall holds a call past its call_timeout in one of two
// processes: the other serves the calls meanwhile, and after the hung one
// is killed.
func TestProcessesHungCall(t *testing.T) {
	dir := t.TempDir()
	p, err := openSelf(t, "sdk", func(c *process.Config) {
		c.Processes = 2
		c.Config = map[string]string{"dir": dir}
		c.CallTimeout = pipeline.Duration(2 * time.Second)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage := process.NewStage(p, "self", nil)
	serve := func(when string) {
		t.Helper()
		for range 4 {
			if _, err := stage.Handle(context.Background(), selfRequest("fine", nil), next); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
		}
	}
	hung := make(chan error)
	go func() {
		_, err := stage.Handle(context.Background(), selfRequest("hold", nil), next)
		hung <- err
	}()
	waitArrivals(t, dir, 1)
	serve("while a call hangs")
	if err := <-hung; codeOf(err) != "plugin_timeout" {
		t.Fatalf("the hung call: %v", err)
	}
	serve("after the hung process was killed")
}

// BenchmarkCallParallel runs calls from 8 goroutines through plugins of
// one and of four processes, whose request hook answers at once or after
// sleeping a millisecond (a hook waiting on I/O).
func BenchmarkCallParallel(b *testing.B) {
	for _, model := range []string{"fine", "sleep-1ms"} {
		for _, n := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("hook=%s/processes=%d", model, n), func(b *testing.B) {
				p, err := openSelf(b, "sdk", func(c *process.Config) { c.Processes = n }, nil)
				if err != nil {
					b.Fatal(err)
				}
				stage := process.NewStage(p, "self", nil)
				b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
				b.ReportAllocs()
				report := process.StartCPU(p)
				b.RunParallel(func(pb *testing.PB) {
					req := selfRequest(model, nil)
					for pb.Next() {
						if _, err := stage.Handle(context.Background(), req, next); err != nil {
							b.Error(err)
							return
						}
					}
				})
				report(b)
			})
		}
	}
}

// handleAtOnce makes n calls of the self plugin's hook through stage at
// once and returns their errors.
func handleAtOnce(stage core.Stage, n int, hook string) []error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		wg.Go(func() { _, errs[i] = stage.Handle(context.Background(), selfRequest(hook, nil), next) })
	}
	wg.Wait()
	return errs
}
