package process

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/benchcpu"
)

// cpuMeter reports the CPU time per op of the host (this process: user +
// system, GC included) and of the plugin's processes beside the wall time:
// on a shared machine the wall time of a call between two processes swings
// with the neighbours' load, the CPU it burns much less.
type cpuMeter struct {
	p            *Plugin
	host, plugin time.Duration
}

func hostCPU() time.Duration {
	t, _ := benchcpu.Used()
	return t
}

// pluginCPU sums the CPU time of p's running processes from /proc (Linux;
// clock ticks of 10 ms, so a benchmark needs a few thousand calls); ok is
// false where it cannot be read.
func pluginCPU(p *Plugin) (t time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.slots {
		if s.cur == nil {
			return 0, false
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cur.client.ReattachConfig().Pid))
		if err != nil {
			return 0, false
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		utime, err1 := strconv.Atoi(f[11])
		stime, err2 := strconv.Atoi(f[12])
		if err1 != nil || err2 != nil {
			return 0, false
		}
		t += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return t, true
}

func startCPU(p *Plugin) cpuMeter {
	t, _ := pluginCPU(p)
	return cpuMeter{p: p, host: hostCPU(), plugin: t}
}

func (m cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(hostCPU()-m.host)/float64(b.N)/1000, "host-cpu-µs/op")
	if t, ok := pluginCPU(m.p); ok {
		b.ReportMetric(float64(t-m.plugin)/float64(b.N)/1000, "plugin-cpu-µs/op")
	}
}
