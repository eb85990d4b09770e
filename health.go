package busywork

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// defaultHealthTimeout bounds one probe: well inside the 5 s that Docker
// and ECS give a health check command by default.
const defaultHealthTimeout = 2 * time.Second

// healthBodyLimit bounds how much of an unhealthy answer is quoted.
const healthBodyLimit = 512

var healthCommand = &Command{
	Name:    "health",
	Args:    "[--web] [--timeout D]",
	Summary: "probe the worker's /healthz for container health checks",
	Run:     runHealth,
	Help: `Asks the worker's admin listener at BUSYWORK_ADMIN_ADDR (default
127.0.0.1:9090) for GET /healthz and exits 0 when it answers 200, or 1,
saying why, when it answers anything else, cannot be reached or does not
answer within --timeout (default 2s). An address that listens on every
interface (0.0.0.0:9090, :9090, [::]:9090) is probed on the loopback one.

  --web        probe the app's web server's /healthz at BUSYWORK_WEB_ADDR
               (default 127.0.0.1:8080) instead
  --timeout D  how long to wait for the answer, e.g. 500ms

It is the container image's HEALTHCHECK and the ECS task definition's
health check (ECS ignores the image's own): ["CMD", "/{name}", "health"].
A bad BUSYWORK_* value exits 1 too, since container runtimes reserve 2.
`,
}

func runHealth(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet(inv.Command.Name, flag.ContinueOnError)
	web := fs.Bool("web", false, "probe the web app")
	timeout := fs.Duration("timeout", defaultHealthTimeout, "how long to wait")
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *timeout <= 0 {
		return Usagef("--timeout %s: want a positive duration", *timeout)
	}
	cfg, err := loadConfig()
	var webCfg struct {
		// WebAddr is where the App's web server listens, if it has one.
		WebAddr string `envconfig:"WEB_ADDR" default:"127.0.0.1:8080"`
	}
	if err == nil {
		err = LoadEnv(&webCfg)
	}
	if err != nil {
		// Docker reserves exit status 2 of a health check: report 1.
		return errors.New(err.Error())
	}
	what, variable, addr := "worker admin listener", envPrefix+"_ADMIN_ADDR", cfg.AdminAddr
	if *web {
		what, variable, addr = "web app", envPrefix+"_WEB_ADDR", webCfg.WebAddr
	}
	url, err := healthURL(addr)
	if err != nil {
		return fmt.Errorf("%s=%q: %w", variable, addr, err)
	}
	status, err := probe(ctx, url, *timeout)
	if err != nil {
		return fmt.Errorf("%s at %s (%s) is not healthy: %w", what, addr, variable, err)
	}
	_, err = fmt.Fprintf(inv.Stdout, "%s: %s\n", url, status)
	return err
}

// healthURL returns the /healthz URL of a listener on addr (host:port),
// on the loopback interface when addr is every interface.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// probe gets url within timeout and returns its status line when it
// answers 200, or an error quoting the start of any other answer.
func probe(ctx context.Context, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	// No proxy and no kept connection: one probe, straight to the listener.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("GET %s: no answer within %s", url, timeout)
		}
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, healthBodyLimit))
	if err != nil {
		return "", fmt.Errorf("GET %s: %s, reading the body: %w", url, resp.Status, err)
	}
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", url, resp.Status, text)
	}
	return resp.Status + " " + text, nil
}
