package main_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// listenerAddr returns srv's address with its host replaced by host.
func listenerAddr(t *testing.T, srv *httptest.Server, host string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(host, port)
}

func TestHealth_ExitsZeroWhenHealthzAnswers200OnTheLoopbackOfAWildcardAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	for _, host := range []string{"127.0.0.1", "0.0.0.0", ""} {
		addr := listenerAddr(t, srv, host)
		t.Run("BUSYWORK_ADMIN_ADDR="+addr, func(t *testing.T) {
			r := runBusywork(t, []string{"BUSYWORK_ADMIN_ADDR=" + addr}, "health")
			if r.code != 0 || !strings.Contains(r.stdout, "/healthz: 200 OK ok") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and the 200", r.code, r.stdout, r.stderr)
			}
		})
	}
	r := runBusywork(t, []string{"BUSYWORK_WEB_ADDR=" + listenerAddr(t, srv, "0.0.0.0"), "BUSYWORK_ADMIN_ADDR=127.0.0.1:1"}, "health", "--web")
	if r.code != 0 {
		t.Fatalf("health --web: exit %d, stderr %q; want 0 from the web address", r.code, r.stderr)
	}
}

func TestHealth_ExitsOneSayingWhyWhenTheListenerIsUnhealthyAbsentOrSilent(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "6 of 10 job slots are held by hung handlers", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	release := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer silent.Close()
	defer close(release) // before Close, which waits for the handler
	closed := httptest.NewServer(http.NotFoundHandler())
	gone := listenerAddr(t, closed, "127.0.0.1")
	closed.Close()

	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"503", []string{"BUSYWORK_ADMIN_ADDR=" + listenerAddr(t, unhealthy, "127.0.0.1")}, nil,
			"503 Service Unavailable: 6 of 10 job slots are held by hung handlers"},
		{"nothing listens", []string{"BUSYWORK_ADMIN_ADDR=" + gone}, nil,
			"busywork health: worker admin listener at " + gone + " (BUSYWORK_ADMIN_ADDR) is not healthy"},
		{"no answer in time", []string{"BUSYWORK_ADMIN_ADDR=" + listenerAddr(t, silent, "127.0.0.1")}, []string{"--timeout", "200ms"},
			"no answer within 200ms"},
		{"web, nothing listens", []string{"BUSYWORK_WEB_ADDR=" + gone}, []string{"--web"},
			"web app at " + gone + " (BUSYWORK_WEB_ADDR) is not healthy"},
		{"address without a port", []string{"BUSYWORK_ADMIN_ADDR=localhost"}, nil, `BUSYWORK_ADMIN_ADDR="localhost": address localhost: missing port`},
		{"bad configuration", []string{"BUSYWORK_CONCURRENCY=abc"}, nil, `BUSYWORK_CONCURRENCY="abc": not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBusywork(t, tt.env, append([]string{"health"}, tt.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and %q", r.code, r.stderr, tt.want)
			}
		})
	}
}

func TestVersion_PrintsDevWithoutAStamp(t *testing.T) {
	r := runBusywork(t, nil, "version")
	if r.code != 0 || r.stdout != "dev\n" {
		t.Fatalf("exit %d, stdout %q; want \"dev\" (the Dockerfile's stamp is tested in internal/shipping)", r.code, r.stdout)
	}
}
