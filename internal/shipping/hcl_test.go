package shipping

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// tfConfig is the parsed .tf files of one Terraform folder.
type tfConfig struct {
	dir    string
	blocks []*hclsyntax.Block
	src    map[string][]byte // file name -> contents
}

func loadTF(t *testing.T, dir string) *tfConfig {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	c := &tfConfig{dir: dir, src: make(map[string][]byte)}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := hclsyntax.ParseConfig(data, name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", name, diags)
		}
		c.src[name] = data
		c.blocks = append(c.blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return c
}

// all returns the top-level blocks of type typ whose labels start with
// labels.
func (c *tfConfig) all(typ string, labels ...string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range c.blocks {
		if b.Type == typ && len(b.Labels) >= len(labels) && slices.Equal(b.Labels[:len(labels)], labels) {
			out = append(out, b)
		}
	}
	return out
}

// block returns the one block of type typ with exactly labels.
func (c *tfConfig) block(t *testing.T, typ string, labels ...string) *hclsyntax.Block {
	t.Helper()
	bs := c.all(typ, labels...)
	if len(bs) != 1 {
		t.Fatalf("%s: want one %s %q, have %d", c.dir, typ, labels, len(bs))
	}
	return bs[0]
}

// text returns the source of rng.
func (c *tfConfig) text(rng hcl.Range) string {
	return string(rng.SliceBytes(c.src[rng.Filename]))
}

// attr returns the attribute name of body, failing the test without it.
func attr(t *testing.T, body *hclsyntax.Body, name string) *hclsyntax.Attribute {
	t.Helper()
	a, ok := body.Attributes[name]
	if !ok {
		t.Fatalf("%s: no attribute %s", body.SrcRange, name)
	}
	return a
}

// nested returns the blocks of type typ directly in body.
func nested(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		if b.Type == typ {
			out = append(out, b)
		}
	}
	return out
}

// tfEval evaluates a module's expressions as Terraform would before any
// resource exists: variables from their defaults (or given values),
// locals from those, and every resource, data source and module unknown.
type tfEval struct {
	t      *testing.T
	cfg    *tfConfig
	vars   map[string]cty.Value
	locals map[string]cty.Value
}

// newEval evaluates cfg's variables (set overrides their defaults; a
// variable with neither is unknown) and then its locals.
func newEval(t *testing.T, cfg *tfConfig, set map[string]cty.Value) *tfEval {
	t.Helper()
	e := &tfEval{t: t, cfg: cfg, vars: make(map[string]cty.Value), locals: make(map[string]cty.Value)}
	for _, b := range cfg.all("variable") {
		e.vars[b.Labels[0]] = e.variable(b, set)
	}
	var exprs = make(map[string]hcl.Expression)
	for _, b := range cfg.all("locals") {
		for name, a := range b.Body.Attributes {
			exprs[name] = a.Expr
			e.locals[name] = cty.DynamicVal
		}
	}
	// Locals refer to each other: evaluate until nothing changes.
	var errs map[string]hcl.Diagnostics
	for range len(exprs) + 1 {
		errs = make(map[string]hcl.Diagnostics)
		for name, expr := range exprs {
			v, diags := expr.Value(e.context(nil))
			if diags.HasErrors() {
				errs[name] = diags
				continue
			}
			e.locals[name] = v
		}
	}
	for name, diags := range errs {
		t.Errorf("%s: local.%s: %s", cfg.dir, name, diags)
	}
	return e
}

// variable returns the value of variable block b: set's, else its
// default, with its type's optional attributes filled in.
func (e *tfEval) variable(b *hclsyntax.Block, set map[string]cty.Value) cty.Value {
	name := b.Labels[0]
	ty, defaults := cty.DynamicPseudoType, (*typeexpr.Defaults)(nil)
	if a, ok := b.Body.Attributes["type"]; ok {
		var diags hcl.Diagnostics
		ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(a.Expr)
		if diags.HasErrors() {
			e.t.Fatalf("variable %s: type: %s", name, diags)
		}
	}
	v, ok := set[name]
	if !ok {
		a, has := b.Body.Attributes["default"]
		if !has {
			return cty.UnknownVal(ty)
		}
		var diags hcl.Diagnostics
		if v, diags = a.Expr.Value(nil); diags.HasErrors() {
			e.t.Fatalf("variable %s: default: %s", name, diags)
		}
	}
	if defaults != nil {
		v = defaults.Apply(v)
	}
	v, err := convert.Convert(v, ty)
	if err != nil {
		e.t.Fatalf("variable %s: its value does not fit its type: %v", name, err)
	}
	return v
}

// context returns the evaluation context, with each set for a block with
// for_each.
func (e *tfEval) context(each map[string]cty.Value) *hcl.EvalContext {
	vars := map[string]cty.Value{
		"var":       cty.ObjectVal(e.vars),
		"local":     cty.ObjectVal(e.locals),
		"data":      cty.DynamicVal,
		"module":    cty.DynamicVal,
		"path":      cty.DynamicVal,
		"terraform": cty.DynamicVal,
	}
	if each != nil {
		vars["each"] = cty.ObjectVal(each)
	}
	for _, b := range e.cfg.all("resource") {
		vars[b.Labels[0]] = cty.DynamicVal
	}
	return &hcl.EvalContext{Variables: vars, Functions: tfFunctions}
}

// value evaluates expr, failing the test on an error.
func (e *tfEval) value(expr hcl.Expression, each map[string]cty.Value) cty.Value {
	e.t.Helper()
	v, diags := expr.Value(e.context(each))
	if diags.HasErrors() {
		e.t.Fatalf("%s: %s", expr.Range(), diags)
	}
	return v
}

// forEach returns the each.key/each.value pairs of block b's for_each.
func (e *tfEval) forEach(b *hclsyntax.Block) map[string]map[string]cty.Value {
	e.t.Helper()
	v := e.value(attr(e.t, b.Body, "for_each").Expr, nil)
	if !v.IsWhollyKnown() && !v.IsKnown() {
		e.t.Fatalf("%s: for_each is unknown before apply", b.DefRange())
	}
	out := make(map[string]map[string]cty.Value)
	for k, val := range v.AsValueMap() {
		out[k] = map[string]cty.Value{"key": cty.StringVal(k), "value": val}
	}
	return out
}

// validates reports whether variable name's validation conditions all
// hold for value.
func (e *tfEval) validates(name string, value cty.Value) bool {
	e.t.Helper()
	b := e.cfg.block(e.t, "variable", name)
	vars := maps.Clone(e.vars)
	vars[name] = e.variable(b, map[string]cty.Value{name: value})
	ev := &tfEval{t: e.t, cfg: e.cfg, vars: vars, locals: e.locals}
	for _, v := range nested(b.Body, "validation") {
		if ok := ev.value(attr(e.t, v.Body, "condition").Expr, nil); !ok.True() {
			return false
		}
	}
	return true
}

// str returns v as a Go string, failing the test when it is not a known
// string.
func str(t *testing.T, what string, v cty.Value) string {
	t.Helper()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
		t.Fatalf("%s is %#v, want a known string", what, v)
	}
	return v.AsString()
}

// num returns v as an int64, failing the test when it is not a known
// whole number.
func num(t *testing.T, what string, v cty.Value) int64 {
	t.Helper()
	if !v.IsKnown() || v.IsNull() || v.Type() != cty.Number {
		t.Fatalf("%s is %#v, want a known number", what, v)
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != 0 {
		t.Fatalf("%s is %s, want a whole number", what, v.AsBigFloat())
	}
	return n
}

// strings returns a known list or tuple of strings.
func strs(t *testing.T, what string, v cty.Value) []string {
	t.Helper()
	if !v.IsWhollyKnown() || !v.CanIterateElements() {
		t.Fatalf("%s is %#v, want a known list of strings", what, v)
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		out = append(out, str(t, what, e))
	}
	return out
}

// tfFunctions are the Terraform functions infra/ uses, from go-cty's
// standard library, which Terraform's are built on.
var tfFunctions = map[string]function.Function{
	"alltrue":    allTrueFunc,
	"can":        tryfunc.CanFunc,
	"coalesce":   stdlib.CoalesceFunc,
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lookup":     stdlib.LookupFunc,
	"max":        stdlib.MaxFunc,
	"merge":      stdlib.MergeFunc,
	"min":        stdlib.MinFunc,
	"regex":      stdlib.RegexFunc,
	"sort":       stdlib.SortFunc,
	"tostring":   stdlib.MakeToFunc(cty.String),
	"try":        tryfunc.TryFunc,
	"upper":      stdlib.UpperFunc,
	"values":     stdlib.ValuesFunc,
}

// allTrueFunc is Terraform's alltrue, which go-cty lacks.
var allTrueFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool)}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if !args[0].IsWhollyKnown() {
			return cty.UnknownVal(cty.Bool), nil
		}
		for _, v := range args[0].AsValueSlice() {
			if v.IsNull() || v.False() {
				return cty.False, nil
			}
		}
		return cty.True, nil
	},
})

// references lists what the expressions of b (nested blocks too) refer to,
// as "var.x", "local.y", "aws_sqs_queue.lane", "data.t.n", "module.m.out",
// "each.key". A variable's type is a type expression, and a lifecycle's
// ignore_changes a list of attribute names: neither is a reference.
func references(b *hclsyntax.Block) []hcl.Traversal {
	var out []hcl.Traversal
	var walk func(body *hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for name, a := range body.Attributes {
			if b.Type == "variable" && body == b.Body && name == "type" || name == "ignore_changes" {
				continue
			}
			out = append(out, hclsyntax.Variables(a.Expr)...)
		}
		for _, nb := range body.Blocks {
			walk(nb.Body)
		}
	}
	walk(b.Body)
	return out
}

// traversalName returns a traversal's first n names joined by dots.
func traversalName(tr hcl.Traversal, n int) string {
	parts := []string{tr.RootName()}
	for _, step := range tr[1:] {
		if len(parts) == n {
			break
		}
		if a, ok := step.(hcl.TraverseAttr); ok {
			parts = append(parts, a.Name)
		} else {
			break
		}
	}
	return strings.Join(parts, ".")
}

// declared returns the names cfg declares, in the forms references uses.
func (c *tfConfig) declared() map[string]bool {
	d := make(map[string]bool)
	for _, b := range c.blocks {
		switch b.Type {
		case "variable":
			d["var."+b.Labels[0]] = true
		case "locals":
			for name := range b.Body.Attributes {
				d["local."+name] = true
			}
		case "resource":
			d[b.Labels[0]+"."+b.Labels[1]] = true
		case "data":
			d["data."+b.Labels[0]+"."+b.Labels[1]] = true
		case "module":
			d["module."+b.Labels[0]] = true
		}
	}
	return d
}

// checkReferences fails the test for every reference in cfg to something
// it does not declare (and, for module outputs, that the module called
// from moduleOutputs does not output): the part of terraform validate
// that needs no provider.
func checkReferences(t *testing.T, cfg *tfConfig, moduleOutputs map[string]map[string]bool) {
	t.Helper()
	d := cfg.declared()
	for _, b := range cfg.blocks {
		_, hasEach := b.Body.Attributes["for_each"]
		_, hasCount := b.Body.Attributes["count"]
		for _, tr := range references(b) {
			root := tr.RootName()
			var ok bool
			var name string
			switch root {
			case "each":
				ok, name = hasEach, "each (without for_each)"
			case "count":
				ok, name = hasCount, "count (without count)"
			case "path", "terraform", "self":
				ok = true
			case "var", "local":
				name = traversalName(tr, 2)
				ok = d[name]
			case "data":
				name = traversalName(tr, 3)
				ok = d[name]
			case "module":
				name = traversalName(tr, 3)
				mod := traversalName(tr, 2)
				out := strings.TrimPrefix(name, mod+".")
				ok = d[mod] && moduleOutputs[strings.TrimPrefix(mod, "module.")][out]
			default:
				name = traversalName(tr, 2)
				ok = d[name]
			}
			if !ok {
				t.Errorf("%s: %s refers to %s, which is not declared", tr.SourceRange(), fmt.Sprint(b.Type, b.Labels), name)
			}
		}
	}
}
