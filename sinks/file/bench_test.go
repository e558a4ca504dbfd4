package file

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// benchBatches returns distinct batches of n events each (about 400 bytes
// of NDJSON per event), as frames and as NDJSON: 32 MiB in all, more than
// a zstd window, so a streaming encoder gains nothing from repeats.
func benchBatches(n int) ([]sinks.Batch, [][]byte) {
	var frames []sinks.Batch
	var ndjson [][]byte
	for i, total := 0, 0; total < 32<<20; i++ {
		b, lines := MakeBatch(event.KindFlow, n, uint64(i))
		frames = append(frames, b)
		ndjson = append(ndjson, []byte(strings.Join(lines, "\n")+"\n"))
		total += len(ndjson[i])
	}
	return frames, ndjson
}

func avgLen(bs [][]byte) int64 {
	var n int
	for _, b := range bs {
		n += len(b)
	}
	return int64(n / len(bs))
}

// BenchmarkSinkFile writes pre-encoded frames of 1000 events through the
// sink and, in the same loop, writes the same NDJSON bytes without it, so
// both see the same machine state (page cache, writeback). It reports the
// sink's time divided by:
//
//	x_plain   bufio (64 KiB) + os.File, uncompressed: the floor of any file
//	          writer.
//	x_stream  bufio + a klauspost streaming encoder of the same codec and
//	          level, one stream per file: a hand-rolled compressed writer.
//	          Only for zstd and gzip.
//
// ns/op and MB/s are the sink's alone (uncompressed bytes). Every writer
// starts a new file every 64 MiB it writes and none fsyncs (Fsync: never).
func BenchmarkSinkFile(b *testing.B) {
	frames, ndjson := benchBatches(1000)
	for _, c := range []Compression{CompressionNone, CompressionZstd, CompressionGzip} {
		b.Run("compression="+string(c), func(b *testing.B) {
			dir := b.TempDir()
			s, err := New(Options{Path: filepath.Join(dir, "sink-{kind}.ndjson"), Compression: c,
				RotateBytes: 64 << 20, MaxFiles: 2, Fsync: FsyncNever}, nil)
			if err != nil {
				b.Fatal(err)
			}
			plain := newBaseline(b, dir, "plain", nil)
			var stream *baseline
			if c != CompressionNone {
				stream = newBaseline(b, dir, "stream", streamEncoder(b, c))
			}
			b.SetBytes(avgLen(ndjson))
			b.ReportAllocs()
			var sinkTime time.Duration
			n := 0
			for b.Loop() {
				start := time.Now()
				if err := s.Write(b.Context(), frames[n%len(frames)]); err != nil {
					b.Fatal(err)
				}
				sinkTime += time.Since(start)
				b.StopTimer()
				plain.write(ndjson[n%len(ndjson)])
				if stream != nil {
					stream.write(ndjson[n%len(ndjson)])
				}
				n++
				b.StartTimer()
			}
			b.StopTimer()
			start := time.Now()
			if err := s.Close(b.Context()); err != nil {
				b.Fatal(err)
			}
			sinkTime += time.Since(start)
			plain.close()
			b.ReportMetric(float64(sinkTime)/float64(plain.took), "x_plain")
			if stream != nil {
				stream.close()
				b.ReportMetric(float64(sinkTime)/float64(stream.took), "x_stream")
			}
		})
	}
}

// baseline writes NDJSON through bufio, and an encoder if newEnc is not
// nil, to files in dir, a new file every 64 MiB written, and times it.
type baseline struct {
	b       *testing.B
	dir     string
	name    string
	newEnc  func(io.Writer) io.WriteCloser
	f       *os.File
	bw      *bufio.Writer
	enc     io.WriteCloser
	w       io.Writer
	written int
	files   int
	took    time.Duration
}

func newBaseline(b *testing.B, dir, name string, newEnc func(io.Writer) io.WriteCloser) *baseline {
	l := &baseline{b: b, dir: dir, name: name, newEnc: newEnc}
	start := time.Now()
	l.open()
	l.took += time.Since(start)
	return l
}

func (l *baseline) open() {
	var err error
	l.f, err = os.OpenFile(filepath.Join(l.dir, fmt.Sprintf("%s-%d", l.name, l.files)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, FileMode)
	if err != nil {
		l.b.Fatal(err)
	}
	l.files++
	l.bw = bufio.NewWriterSize(l.f, 64<<10)
	l.w = l.bw
	if l.newEnc != nil {
		l.enc = l.newEnc(l.bw)
		l.w = l.enc
	}
	l.written = 0
}

func (l *baseline) write(p []byte) {
	start := time.Now()
	if _, err := l.w.Write(p); err != nil {
		l.b.Fatal(err)
	}
	if l.written += len(p); l.written >= 64<<20 {
		l.closeFile()
		l.open()
	}
	l.took += time.Since(start)
}

func (l *baseline) close() {
	start := time.Now()
	l.closeFile()
	l.took += time.Since(start)
}

func (l *baseline) closeFile() {
	if l.enc != nil {
		if err := l.enc.Close(); err != nil {
			l.b.Fatal(err)
		}
	}
	if err := l.bw.Flush(); err != nil {
		l.b.Fatal(err)
	}
	if err := l.f.Close(); err != nil {
		l.b.Fatal(err)
	}
	os.Remove(l.f.Name()) // as the sink's MaxFiles does
}

// streamEncoder returns a constructor of klauspost's streaming encoder for
// c, at the level the sink uses.
func streamEncoder(b *testing.B, c Compression) func(io.Writer) io.WriteCloser {
	switch c {
	case CompressionZstd:
		return func(w io.Writer) io.WriteCloser {
			e, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
			if err != nil {
				b.Fatal(err)
			}
			return e
		}
	case CompressionGzip:
		return func(w io.Writer) io.WriteCloser {
			g, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
			if err != nil {
				b.Fatal(err)
			}
			return g
		}
	}
	return nil
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// BenchmarkCodecs compresses NDJSON batches (64 KiB, the pipeline's default
// batch, and 1000 events) with the sink's codecs and, beside them, with
// klauspost's encoders used directly on the same batches:
//
//	impl=sink             the sink's codec: one frame or member per batch
//	impl=raw-EncodeAll    zstd EncodeAll per batch at the default level
//	impl=raw-fastest      zstd EncodeAll per batch at SpeedFastest
//	impl=raw-member       a gzip member per batch from gzip.Writer
//	impl=stream           one stream over all batches (the ratio a file
//	                      written as a single stream would get)
//
// MB/s is uncompressed input; ratio is input bytes / output bytes.
func BenchmarkCodecs(b *testing.B) {
	for _, size := range []struct {
		name   string
		events int
	}{{"64KiB", 165}, {"1000events", 1000}} {
		_, ndjson := benchBatches(size.events)
		for _, c := range []Compression{CompressionZstd, CompressionGzip} {
			impls := []struct {
				name string
				enc  func(b *testing.B) (func(dst, src []byte) []byte, func())
			}{
				{"sink", func(b *testing.B) (func(dst, src []byte) []byte, func()) {
					cd, err := newCodec(c)
					if err != nil {
						b.Fatal(err)
					}
					return cd.encode, cd.close
				}},
			}
			if c == CompressionZstd {
				for _, lv := range []struct {
					name  string
					level zstd.EncoderLevel
				}{{"raw-EncodeAll", zstd.SpeedDefault}, {"raw-fastest", zstd.SpeedFastest}} {
					impls = append(impls, struct {
						name string
						enc  func(b *testing.B) (func(dst, src []byte) []byte, func())
					}{lv.name, func(b *testing.B) (func(dst, src []byte) []byte, func()) {
						e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(lv.level))
						if err != nil {
							b.Fatal(err)
						}
						return func(dst, src []byte) []byte { return e.EncodeAll(src, dst) }, func() { e.Close() }
					}})
				}
			} else {
				impls = append(impls, struct {
					name string
					enc  func(b *testing.B) (func(dst, src []byte) []byte, func())
				}{"raw-member", func(b *testing.B) (func(dst, src []byte) []byte, func()) {
					g := gzip.NewWriter(nil)
					return func(dst, src []byte) []byte {
						w := appendWriter(dst)
						g.Reset(&w)
						g.Write(src)
						g.Close()
						return w
					}, func() {}
				}})
			}
			for _, impl := range impls {
				b.Run(fmt.Sprintf("codec=%s/batch=%s/impl=%s", c, size.name, impl.name), func(b *testing.B) {
					enc, done := impl.enc(b)
					defer done()
					b.SetBytes(avgLen(ndjson))
					b.ReportAllocs()
					var in, out int64
					var dst []byte
					i := 0
					for b.Loop() {
						src := ndjson[i%len(ndjson)]
						dst = enc(dst[:0], src)
						in += int64(len(src))
						out += int64(len(dst))
						i++
					}
					b.ReportMetric(float64(in)/float64(out), "ratio")
				})
			}
			b.Run(fmt.Sprintf("codec=%s/batch=%s/impl=stream", c, size.name), func(b *testing.B) {
				var out countWriter
				enc := streamEncoder(b, c)(&out)
				b.SetBytes(avgLen(ndjson))
				b.ReportAllocs()
				var in int64
				i := 0
				for b.Loop() {
					src := ndjson[i%len(ndjson)]
					if _, err := enc.Write(src); err != nil {
						b.Fatal(err)
					}
					in += int64(len(src))
					i++
				}
				if err := enc.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(in)/float64(out), "ratio")
			})
		}
	}
}
