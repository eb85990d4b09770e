package shipping

import (
	"fmt"
	"go/ast"
	"go/types"
	"slices"
	"strings"
	"testing"
)

// sdkService is the import path prefix of the AWS SDK's service clients.
const sdkService = "github.com/aws/aws-sdk-go-v2/service/"

// sdkCall is one SDK operation a command calls: the service's package name
// (sqs, dynamodb, sesv2) and the method (ReceiveMessage).
type sdkCall struct{ service, method string }

// roles are the functions where each role of the binary begins, by the
// package that declares them: the worker is the runtime's runWorker and
// the demo's register, the App.Register it calls through a func value.
var roles = map[string]map[string][]string{
	"bootstrap": {runtimePackage: {"runBootstrap"}},
	"worker":    {runtimePackage: {"runWorker"}, mainPackage: {"register"}},
	"web":       {mainPackage: {"runWeb"}},
}

// roleCalls returns the SDK operations that role (bootstrap, worker, web)
// can call: sdkCalls of each of its functions.
func roleCalls(t *testing.T, role string) []sdkCall {
	t.Helper()
	var out []sdkCall
	for path, fns := range roles[role] {
		for _, fn := range fns {
			out = append(out, sdkCalls(t, typeCheck(t, path), fn)...)
		}
	}
	slices.SortFunc(out, func(x, y sdkCall) int { return strings.Compare(x.service+"."+x.method, y.service+"."+y.method) })
	return slices.Compact(out)
}

// sdkCalls returns the SDK operations that the function fn of package m
// can call, found in its code: every place it hands an SDK client
// (*sqs.Client, ...) to a narrow interface adds that interface's methods;
// a method called on a client itself adds that method; a client passed to
// another function of m is followed into it. A client handed to anything
// else (a concrete parameter of another package) fails the test: busywork
// declares narrow interfaces where clients are used.
func sdkCalls(t *testing.T, m *checked, fn string) []sdkCall {
	t.Helper()
	a := &callFinder{t: t, m: m, seen: make(map[*ast.FuncDecl]bool), calls: make(map[sdkCall]string)}
	decl := a.decl(fn)
	if decl == nil {
		t.Fatalf("%s has no function %s", m.path, fn)
	}
	a.walk(decl)
	out := make([]sdkCall, 0, len(a.calls))
	for c := range a.calls {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y sdkCall) int { return strings.Compare(x.service+"."+x.method, y.service+"."+y.method) })
	if len(out) == 0 {
		t.Fatalf("%s.%s hands no SDK client to anything: the analysis is broken", m.path, fn)
	}
	return out
}

// callFinder walks one package's functions for SDK clients.
type callFinder struct {
	t     *testing.T
	m     *checked
	seen  map[*ast.FuncDecl]bool
	calls map[sdkCall]string // what led to each, for messages
}

// decl returns the package's function named name.
func (a *callFinder) decl(name string) *ast.FuncDecl {
	for _, f := range a.m.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == name {
				return fd
			}
		}
	}
	return nil
}

// clientService returns the service of an SDK client type (*sqs.Client).
func clientService(t types.Type) (string, bool) {
	ptr, ok := t.(*types.Pointer)
	if !ok {
		return "", false
	}
	named, ok := ptr.Elem().(*types.Named)
	if !ok || named.Obj().Name() != "Client" || named.Obj().Pkg() == nil {
		return "", false
	}
	service, ok := strings.CutPrefix(named.Obj().Pkg().Path(), sdkService)
	return service, ok && !strings.Contains(service, "/")
}

func (a *callFinder) walk(fd *ast.FuncDecl) {
	if a.seen[fd] {
		return
	}
	a.seen[fd] = true
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			a.call(fd, n)
		case *ast.CompositeLit:
			a.literal(fd, n)
		case *ast.AssignStmt, *ast.ValueSpec:
			a.other(fd, n)
		}
		return true
	})
}

// call handles a method called on a client and clients passed as arguments.
func (a *callFinder) call(fd *ast.FuncDecl, call *ast.CallExpr) {
	info := a.m.info
	if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
		// A client method that is no operation (Options) calls nothing.
		if service, ok := clientService(info.TypeOf(sel.X)); ok && isOperation(service, sel.Sel.Name, info.TypeOf(sel)) {
			a.add(sdkCall{service, sel.Sel.Name}, fmt.Sprintf("%s calls %s", fd.Name.Name, sel.Sel.Name))
		}
	}
	if tv, ok := info.Types[call.Fun]; ok && tv.IsType() {
		return // a conversion
	}
	sig, ok := info.TypeOf(call.Fun).(*types.Signature)
	if !ok {
		return
	}
	for i, arg := range call.Args {
		service, ok := clientService(info.TypeOf(arg))
		if !ok {
			continue
		}
		param := paramType(sig, i)
		where := fmt.Sprintf("%s passes a *%s.Client to %s", fd.Name.Name, service, types.ExprString(call.Fun))
		if iface, ok := param.Underlying().(*types.Interface); ok {
			a.addInterface(service, iface, param, where)
			continue
		}
		callee := a.callee(call)
		if callee == nil {
			a.t.Errorf("%s, which takes it as %s: declare a narrow interface there, so that the roles' actions can be derived", where, param)
			continue
		}
		a.walk(callee)
	}
}

// paramType returns the type of a call's i-th argument's parameter.
func paramType(sig *types.Signature, i int) types.Type {
	n := sig.Params().Len()
	if sig.Variadic() && i >= n-1 {
		return sig.Params().At(n - 1).Type().(*types.Slice).Elem()
	}
	return sig.Params().At(i).Type()
}

// callee returns the declaration of a called function or method of the
// package.
func (a *callFinder) callee(call *ast.CallExpr) *ast.FuncDecl {
	var id *ast.Ident
	switch fun := call.Fun.(type) {
	case *ast.Ident:
		id = fun
	case *ast.SelectorExpr:
		id = fun.Sel
	default:
		return nil
	}
	fn, ok := a.m.info.Uses[id].(*types.Func)
	if !ok || fn.Pkg() != a.m.pkg {
		return nil
	}
	for _, f := range a.m.files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && a.m.info.Defs[fd.Name] == fn {
				return fd
			}
		}
	}
	return nil
}

// literal handles clients set as fields of a struct literal.
func (a *callFinder) literal(fd *ast.FuncDecl, lit *ast.CompositeLit) {
	st, ok := a.m.info.TypeOf(lit).Underlying().(*types.Struct)
	if !ok {
		return
	}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		service, ok := clientService(a.m.info.TypeOf(kv.Value))
		if !ok {
			continue
		}
		key := kv.Key.(*ast.Ident).Name
		for i := range st.NumFields() {
			if f := st.Field(i); f.Name() == key {
				where := fmt.Sprintf("%s sets %s.%s to a *%s.Client", fd.Name.Name, types.TypeString(a.m.info.TypeOf(lit), nil), key, service)
				if iface, ok := f.Type().Underlying().(*types.Interface); ok {
					a.addInterface(service, iface, f.Type(), where)
				} else {
					a.t.Errorf("%s, a field of type %s: declare a narrow interface", where, f.Type())
				}
			}
		}
	}
}

// other refuses a client assigned to a variable of another type (an
// interface the analysis would not follow); a variable of the client's own
// type is fine.
func (a *callFinder) other(fd *ast.FuncDecl, n ast.Node) {
	var lhs, rhs []ast.Expr
	switch n := n.(type) {
	case *ast.AssignStmt:
		lhs, rhs = n.Lhs, n.Rhs
	case *ast.ValueSpec:
		for _, name := range n.Names {
			lhs = append(lhs, name)
		}
		rhs = n.Values
	}
	if len(lhs) != len(rhs) {
		return // v, err := f(): a client comes only from a call of its own
	}
	for i, r := range rhs {
		if _, ok := clientService(a.m.info.TypeOf(r)); !ok {
			continue
		}
		if _, ok := clientService(a.m.info.TypeOf(lhs[i])); !ok {
			a.t.Errorf("%s: %s keeps an SDK client as %s, which the role analysis does not follow; pass it to a narrow interface",
				a.m.fset.Position(r.Pos()), fd.Name.Name, a.m.info.TypeOf(lhs[i]))
		}
	}
}

// addInterface adds the SDK methods of iface, whose methods must all be
// operations of service.
func (a *callFinder) addInterface(service string, iface *types.Interface, named types.Type, where string) {
	for i := range iface.NumMethods() {
		m := iface.Method(i)
		if !isOperation(service, m.Name(), m.Type()) {
			a.t.Errorf("%s (%s): its method %s takes no *%s%s.%sInput: only SDK operations belong in a client interface",
				where, named, m.Name(), sdkService, service, m.Name())
			continue
		}
		a.add(sdkCall{service, m.Name()}, where+" ("+types.TypeString(named, nil)+")")
	}
}

// isOperation reports whether method, of signature sig, is an operation
// of service's client: its second parameter is the operation's input
// (*sqs.ReceiveMessageInput).
func isOperation(service, method string, sig types.Type) bool {
	s, ok := sig.(*types.Signature)
	return ok && s.Params().Len() >= 2 &&
		types.TypeString(s.Params().At(1).Type(), nil) == "*"+sdkService+service+"."+method+"Input"
}

func (a *callFinder) add(c sdkCall, why string) {
	if _, ok := a.calls[c]; !ok {
		a.calls[c] = why
	}
}

// iamActions returns the IAM actions that authorise calls, or fails the
// test for an operation whose actions cannot be told from its name.
//
// SQS's batch operations have no actions of their own ("You cannot set
// permissions explicitly for SendMessageBatch, DeleteMessageBatch, or
// ChangeMessageVisibilityBatch"; the single action covers the batch).
// DynamoDB's batch operations do (dynamodb:BatchWriteItem); its
// transactions are authorised per item by PutItem, UpdateItem, DeleteItem,
// GetItem and ConditionCheckItem, so they are refused here until someone
// says which items busywork's transactions hold. SES v2 shares SES's
// action prefix.
func iamActions(t *testing.T, calls []sdkCall) []string {
	t.Helper()
	prefix := map[string]string{"sqs": "sqs", "dynamodb": "dynamodb", "sesv2": "ses"}
	sqsBatch := map[string]string{
		"SendMessageBatch":             "SendMessage",
		"DeleteMessageBatch":           "DeleteMessage",
		"ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
	}
	var out []string
	for _, c := range calls {
		p, ok := prefix[c.service]
		if !ok {
			t.Errorf("no IAM action prefix known for the SDK service %s (%s)", c.service, c.method)
			continue
		}
		action := c.method
		switch {
		case c.service == "sqs" && sqsBatch[action] != "":
			action = sqsBatch[action]
		case c.service == "dynamodb" && action == "TransactGetItems":
			action = "GetItem"
		case c.service == "dynamodb" && action == "TransactWriteItems":
			t.Errorf("dynamodb.TransactWriteItems is authorised by the actions of its items (PutItem, UpdateItem, DeleteItem, ConditionCheckItem): teach iamActions which")
			continue
		}
		out = append(out, p+":"+action)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
