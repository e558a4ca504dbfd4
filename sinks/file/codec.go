package file

import (
	"fmt"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// A codec turns one batch's NDJSON lines into bytes that can be appended
// to a file on their own: the lines themselves, one complete zstd frame or
// one complete gzip member. Concatenations of these decode as one stream
// (RFC 8878 section 3.1, RFC 1952 section 2.2), so a file is readable
// after every batch, whether or not it was ever closed.
type codec interface {
	// encode appends the encoded lines to dst. It may return lines itself.
	encode(dst, lines []byte) []byte
	suffix() string
	close()
}

func newCodec(c Compression) (codec, error) {
	switch c {
	case CompressionNone:
		return plainCodec{}, nil
	case CompressionZstd:
		// EncodeAll runs on the calling goroutine: one encoder state, no
		// background goroutines. SpeedFastest compresses NDJSON nearly as
		// well as the default level, 30-40% faster (see BenchmarkCodecs).
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(true))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return &zstdCodec{enc: enc}, nil
	case CompressionGzip:
		w, err := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("gzip encoder: %w", err)
		}
		return &gzipCodec{w: w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", string(c))
}

type plainCodec struct{}

func (plainCodec) encode(dst, lines []byte) []byte { return lines }
func (plainCodec) suffix() string                  { return "" }
func (plainCodec) close()                          {}

type zstdCodec struct{ enc *zstd.Encoder }

func (z *zstdCodec) encode(dst, lines []byte) []byte { return z.enc.EncodeAll(lines, dst) }
func (z *zstdCodec) suffix() string                  { return ".zst" }
func (z *zstdCodec) close()                          { _ = z.enc.Close() }

type gzipCodec struct {
	w   *gzip.Writer
	buf appendWriter
}

func (g *gzipCodec) encode(dst, lines []byte) []byte {
	g.buf = dst
	g.w.Reset(&g.buf)
	// Writes to an appendWriter cannot fail.
	_, _ = g.w.Write(lines)
	_ = g.w.Close()
	out := g.buf
	g.buf = nil
	return out
}
func (g *gzipCodec) suffix() string { return ".gz" }
func (g *gzipCodec) close()         {}

// appendWriter is an io.Writer that appends to itself.
type appendWriter []byte

func (w *appendWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}
