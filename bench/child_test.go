//go:build linux

package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/bench/internal/rtt"
	"github.com/busywork/busywork/internal/testenv"
)

// buildChildren builds the test binary of each child's package, whose
// TestHelperProcess is that child, and returns their paths by name.
func buildChildren(b *testing.B) map[string]string {
	dir := b.TempDir()
	args := []string{"test", "-c", "-o", dir + string(filepath.Separator)}
	for _, name := range childNames {
		args = append(args, "./"+name)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		b.Fatalf("build the children: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	paths := make(map[string]string)
	for _, name := range childNames {
		paths[name] = filepath.Join(dir, name+".test")
	}
	return paths
}

// run is one child's run as the parent saw it.
type run struct {
	// rep is the child's report; nil when the child was killed.
	rep *drain.Report
	// childCPU is the child's user+system CPU time at exit (its rusage).
	childCPU time.Duration
	// parentCPU is this process's user+system CPU time from the child's
	// start to its exit: the proxy's work for it, and reading its lines.
	parentCPU time.Duration
	// proxy is what the proxy forwarded for the child (nil: no proxy).
	proxy *rtt.Stats
}

// proxied describes what the proxy forwarded for the child, for a log
// line: empty without a proxy.
func (r run) proxied() string {
	if r.proxy == nil {
		return ""
	}
	return fmt.Sprintf("; through the proxy: %d connections, %d chunks held %s past the round trip on average",
		r.proxy.Conns, r.proxy.Chunks, r.proxy.MeanLate().Round(time.Microsecond))
}

// runChild runs the test binary child as TestHelperProcess serving cfg,
// with via's URL (via not nil) as its AWS_ENDPOINT_URL_SQS. onLine (when
// not nil) is called with each line the child writes before its report,
// and may call kill to SIGKILL the child; an error of onLine stops the
// child and fails b. runChild returns once the child has exited; it fails
// b if the child failed, unless it was killed (then run.rep is nil).
func runChild(b *testing.B, child string, via *rtt.Proxy, cfg drain.Config, onLine func(l drain.Line, kill func()) error) run {
	raw, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.GiveUp+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, child, "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), drain.Env+"="+string(raw))
	var proxied rtt.Stats
	if via != nil {
		cmd.Env = append(cmd.Env, testenv.EnvSQS+"="+via.URL)
		proxied = via.Stats()
	}
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	parentCPU := drain.ProcessCPU()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the %s child: %v", cfg.Consumer, err)
	}
	var (
		r       run
		other   []string
		lineErr error
		killed  bool
	)
	kill := func() {
		if !killed {
			killed = cmd.Process.Kill() == nil // SIGKILL
		}
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var l drain.Line
		if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
			other = append(other, lines.Text())
			continue
		}
		if l.Report != nil {
			r.rep = l.Report
			continue
		}
		if onLine != nil && lineErr == nil {
			if lineErr = onLine(l, kill); lineErr != nil {
				cancel() // stops the child; the lines end
			}
		}
	}
	err = cmd.Wait()
	r.parentCPU = drain.ProcessCPU() - parentCPU
	if via != nil {
		s := via.Stats().Sub(proxied)
		r.proxy = &s
	}
	if lineErr != nil {
		b.Fatalf("%s: %v", cfg.Consumer, lineErr)
	}
	if killed {
		r.rep = nil
		return r
	}
	if err != nil || r.rep == nil {
		b.Fatalf("the %s child failed (%v); its output:\n%s\n%s", cfg.Consumer, err, strings.Join(other, "\n"), stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.childCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return r
}
