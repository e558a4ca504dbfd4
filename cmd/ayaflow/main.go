// Command ayaflow watches a Linux node's traffic from inside the kernel and
// ships it as structured events.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can drive the CLI.
func run(args []string, stdout, stderr io.Writer) int {
	// A reader of stdout that exits (`ayaflow ship | head`) must surface as
	// EPIPE from write, not kill the process with SIGPIPE.
	signal.Ignore(syscall.SIGPIPE)

	app := newApp(stdout, stderr)
	err := app.Run(reorderArgs(args, app))
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintf(stderr, "ayaflow: %s\n", oneLine(msg))
		}
		return ec.ExitCode()
	}
	fmt.Fprintf(stderr, "ayaflow: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine folds a (possibly joined, multi-line) error into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                 "ayaflow",
		Usage:                "ship a node's network traffic as structured events",
		Version:              version,
		Writer:               stdout,
		ErrWriter:            stderr,
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		ExitErrHandler:       func(*cli.Context, error) {}, // run() prints errors once
		Commands: []*cli.Command{
			shipCommand(stdout, stderr),
			replayCommand(stdout, stderr),
			bufferCommand(stdout, stderr),
			validateCommand(stdout, stderr), configCommand(stdout),
			tapCommand(stdout, stderr),
			topCommand(stdout, stderr),
			forwardCommand(stdout, stderr),
		},
	}
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM.
// A second signal exits at once with status 130.
func signalContext(log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			log.Info("stopping: draining capture and flushing output (signal again to exit now)", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case <-ch:
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}
