package shipping

import (
	"context"
	"encoding/json"
	gotypes "go/types"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
)

// The compose services the tests know by role.
const (
	localstackService = "localstack"
	sesService        = "ses"
)

// localstackImage is the LocalStack image pinned for compose: the last tag
// that starts without an auth token (shared/EMULATORS.md).
const localstackImage = "localstack/localstack:4.14.0"

// loadCompose loads docker-compose.yml as `docker compose` would, with env
// as the environment it interpolates.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(env), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := opts.LoadProject(ctx)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// busyworkServices returns the services built from the repository's
// Dockerfile, by name.
func busyworkServices(t *testing.T, p *types.Project) map[string]types.ServiceConfig {
	t.Helper()
	root := repoRoot(t)
	out := make(map[string]types.ServiceConfig)
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Context == root {
			out[name] = s
		}
	}
	for _, want := range []string{"bootstrap", "worker", "web"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("docker-compose.yml has no service %s built from the Dockerfile", want)
		}
	}
	return out
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestCompose_PinsLocalStackAndTheSESEmulatorAsLocalstackPinsThem(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t)
	ls, ok := p.Services[localstackService]
	if !ok {
		t.Fatalf("no %s service", localstackService)
	}
	if ls.Image != localstackImage {
		t.Errorf("localstack image %q, want %q exactly (later tags need an auth token)", ls.Image, localstackImage)
	}
	if got := strings.Split(env(ls, "SERVICES"), ","); !slices.Equal(got, []string{"sqs", "dynamodb"}) {
		t.Errorf("localstack SERVICES=%q, want sqs,dynamodb", env(ls, "SERVICES"))
	}
	if v := env(loadCompose(t, "LOCALSTACK_AUTH_TOKEN=tok-123").Services[localstackService], "LOCALSTACK_AUTH_TOKEN"); v != "tok-123" {
		t.Errorf("LOCALSTACK_AUTH_TOKEN of the environment reaches LocalStack as %q, want it passed through", v)
	}
	if v := env(ls, "LOCALSTACK_AUTH_TOKEN"); v != "" {
		t.Errorf("LOCALSTACK_AUTH_TOKEN is %q when unset, want empty", v)
	}

	ses, ok := p.Services[sesService]
	if !ok || ses.Build == nil {
		t.Fatalf("no %s service built from localstack/", sesService)
	}
	if ses.Build.Context != filepath.Join(root, "localstack") {
		t.Errorf("ses builds from %s, want localstack/ (its lock file)", ses.Build.Context)
	}
	lock := readLockfile(t)
	dockerfile := ses.Build.Dockerfile
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(ses.Build.Context, dockerfile)
	}
	stages := parseDockerfile(t, dockerfile)
	st := stages[len(stages)-1]
	node := regexp.MustCompile(`^node:(\d+)\.\d+\.\d+-[a-z]+(-slim)?$`).FindStringSubmatch(st.from)
	if node == nil {
		t.Fatalf("ses image FROM %s: want an exact node:X.Y.Z-DISTRO tag", st.from)
	}
	if major, _ := strconv.Atoi(node[1]); major < lock.nodeMajor {
		t.Errorf("ses runs Node %d; localstack/package.json needs >= %d", major, lock.nodeMajor)
	}
	var copied, installed bool
	for _, in := range st.ins {
		copied = copied || in.cmd == "COPY" && slices.Contains(strings.Fields(in.args), "package-lock.json")
		installed = installed || in.cmd == "RUN" && strings.HasPrefix(in.args, "npm ci ")
	}
	if !copied || !installed {
		t.Errorf("ses.Dockerfile must copy package-lock.json and install it with npm ci (copied %v, npm ci %v)", copied, installed)
	}
	entry := lastExec(t, st, "ENTRYPOINT")
	wantBin := path.Join(workdirOf(st), "node_modules/aws-ses-v2-local", lock.sesBin)
	if len(entry) < 2 || entry[0] != "node" || entry[1] != wantBin {
		t.Errorf("ses ENTRYPOINT %q: want node %s (the lock file's aws-ses-v2-local %s)", entry, wantBin, lock.sesVersion)
	}
	if host := flagValue(entry, "--host"); host != "0.0.0.0" {
		t.Errorf("ses listens on %q inside its container, want 0.0.0.0 (reachable from the other services)", host)
	}
	sesPort := flagValue(entry, "--port")
	checkPublished(t, sesService, ses, sesPort)
}

func workdirOf(s stage) string {
	dir := "/"
	for _, in := range s.find("WORKDIR") {
		dir = path.Join(dir, in.args)
	}
	return dir
}

func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// checkPublished checks that s publishes port, and only on the host's
// loopback interface.
func checkPublished(t *testing.T, name string, s types.ServiceConfig, port string) {
	t.Helper()
	found := false
	for _, p := range s.Ports {
		if p.HostIP != "127.0.0.1" {
			t.Errorf("%s publishes %d on %q: want 127.0.0.1 only, not every interface of the host", name, p.Target, p.HostIP)
		}
		found = found || strconv.Itoa(int(p.Target)) == port
	}
	if !found {
		t.Errorf("%s listens on port %s but publishes %v", name, port, s.Ports)
	}
}

// lockfile is what the tests need of localstack/package-lock.json.
type lockfile struct {
	sesVersion, sesBin string
	nodeMajor          int // N of the project's engines ">=N"
}

func readLockfile(t *testing.T) lockfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "localstack", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version string            `json:"version"`
			Bin     map[string]string `json:"bin"`
			Engines map[string]string `json:"engines"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	ses, ok := lock.Packages["node_modules/aws-ses-v2-local"]
	if !ok || ses.Bin["aws-ses-v2-local"] == "" {
		t.Fatal("package-lock.json pins no aws-ses-v2-local with a bin")
	}
	l := lockfile{sesVersion: ses.Version, sesBin: ses.Bin["aws-ses-v2-local"]}
	m := regexp.MustCompile(`^>=\s*(\d+)`).FindStringSubmatch(lock.Packages[""].Engines["node"])
	if m == nil {
		t.Fatalf("localstack/package.json's engines.node is %q, want >=N", lock.Packages[""].Engines["node"])
	}
	l.nodeMajor, _ = strconv.Atoi(m[1])
	return l
}

func TestCompose_LocalStackIsHealthyOnlyOnceItsInitHooksSucceeded(t *testing.T) {
	root := repoRoot(t)
	ls := loadCompose(t).Services[localstackService]
	mounts := make(map[string]string) // target -> source
	for _, v := range ls.Volumes {
		mounts[v.Target] = v.Source
		if !v.ReadOnly {
			t.Errorf("localstack mounts %s read-write; init files need read-only", v.Source)
		}
	}
	hooksDir := mounts["/etc/localstack/init/ready.d"]
	if hooksDir != filepath.Join(root, "localstack", "init", "ready.d") {
		t.Fatalf("localstack mounts %q at /etc/localstack/init/ready.d, want localstack/init/ready.d", hooksDir)
	}
	entries, err := os.ReadDir(hooksDir)
	if err != nil {
		t.Fatal(err)
	}
	var hooks []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("init hook %s is not executable: LocalStack skips it", e.Name())
		}
		hooks = append(hooks, e.Name())
	}

	hc := ls.HealthCheck
	if hc == nil || len(hc.Test) < 4 || hc.Test[0] != "CMD" || hc.Test[1] != "python3" {
		t.Fatalf("localstack healthcheck %v: want [CMD python3 SCRIPT URL HOOK...]", hc)
	}
	script := mounts[hc.Test[2]]
	if script == "" {
		t.Fatalf("the health check runs %s, which no volume mounts", hc.Test[2])
	}
	if u, err := url.Parse(hc.Test[3]); err != nil || u.Path != "/_localstack/init/ready" {
		t.Errorf("the health check asks %s: want /_localstack/init/ready (the hooks' states; /_localstack/health knows nothing of them)", hc.Test[3])
	}
	if named := slices.Sorted(slices.Values(hc.Test[4:])); !slices.Equal(named, hooks) {
		t.Errorf("the health check waits for the hooks %v, but ready.d holds %v", named, hooks)
	}

	// The script itself, against the answers LocalStack gives.
	python := requireTool(t, "python3", "runs LocalStack's health check script")
	scripts := func(state string) []map[string]string {
		var out []map[string]string
		for _, h := range hooks {
			out = append(out, map[string]string{"stage": "READY", "name": h, "state": state})
		}
		return out
	}
	tests := []struct {
		name    string
		report  any
		healthy bool
	}{
		{"every hook successful", map[string]any{"completed": true, "scripts": scripts("SUCCESSFUL")}, true},
		{"a hook failed, yet completed", map[string]any{"completed": true, "scripts": scripts("ERROR")}, false},
		{"a hook still running", map[string]any{"completed": false, "scripts": scripts("RUNNING")}, false},
		{"the hooks were not mounted", map[string]any{"completed": true, "scripts": []any{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_ = json.NewEncoder(w).Encode(tt.report)
			}))
			defer srv.Close()
			args := slices.Concat([]string{script, srv.URL + "/_localstack/init/ready"}, hc.Test[4:])
			out, err := exec.Command(python, args...).CombinedOutput()
			if healthy := err == nil; healthy != tt.healthy {
				t.Errorf("healthy = %v (%v), want %v:\n%s", healthy, err, tt.healthy, out)
			}
		})
	}
}

func TestCompose_BusyworkServicesStartInOrderWithCommandsHealthChecksAndPortsOfTheBinary(t *testing.T) {
	p := loadCompose(t)
	services := busyworkServices(t, p)
	bin := builtBinary(t)
	entry := lastExec(t, imageStage(t), "ENTRYPOINT")
	image := services["bootstrap"].Image

	wantDeps := map[string]map[string]string{
		"bootstrap": {localstackService: types.ServiceConditionHealthy, sesService: types.ServiceConditionHealthy},
		"worker":    {localstackService: types.ServiceConditionHealthy, sesService: types.ServiceConditionHealthy, "bootstrap": types.ServiceConditionCompletedSuccessfully},
		"web":       {localstackService: types.ServiceConditionHealthy, sesService: types.ServiceConditionHealthy, "bootstrap": types.ServiceConditionCompletedSuccessfully},
	}
	for name, want := range wantDeps {
		s := services[name]
		got := make(map[string]string)
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s depends on %v, want %v", name, got, want)
		}
		if s.Image != image {
			t.Errorf("%s runs image %q, bootstrap %q: build one image for all", name, s.Image, image)
		}
		if len(s.Entrypoint) > 0 {
			t.Errorf("%s overrides the image's ENTRYPOINT with %q", name, s.Entrypoint)
		}
		if out, err := exec.Command(bin, append(slices.Clone(s.Command), "--help")...).CombinedOutput(); err != nil {
			t.Errorf("%s's command %q is not one of the binary's: %v\n%s", name, s.Command, err, out)
		}
		names := slices.Collect(func(yield func(string) bool) {
			for k := range s.Environment {
				if !yield(k) {
					return
				}
			}
		})
		checkVariables(t, "docker-compose.yml's "+name, names)
	}
	if r := services["bootstrap"].Restart; r != "no" {
		t.Errorf("bootstrap restart %q, want \"no\": a one-shot", r)
	}

	for name, args := range map[string][]string{"worker": {"health"}, "web": {"health", "--web"}} {
		s := services[name]
		want := slices.Concat([]string{"CMD"}, entry, args)
		if s.HealthCheck == nil || !slices.Equal(s.HealthCheck.Test, want) {
			t.Errorf("%s healthcheck %v, want %q", name, s.HealthCheck, want)
		}
		addr := map[string]string{"worker": "BUSYWORK_ADMIN_ADDR", "web": "BUSYWORK_WEB_ADDR"}[name]
		host, port, err := net.SplitHostPort(env(s, addr))
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s %s=%q: want 0.0.0.0:PORT, reachable through the published port", name, addr, env(s, addr))
		}
		checkPublished(t, name, s, port)
	}

	// Stopping must not cut a drain short: compose sends SIGKILL after
	// stop_grace_period (10s by default).
	d := consumer.DefaultDrainTimeout
	if v := env(services["worker"], "BUSYWORK_DRAIN_TIMEOUT"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	if g := services["worker"].StopGracePeriod; g == nil || time.Duration(*g) < d+consumer.ShutdownMargin {
		t.Errorf("worker stop_grace_period %v: want at least the drain %s + consumer.ShutdownMargin %s", g, d, consumer.ShutdownMargin)
	}
	webStop := constDuration(t, "webShutdownTimeout")
	if g := services["web"].StopGracePeriod; g == nil || time.Duration(*g) <= webStop {
		t.Errorf("web stop_grace_period %v: want more than its shutdown timeout %s", g, webStop)
	}
}

// constDuration returns the value of the binary's time.Duration constant
// name (the runtime's or the demo's).
func constDuration(t *testing.T, name string) time.Duration {
	t.Helper()
	_, obj := lookup(t, name)
	c, ok := obj.(*gotypes.Const)
	if !ok {
		t.Fatalf("%s is no constant", name)
	}
	n, err := strconv.ParseInt(c.Val().ExactString(), 10, 64)
	if err != nil {
		t.Fatalf("%s = %s: %v", name, c.Val(), err)
	}
	return time.Duration(n)
}

func TestCompose_EndpointsReachTheServicesThatServeWhatTheBinaryCalls(t *testing.T) {
	p := loadCompose(t)
	services := busyworkServices(t, p)
	// What each AWS service of the SDK is called by in compose.
	var called []string
	for _, role := range []string{"bootstrap", "worker", "web"} {
		for _, c := range roleCalls(t, role) {
			called = append(called, c.service)
		}
	}
	slices.Sort(called)
	called = slices.Compact(called)

	served := map[string]string{} // SDK service -> compose service
	for _, s := range strings.Split(env(p.Services[localstackService], "SERVICES"), ",") {
		served[s] = localstackService
	}
	served["sesv2"] = sesService
	ports := map[string]string{localstackService: "4566"}
	for _, port := range p.Services[sesService].Ports {
		ports[sesService] = strconv.Itoa(int(port.Target))
	}
	checkPublished(t, localstackService, p.Services[localstackService], ports[localstackService])

	for name, s := range services {
		for _, sdk := range called {
			v, variable := env(s, "AWS_ENDPOINT_URL_"+strings.ToUpper(sdk)), "AWS_ENDPOINT_URL_"+strings.ToUpper(sdk)
			if v == "" {
				v, variable = env(s, "AWS_ENDPOINT_URL"), "AWS_ENDPOINT_URL"
			}
			u, err := url.Parse(v)
			if v == "" || err != nil {
				t.Errorf("%s: no endpoint for %s (%s=%q)", name, sdk, variable, v)
				continue
			}
			if want := "http://" + served[sdk] + ":" + ports[served[sdk]]; u.Scheme+"://"+u.Host != want || served[sdk] == "" {
				t.Errorf("%s: %s=%s sends %s calls there, want %s (the service that serves %s)", name, variable, v, sdk, want, sdk)
			}
		}
		for _, v := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if env(s, v) == "" {
				t.Errorf("%s: %s is unset (dummy credentials do for the emulators)", name, v)
			}
		}
	}
}

// TestCompose_TheWorkerHasATicketKeySinceItsEndpointsAreNotLocal: a
// worker refuses to start without BUSYWORK_TICKET_KEY unless every
// endpoint it calls is on the loopback, and inside the stack LocalStack
// and the SES emulator are other hosts.
func TestCompose_TheWorkerHasATicketKeySinceItsEndpointsAreNotLocal(t *testing.T) {
	p := loadCompose(t)
	for name, s := range busyworkServices(t, p) {
		if len(s.Command) == 0 || s.Command[0] != "worker" {
			continue
		}
		local := true
		for _, sdk := range []string{"SQS", "DYNAMODB", "SESV2"} {
			v := env(s, "AWS_ENDPOINT_URL_"+sdk)
			if v == "" {
				v = env(s, "AWS_ENDPOINT_URL")
			}
			local = local && awsclient.IsLocalEndpoint(v)
		}
		if !local && env(s, envPrefix+"TICKET_KEY") == "" {
			t.Errorf("%s runs a worker against endpoints off the loopback without %sTICKET_KEY: it would refuse to start", name, envPrefix)
		}
	}
}
