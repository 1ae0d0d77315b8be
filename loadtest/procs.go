package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is a server process the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	err  error // set when done is closed
	// paused: stopped by pause, not yet continued (the harness's
	// goroutine alone pauses and resumes).
	paused bool
}

// pid returns the process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// addrSource is where startProc learns the address a process listens on.
type addrSource int

const (
	// addrPrinted: the first line the process prints to stdout (the
	// harness's helper servers, loadtest.Serve).
	addrPrinted addrSource = iota
	// addrLogged: the listen field of the "tollgate is serving" line of
	// its JSON log on stderr (tollgate serve, gatewayprof).
	addrLogged
)

// startProc starts bin with args, stderr to logPath, and waits until it
// has said its address and that address accepts connections.
func startProc(name, bin string, args, env []string, dir, logPath string, from addrSource) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Dir = env, dir
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	readAddr := from == addrPrinted
	var stdout io.ReadCloser
	if readAddr {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			logf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	got := make(chan string, 1)
	if readAddr {
		go func() {
			sc := bufio.NewScanner(stdout)
			if sc.Scan() {
				got <- strings.TrimSpace(sc.Text())
			}
			close(got)
			io.Copy(io.Discard, stdout)
		}()
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	deadline := time.After(20 * time.Second)
	if readAddr {
		select {
		case a, ok := <-got:
			if !ok || a == "" {
				<-p.done
				return nil, fmt.Errorf("%s exited before printing its address (%v); see %s", name, p.err, logPath)
			}
			p.addr = a
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("%s printed no address in 20s; see %s", name, logPath)
		}
	}
	for p.addr == "" {
		if a, ok := servingAddr(logPath); ok {
			p.addr = a
			break
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start (%v); see %s:\n%s", name, p.err, logPath, tail(logPath, 12))
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("%s logged no \"tollgate is serving\" line in 20s; see %s:\n%s", name, logPath, tail(logPath, 12))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := CheckLoopback(p.addr); err != nil {
		p.stop()
		return nil, err
	}
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited at start (%v); see %s:\n%s", name, p.err, logPath, tail(logPath, 12))
		case <-deadline:
			p.stop()
			return nil, fmt.Errorf("%s did not listen on %s in 20s; see %s", name, p.addr, logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// servingAddr reads the address from the "tollgate is serving" line of a
// JSON log: its listen field, "http://HOST:PORT".
func servingAddr(logPath string) (string, bool) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return "", false
	}
	for line := range bytes.Lines(b) {
		var rec struct {
			Msg    string `json:"msg"`
			Listen string `json:"listen"`
		}
		if json.Unmarshal(line, &rec) != nil || rec.Msg != "tollgate is serving" {
			continue
		}
		if a, ok := strings.CutPrefix(rec.Listen, "http://"); ok && a != "" {
			return a, true
		}
	}
	return "", false
}

// pause stops the process (SIGSTOP) until resume: it keeps its memory,
// sockets and connections, and runs nothing, its timers included.
func (p *proc) pause() {
	if p.alive() && !p.paused {
		stopProcess(p.cmd.Process)
		p.paused = true
	}
}

// resume lets a paused process run again (SIGCONT).
func (p *proc) resume() {
	if p.alive() && p.paused {
		continueProcess(p.cmd.Process)
		p.paused = false
	}
}

// stop sends SIGTERM, waits up to 10s for a graceful exit, then kills.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.resume() // a stopped process would hold SIGTERM until continued
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 10s of SIGTERM and was killed", p.name)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return p.err
	}
	return nil
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runQuiet runs a short command and returns its combined output.
func runQuiet(ctx context.Context, bin string, args, env []string, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir = env, dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}
