package shipping

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mattn/go-shellwords"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// flags splits the leading --flag=value words off args.
func (in instruction) flags() (flags []string, rest string) {
	rest = in.args
	for strings.HasPrefix(rest, "--") {
		word, after, _ := strings.Cut(rest, " ")
		flags = append(flags, word)
		rest = strings.TrimSpace(after)
	}
	return flags, rest
}

// exec returns the arguments of an exec-form (JSON array) instruction.
func (in instruction) exec(t *testing.T) []string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(in.args), &args); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not in exec form (a JSON array): %v", in.line, in.cmd, in.args, err)
	}
	return args
}

// stage is one FROM and what follows it.
type stage struct {
	from, name string
	ins        []instruction
}

// find returns the stage's instructions named cmd.
func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// parseDockerfile reads the stages of a Dockerfile: comments and blank
// lines dropped, lines ending in a backslash joined.
func parseDockerfile(t *testing.T, file string) []stage {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending string
		start   int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if pending == "" {
			start = n
		}
		if s, ok := strings.CutSuffix(line, `\`); ok {
			pending += s + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			_, rest := in.flags()
			image, name, _ := strings.Cut(rest, " ")
			_, name, _ = strings.Cut(strings.TrimSpace(name), " ") // AS name
			stages = append(stages, stage{from: image, name: strings.TrimSpace(name)})
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s:%d: %s before the first FROM", file, in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", file)
	}
	return stages
}

// buildContext lists the files (slash-separated, relative to dir) that a
// build of dir sends, as dir's .dockerignore allows.
func buildContext(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	patterns, err := ignorefile.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir // never re-included below, and large
		}
		if d.IsDir() {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err == nil && !excluded {
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// secretLike matches names of variables that hold secrets.
var secretLike = regexp.MustCompile(`(?i)(secret|password|passwd|token|credential|private|_key$|_key_)`)

// secretFile matches names of files that hold secrets.
var secretFile = regexp.MustCompile(`(?i)(^|/)(\.env(\..*)?|.*\.pem|.*\.key|id_rsa.*|\.npmrc|.*\.tfstate.*|.*\.tfvars|credentials.*|\.aws/.*)$`)

func TestDockerfile_RunsAsNonRootFromDistrolessWithAHealthCheckAndTheWorkerByDefault(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	final := stages[len(stages)-1]

	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("final stage FROM %s: want a distroless static :nonroot image (CA certificates, tzdata, no shell, uid 65532)", final.from)
	}
	users := final.find("USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER: it would run as whatever the base image says")
	}
	if user, _, _ := strings.Cut(users[len(users)-1].args, ":"); user == "root" || user == "0" {
		t.Errorf("USER %s: want a non-root user", users[len(users)-1].args)
	}

	entrypoint := lastExec(t, final, "ENTRYPOINT")
	if len(entrypoint) != 1 || !path.IsAbs(entrypoint[0]) {
		t.Fatalf("ENTRYPOINT %q: want the binary's absolute path alone", entrypoint)
	}
	copied := false
	for _, in := range final.find("COPY") {
		flags, rest := in.flags()
		if f := strings.Fields(rest); slices.Contains(flags, "--from="+stages[0].name) && len(f) == 2 && f[1] == entrypoint[0] {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the final stage copies nothing from stage %q to the ENTRYPOINT %s", stages[0].name, entrypoint[0])
	}

	bin := builtBinary(t)
	cmd := lastExec(t, final, "CMD")
	if !slices.Equal(cmd, []string{"worker"}) {
		t.Errorf("CMD %q: want [\"worker\"]", cmd)
	}
	hc := final.find("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK in the final stage, have %d", len(hc))
	}
	_, rest := hc[0].flags()
	test, ok := strings.CutPrefix(rest, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: want HEALTHCHECK [OPTIONS] CMD [...]", hc[0].args)
	}
	probe := instruction{cmd: "HEALTHCHECK CMD", args: test, line: hc[0].line}.exec(t)
	if !slices.Equal(probe, []string{entrypoint[0], "health"}) {
		t.Errorf("HEALTHCHECK CMD %q: want [%q, \"health\"]", probe, entrypoint[0])
	}
	for _, args := range [][]string{cmd, probe[1:]} {
		if out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput(); err != nil {
			t.Errorf("busywork %s --help: %v (the command is not the binary's):\n%s", strings.Join(args, " "), err, out)
		}
	}

	// ENV: only variables the binary reads, listening where EXPOSE says.
	var names, ports []string
	for _, in := range final.find("ENV") {
		for _, kv := range strings.Fields(in.args) {
			name, value, _ := strings.Cut(kv, "=")
			names = append(names, name)
			if strings.HasSuffix(name, "_ADDR") {
				_, port, err := net.SplitHostPort(value)
				if err != nil {
					t.Errorf("ENV %s: %v", kv, err)
				}
				ports = append(ports, port)
			}
		}
	}
	checkVariables(t, "the Dockerfile", names)
	var exposed []string
	for _, in := range final.find("EXPOSE") {
		exposed = append(exposed, strings.Fields(in.args)...)
	}
	slices.Sort(ports)
	slices.Sort(exposed)
	if !slices.Equal(ports, exposed) {
		t.Errorf("EXPOSE %v, but the listeners set by ENV are on %v", exposed, ports)
	}
}

// imageStage returns the Dockerfile's last stage: the image.
func imageStage(t *testing.T) stage {
	t.Helper()
	stages := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	return stages[len(stages)-1]
}

func lastExec(t *testing.T, s stage, cmd string) []string {
	t.Helper()
	ins := s.find(cmd)
	if len(ins) == 0 {
		t.Fatalf("the final stage has no %s", cmd)
	}
	return ins[len(ins)-1].exec(t)
}

func TestDockerfile_BakesInNoSecrets(t *testing.T) {
	root := repoRoot(t)
	for _, st := range parseDockerfile(t, filepath.Join(root, "Dockerfile")) {
		for _, in := range st.ins {
			switch in.cmd {
			case "ARG", "ENV":
				for _, kv := range strings.Fields(in.args) {
					if name, _, _ := strings.Cut(kv, "="); secretLike.MatchString(name) {
						t.Errorf("Dockerfile:%d: %s %s looks like a secret; pass secrets at run time, never at build time", in.line, in.cmd, name)
					}
				}
			case "RUN":
				if _, rest := in.flags(); secretLike.MatchString(rest) {
					t.Errorf("Dockerfile:%d: RUN %s mentions something secret", in.line, rest)
				}
			}
		}
	}
	f, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	if first := firstPattern(string(f)); first != "*" {
		t.Errorf(".dockerignore starts with %q: want \"*\", an allow-list, so that nothing new reaches the image by default", first)
	}
	for _, file := range buildContext(t, root) {
		if secretFile.MatchString(file) {
			t.Errorf("the build context holds %s, which looks like a secret", file)
		}
		if strings.HasSuffix(file, "_test.go") || strings.Contains(file, "/testdata/") {
			t.Errorf("the build context holds %s: tests do not belong in the image", file)
		}
	}
}

func firstPattern(ignore string) string {
	for line := range strings.Lines(ignore) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

func TestDockerfile_ContextHoldsEverySourceFileOfTheBinary(t *testing.T) {
	root := repoRoot(t)
	context := make(map[string]bool)
	for _, f := range buildContext(t, root) {
		context[f] = true
	}
	need := []string{"go.mod", "go.sum"}
	for _, p := range binaryPackages(t) {
		if !p.inModule() {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range slices.Concat(p.GoFiles, p.EmbedFiles) {
			need = append(need, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	for _, f := range need {
		if !context[f] {
			t.Errorf("%s is needed by `go build ./cmd/busywork` but .dockerignore leaves it out of the build context", f)
		}
	}
}

// stamp is the version the tests build the binary with.
const stamp = "v0.0.0-shipping-test"

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// builtBinary builds busywork as the Dockerfile's build stage does: its
// COPY instructions from the build context (.dockerignore applied) into a
// folder standing for the stage's file system, then its `go build` RUN
// with its own flags and VERSION set to stamp. It returns the binary.
func builtBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() { buildBin, buildErr = dockerBuild(t) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

func dockerBuild(t *testing.T) (string, error) {
	root := repoRoot(t)
	build := parseDockerfile(t, filepath.Join(root, "Dockerfile"))[0]
	fsRoot := filepath.Join(workDir, "build-stage")
	workdir := "/"
	args := map[string]string{"VERSION": stamp, "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
	context := buildContext(t, root)
	downloaded := false
	for _, in := range build.ins {
		switch in.cmd {
		case "WORKDIR":
			workdir = path.Join(workdir, in.args)
		case "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			if _, set := args[name]; !set {
				args[name] = def
			}
		case "COPY":
			if flags, _ := in.flags(); len(flags) > 0 {
				return "", fmt.Errorf("Dockerfile:%d: COPY %s in the build stage: flags are not rehearsed here", in.line, in.args)
			}
			if err := copyInto(root, context, fsRoot, workdir, strings.Fields(in.args)); err != nil {
				return "", fmt.Errorf("Dockerfile:%d: %v", in.line, err)
			}
		case "RUN":
			_, rest := in.flags()
			if rest == "go mod download" {
				downloaded = true
				continue
			}
			if !strings.Contains(rest, "go build") {
				return "", fmt.Errorf("Dockerfile:%d: RUN %s: only go mod download and go build are rehearsed", in.line, rest)
			}
			if !downloaded {
				return "", fmt.Errorf("Dockerfile:%d: go build before go mod download", in.line)
			}
			return goBuild(t, rest, args, filepath.Join(fsRoot, workdir))
		}
	}
	return "", fmt.Errorf("the build stage has no go build")
}

// copyInto does COPY words (sources, then the destination) from the
// context files under root to the stage file system at fsRoot.
func copyInto(root string, context []string, fsRoot, workdir string, words []string) error {
	if len(words) < 2 {
		return fmt.Errorf("COPY %v: want sources and a destination", words)
	}
	dest := path.Join(workdir, words[len(words)-1])
	for _, src := range words[:len(words)-1] {
		src = path.Clean(src)
		found := false
		for _, f := range context {
			var to string
			switch {
			case src == ".":
				to = f
			case f == src:
				to = path.Base(f)
			case strings.HasPrefix(f, src+"/"):
				to = strings.TrimPrefix(f, src+"/")
			default:
				continue
			}
			found = true
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
			if err != nil {
				return err
			}
			target := filepath.Join(fsRoot, filepath.FromSlash(path.Join(dest, to)))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				return err
			}
		}
		if !found {
			return fmt.Errorf("COPY %s: not in the build context (.dockerignore)", src)
		}
	}
	return nil
}

// goBuild runs the Dockerfile's go build command line in dir, its ${ARG}s
// expanded from args and its output redirected to a file of workDir.
func goBuild(t *testing.T, line string, args map[string]string, dir string) (string, error) {
	line = os.Expand(line, func(name string) string { return args[name] })
	words, err := shellwords.Parse(line)
	if err != nil {
		return "", fmt.Errorf("go build line %q: %v", line, err)
	}
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		return "", fmt.Errorf("RUN %s: want [VAR=value...] go build ...", line)
	}
	bin := filepath.Join(workDir, "busywork")
	for i := range words {
		if words[i] == "-o" && i+1 < len(words) {
			words[i+1] = bin
		}
	}
	checks := map[string]bool{
		"CGO_ENABLED=0 (a static binary)":        slices.Contains(env, "CGO_ENABLED=0"),
		"-trimpath":                              slices.Contains(words, "-trimpath"),
		"-ldflags with -s -w -X main.version=…":  slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, "-s -w -X main.version="+stamp) }),
		"the package ./cmd/busywork, built last": words[len(words)-1] == "./cmd/busywork",
		"-o, the binary's path":                  slices.Contains(words, bin),
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("the Dockerfile's go build lacks %s: %s", what, line)
		}
	}
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("the Dockerfile's build, run from the build context alone, fails: %v\n%s", err, out)
	}
	return bin, nil
}

func TestDockerfile_BuildsAStaticBinaryThatPrintsItsStampedVersion(t *testing.T) {
	bin := builtBinary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != stamp {
		t.Errorf("busywork version = %q, %v; want %q from the Dockerfile's -X flag", out, err, stamp)
	}
	if runtime.GOOS != "linux" {
		return
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader: it would not start on distroless/static")
		}
	}
}
