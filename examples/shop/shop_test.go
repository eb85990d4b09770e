package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The shop's tests run its binary against the local emulators that
// busywork's `make test` starts, found through the standard AWS variables:
// AWS_ENDPOINT_URL_SQS and the others, and BUSYWORK_SES_STORE_URL for the
// mail the SES emulator stored. Without them a plain `go test` skips; with
// BUSYWORK_INTEGRATION or CI set (as `make test` sets it) it fails.

// shop is the binary TestMain builds.
var shop string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shop-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shop = filepath.Join(dir, "shop")
	build := exec.Command("go", "build", "-race", "-o", shop, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	code := 1
	if build.Run() == nil {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireEmulators(t *testing.T) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL_SQS") == "" || os.Getenv("BUSYWORK_SES_STORE_URL") == "" {
		if os.Getenv("CI") != "" || os.Getenv("BUSYWORK_INTEGRATION") != "" {
			t.Fatal("emulators not configured: run busywork's `make test`")
		}
		t.Skip("needs the emulators: run busywork's `make test`")
	}
	for _, v := range []string{"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SESV2", "BUSYWORK_SES_STORE_URL"} {
		u, err := url.Parse(os.Getenv(v))
		if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
			t.Fatalf("%s=%q: the tests talk to local emulators only", v, os.Getenv(v))
		}
	}
}

// env returns an environment of the shop's own: queues, a table and a mail
// domain no other test uses, the admin listener and the web server on free
// ports.
func env(t *testing.T) (vars []string, admin, web, domain string) {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	id := "shop-" + hex.EncodeToString(b)
	admin, web, domain = freeAddr(t), freeAddr(t), id+".example.com"
	vars = append(os.Environ(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"BUSYWORK_QUEUE="+id+"-jobs", "BUSYWORK_CRITICAL_QUEUE="+id+"-critical", "BUSYWORK_BULK_QUEUE="+id+"-bulk",
		"BUSYWORK_TABLE="+id, "BUSYWORK_ADMIN_ADDR="+admin, "BUSYWORK_WEB_ADDR="+web,
		"BUSYWORK_DRAIN_TIMEOUT=5s", "BUSYWORK_SHOP_DOMAIN="+domain,
	)
	return vars, admin, web, domain
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, vars []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, shop, args...)
	cmd.Env = vars
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// process is a command of the shop running in the background, whose
// stderr a test can wait on.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

func start(t *testing.T, vars []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(shop, args...), done: make(chan struct{})}
	p.cmd.Env = vars
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done; _ = p.cmd.Wait() })
	return p
}

func (p *process) logged() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// await waits until the process has logged n lines holding text.
func (p *process) await(t *testing.T, text string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); strings.Count(p.logged(), text) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("no %d lines %q within a minute; log:\n%s", n, text, p.logged())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit status.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	_ = p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

// awaitMail waits for a mail to to in the SES emulator's store.
func awaitMail(t *testing.T, to string) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(strings.TrimRight(os.Getenv("BUSYWORK_SES_STORE_URL"), "/") + "/store")
		if err != nil {
			t.Fatal(err)
		}
		var store struct {
			Emails []struct {
				Destination struct {
					To []string `json:"to"`
				} `json:"destination"`
				Body struct {
					Text string `json:"text"`
				} `json:"body"`
			} `json:"emails"`
		}
		err = json.NewDecoder(resp.Body).Decode(&store)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range store.Emails {
			if len(m.Destination.To) == 1 && m.Destination.To[0] == to {
				return m.Body.Text
			}
		}
	}
	t.Fatalf("no mail to %s within 30 s", to)
	return ""
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The shop, built on busywork's runtime with a job type of its own, gets
// the whole command line: bootstrap, a worker that runs its jobs with
// /healthz and /metrics, send checked against its own job types, health,
// the dlq commands, and a clean stop.
func TestShop_ItsOwnJobRunsThroughTheRuntimesCommands(t *testing.T) {
	requireEmulators(t)
	vars, admin, _, domain := env(t)

	if r := run(t, vars, "bootstrap"); r.code != 0 || !strings.Contains(r.stdout, "-jobs: created") {
		t.Fatalf("shop bootstrap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	worker := start(t, vars, "worker")
	worker.await(t, `"msg":"serving queue"`, 3)

	r := run(t, vars, "send", "welcome_email", `{"user_id":"u-1"}`)
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("shop send welcome_email: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	jobID := strings.TrimSpace(r.stdout)
	if body := awaitMail(t, "u-1@"+domain); !strings.Contains(body, jobID) {
		t.Errorf("the welcome mail %q does not name its job %s", body, jobID)
	}

	for _, tt := range []struct{ args, want []string }{
		{[]string{"send", "welcome_email", `{}`}, []string{"shop send: invalid welcome_email job: user_id"}},
		{[]string{"send", "magic_link", `{"email":"ada@example.com"}`}, []string{`unknown job type "magic_link"`, "known: ping, welcome_email"}},
		{[]string{"send", "welcome_email", `{"user":"u-2"}`}, []string{`unknown field "user"`}},
	} {
		r := run(t, vars, tt.args...)
		for _, want := range tt.want {
			if r.code != 2 || !strings.Contains(r.stderr, want) {
				t.Errorf("shop %q: exit %d, stderr %q; want exit 2 and %q", tt.args, r.code, r.stderr, want)
			}
		}
	}
	if r := run(t, vars, "help", "send"); r.code != 0 || !strings.Contains(r.stdout, "Job types: ping, welcome_email") {
		t.Errorf("shop help send: exit %d, stdout %q; want its own job types", r.code, r.stdout)
	}

	if code, body := get(t, "http://"+admin+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, "http://"+admin+"/metrics"); code != http.StatusOK ||
		!strings.Contains(body, `busywork_jobs_total{lane="default",outcome="succeeded",type="welcome_email"} 1`) {
		t.Errorf("/metrics: %d, want busywork_jobs_total of the welcome:\n%s", code, body)
	}
	if r := run(t, vars, "health"); r.code != 0 {
		t.Errorf("shop health: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, vars, "dlq", "stats"); r.code != 0 || !strings.Contains(r.stdout, "-jobs-dlq") {
		t.Errorf("shop dlq stats: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, vars, "version"); r.code != 0 || strings.TrimSpace(r.stdout) != "dev" {
		t.Errorf("shop version: exit %d %q", r.code, r.stdout)
	}

	if code := worker.stop(t); code != 0 {
		t.Fatalf("the worker exited %d after SIGTERM, want 0; log:\n%s", code, worker.logged())
	}
}

// The shop's web handler enqueues its job with producer.Send, and the
// worker runs it.
func TestShop_ASignupFromItsWebServerEndsInAWelcomeMail(t *testing.T) {
	requireEmulators(t)
	vars, _, web, domain := env(t)
	if r := run(t, vars, "bootstrap"); r.code != 0 {
		t.Fatalf("shop bootstrap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	worker := start(t, vars, "worker")
	server := start(t, vars, "web")
	server.await(t, `"msg":"web listening"`, 1)

	resp, err := http.PostForm("http://"+web+"/signup", url.Values{"user_id": {"u-7"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /signup: %s, want 202", resp.Status)
	}
	awaitMail(t, "u-7@"+domain)

	resp, err = http.PostForm("http://"+web+"/signup", url.Values{"user_id": {"Not An Id"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /signup with a bad id: %s, want 400", resp.Status)
	}
	if code := server.stop(t); code != 0 {
		t.Errorf("the web server exited %d after SIGTERM", code)
	}
	if code := worker.stop(t); code != 0 {
		t.Errorf("the worker exited %d after SIGTERM; log:\n%s", code, worker.logged())
	}
}
