// Package serve runs an HTTP server beside the work it belongs to: the
// worker's admin listener beside the consumer, the console's page beside
// its sampling.
package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// ShutdownTimeout bounds a server's shutdown once its work has returned:
// the requests in flight get that long to finish.
const ShutdownTimeout = 5 * time.Second

// While serves srv on ln while run runs, and shuts srv down (within
// ShutdownTimeout, then closes it) before it returns. If the server
// fails, run's context is cancelled. It returns run's error joined with
// the server's and its shutdown's; name names the server in them.
func While(ctx context.Context, srv *http.Server, ln net.Listener, name string, run func(context.Context) error) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		serveErr error
	)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("%s: %w", name, err)
			cancel()
		}
	})
	err := run(runCtx)

	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancelShutdown()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		err = errors.Join(err, fmt.Errorf("%s shutdown: %w", name, serr), srv.Close())
	}
	wg.Wait()
	return errors.Join(err, serveErr)
}
