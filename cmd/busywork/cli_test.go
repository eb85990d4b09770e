package main_test

import (
	"strings"
	"testing"
)

func TestHelp_EveryCommandPrintsUsageAndExitsZero(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "Usage:\n  busywork <command>"},
		{[]string{"--help"}, "Usage:\n  busywork <command>"},
		{[]string{"-h"}, "Usage:\n  busywork <command>"},
		{[]string{"help", "send"}, "Usage: busywork send [--delay D | --at TIME] TYPE JSON"},
		{[]string{"send", "--help"}, "busywork send --delay 2h ping"},
		{[]string{"cancel", "--help"}, "Usage: busywork cancel JOB_ID"},
		{[]string{"help", "cancel"}, "too late"},
		{[]string{"send", "-h"}, "Job types: dispatch_tickets, generate_ticket, magic_link, ping"},
		{[]string{"worker", "--help"}, "Usage: busywork worker [--lanes LANE,...]\n"},
		{[]string{"worker", "-h"}, "/healthz"},
		{[]string{"web", "--help"}, "Usage: busywork web\n"},
		{[]string{"web", "-h"}, "BUSYWORK_WEB_ADDR (default 127.0.0.1:8080)"},
		{[]string{"help", "web"}, "POST /auth/magic-link"},
		{[]string{"bootstrap", "--help"}, "Usage: busywork bootstrap\n"},
		{[]string{"bootstrap", "-h"}, "dead-letter queue"},
		{[]string{"user", "--help"}, "Usage: busywork user add [--name NAME] EMAIL"},
		{[]string{"user", "add", "-h"}, "busywork user add --name \"Ada Lovelace\" ada@example.com"},
		{[]string{"batch", "--help"}, "Usage: busywork batch status [--json] ORDER_ID"},
		{[]string{"batch", "status", "-h"}, "--json prints the same as GET /orders/ORDER_ID does"},
		{[]string{"batch", "repair", "--help"}, "batch repair finishes an order that no retry will finish"},
		{[]string{"health", "--help"}, "Usage: busywork health [--web] [--timeout D]"},
		{[]string{"help", "health"}, `["CMD", "/busywork", "health"]`},
		{[]string{"version", "-h"}, "Usage: busywork version\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// A broken environment must not stop --help.
			r := runBusywork(t, []string{"BUSYWORK_CONCURRENCY=abc"}, tt.args...)
			if r.code != 0 || !strings.Contains(r.stdout, tt.want) {
				t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and stdout containing %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestUsageErrors_ExitTwoNamingTheProblem(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no command", nil, nil, "Usage:\n  busywork <command>"},
		{"unknown command", nil, []string{"frobnicate"}, `busywork: unknown command "frobnicate"`},
		{"help for an unknown command", nil, []string{"help", "frobnicate"}, `busywork help: unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"worker", "-x"}, "busywork worker: flag provided but not defined: -x"},
		{"extra argument", nil, []string{"bootstrap", "now"}, `busywork bootstrap: unexpected argument "now"`},
		{"web extra argument", nil, []string{"web", "now"}, `busywork web: unexpected argument "now"`},
		{"health extra argument", nil, []string{"health", "now"}, `busywork health: unexpected argument "now"`},
		{"health zero timeout", nil, []string{"health", "--timeout", "0s"}, "busywork health: --timeout 0s: want a positive duration"},
		{"version extra argument", nil, []string{"version", "now"}, `busywork version: unexpected argument "now"`},
		{"send without arguments", nil, []string{"send"}, "busywork send: missing arguments TYPE and JSON"},
		{"send without JSON", nil, []string{"send", "ping"}, "busywork send: missing argument JSON"},
		{"send with too many arguments", nil, []string{"send", "ping", "{}", "{}"}, `busywork send: unexpected argument "{}"`},
		{"unknown job type", nil, []string{"send", "x", "{}"},
			`busywork send: unknown job type "x" (known: dispatch_tickets, generate_ticket, magic_link, ping, ticket_order)`},
		{"bad JSON", nil, []string{"send", "ping", "{message:hi}"}, "busywork send: JSON: ping job fields: invalid character"},
		{"unknown field", nil, []string{"send", "ping", `{"mesage":"hi"}`}, `busywork send: JSON: ping job fields: unknown field "mesage"`},
		{"invalid job", nil, []string{"send", "magic_link", `{"email":"ada"}`}, `busywork send: invalid magic_link job: email: "ada" is not a plain address`},
		{"send with a negative delay", nil, []string{"send", "--delay", "-1h", "ping", "{}"},
			"busywork send: --delay -1h: invalid delay: -1h0m0s is not between 0 and 30 days (720h0m0s)"},
		{"send with a delay past the most", nil, []string{"send", "ping", "{}", "--delay", "31d"},
			"busywork send: --delay 31d: invalid delay: 744h0m0s is not between 0 and 30 days"},
		{"send with an absurd delay", nil, []string{"send", "--delay", "876000h", "ping", "{}"}, "busywork send: --delay 876000h: invalid delay"},
		{"send with a delay in years", nil, []string{"send", "--delay", "100y", "ping", "{}"},
			"busywork send: --delay 100y: not a duration such as 90s, 2h30m or 7d"},
		{"send with a malformed time", nil, []string{"send", "--at", "tomorrow", "ping", "{}"},
			"busywork send: --at tomorrow: not an RFC 3339 time such as 2026-12-24T09:00:00Z"},
		{"send at a time past the most", nil, []string{"send", "--at", "2126-12-24T09:00:00Z", "ping", "{}"},
			"busywork send: --at 2126-12-24T09:00:00Z: invalid delay: At(2126-12-24T09:00:00Z) is more than 30 days"},
		{"send at a time long ago", nil, []string{"send", "--at", "2020-12-24T09:00:00Z", "ping", "{}"},
			"busywork send: --at 2020-12-24T09:00:00Z: invalid delay: At(2020-12-24T09:00:00Z) is more than 30 days (720h0m0s) ago"},
		{"send with a delay and a time", nil, []string{"send", "--delay", "1h", "--at", "2026-12-24T09:00:00Z", "ping", "{}"},
			"busywork send: --delay and --at: give one, not both"},
		{"cancel without an id", nil, []string{"cancel"}, "busywork cancel: missing argument JOB_ID"},
		{"cancel two ids", nil, []string{"cancel", "a", "b"}, `busywork cancel: unexpected argument "b" after JOB_ID`},
		{"cancel a malformed id", nil, []string{"cancel", "a/b"}, `busywork cancel: job_id: "a/b" may hold only letters, digits, '-' and '_'`},
		{"user without subcommand", nil, []string{"user"}, "busywork user: missing subcommand add"},
		{"user unknown subcommand", nil, []string{"user", "del", "a@example.com"}, `busywork user: unknown subcommand "del" (known: add)`},
		{"user add without email", nil, []string{"user", "add"}, "busywork user: missing argument EMAIL"},
		{"user add bad email", nil, []string{"user", "add", "ada"}, `busywork user: email: "ada" is not a plain address`},
		{"user add two emails", nil, []string{"user", "add", "a@example.com", "b@example.com"}, `busywork user: unexpected argument "b@example.com"`},
		{"batch without subcommand", nil, []string{"batch"}, "busywork batch: missing subcommand status"},
		{"batch unknown subcommand", nil, []string{"batch", "show", "x"}, `busywork batch: unknown subcommand "show" (known: status, repair)`},
		{"batch repair without id", nil, []string{"batch", "repair"}, "busywork batch: missing argument ORDER_ID"},
		{"batch repair two ids", nil, []string{"batch", "repair", "a", "b"}, `busywork batch: unexpected argument "b" after ORDER_ID`},
		{"batch status without id", nil, []string{"batch", "status"}, "busywork batch: missing argument ORDER_ID"},
		{"batch status without id, as JSON", nil, []string{"batch", "status", "--json"}, "busywork batch: missing argument ORDER_ID"},
		{"batch status two ids", nil, []string{"batch", "status", "a", "b"}, `busywork batch: unexpected argument "b" after ORDER_ID`},
		{"batch status malformed id", nil, []string{"batch", "status", "a/b"},
			`busywork batch: order_id: "a/b" may hold only letters, digits, '-' and '_'`},
		{"batch status id past the key limit", nil, []string{"batch", "status", strings.Repeat("a", 3000)},
			"busywork batch: order_id: 3000 bytes is longer than 100"},
		{"batch status unknown flag", nil, []string{"batch", "status", "--yaml", "a"}, "busywork batch: flag provided but not defined: -yaml"},
		{"bad env value", []string{"BUSYWORK_CONCURRENCY=abc"}, []string{"worker"}, `busywork worker: BUSYWORK_CONCURRENCY="abc": not a whole number`},
		{"bad consumer env value", []string{"BUSYWORK_DRAIN_TIMEOUT=soon"}, []string{"worker"}, `BUSYWORK_DRAIN_TIMEOUT="soon": not a duration`},
		{"consumer setting out of range", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_WAIT_TIME=30s"), []string{"worker"},
			"busywork worker: BUSYWORK_WAIT_TIME: 30s is not a whole number of seconds from 1 to 20"},
		{"lane setting out of range", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_LEASE=1s"), []string{"worker"},
			"busywork worker: BUSYWORK_LEASE: 1s is not between 2s and 12h"},
		{"bulk lane setting out of range", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_BULK_LEASE=1s"), []string{"worker"},
			"busywork worker: BUSYWORK_BULK_LEASE: 1s is not between 2s and 12h"},
		{"critical lane setting out of range", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_CRITICAL_LEASE=1s"), []string{"worker", "--lanes", "bulk,critical"},
			"busywork worker: BUSYWORK_CRITICAL_LEASE: 1s is not between 2s and 12h"},
		{"bad lane concurrency", []string{"BUSYWORK_BULK_CONCURRENCY=0"}, []string{"worker"}, "busywork worker: BUSYWORK_BULK_CONCURRENCY=0: want at least 1"},
		{"unknown lane to serve", nil, []string{"worker", "--lanes", "critical,urgent"},
			`busywork worker: --lanes: unknown lane "urgent" (lanes: critical, default, bulk)`},
		{"lane to serve named twice", nil, []string{"worker", "--lanes", "bulk,bulk"}, `busywork worker: --lanes: lane "bulk" named twice`},
		{"route to an unknown lane", []string{"BUSYWORK_ROUTES=ping=bulk,magic_link=urgent"}, []string{"worker"},
			`busywork worker: BUSYWORK_ROUTES: route "magic_link=urgent": unknown lane "urgent" (lanes: critical, default, bulk)`},
		{"route of an unknown job type", []string{"BUSYWORK_ROUTES=pong=bulk"}, []string{"web"},
			`busywork web: BUSYWORK_ROUTES: unknown job type "pong" (known: `},
		{"malformed route", []string{"BUSYWORK_ROUTES=ping"}, []string{"send", "ping", "{}"}, `busywork send: BUSYWORK_ROUTES: route "ping": want type=lane`},
		{"negative receives", []string{"BUSYWORK_MAX_RECEIVES=-1"}, []string{"worker"}, "BUSYWORK_MAX_RECEIVES=-1: want at least 2"},
		{"too few receives", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_BULK_MAX_RECEIVES=1"), []string{"worker"},
			"busywork worker: BUSYWORK_BULK_MAX_RECEIVES: 1 is not between 2 and 1000"},
		{"hung share not a number", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_UNHEALTHY_HUNG_SHARE=NaN"), []string{"worker"},
			"busywork worker: BUSYWORK_UNHEALTHY_HUNG_SHARE: NaN is not between 0 and 1"},
		{"bad log level", []string{"BUSYWORK_LOG_LEVEL=loud"}, []string{"bootstrap"}, `BUSYWORK_LOG_LEVEL="loud"`},
		{"malformed rate limit", []string{"BUSYWORK_RATE_LIMITS=ping=10"}, []string{"worker"},
			`busywork worker: BUSYWORK_RATE_LIMITS: ping: rate "10": want N/s, N/m or N/h, such as 10/s`},
		{"rate limit of no rate", []string{"BUSYWORK_RATE_LIMITS=ping=0/s"}, []string{"send", "ping", "{}"},
			`busywork send: BUSYWORK_RATE_LIMITS: ping: rate "0/s": 0 starts per 1s is not a positive rate`},
		{"rate limit of an unknown name", []string{"BUSYWORK_RATE_LIMITS=pong=10/s"}, []string{"worker"},
			`busywork worker: BUSYWORK_RATE_LIMITS: "pong" is neither a job type (dispatch_tickets, generate_ticket, magic_link, ping, ticket_order) nor a limit the handlers share (mail)`},
		{"hold past the hop", append(allLanesAt("http://127.0.0.1:1/000000000000/"), "BUSYWORK_HOLD_LIMIT=20m"), []string{"worker"},
			"busywork worker: BUSYWORK_HOLD_LIMIT: 20m0s is not between 0 and MaxHop (15m0s)"},
		{"zero concurrency", []string{"BUSYWORK_CONCURRENCY=0"}, []string{"send", "ping", "{}"}, "BUSYWORK_CONCURRENCY=0: want at least 1"},
		{"zero login burst", []string{"BUSYWORK_LOGIN_BURST=0"}, []string{"web"}, "busywork web: BUSYWORK_LOGIN_BURST=0: want at least 1"},
		{"zero login interval", []string{"BUSYWORK_LOGIN_INTERVAL=0s"}, []string{"web"}, "busywork web: BUSYWORK_LOGIN_INTERVAL=0s: want a positive duration"},
		{"bad login interval", []string{"BUSYWORK_LOGIN_INTERVAL=often"}, []string{"web"}, `BUSYWORK_LOGIN_INTERVAL="often": not a duration`},
		{"zero order burst", []string{"BUSYWORK_ORDER_BURST=0"}, []string{"web"}, "busywork web: BUSYWORK_ORDER_BURST=0: want at least 1"},
		{"zero order interval", []string{"BUSYWORK_ORDER_INTERVAL=0s"}, []string{"web"}, "busywork web: BUSYWORK_ORDER_INTERVAL=0s: want a positive duration"},
		{"bad order interval", []string{"BUSYWORK_ORDER_INTERVAL=hourly"}, []string{"web"}, `BUSYWORK_ORDER_INTERVAL="hourly": not a duration`},
		{"bad trust-forwarded-for", []string{"BUSYWORK_TRUST_FORWARDED_FOR=maybe"}, []string{"web"}, `BUSYWORK_TRUST_FORWARDED_FOR="maybe"`},
	}
	// The worker checks its consumer settings once the AWS configuration,
	// which needs a region, is loaded: give one, whatever the caller's
	// shell has.
	t.Setenv("AWS_REGION", "us-east-1")
	// And a ticket key, which a worker needs before it checks the rest
	// unless every endpoint is local.
	t.Setenv("BUSYWORK_TICKET_KEY", "test key")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBusywork(t, tt.env, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and stderr containing %q", r.code, r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

// allLanesAt names every lane's queue URL, under base.
func allLanesAt(base string) []string {
	return []string{
		"BUSYWORK_CRITICAL_QUEUE_URL=" + base + "critical",
		"BUSYWORK_QUEUE_URL=" + base + "jobs",
		"BUSYWORK_BULK_QUEUE_URL=" + base + "bulk",
	}
}

func TestSend_ExitsOneWithTheErrorWhenSQSFails(t *testing.T) {
	// Nothing listens on port 1: every request is refused.
	r := runBusywork(t, []string{
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1",
		"BUSYWORK_QUEUE_URL=http://127.0.0.1:1/000000000000/busywork-jobs",
	}, "send", "ping", `{"message":"hi"}`)
	if r.code != 1 || !strings.Contains(r.stderr, "busywork send: producer: send ping job") || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 naming the failed send", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want no job id", r.stdout)
	}
}
