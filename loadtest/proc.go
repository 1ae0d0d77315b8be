package loadtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// ProcStat is what /proc says about a process at one moment.
type ProcStat struct {
	RSSKB  int64         // VmRSS: resident memory now
	AnonKB int64         // RssAnon: the part of VmRSS that is the process's own memory
	HWMKB  int64         // VmHWM: peak resident memory so far
	CPU    time.Duration // user + system CPU time so far, all threads
}

// ReadProc reads VmRSS and VmHWM from /proc/PID/status and the CPU time
// from /proc/PID/stat.
func ReadProc(pid int) (ProcStat, error) {
	var s ProcStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			s.RSSKB = kb(line)
		case strings.HasPrefix(line, "RssAnon:"):
			s.AnonKB = kb(line)
		case strings.HasPrefix(line, "VmHWM:"):
			s.HWMKB = kb(line)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	cpu, err := parseStatCPU(string(stat))
	s.CPU = cpu
	return s, err
}

// kb reads "VmRSS:	   12345 kB".
func kb(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n
}

// parseStatCPU returns utime + stime from a /proc/PID/stat line. The
// command name may hold spaces, so fields are counted after its ")".
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadtest: unexpected /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// After ")": state is field 3 of the full line, utime 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("loadtest: short /proc stat line %q", stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadtest: bad cpu fields in /proc stat line %q", stat)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// LoadAvg returns the 1, 5 and 15 minute load averages.
func LoadAvg() [3]float64 {
	var la [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return la
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		la[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return la
}

// rssSampler polls a process's VmRSS and keeps the largest value seen.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  int64 // largest VmRSS
	anon int64 // largest RssAnon
}

// sampleRSS polls pid every interval until stop is called.
func sampleRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if ps, err := ReadProc(pid); err == nil {
				s.mu.Lock()
				s.max = max(s.max, ps.RSSKB)
				s.anon = max(s.anon, ps.AnonKB)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends the polling and returns the largest VmRSS and RssAnon seen,
// in kB.
func (s *rssSampler) Stop() (rss, anon int64) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.anon
}
