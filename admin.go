package busywork

import (
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/busywork/busywork/internal/secheaders"
)

// newAdminHandler serves the worker's admin endpoints: /healthz answers 200
// "ok", or 503 with healthy's error; /metrics serves reg's metrics. Every
// answer carries the web app's security headers (secheaders.Wrap),
// in case a browser opens it.
func newAdminHandler(healthy func() error, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n") // a failed write is the client's problem
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return secheaders.Wrap(mux)
}

// NewMetricsRegistry returns a Prometheus registry holding the Go
// runtime's and the process's metrics, as the worker's /metrics serves
// them, for a command's own metrics (an App's web server's) to join.
func NewMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
