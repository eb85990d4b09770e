package shipping

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/busywork/busywork/internal/bootstrap"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// rehearsal runs the busywork services of docker-compose.yml natively.
type rehearsal struct {
	t        *testing.T
	project  *types.Project
	bin      string
	imageEnv map[string]string // the image's ENV
	names    map[string]string // unique queue and table names, by variable
}

// dependencyOrder returns the names of services, each after those it
// depends on.
func dependencyOrder(t *testing.T, services map[string]types.ServiceConfig) []string {
	t.Helper()
	var order []string
	placed := make(map[string]bool)
	for len(order) < len(services) {
		progress := false
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range services {
				if !yield(n) {
					return
				}
			}
		}) {
			if placed[name] {
				continue
			}
			ready := true
			for dep := range services[name].DependsOn {
				if _, ours := services[dep]; ours && !placed[dep] {
					ready = false
				}
			}
			if ready {
				order, placed[name], progress = append(order, name), true, true
			}
		}
		if !progress {
			t.Fatalf("the services' depends_on has a cycle: placed %v of %d", order, len(services))
		}
	}
	return order
}

// environment returns what the service's process gets: the image's ENV,
// then the compose environment, with its endpoints rewritten to the local
// emulators, its listeners to free ports of the loopback, and its queue
// and table names made unique to this test.
func (r *rehearsal) environment(s types.ServiceConfig) []string {
	r.t.Helper()
	vars := make(map[string]string)
	for k, v := range r.imageEnv {
		vars[k] = v
	}
	for k, v := range s.Environment {
		if v != nil {
			vars[k] = *v
		}
	}
	for k, v := range vars {
		switch {
		case k == "AWS_ENDPOINT_URL":
			// The generic endpoint is LocalStack, which serves the services
			// of its SERVICES; here each has an emulator of its own. Any
			// other service gets a closed loopback port, never AWS.
			vars[k] = "http://127.0.0.1:1"
			for _, svc := range strings.Split(env(r.project.Services[hostOf(r.t, v)], "SERVICES"), ",") {
				name := "AWS_ENDPOINT_URL_" + strings.ToUpper(svc)
				if _, set := vars[name]; !set {
					vars[name] = os.Getenv(name)
				}
			}
		case strings.HasPrefix(k, "AWS_ENDPOINT_URL_"):
			vars[k] = os.Getenv(k)
		case strings.HasPrefix(k, envPrefix) && strings.HasSuffix(k, "_ADDR"):
			vars[k] = freeAddr(r.t)
		}
	}
	if _, set := vars["AWS_ENDPOINT_URL"]; !set {
		vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:1"
	}
	for k, v := range r.names {
		vars[k] = v
	}
	out := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL") && v == "" {
			r.t.Fatalf("no local emulator for %s", k)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// hostOf returns the host of an endpoint URL.
func hostOf(t *testing.T, endpoint string) string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatalf("endpoint %q: %v", endpoint, err)
	}
	return u.Hostname()
}

// command returns the service's command line, the image's ENTRYPOINT being
// the binary the tests built, bounded by ctx.
func (r *rehearsal) command(ctx context.Context, args []string, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = env
	return cmd
}

// healthy runs the service's health check (its CMD form, the image's
// binary standing for /busywork) with env until it passes, for as long as
// compose would wait: the start period and the retries' intervals. It
// fails the test at once if proc exits meanwhile.
func (r *rehearsal) healthy(name string, hc *types.HealthCheckConfig, entry []string, env []string, proc *testenv.Process) {
	r.t.Helper()
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" || !slices.Equal(hc.Test[1:len(entry)+1], entry) {
		r.t.Fatalf("%s: health check %v: want [CMD %s ...]", name, hc, entry)
	}
	budget := time.Duration(*hc.StartPeriod) + time.Duration(*hc.Interval)*time.Duration(*hc.Retries)
	deadline := time.Now().Add(budget)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(r.t.Context(), time.Duration(*hc.Timeout))
		out, err := r.command(ctx, hc.Test[len(entry)+1:], env).CombinedOutput()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s did not become healthy within %s (start period + retries x interval): %v\n%s\nits log:\n%s", name, budget, err, out, proc.Text())
		}
		select {
		case <-tick.C:
		case <-proc.Done():
			r.t.Fatalf("%s exited before it was healthy; its log:\n%s", name, proc.Text())
		}
	}
}

func TestCompose_RehearsedWithoutDockerTheStackComesUpHealthyAndALoginEndsInAnEmail(t *testing.T) {
	testenv.Require(t)
	p := loadCompose(t)
	services := busyworkServices(t, p)
	final := imageStage(t)
	entry := lastExec(t, final, "ENTRYPOINT")
	r := &rehearsal{t: t, project: p, bin: builtBinary(t), imageEnv: make(map[string]string), names: make(map[string]string)}
	for _, in := range final.find("ENV") {
		for _, kv := range strings.Fields(in.args) {
			k, v, _ := strings.Cut(kv, "=")
			r.imageEnv[k] = v
		}
	}
	// Names of the test's own, so that the rehearsal never meets a stack
	// someone runs on the same emulators.
	var queues []string
	for _, lane := range producer.Lanes() {
		name := testenv.UniqueName(t, "compose-"+lane+"-", 76)
		r.names[lanePrefix(lane)+"QUEUE"] = name
		queues = append(queues, name, name+bootstrap.DeadLetterSuffix)
	}
	table := testenv.UniqueName(t, "compose-", 255)
	r.names[envPrefix+"TABLE"] = table
	checkVariables(t, "the rehearsal", slices.Collect(func(yield func(string) bool) {
		for k := range r.names {
			if !yield(k) {
				return
			}
		}
	}))
	t.Cleanup(func() { deleteRehearsed(t, queues, table) })

	running := make(map[string]*testenv.Process)
	envs := make(map[string][]string)
	for _, name := range dependencyOrder(t, services) {
		s := services[name]
		for dep, d := range s.DependsOn {
			if _, ours := services[dep]; ours && d.Condition == types.ServiceConditionHealthy && running[dep] == nil {
				t.Fatalf("%s waits for %s to be healthy, which does not run", name, dep)
			}
		}
		env := r.environment(s)
		envs[name] = env
		if s.HealthCheck != nil && s.HealthCheck.Disable {
			// A one-shot: it must complete, as service_completed_successfully asks.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			out, err := r.command(ctx, s.Command, env).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("%s (%q) failed: %v\n%s", name, s.Command, err, out)
			}
			t.Logf("%s:\n%s", name, out)
			continue
		}
		proc := testenv.StartProcess(t, r.command(context.Background(), s.Command, env))
		r.healthy(name, s.HealthCheck, entry, env, proc)
		running[name] = proc
	}

	// Log in as a person would: a user (`docker compose exec web /busywork
	// user add`), the form's POST, the mail.
	email := strings.ToLower(testenv.UniqueName(t, "ada-", 40)) + "@example.com"
	if out, err := r.command(t.Context(), []string{"user", "add", "--name", "Ada", email}, envs["web"]).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	since := time.Now()
	webAddr := ""
	for _, kv := range envs["web"] {
		if k, v, _ := strings.Cut(kv, "="); k == envPrefix+"WEB_ADDR" {
			webAddr = v
		}
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).PostForm("http://"+webAddr+"/auth/magic-link", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /auth/magic-link: %s, want 202", resp.Status)
	}
	base := env(services["worker"], envPrefix+"BASE_URL")
	mail := awaitMail(t, email, since)
	if !strings.Contains(mail.Body.HTML, base+"/auth/verify?token=") {
		t.Errorf("the mail has no link to %s/auth/verify:\n%s", base, mail.Body.HTML)
	}

	// docker compose down: SIGTERM, and SIGKILL after stop_grace_period.
	for name, proc := range running {
		if err := proc.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		grace := 10 * time.Second // compose's default
		if g := services[name].StopGracePeriod; g != nil {
			grace = time.Duration(*g)
		}
		if code := proc.Wait(t, grace); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", name, code, proc.Text())
		}
	}
}

// awaitMail returns the first mail to email stored since, waiting up to
// 30 s for the worker to send it.
func awaitMail(t *testing.T, email string, since time.Time) testenv.Mail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range testenv.Mails(t, since) {
			if slices.Contains(m.Destination.To, email) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s within 30s", email)
		}
		<-tick.C
	}
}

// deleteRehearsed deletes the queues and the table bootstrap made.
func deleteRehearsed(t *testing.T, queues []string, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := testenv.SQS(t)
	for _, name := range queues {
		if out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)}); err == nil {
			if _, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}); err != nil {
				t.Errorf("delete queue %s: %v", name, err)
			}
		}
	}
	if _, err := testenv.DynamoDB(t).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
		t.Logf("delete table %s: %v", table, err)
	}
}
