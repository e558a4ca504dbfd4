package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"
)

// DefaultAddr is where Serve listens when addr is empty: loopback only, as
// the endpoints have no authentication.
const DefaultAddr = "127.0.0.1:9477"

// shutdownTimeout bounds the graceful shutdown of Serve.
const shutdownTimeout = 2 * time.Second

// Serve listens on addr (DefaultAddr if empty) and serves h until ctx ends,
// then shuts down: requests in progress get 2s to finish, after which
// their connections are closed. It returns nil after a shutdown, and an
// error if it cannot listen (one line, wrapping syscall.EADDRINUSE when the
// port is taken) or serving fails. A nil log discards.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := Listen(ctx, addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, h, log)
}

// Listen opens the metrics address ("" means DefaultAddr), with Serve's
// one-line error, so a caller can fail before starting work and then serve
// with ServeListener.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, listenError(addr, err)
	}
	return ln, nil
}

// ServeListener is Serve on a listener the caller opened; it closes ln.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log.Info("serving metrics", "addr", ln.Addr().String())
	return serve(ctx, ln, h, log)
}

// listenError turns a listen failure into one line that names the address
// and, for a taken port, what to do about it.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen for metrics on %s: %w (stop the process that holds the port, or choose another metrics address)", addr, syscall.EADDRINUSE)
	}
	// A *net.OpError repeats the address; keep its cause.
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return fmt.Errorf("listen for metrics on %s: %w", addr, err)
}

// serve serves h on ln until ctx ends, then shuts down within
// shutdownTimeout. It closes ln.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// A scrape that does not finish must not hold up the process.
		log.Warn("metrics requests still running at shutdown; closing their connections", "timeout", shutdownTimeout, "error", err)
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics on %s: %w", ln.Addr(), err)
	}
	return nil
}
