package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/ayaflow/ayaflow/internal/ecsref"
	"net/netip"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	kafkago "github.com/segmentio/kafka-go"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
)

// ndjsonOf returns a frame's events as NDJSON lines.
func ndjsonOf(frame []byte) ([]byte, error) {
	return encode.AppendFrameNDJSON(nil, frame)
}

// benchEvent is a typical packet event (as encode/bench_test.go's tcp4).
func benchEvent() event.Event {
	ev := event.Event{
		Kind: event.KindPacket, TimeUnixNano: time.Date(2026, 11, 22, 3, 11, 9, 123456789, time.UTC).UnixNano(),
		Interface: "veth1a2b3c4", Direction: event.DirEgress,
		SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.7.2"), SrcPort: 40000, DstPort: 443,
		Transport: event.ProtoTCP, Bytes: 1514, Packets: 1, TCPFlags: 0x18,
	}
	ev.CommunityID = encode.CommunityID(&ev)
	return ev
}

// benchEncoder measures the NDJSON encoder alone beside encoding/json of
// the same ECS document, with testing.Benchmark (-test.benchtime applies).
func benchEncoder(e *env) ([]Row, error) {
	type sample struct{ evps, mbps, allocs float64 }
	measure := func(res testing.BenchmarkResult) sample {
		s := res.T.Seconds()
		return sample{
			evps:   float64(res.N) / s,
			mbps:   float64(res.Bytes) * float64(res.N) / 1e6 / s,
			allocs: float64(res.AllocsPerOp()),
		}
	}
	var nd, js []sample
	ndjson := func() error {
		nd = append(nd, measure(testing.Benchmark(func(b *testing.B) {
			ev := benchEvent()
			buf := encode.AppendNDJSON(make([]byte, 0, 1024), &ev)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = encode.AppendNDJSON(buf[:0], &ev)
			}
		})))
		return nil
	}
	stdlib := func() error {
		var err error
		js = append(js, measure(testing.Benchmark(func(b *testing.B) {
			ev := benchEvent()
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			if err = enc.Encode(ecsref.Build(&ev)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err = enc.Encode(ecsref.Build(&ev)); err != nil {
					b.Fatal(err)
				}
			}
		})))
		return err
	}
	if err := interleave(e.runs, ndjson, stdlib); err != nil {
		return nil, err
	}
	col := func(xs []sample, f func(sample) float64) []float64 {
		var v []float64
		for _, x := range xs {
			v = append(v, f(x))
		}
		return v
	}
	evps := func(s sample) float64 { return s.evps }
	mbps := func(s sample) float64 { return s.mbps }
	allocs := func(s sample) float64 { return s.allocs }
	base := "encoding/json of the same ECS document"
	return []Row{
		pairedRow("encode NDJSON, TCP/IPv4 packet event", col(nd, evps), "events/s", base, col(js, evps), ""),
		pairedRow("encode NDJSON throughput", col(nd, mbps), "MB/s", base, col(js, mbps), ""),
		row("encode NDJSON allocations", median(col(nd, allocs)), "allocs/event", base, median(col(js, allocs)), ""),
	}, nil
}

// appendWriter is an io.Writer that appends to itself.
type appendWriter []byte

func (w *appendWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

// codec compresses one batch into dst.
type codec struct {
	name string
	enc  func(dst, src []byte) ([]byte, error)
}

// streamCodec adapts a kafka-go codec (one writer per record batch, as
// kafka-go compresses a produce request's batch).
func streamCodec(c kafkago.Compression) func(dst, src []byte) ([]byte, error) {
	codec := c.Codec()
	return func(dst, src []byte) ([]byte, error) {
		w := appendWriter(dst)
		zw := codec.NewWriter(&w)
		if _, err := zw.Write(src); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return w, nil
	}
}

// codecs returns the codecs ayaflow's sinks use, set up as the sinks set
// them up: the file sink's zstd (EncodeAll, SpeedFastest, one encoder, CRC)
// and gzip (one member per batch, default level), and kafka-go's codecs,
// which the Kafka sink selects (zstd, gzip, snappy via klauspost s2, lz4
// via pierrec/lz4).
func codecs() ([]codec, error) {
	zfile, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, err
	}
	gz, err := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	return []codec{
		{"file sink zstd", func(dst, src []byte) ([]byte, error) { return zfile.EncodeAll(src, dst), nil }},
		{"file sink gzip", func(dst, src []byte) ([]byte, error) {
			w := appendWriter(dst)
			gz.Reset(&w)
			if _, err := gz.Write(src); err != nil {
				return nil, err
			}
			err := gz.Close()
			return w, err
		}},
		{"kafka-go zstd", streamCodec(kafkago.Zstd)},
		{"kafka-go gzip", streamCodec(kafkago.Gzip)},
		{"kafka-go snappy (s2)", streamCodec(kafkago.Snappy)},
		{"kafka-go lz4 (pierrec/lz4)", streamCodec(kafkago.Lz4)},
	}, nil
}

// benchCodecs compresses the replay's NDJSON batches (64 KiB each, up to
// 32 MiB in all) with each codec, beside klauspost zstd EncodeAll at
// SpeedFastest on the same batches.
func benchCodecs(e *env) ([]Row, error) {
	fx, err := e.fixture()
	if err != nil {
		return nil, err
	}
	var batches [][]byte
	total := 0
	for _, f := range fx.frames {
		nd, err := ndjsonOf(f)
		if err != nil {
			return nil, err
		}
		batches = append(batches, nd)
		if total += len(nd); total >= 32<<20 {
			break
		}
	}
	raw, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	cs, err := codecs()
	if err != nil {
		return nil, err
	}
	all := append([]codec{{"raw zstd EncodeAll", func(dst, src []byte) ([]byte, error) { return raw.EncodeAll(src, dst), nil }}}, cs...)
	mbps := make([][]float64, len(all))
	ratio := make([]float64, len(all))
	var fns []func() error
	for i, c := range all {
		var dst []byte
		fns = append(fns, func() error {
			start := time.Now()
			out := 0
			for _, b := range batches {
				var err error
				if dst, err = c.enc(dst[:0], b); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				out += len(dst)
			}
			mbps[i] = append(mbps[i], float64(total)/1e6/time.Since(start).Seconds())
			ratio[i] = float64(total) / float64(out)
			return nil
		})
	}
	if err := interleave(e.runs, fns...); err != nil {
		return nil, err
	}
	base := "raw klauspost zstd EncodeAll (fastest), same batches"
	var rows []Row
	for i, c := range all[1:] {
		rows = append(rows, pairedRow("compress "+c.name, mbps[i+1], "MB/s", base, mbps[0], ""))
	}
	for i, c := range all[1:] {
		rows = append(rows, row("compression ratio "+c.name, ratio[i+1], "x", base, ratio[0], ""))
	}
	return rows, nil
}
