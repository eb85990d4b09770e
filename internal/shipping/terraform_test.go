package shipping

import (
	"go/ast"
	"go/constant"
	gotypes "go/types"
	"maps"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/bootstrap"
	"github.com/busywork/busywork/producer"
)

// The Terraform folders: the module and its example root.
func infraDir(t *testing.T) string   { return filepath.Join(repoRoot(t), "infra") }
func exampleDir(t *testing.T) string { return filepath.Join(infraDir(t), "examples", "complete") }

func TestTerraform_IsFormatted(t *testing.T) {
	tf := requireTool(t, "terraform", "terraform fmt -check on infra/")
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", infraDir(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("terraform fmt -check -recursive infra: %v (run terraform fmt -recursive infra)\n%s", err, out)
	}
}

func TestTerraform_RefersOnlyToWhatItDeclaresAndTheExampleSetsTheModulesInputs(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	outputs := make(map[string]bool)
	for _, b := range mod.all("output") {
		outputs[b.Labels[0]] = true
	}
	checkReferences(t, mod, nil)

	ex := loadTF(t, exampleDir(t))
	call := ex.block(t, "module", "busywork")
	if src := str(t, "module source", newEval(t, ex, nil).value(attr(t, call.Body, "source").Expr, nil)); filepath.Join(exampleDir(t), src) != infraDir(t) {
		t.Fatalf("the example calls the module at %s, want infra/", src)
	}
	checkReferences(t, ex, map[string]map[string]bool{"busywork": outputs})
	inputs := make(map[string]bool)
	for _, b := range mod.all("variable") {
		inputs[b.Labels[0]] = true
		if _, hasDefault := b.Body.Attributes["default"]; !hasDefault {
			if _, set := call.Body.Attributes[b.Labels[0]]; !set {
				t.Errorf("the example does not set the module's required input %s", b.Labels[0])
			}
		}
	}
	for name := range call.Body.Attributes {
		if name != "source" && !inputs[name] {
			t.Errorf("the example sets %s, which the module does not declare", name)
		}
	}
}

// codeStringMap returns the string values of the map literal that the
// binary's package variable name is set to, by their constant keys.
func codeStringMap(t *testing.T, name string) map[string]string {
	t.Helper()
	m, _ := lookup(t, name)
	for _, f := range m.files {
		for _, d := range f.Decls {
			for _, spec := range declSpecs(d) {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok || len(vs.Names) != 1 || vs.Names[0].Name != name || len(vs.Values) != 1 {
					continue
				}
				lit, ok := vs.Values[0].(*ast.CompositeLit)
				if !ok {
					t.Fatalf("%s's %s is not a map literal", m.path, name)
				}
				out := make(map[string]string)
				for _, elt := range lit.Elts {
					kv := elt.(*ast.KeyValueExpr)
					k, v := m.info.Types[kv.Key].Value, m.info.Types[kv.Value].Value
					if k == nil || v == nil {
						t.Fatalf("%s's %s: %s: not constants", m.path, name, m.fset.Position(kv.Pos()))
					}
					out[constant.StringVal(k)] = constant.StringVal(v)
				}
				return out
			}
		}
	}
	t.Fatalf("%s declares %s as no variable", m.path, name)
	return nil
}

func declSpecs(d ast.Decl) []ast.Spec {
	if g, ok := d.(*ast.GenDecl); ok {
		return g.Specs
	}
	return nil
}

func TestTerraform_LanesAreTheWorkersLanesEachWithAQueueADeadLetterQueueAndTheirVariables(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	lanes := e.vars["lanes"].AsValueMap()
	if got := slices.Sorted(maps.Keys(lanes)); !slices.Equal(got, slices.Sorted(slices.Values(producer.Lanes()))) {
		t.Fatalf("var.lanes defaults to the lanes %v, the worker has %v", got, producer.Lanes())
	}
	queues := codeStringMap(t, "defaultQueues")
	for lane, l := range lanes {
		if q := str(t, "lanes."+lane+".queue", l.GetAttr("queue")); q != queues[lane] {
			t.Errorf("lane %s's queue defaults to %s in infra, %s in cmd/busywork", lane, q, queues[lane])
		}
	}

	dlq := mod.block(t, "resource", "aws_sqs_queue", "dlq")
	queue := mod.block(t, "resource", "aws_sqs_queue", "lane")
	for lane, each := range e.forEach(dlq) {
		name := str(t, "dlq name", e.value(attr(t, dlq.Body, "name").Expr, each))
		if want := lanes[lane].GetAttr("queue").AsString() + bootstrap.DeadLetterSuffix; name != want {
			t.Errorf("lane %s's DLQ is %s, want %s (bootstrap's and the worker's name)", lane, name, want)
		}
		for _, b := range []*hclsyntax.Block{dlq, queue} {
			if v := e.value(attr(t, b.Body, "sqs_managed_sse_enabled").Expr, each); !v.True() {
				t.Errorf("%s: no SSE-SQS", b.Labels)
			}
		}
		if name := str(t, "queue name", e.value(attr(t, queue.Body, "name").Expr, each)); name != queues[lane] {
			t.Errorf("lane %s's queue is %s, want %s", lane, name, queues[lane])
		}
	}
	for _, b := range []*hclsyntax.Block{dlq, queue, mod.block(t, "resource", "aws_sqs_queue_redrive_allow_policy", "dlq")} {
		if got := mod.text(attr(t, b.Body, "for_each").Expr.Range()); got != "var.lanes" {
			t.Errorf("%s has for_each = %s, want var.lanes: one per lane", b.Labels, got)
		}
	}
	allow := mod.text(attr(t, mod.block(t, "resource", "aws_sqs_queue_redrive_allow_policy", "dlq").Body, "redrive_allow_policy").Expr.Range())
	for _, want := range []string{`redrivePermission = "byQueue"`, "aws_sqs_queue.lane[each.key].arn"} {
		if !strings.Contains(allow, want) {
			t.Errorf("the DLQs' redrive allow policy lacks %s:\n%s", want, allow)
		}
	}

	// What each lane's worker is told of the lanes: every lane's URL (its
	// follow-up jobs go to any lane) under the names the worker reads, and
	// its own concurrency.
	knownVariables(t)
	for lane, env := range e.locals["worker_environment"].AsValueMap() {
		names := slices.Collect(maps.Keys(env.AsValueMap()))
		checkVariables(t, "infra's lane "+lane, names)
		for other := range lanes {
			if want := lanePrefix(other) + "QUEUE_URL"; !slices.Contains(names, want) {
				t.Errorf("lane %s's workers lack %s", lane, want)
			}
		}
		if want := lanePrefix(lane) + "CONCURRENCY"; !slices.Contains(names, want) {
			t.Errorf("lane %s's workers lack %s", lane, want)
		}
	}
}

// lanePrefix is the prefix of a lane's variables as cmd/busywork names
// them; checkVariables makes sure the names it makes exist.
func lanePrefix(lane string) string {
	if lane == producer.LaneDefault {
		return envPrefix
	}
	return envPrefix + strings.ToUpper(lane) + "_"
}

func TestTerraform_RedriveRetentionAndVisibilityAgreeWithTheWorker(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	queue := mod.block(t, "resource", "aws_sqs_queue", "lane")

	// maxReceiveCount: one variable, in the redrive policy and the workers'.
	policy := attr(t, queue.Body, "redrive_policy").Expr
	if !strings.Contains(mod.text(policy.Range()), "maxReceiveCount     = var.max_receive_count") {
		t.Errorf("the redrive policy's maxReceiveCount is not var.max_receive_count:\n%s", mod.text(policy.Range()))
	}
	mrc := num(t, "var.max_receive_count", e.vars["max_receive_count"])
	if want := codeDefaultTag(t, "config", "MaxReceiveCount"); strconv.FormatInt(mrc, 10) != want || mrc != bootstrap.DefaultMaxReceiveCount {
		t.Errorf("max_receive_count defaults to %d; the worker's BUSYWORK_MAX_RECEIVE_COUNT to %s, bootstrap's to %d", mrc, want, bootstrap.DefaultMaxReceiveCount)
	}
	for lane, env := range e.locals["worker_environment"].AsValueMap() {
		if got := str(t, "BUSYWORK_MAX_RECEIVE_COUNT", env.GetAttr("BUSYWORK_MAX_RECEIVE_COUNT")); got != strconv.FormatInt(mrc, 10) {
			t.Errorf("lane %s's workers get BUSYWORK_MAX_RECEIVE_COUNT=%s, the redrive policy %d", lane, got, mrc)
		}
		if env.Type().HasAttribute("BUSYWORK_LEASE") || env.Type().HasAttribute(lanePrefix(lane)+"LEASE") {
			t.Errorf("lane %s's workers set a lease: it must stay the queue's visibility timeout", lane)
		}
	}

	// The visibility timeout is the worker's lease (no BUSYWORK_LEASE).
	if got := mod.text(attr(t, queue.Body, "visibility_timeout_seconds").Expr.Range()); got != "var.visibility_timeout_seconds" {
		t.Errorf("the queues' visibility timeout is %s, want var.visibility_timeout_seconds", got)
	}
	vis := time.Duration(num(t, "var.visibility_timeout_seconds", e.vars["visibility_timeout_seconds"])) * time.Second
	if vis != bootstrap.DefaultVisibilityTimeout {
		t.Errorf("visibility timeout %s; bootstrap gives its queues %s", vis, bootstrap.DefaultVisibilityTimeout)
	}
	seconds := func(d time.Duration) cty.Value { return cty.NumberIntVal(int64(d / time.Second)) }
	for d, ok := range map[time.Duration]bool{consumer.MinLease: true, consumer.MinLease - time.Second: false, 12 * time.Hour: true, 12*time.Hour + time.Second: false} {
		if e.validates("visibility_timeout_seconds", seconds(d)) != ok {
			t.Errorf("visibility_timeout_seconds = %s: accepted %v, want %v (the lease is %s to 12h)", d, !ok, ok, consumer.MinLease)
		}
	}

	// Retention: a DLQ keeps a message's first enqueue time, so it must
	// keep messages longer than its queue; and the job claims must outlive
	// both, or a replayed dead letter would run again.
	qr := time.Duration(num(t, "message retention", e.vars["message_retention_seconds"])) * time.Second
	dr := time.Duration(num(t, "DLQ retention", e.vars["dead_letter_retention_seconds"])) * time.Second
	if dr <= qr || dr > bootstrap.DeadLetterRetention || ddb.DefaultJobRetention <= dr {
		t.Errorf("retention: queue %s, DLQ %s; want queue < DLQ <= %s < job claims' %s", qr, dr, bootstrap.DeadLetterRetention, ddb.DefaultJobRetention)
	}
	dlq := mod.block(t, "resource", "aws_sqs_queue", "dlq")
	if got := mod.text(attr(t, dlq.Body, "message_retention_seconds").Expr.Range()); got != "var.dead_letter_retention_seconds" {
		t.Errorf("the DLQs' retention is %s", got)
	}
	pre := nested(nested(queue.Body, "lifecycle")[0].Body, "precondition")
	if len(pre) != 1 {
		t.Fatal("the queues lack the precondition that the DLQ keeps messages longer")
	}
	short := newEval(t, mod, map[string]cty.Value{"dead_letter_retention_seconds": cty.NumberIntVal(int64(qr / time.Second))})
	if short.value(attr(t, pre[0].Body, "condition").Expr, nil).True() {
		t.Error("the precondition accepts a DLQ that keeps messages no longer than its queue")
	}
}

// codeDefaultTag returns the default tag of field of the binary's struct
// type typeName.
func codeDefaultTag(t *testing.T, typeName, field string) string {
	t.Helper()
	_, obj := lookup(t, typeName)
	tn, ok := obj.(*gotypes.TypeName)
	if !ok {
		t.Fatalf("%s is no type", typeName)
	}
	st := tn.Type().Underlying().(*gotypes.Struct)
	for i := range st.NumFields() {
		if st.Field(i).Name() == field {
			if v := reflect.StructTag(st.Tag(i)).Get("default"); v != "" {
				return v
			}
		}
	}
	t.Fatalf("%s.%s has no default tag", typeName, field)
	return ""
}

func TestTerraform_TaskDefinitionsRunEachLanesWorkerAsTheCodeExpects(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	bin := builtBinary(t)
	entry := lastExec(t, imageStage(t), "ENTRYPOINT")

	// The stop: ECS's longest stopTimeout, which the drain and the
	// shutdown margin must fit.
	stop := time.Duration(num(t, "local.stop_timeout", e.locals["stop_timeout"])) * time.Second
	if stop != busywork.ECSStopTimeout {
		t.Errorf("stopTimeout %s, want busywork.ECSStopTimeout %s", stop, busywork.ECSStopTimeout)
	}
	drain := time.Duration(num(t, "var.drain_timeout_seconds", e.vars["drain_timeout_seconds"])) * time.Second
	if def := consumer.DefaultDrainTimeout; def != drain {
		t.Errorf("drain_timeout_seconds defaults to %s, the worker's BUSYWORK_DRAIN_TIMEOUT to %s", drain, def)
	}
	if drain+consumer.ShutdownMargin > stop {
		t.Errorf("a drain of %s + %s does not fit the stop timeout %s", drain, consumer.ShutdownMargin, stop)
	}
	seconds := func(d time.Duration) cty.Value { return cty.NumberIntVal(int64(d / time.Second)) }
	if !e.validates("drain_timeout_seconds", seconds(busywork.MaxDrainTimeout)) || e.validates("drain_timeout_seconds", seconds(busywork.MaxDrainTimeout+time.Second)) {
		t.Errorf("drain_timeout_seconds must accept up to busywork.MaxDrainTimeout (%s) and no more", busywork.MaxDrainTimeout)
	}

	td := mod.block(t, "resource", "aws_ecs_task_definition", "worker")
	if got := mod.text(attr(t, td.Body, "container_definitions").Expr.Range()); got != "jsonencode([local.containers[each.key]])" {
		t.Errorf("container_definitions = %s, want jsonencode([local.containers[each.key]])", got)
	}
	for _, name := range []string{"requires_compatibilities", "network_mode", "task_role_arn", "execution_role_arn"} {
		attr(t, td.Body, name)
	}
	containers := e.locals["containers"].AsValueMap()
	for lane, c := range containers {
		if got := num(t, "stopTimeout", c.GetAttr("stopTimeout")); time.Duration(got)*time.Second != stop {
			t.Errorf("lane %s: stopTimeout %d", lane, got)
		}
		if !c.GetAttr("readonlyRootFilesystem").True() {
			t.Errorf("lane %s: the root file system is writable", lane)
		}
		command := strs(t, "command", c.GetAttr("command"))
		if !slices.Equal(command, []string{"worker", "--lanes", lane}) {
			t.Errorf("lane %s runs %q, want worker --lanes %s", lane, command, lane)
		}
		hc := strs(t, "healthCheck.command", c.GetAttr("healthCheck").GetAttr("command"))
		if want := slices.Concat([]string{"CMD"}, entry, []string{"health"}); !slices.Equal(hc, want) {
			t.Errorf("lane %s's health check %q, want %q", lane, hc, want)
		}
		for _, args := range [][]string{command, hc[2:]} {
			if out, err := exec.Command(bin, append(slices.Clone(args), "--help")...).CombinedOutput(); err != nil {
				t.Errorf("lane %s: busywork %s is not a command of the binary: %v\n%s", lane, strings.Join(args, " "), err, out)
			}
		}
		var names []string
		for _, kv := range c.GetAttr("environment").AsValueSlice() {
			names = append(names, str(t, "environment name", kv.GetAttr("name")))
		}
		for _, kv := range c.GetAttr("secrets").AsValueSlice() {
			names = append(names, str(t, "secret name", kv.GetAttr("name")))
		}
		checkVariables(t, "lane "+lane+"'s task definition", names)
		logs := c.GetAttr("logConfiguration")
		if str(t, "logDriver", logs.GetAttr("logDriver")) != "awslogs" {
			t.Errorf("lane %s does not log with awslogs", lane)
		}
	}
	// With both secrets set, they reach the container under names the
	// binary reads.
	arn := cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:k")
	withSecrets := newEval(t, mod, map[string]cty.Value{"signing_key_secret_arn": arn, "ticket_key_secret_arn": arn})
	checkVariables(t, "infra's secrets", slices.Collect(maps.Keys(withSecrets.locals["secrets"].AsValueMap())))
	if n := len(withSecrets.locals["secrets"].AsValueMap()); n != 2 {
		t.Errorf("%d secrets reach the workers, want 2", n)
	}
	if got := num(t, "log retention", e.vars["log_retention_days"]); got <= 0 {
		t.Errorf("log retention %d days", got)
	}
	if got := mod.text(attr(t, mod.block(t, "resource", "aws_cloudwatch_log_group", "workers").Body, "retention_in_days").Expr.Range()); got != "var.log_retention_days" {
		t.Errorf("the log group's retention is %s", got)
	}
	cluster := mod.block(t, "resource", "aws_ecs_cluster", "this")
	insights := false
	for _, s := range nested(cluster.Body, "setting") {
		insights = insights || e.value(attr(t, s.Body, "name").Expr, nil).AsString() == "containerInsights" &&
			e.value(attr(t, s.Body, "value").Expr, nil).AsString() == "enabled"
	}
	if !insights {
		t.Error("the cluster has no Container Insights (RunningTaskCount for scaling and alarms)")
	}
}

func TestTerraform_TableIsTheOneBootstrapMakes(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	table := mod.block(t, "resource", "aws_dynamodb_table", "this")
	want := map[string]string{"billing_mode": "PAY_PER_REQUEST", "hash_key": "pk", "range_key": "sk"}
	for name, v := range want {
		if got := str(t, name, e.value(attr(t, table.Body, name).Expr, nil)); got != v {
			t.Errorf("table %s = %s, want %s", name, got, v)
		}
	}
	if got := str(t, "table_name", e.vars["table_name"]); got != bootstrap.DefaultTable {
		t.Errorf("table_name defaults to %s, bootstrap's to %s", got, bootstrap.DefaultTable)
	}
	ttl := nested(table.Body, "ttl")
	if len(ttl) != 1 || str(t, "ttl", e.value(attr(t, ttl[0].Body, "attribute_name").Expr, nil)) != bootstrap.TTLAttribute ||
		!e.value(attr(t, ttl[0].Body, "enabled").Expr, nil).True() {
		t.Errorf("the table's TTL is not on %s", bootstrap.TTLAttribute)
	}
	pitr := nested(table.Body, "point_in_time_recovery")
	if len(pitr) != 1 || !e.value(attr(t, pitr[0].Body, "enabled").Expr, nil).True() {
		t.Error("point-in-time recovery is off by default")
	}
}

// accountLevel are the actions IAM authorises on no resource of their
// own, so whose statement's resource can only be "*" (the Service
// Authorization Reference lists no resource type for them).
var accountLevel = map[string]bool{"ses:GetAccount": true}

// policyActions returns the actions of data "aws_iam_policy_document"
// name's statements, failing the test on a wildcard, a Deny or a
// NotAction, and on a resource written with a wildcard, except the "*"
// of a statement of account-level actions only.
func policyActions(t *testing.T, mod *tfConfig, e *tfEval, name string) []string {
	t.Helper()
	doc := mod.block(t, "data", "aws_iam_policy_document", name)
	var actions []string
	for _, st := range nested(doc.Body, "statement") {
		for _, bad := range []string{"not_actions", "not_resources", "effect"} {
			if _, ok := st.Body.Attributes[bad]; ok {
				t.Errorf("%s: statement %s sets %s: only plain Allow statements", name, st.DefRange(), bad)
			}
		}
		accountOnly := true
		for _, a := range strs(t, "actions", e.value(attr(t, st.Body, "actions").Expr, nil)) {
			if strings.Contains(a, "*") {
				t.Errorf("%s grants %s: no wildcards", name, a)
			}
			accountOnly = accountOnly && accountLevel[a]
			actions = append(actions, a)
		}
		res := attr(t, st.Body, "resources").Expr
		if accountOnly && mod.text(res.Range()) == `["*"]` {
			continue
		}
		for _, tr := range hclsyntax.Variables(res) {
			text := tr.RootName()
			if text == "local" {
				text = mod.text(localExpr(t, mod, traversalName(tr, 2)).Range())
			}
			if strings.Contains(text, "*") {
				t.Errorf("%s: a statement's resources %s hold a wildcard", name, mod.text(res.Range()))
			}
		}
		if strings.Contains(mod.text(res.Range()), "*") {
			t.Errorf("%s: resources %s hold a wildcard", name, mod.text(res.Range()))
		}
	}
	slices.Sort(actions)
	return slices.Compact(actions)
}

func localExpr(t *testing.T, mod *tfConfig, name string) hclsyntax.Expression {
	t.Helper()
	for _, b := range mod.all("locals") {
		if a, ok := b.Body.Attributes[strings.TrimPrefix(name, "local.")]; ok {
			return a.Expr
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func TestTerraform_TaskRolesGrantExactlyTheActionsTheCodeCalls(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	for doc, role := range map[string]string{"task": "worker", "web": "web"} {
		want := iamActions(t, roleCalls(t, role))
		got := policyActions(t, mod, e, doc)
		if !slices.Equal(got, want) {
			t.Errorf("the %s policy grants %v; the %s calls what needs %v", doc, got, role, want)
		}
	}
	role := mod.block(t, "resource", "aws_iam_role_policy", "task")
	if got := mod.text(attr(t, role.Body, "policy").Expr.Range()); got != "data.aws_iam_policy_document.task[each.key].json" {
		t.Errorf("the task role's policy is %s, want the task document of its lane", got)
	}
	td := mod.block(t, "resource", "aws_ecs_task_definition", "worker")
	if got := mod.text(attr(t, td.Body, "task_role_arn").Expr.Range()); got != "aws_iam_role.task[each.key].arn" {
		t.Errorf("the task definitions' role is %s, want their lane's", got)
	}
	out := mod.block(t, "output", "web_policy_json")
	if got := mod.text(attr(t, out.Body, "value").Expr.Range()); got != "data.aws_iam_policy_document.web.json" {
		t.Errorf("output web_policy_json is %s", got)
	}
}

func TestTerraform_ScalingOnBacklogPerTaskWithAWayUpFromZero(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	for lane, l := range e.vars["lanes"].AsValueMap() {
		if n := num(t, "min_tasks", l.GetAttr("min_tasks")); n < 1 {
			t.Errorf("lane %s defaults to %d tasks: a lane at zero needs the first-task policy to start", lane, n)
		}
	}
	policy := mod.block(t, "resource", "aws_appautoscaling_policy", "backlog_per_task")
	text := mod.text(policy.Range())
	for _, want := range []string{
		`policy_type        = "TargetTrackingScaling"`,
		`metric_name = "ApproximateNumberOfMessagesVisible"`,
		`value = aws_sqs_queue.lane[each.key].name`,
		`metric_name = "RunningTaskCount"`,
		`expression  = "visible / tasks"`,
		`target_value       = each.value.backlog_per_task`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the target tracking policy lacks %s", want)
		}
	}
	// A lane that may scale to zero gets the step policy and its alarm.
	zero := newEval(t, mod, map[string]cty.Value{"lanes": cty.MapVal(map[string]cty.Value{
		"default": cty.ObjectVal(map[string]cty.Value{"queue": cty.StringVal("q"), "min_tasks": cty.NumberIntVal(0)}),
	})})
	for _, b := range []*hclsyntax.Block{mod.block(t, "resource", "aws_appautoscaling_policy", "first_task"), mod.block(t, "resource", "aws_cloudwatch_metric_alarm", "first_task")} {
		if got := slices.Collect(maps.Keys(zero.forEach(b))); !slices.Equal(got, []string{"default"}) {
			t.Errorf("%s for a lane with min_tasks 0: %v, want [default]", b.Labels, got)
		}
		if got := e.forEach(b); len(got) != 0 {
			t.Errorf("%s exists for lanes with min_tasks >= 1: %v", b.Labels, slices.Collect(maps.Keys(got)))
		}
	}
}

func TestTerraform_AlarmsOnDeadLettersOldMessagesAndUnhealthyTasks(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	checks := map[string][]string{
		"dead_letters":    {`metric_name         = "ApproximateNumberOfMessagesVisible"`, "aws_sqs_queue.dlq[each.key].name", `threshold           = 0`, `comparison_operator = "GreaterThanThreshold"`},
		"oldest_message":  {`metric_name         = "ApproximateAgeOfOldestMessage"`, "aws_sqs_queue.lane[each.key].name", "each.value.oldest_message_alarm_seconds"},
		"unhealthy_tasks": {`metric_name = "DesiredTaskCount"`, `metric_name = "RunningTaskCount"`, `expression  = "desired - FILL(running, 0)"`},
	}
	for name, wants := range checks {
		b := mod.block(t, "resource", "aws_cloudwatch_metric_alarm", name)
		text := mod.text(b.Range())
		for _, want := range append(wants, "for_each = var.lanes", "alarm_actions       = var.alarm_actions") {
			if !strings.Contains(text, want) {
				t.Errorf("alarm %s lacks %s", name, want)
			}
		}
		if strings.Contains(text, "NumberOfMessagesSent") {
			t.Errorf("alarm %s watches NumberOfMessagesSent, which misses redriven messages", name)
		}
	}
}

func TestTerraform_OutputsGiveAWebAppEveryLanesQueueAndTheTable(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	e := newEval(t, mod, nil)
	env := e.value(attr(t, mod.block(t, "output", "web_environment").Body, "value").Expr, nil).AsValueMap()
	names := slices.Sorted(maps.Keys(env))
	checkVariables(t, "output web_environment", names)
	want := []string{"AWS_REGION", envPrefix + "TABLE"}
	for _, lane := range producer.Lanes() {
		want = append(want, lanePrefix(lane)+"QUEUE_URL")
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("output web_environment holds %v, want %v", names, want)
	}
	for _, name := range []string{"queue_urls", "dead_letter_queue_urls", "table_name", "cluster_name", "service_names"} {
		mod.block(t, "output", name)
	}
}

func TestTerraform_TheTicketKeyIsRequiredAndReachesEveryWorker(t *testing.T) {
	mod := loadTF(t, infraDir(t))
	v := mod.block(t, "variable", "ticket_key_secret_arn")
	if _, ok := v.Body.Attributes["default"]; ok {
		t.Error("ticket_key_secret_arn has a default: the ticket key must be required")
	}
	if a, ok := v.Body.Attributes["nullable"]; !ok || newEval(t, mod, nil).value(a.Expr, nil).True() {
		t.Error("ticket_key_secret_arn is nullable: null would deploy workers without a ticket key")
	}
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:busywork/ticket-key-AbCdEf"
	e := newEval(t, mod, map[string]cty.Value{"ticket_key_secret_arn": cty.StringVal(arn)})
	for _, bad := range []string{"", "busywork/ticket-key", "arn:aws:s3:::bucket/key"} {
		if e.validates("ticket_key_secret_arn", cty.StringVal(bad)) {
			t.Errorf("ticket_key_secret_arn accepts %q, which is no Secrets Manager ARN", bad)
		}
	}
	if !e.validates("ticket_key_secret_arn", cty.StringVal(arn)) {
		t.Errorf("ticket_key_secret_arn refuses %s", arn)
	}
	for lane, c := range e.locals["containers"].AsValueMap() {
		got := ""
		for _, kv := range c.GetAttr("secrets").AsValueSlice() {
			if str(t, "secret name", kv.GetAttr("name")) == envPrefix+"TICKET_KEY" {
				got = str(t, "secret valueFrom", kv.GetAttr("valueFrom"))
			}
		}
		if got != arn {
			t.Errorf("lane %s's worker gets %sTICKET_KEY from %q, want %s", lane, envPrefix, got, arn)
		}
	}
	checkVariables(t, "the ticket key's secret", []string{envPrefix + "TICKET_KEY"})
}
