package busywork

import (
	"strings"
	"testing"

	"github.com/busywork/busywork/consumer"
)

func TestConsole_BadArgumentsAndAnUnguardedRemoteAddressExitTwoNamingTheProblem(t *testing.T) {
	app := App{Name: "svc", Register: func(*consumer.Mux, *Env) error { return nil }}
	const strong = "correct-horse-battery-staple"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"an argument", nil, []string{"console", "now"}, `unexpected argument "now"`},
		{"an unknown flag", nil, []string{"console", "--port", "1"}, "flag provided but not defined: -port"},
		{"too short an interval", nil, []string{"console", "--interval", "100ms"}, "--interval 100ms: want 1s to 1m"},
		{"not host:port", map[string]string{"BUSYWORK_CONSOLE_ADDR": "8081"}, []string{"console"}, `BUSYWORK_CONSOLE_ADDR="8081"`},
		{"every interface", map[string]string{"BUSYWORK_CONSOLE_ADDR": ":8081"}, []string{"console"},
			"BUSYWORK_CONSOLE_ADDR=:8081 is not on the loopback interface"},
		{"another interface", map[string]string{"BUSYWORK_CONSOLE_ADDR": "10.0.0.5:8081", "BUSYWORK_CONSOLE_PASSWORD": strong}, []string{"console"},
			"unless BUSYWORK_CONSOLE_ALLOW_REMOTE=true"},
		{"allowed, no password", map[string]string{"BUSYWORK_CONSOLE_ADDR": "0.0.0.0:8081", "BUSYWORK_CONSOLE_ALLOW_REMOTE": "true"},
			[]string{"console"}, "BUSYWORK_CONSOLE_PASSWORD is not set"},
		{"allowed, a short password", map[string]string{"BUSYWORK_CONSOLE_ADDR": "0.0.0.0:8081", "BUSYWORK_CONSOLE_ALLOW_REMOTE": "true",
			"BUSYWORK_CONSOLE_PASSWORD": "hunter2"}, []string{"console"}, "BUSYWORK_CONSOLE_PASSWORD: 7 characters; want at least 16"},
		{"a short password on the loopback too", map[string]string{"BUSYWORK_CONSOLE_PASSWORD": "hunter2"}, []string{"console"},
			"want at least 16"},
		{"not a boolean", map[string]string{"BUSYWORK_CONSOLE_ALLOW_REMOTE": "yes please"}, []string{"console"},
			`BUSYWORK_CONSOLE_ALLOW_REMOTE="yes please": not true or false`},
		{"a metrics address without a scheme", map[string]string{"BUSYWORK_CONSOLE_METRICS": "10.0.0.5:9090"}, []string{"console"},
			"BUSYWORK_CONSOLE_METRICS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if code, _, stderr := run(app, tt.args...); code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d saying %q", code, stderr, ExitUsage, tt.want)
			}
		})
	}
}

func TestConsole_HelpSaysWhatItShowsAndHowItIsGuarded(t *testing.T) {
	app := App{Name: "svc", Register: func(*consumer.Mux, *Env) error { return nil }}
	code, out, _ := run(app, "console", "--help")
	for _, want := range []string{"Usage: svc console [--interval D]", "BUSYWORK_CONSOLE_ADDR", "127.0.0.1:8081", "BUSYWORK_CONSOLE_ALLOW_REMOTE",
		"BUSYWORK_CONSOLE_PASSWORD", "BUSYWORK_CONSOLE_METRICS", "token tied to", "Purge (deletes that row's letters"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("console --help (exit %d) lacks %q", code, want)
		}
	}
	if _, out, _ := run(app, "help"); !strings.Contains(out, "console [--interval D]") {
		t.Errorf("help does not list the console:\n%s", out)
	}
}
