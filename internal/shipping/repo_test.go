package shipping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// mainPackage is the import path of the busywork binary.
const mainPackage = "github.com/busywork/busywork/cmd/busywork"

// envPrefix is the prefix of busywork's variables (the runtime's envconfig
// prefix).
const envPrefix = "BUSYWORK_"

// workDir is a temporary folder for what the tests build; TestMain
// removes it.
var workDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "busywork-shipping-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	workDir = dir
	return m.Run()
}

// repoRoot returns the repository's root folder.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod two folders up: %v", err)
	}
	return root
}

// goPackage is what `go list -json` says of a package.
type goPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Export     string
	Standard   bool
	GoFiles    []string
	EmbedFiles []string
	Module     *struct {
		Path string
		Main bool
	}
}

// inModule reports whether p is one of busywork's own packages.
func (p goPackage) inModule() bool { return p.Module != nil && p.Module.Main }

var (
	listOnce sync.Once
	listed   []goPackage
	listErr  error
)

// binaryPackages returns every package the busywork binary is built from,
// with its export data (`go list -deps -export ./cmd/busywork`).
func binaryPackages(t testing.TB) []goPackage {
	t.Helper()
	listOnce.Do(func() {
		cmd := exec.Command("go", "list", "-deps", "-export", "-json", "./cmd/busywork")
		cmd.Dir = repoRoot(t)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			listErr = fmt.Errorf("go list: %v\n%s", err, stderr.String())
			return
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var p goPackage
			if err := dec.Decode(&p); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				listErr = fmt.Errorf("go list output: %v", err)
				return
			}
			listed = append(listed, p)
		}
	})
	if listErr != nil {
		t.Fatal(listErr)
	}
	return listed
}

// runtimePackage is the import path of busywork's runtime, which the
// binary is built on: the commands bootstrap, worker, send, dlq, health
// and version, and the configuration they read.
const runtimePackage = "github.com/busywork/busywork"

// checked is a package of the binary type-checked from its source, with
// its imports from their export data.
type checked struct {
	path  string
	fset  *token.FileSet
	files []*ast.File
	pkg   *types.Package
	info  *types.Info
}

var (
	checkMu  sync.Mutex
	checkeds = map[string]*checked{}
)

// typeCheck type-checks the binary's package path (its non-test files).
func typeCheck(t testing.TB, path string) *checked {
	t.Helper()
	pkgs := binaryPackages(t)
	checkMu.Lock()
	defer checkMu.Unlock()
	if c := checkeds[path]; c != nil {
		return c
	}
	exports := make(map[string]string)
	var target goPackage
	for _, p := range pkgs {
		exports[p.ImportPath] = p.Export
		if p.ImportPath == path {
			target = p
		}
	}
	c := &checked{path: path, fset: token.NewFileSet()}
	for _, name := range target.GoFiles {
		f, err := parser.ParseFile(c.fset, filepath.Join(target.Dir, name), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		c.files = append(c.files, f)
	}
	imp := importer.ForCompiler(c.fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(exports[path])
	})
	c.info = &types.Info{
		Types:      make(map[ast.Expr]types.TypeAndValue),
		Uses:       make(map[*ast.Ident]types.Object),
		Defs:       make(map[*ast.Ident]types.Object),
		Selections: make(map[*ast.SelectorExpr]*types.Selection),
	}
	conf := types.Config{Importer: imp}
	var err error
	if c.pkg, err = conf.Check(path, c.fset, c.files, c.info); err != nil {
		t.Fatalf("type-check %s: %v", path, err)
	}
	checkeds[path] = c
	return c
}

// code returns the binary's own code, type-checked: the runtime and the
// demo's main, whose names the tests look up.
func code(t testing.TB) []*checked {
	t.Helper()
	return []*checked{typeCheck(t, runtimePackage), typeCheck(t, mainPackage)}
}

// lookup returns the package-level object name of the binary's code, and
// the package that declares it.
func lookup(t testing.TB, name string) (*checked, types.Object) {
	t.Helper()
	for _, c := range code(t) {
		if obj := c.pkg.Scope().Lookup(name); obj != nil {
			return c, obj
		}
	}
	t.Fatalf("neither %s nor %s declares %s", runtimePackage, mainPackage, name)
	return nil, nil
}

// loadEnv is the runtime's function that reads BUSYWORK_* variables into a
// struct (its wrapper of envconfig.Process).
const loadEnv = runtimePackage + ".LoadEnv"

// knownVariables returns every BUSYWORK_* variable the binary reads:
// the names envconfig gives the fields of the structs that the runtime
// and the demo hand to busywork.LoadEnv, found in their code.
func knownVariables(t testing.TB) map[string]bool {
	t.Helper()
	known := make(map[string]bool)
	for _, c := range code(t) {
		for _, f := range c.files {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				id, ok := call.Fun.(*ast.Ident)
				if sel, isSel := call.Fun.(*ast.SelectorExpr); isSel {
					id, ok = sel.Sel, true
				}
				if fn, isFn := c.info.Uses[id].(*types.Func); !ok || !isFn || fn.FullName() != loadEnv {
					return true
				}
				if ptr, ok := c.info.TypeOf(call.Args[0]).(*types.Pointer); ok {
					if st, ok := ptr.Elem().Underlying().(*types.Struct); ok {
						envconfigNames(strings.TrimSuffix(envPrefix, "_"), st, known)
					}
				}
				return true
			})
		}
	}
	if len(known) == 0 {
		t.Fatalf("found no calls of %s with a struct", loadEnv)
	}
	return known
}

// envconfigNames adds the variables envconfig reads into st under prefix,
// named as envconfig names them: PREFIX_TAG (or PREFIX_FIELD), a struct
// field's fields under its own name unless it is embedded without a tag.
func envconfigNames(prefix string, st *types.Struct, into map[string]bool) {
	for i := range st.NumFields() {
		f := st.Field(i)
		tag := reflect.StructTag(st.Tag(i))
		if tag.Get("ignored") == "true" || !f.Exported() {
			continue
		}
		key := f.Name()
		if alt := tag.Get("envconfig"); alt != "" {
			key = alt
		}
		key = strings.ToUpper(prefix + "_" + key)
		if inner, ok := f.Type().Underlying().(*types.Struct); ok && !isDecoded(f.Type()) {
			innerPrefix := prefix
			if !f.Embedded() || tag.Get("envconfig") != "" {
				innerPrefix = key
			}
			envconfigNames(innerPrefix, inner, into)
			continue
		}
		into[key] = true
	}
}

// isDecoded reports whether envconfig reads typ from one variable itself
// (it decodes or unmarshals text) instead of from its fields.
func isDecoded(typ types.Type) bool {
	ms := types.NewMethodSet(types.NewPointer(typ))
	for _, name := range []string{"Decode", "Set", "UnmarshalText", "UnmarshalBinary"} {
		if ms.Lookup(nil, name) != nil {
			return true
		}
	}
	return false
}

// checkVariables fails the test for every BUSYWORK_* name among names
// that the binary does not read; where says where the names are set.
func checkVariables(t *testing.T, where string, names []string) {
	t.Helper()
	known := knownVariables(t)
	for _, name := range names {
		if strings.HasPrefix(name, envPrefix) && !known[name] {
			t.Errorf("%s sets %s, which busywork does not read (a typo, or a setting that is gone?)", where, name)
		}
	}
}

// requireTool returns the path of tool, or skips the test when it is
// missing, failing it instead under CI or `make test` (CI or
// BUSYWORK_INTEGRATION set), where it must be there.
func requireTool(t *testing.T, tool, why string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed (%s): %v", tool, why, err)
	if os.Getenv("CI") != "" || os.Getenv("BUSYWORK_INTEGRATION") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
