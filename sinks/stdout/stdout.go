// Package stdout is the sink that writes NDJSON to standard output, for
// `ayaflow ship --sink stdout | jq`.
package stdout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/sinks"
)

// Sink writes each batch with one write call. Batches end on a line
// boundary, so a reader never sees half a line, and nothing is held back:
// the pipeline flushes its batches when traffic goes idle, which makes the
// output line-timely on a terminal too.
type Sink struct {
	w   io.Writer
	buf []byte
}

// New returns a sink writing to w (normally os.Stdout). The process must
// ignore SIGPIPE (signal.Ignore) for a closed pipe to surface as
// sinks.ErrClosed rather than kill it.
func New(w io.Writer) *Sink { return &Sink{w: w} }

// Write writes b.Data. A closed pipe returns an error wrapping
// sinks.ErrClosed.
func (s *Sink) Write(_ context.Context, b sinks.Batch) error {
	var err error
	s.buf, err = encode.AppendFrameNDJSON(s.buf[:0], b.Frame)
	if err != nil {
		return fmt.Errorf("stdout: %w: %w", sinks.ErrPermanent, err)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return fmt.Errorf("write stdout: %w", sinks.ErrClosed)
		}
		return fmt.Errorf("write stdout: %w", err)
	}
	return nil
}

// Close flushes nothing (writes are unbuffered) and leaves the writer open.
func (s *Sink) Close(context.Context) error { return nil }
