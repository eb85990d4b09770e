package testenv

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogLine is one JSON line of a command's log.
type LogLine map[string]any

// Process is a command started by [StartProcess], whose stderr log (JSON
// lines, as busywork's commands write) is collected.
type Process struct {
	// Cmd is the running command.
	Cmd     *exec.Cmd
	done    chan struct{} // closed when its stderr is read to the end
	mu      sync.Mutex
	lines   []LogLine
	raw     []string
	changed chan struct{} // signalled when a line arrives
}

// StartProcess starts cmd, which must not have its Stderr set, and
// collects its log; the test's end kills it if it still runs.
func StartProcess(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	go p.read(stderr)
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // still running: the test failed early
			_ = cmd.Process.Kill() // it may have exited meanwhile
			<-p.done
			_ = cmd.Wait() // killed: the error is expected
		}
	})
	return p
}

func (p *Process) read(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l LogLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = LogLine{"msg": "(not JSON)"}
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		p.raw = append(p.raw, sc.Text())
		p.mu.Unlock()
		select {
		case p.changed <- struct{}{}:
		default:
		}
	}
}

// Done is closed once the command's log has ended: it has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Lines returns the log lines so far.
func (p *Process) Lines() []LogLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]LogLine(nil), p.lines...)
}

// Text returns the log so far.
func (p *Process) Text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.raw, "\n")
}

// Await returns the first log line that match accepts, failing the test
// after 20 s or when the log ends without one; what names the line in the
// failure.
func (p *Process) Await(t testing.TB, what string, match func(LogLine) bool) LogLine {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if match(l) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.changed:
		case <-p.done:
			select {
			case <-p.changed: // lines that arrived before the end
			default:
				t.Fatalf("log ended without %s:\n%s", what, p.Text())
			}
		case <-timeout:
			t.Fatalf("no %s in the log within 20s:\n%s", what, p.Text())
		}
	}
}

// Wait waits for the command to exit and returns its status, failing the
// test if it is still running after limit.
func (p *Process) Wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("still running %v after it was told to stop; log:\n%s", limit, p.Text())
	}
	var exit *exec.ExitError
	if err := p.Cmd.Wait(); err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return p.Cmd.ProcessState.ExitCode()
}
