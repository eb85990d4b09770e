package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/producer"
)

var webCommand = &busywork.Command{
	Name:    "web",
	Summary: "serve POST /signup, which enqueues a welcome_email, until SIGTERM",
	Run:     runWeb,
	Help: `Serves on BUSYWORK_WEB_ADDR (default 127.0.0.1:8080):

  POST /signup   user_id=ID (a form): enqueues a welcome_email job and
                 answers 202; 400 for a bad id; 503 with Retry-After when
                 SQS does not take the job within a second
  GET  /healthz  200
`,
}

// signup enqueues the welcome email of the user the form names.
func signup(p *producer.Router) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		_, err := p.Send(r.Context(), WelcomeEmail{UserID: r.FormValue("user_id")})
		switch {
		case errors.Is(err, producer.ErrInvalidJob):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "try again", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return mux
}

func runWeb(ctx context.Context, inv *busywork.Invocation) error {
	if err := inv.NoArgs(); err != nil {
		return err
	}
	var s struct {
		Addr string `envconfig:"WEB_ADDR" default:"127.0.0.1:8080"`
	}
	if err := busywork.LoadEnv(&s); err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	// A person waits: the interactive client retries within a second.
	p, err := inv.Router(ctx, sqs.NewFromConfig(awsclient.Interactive(awsCfg)))
	if err != nil {
		return err
	}
	log, err := inv.Logger()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	log.Info("web listening", "addr", ln.Addr().String())
	h := signup(p)
	if inv.Tracing() {
		// Each request a span named by its route ("POST /signup"); the
		// welcome_email job it sends continues its trace in the worker.
		h = otelhttp.NewHandler(h, "")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
