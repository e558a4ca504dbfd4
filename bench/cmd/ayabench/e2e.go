package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
	"github.com/ayaflow/ayaflow/sinks/kafka"
	"github.com/ayaflow/ayaflow/sinks/nats"
)

// sinkCase is one destination measured three ways on the same fixture:
// the sink given the encoded batches, the bare client writing the same
// bytes, and the whole replay through the pipeline into the sink.
type sinkCase struct {
	name   string
	passes int                                       // times stage and base write the fixture's frames
	bare   string                                    // what the baseline is
	stage  func(run int) error                       // every fixture frame through sink.Write
	base   func(run int) error                       // the same bytes through the bare client
	e2e    func(dir string) (pipeline.Output, error) // a fresh output for one replay, its files in dir
}

// replayInto replays the fixture's capture through the pipeline (packet
// events, default batching) into out, which Run closes.
func replayInto(ctx context.Context, pcap string, out pipeline.Output) error {
	src, err := capture.OpenReplay(pcap, capture.ParseConfig{})
	if err != nil {
		out.Buffer.Close()
		out.Sink.Close(ctx)
		return err
	}
	defer src.Close()
	var c pipeline.Counters
	if err := pipeline.Run(ctx, src, []pipeline.Output{out}, pipeline.Options{}, &c, nil); err != nil {
		return err
	}
	if n := out.Counters.Events.Load(); n != c.Events.Load() {
		return fmt.Errorf("replay into %s: %d events encoded, %d delivered", out.Name, c.Events.Load(), n)
	}
	return nil
}

// diskBuffer opens a disk buffer in dir/buffer, as `ayaflow` gives the
// Kafka and NATS sinks by default.
func diskBuffer(dir string) (buffer.Buffer, string, error) {
	d := filepath.Join(dir, "buffer")
	if err := os.MkdirAll(d, 0o750); err != nil {
		return nil, "", err
	}
	id, err := buffer.DirID(d)
	if err != nil {
		return nil, "", err
	}
	b, err := buffer.Open(d, buffer.Options{}, nil)
	return b, id, err
}

func fileCase(e *env, fx *fixture) (*sinkCase, func(), error) {
	var lines [][]byte
	for _, f := range fx.frames {
		nd, err := ndjsonOf(f)
		if err != nil {
			return nil, nil, err
		}
		lines = append(lines, nd)
	}
	// Each run gets a fresh directory, removed after it: the sink's
	// default options (100 MiB files, fsync when a file is closed).
	inDir := func(fn func(dir string) error) error {
		dir, err := os.MkdirTemp(e.dir, "file-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		return fn(dir)
	}
	// The file runs are short: write the fixture three times per run.
	const passes = 3
	c := &sinkCase{
		name:   "file",
		passes: passes,
		bare:   "os.File writes of the same NDJSON, fsync per 100 MiB file",
		stage: func(int) error {
			return inDir(func(dir string) error {
				s, err := file.New(file.Options{Path: filepath.Join(dir, "ayaflow-{kind}.ndjson")}, nil)
				if err != nil {
					return err
				}
				id := uint64(0)
				for range passes {
					for _, f := range fx.frames {
						id++
						if err := s.Write(e.ctx, sinks.Batch{Frame: f, Events: encode.FrameLen(f), BufferID: "bench", RecordID: id}); err != nil {
							s.Close(e.ctx)
							return err
						}
					}
				}
				return s.Close(e.ctx)
			})
		},
		// The bare writer keeps the sink's durability cadence: a new file
		// before 100 MiB (file.DefaultRotateBytes), each fsynced with its
		// directory when closed.
		base: func(int) error {
			return inDir(func(dir string) error {
				var f *os.File
				var size int64
				n := 0
				closeFile := func() error {
					if err := f.Sync(); err != nil {
						f.Close()
						return err
					}
					if err := syncDir(dir); err != nil {
						f.Close()
						return err
					}
					return f.Close()
				}
				for range passes {
					for _, l := range lines {
						if f != nil && size+int64(len(l)) > file.DefaultRotateBytes {
							if err := closeFile(); err != nil {
								return err
							}
							f = nil
						}
						if f == nil {
							var err error
							n++
							if f, err = os.OpenFile(filepath.Join(dir, fmt.Sprintf("bare.%d.ndjson", n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, file.FileMode); err != nil {
								return err
							}
							size = 0
						}
						if _, err := f.Write(l); err != nil {
							f.Close()
							return err
						}
						size += int64(len(l))
					}
				}
				return closeFile()
			})
		},
	}
	c.e2e = func(dir string) (pipeline.Output, error) {
		s, err := file.New(file.Options{Path: filepath.Join(dir, "ayaflow-{kind}.ndjson")}, nil)
		if err != nil {
			return pipeline.Output{}, err
		}
		mem, err := buffer.NewMemory(buffer.Options{})
		if err != nil {
			return pipeline.Output{}, err
		}
		return pipeline.Output{Name: "file", Sink: s, Buffer: mem, BufferID: buffer.NewID(), Counters: new(pipeline.OutputCounters)}, nil
	}
	return c, func() {}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func kafkaCase(e *env, fx *fixture) (*sinkCase, func(), error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(4, "ayaflow-packet", "bare-packet", "e2e-packet"), kfake.BlackholeProduce())
	if err != nil {
		return nil, nil, fmt.Errorf("start kfake: %w", err)
	}
	addrs := cluster.ListenAddrs()
	sink, err := kafka.New(kafka.Options{Brokers: addrs, Topic: "ayaflow-{kind}"}, nil)
	if err != nil {
		cluster.Close()
		return nil, nil, err
	}
	// The bare writer has the sink's defaults (zstd, acks=all, batch
	// limits, 1µs batch timeout) and sends ready-made messages: the same
	// keys, values and headers the sink builds from the frames.
	transport := &kafkago.Transport{ClientID: kafka.DefaultClientID}
	bare := &kafkago.Writer{
		Addr:         kafkago.TCP(addrs...),
		Balancer:     &kafkago.Murmur2Balancer{},
		MaxAttempts:  kafka.DefaultMaxAttempts,
		BatchSize:    kafka.DefaultBatchSize,
		BatchBytes:   kafka.DefaultBatchBytes,
		BatchTimeout: kafka.DefaultBatchTimeout,
		ReadTimeout:  kafka.DefaultRequestTimeout,
		WriteTimeout: kafka.DefaultRequestTimeout,
		RequiredAcks: kafkago.RequireAll,
		Compression:  kafkago.Zstd,
		Transport:    transport,
	}
	headers := []kafkago.Header{{Key: kafka.HeaderSchema, Value: []byte("1")}, {Key: kafka.HeaderKind, Value: []byte("packet")}}
	var msgs [][]kafkago.Message
	for _, f := range fx.frames {
		var ms []kafkago.Message
		if _, err := encode.DecodeFrame(f, func(ev encode.FramedEvent) error {
			m := kafkago.Message{Topic: "bare-packet", Value: bytes.Clone(ev.Payload), Headers: headers}
			if len(ev.Key) > 0 {
				m.Key = bytes.Clone(ev.Key)
			}
			ms = append(ms, m)
			return nil
		}); err != nil {
			cluster.Close()
			return nil, nil, err
		}
		msgs = append(msgs, ms)
	}
	cleanup := func() {
		sink.Close(context.Background())
		bare.Close()
		transport.CloseIdleConnections()
		cluster.Close()
	}
	// Warm up both: connections, metadata, the topic check.
	if err := sink.Write(e.ctx, sinks.Batch{Frame: fx.frames[0], Events: encode.FrameLen(fx.frames[0])}); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := bare.WriteMessages(e.ctx, msgs[0]...); err != nil {
		cleanup()
		return nil, nil, err
	}
	c := &sinkCase{
		name:   "kafka",
		passes: 1,
		bare:   "bare kafka-go Writer, same messages and settings",
		stage: func(run int) error {
			for i, f := range fx.frames {
				if err := sink.Write(e.ctx, sinks.Batch{Frame: f, Events: encode.FrameLen(f), BufferID: "stage" + strconv.Itoa(run), RecordID: uint64(i + 1)}); err != nil {
					return err
				}
			}
			return nil
		},
		base: func(int) error {
			for _, ms := range msgs {
				if err := bare.WriteMessages(e.ctx, ms...); err != nil {
					return err
				}
			}
			return nil
		},
		e2e: func(dir string) (pipeline.Output, error) {
			s, err := kafka.New(kafka.Options{Brokers: addrs, Topic: "e2e-{kind}"}, nil)
			if err != nil {
				return pipeline.Output{}, err
			}
			b, id, err := diskBuffer(dir)
			if err != nil {
				return pipeline.Output{}, err
			}
			return pipeline.Output{Name: "kafka", Sink: s, Buffer: b, BufferID: id, Counters: new(pipeline.OutputCounters)}, nil
		},
	}
	return c, cleanup, nil
}

func natsCase(e *env, fx *fixture) (*sinkCase, func(), error) {
	storeDir, err := os.MkdirTemp(e.dir, "jetstream-")
	if err != nil {
		return nil, nil, err
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: storeDir})
	if err != nil {
		return nil, nil, err
	}
	go srv.Start() // returns once the server runs; Shutdown below stops it
	stopServer := func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	if !srv.ReadyForConnections(10 * time.Second) {
		stopServer()
		return nil, nil, fmt.Errorf("nats server did not start within 10s")
	}
	nc, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		stopServer()
		return nil, nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(nats.DefaultMaxPending))
	if err != nil {
		nc.Close()
		stopServer()
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	// One stream for every subject; old messages go once it holds 512 MiB.
	if _, err := js.CreateStream(cctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{"ayaflow.>", "bare.>", "e2e.>"}, Storage: jetstream.FileStorage,
		MaxBytes: 512 << 20, Discard: jetstream.DiscardOld, Duplicates: 10 * time.Second,
	}); err != nil {
		nc.Close()
		stopServer()
		return nil, nil, fmt.Errorf("create stream: %w", err)
	}
	sink, err := nats.New(nats.Options{URL: srv.ClientURL(), JetStream: true, Subject: "ayaflow.{kind}"}, nil)
	if err != nil {
		nc.Close()
		stopServer()
		return nil, nil, err
	}
	cleanup := func() {
		sink.Close(context.Background())
		nc.Close()
		stopServer()
	}
	var payloads [][][]byte
	for _, f := range fx.frames {
		var ps [][]byte
		if _, err := encode.DecodeFrame(f, func(e encode.FramedEvent) error {
			ps = append(ps, bytes.Clone(e.Payload))
			return nil
		}); err != nil {
			cleanup()
			return nil, nil, err
		}
		payloads = append(payloads, ps)
	}
	schema := []string{strconv.Itoa(event.SchemaVersion)}
	kind := []string{"packet"}
	// The bare client publishes what the sink publishes (subject, the
	// same three headers, one message per event), asynchronously, and
	// waits for every PubAck, batch by batch.
	bareBatch := func(prefix string, ps [][]byte) error {
		futs := make([]jetstream.PubAckFuture, len(ps))
		for i, p := range ps {
			m := &natsgo.Msg{Subject: "bare.packet", Data: p, Header: natsgo.Header{
				nats.HeaderMsgID:  {prefix + strconv.Itoa(i)},
				nats.HeaderSchema: schema,
				nats.HeaderKind:   kind,
			}}
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				return err
			}
			futs[i] = f
		}
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return err
			case <-e.ctx.Done():
				return e.ctx.Err()
			}
		}
		return nil
	}
	// Warm up both.
	if err := sink.Write(e.ctx, sinks.Batch{Frame: fx.frames[0], Events: encode.FrameLen(fx.frames[0]), BufferID: buffer.NewID(), RecordID: 1}); err != nil {
		cleanup()
		return nil, nil, err
	}
	if err := bareBatch(buffer.NewID()+"-", payloads[0]); err != nil {
		cleanup()
		return nil, nil, err
	}
	c := &sinkCase{
		name:   "nats",
		passes: 1,
		bare:   "bare nats.go JetStream async publish + PubAcks, same messages",
		stage: func(int) error {
			id := buffer.NewID() // new message ids every run: nothing is deduplicated
			for i, f := range fx.frames {
				if err := sink.Write(e.ctx, sinks.Batch{Frame: f, Events: encode.FrameLen(f), BufferID: id, RecordID: uint64(i + 1)}); err != nil {
					return err
				}
			}
			return nil
		},
		base: func(int) error {
			id := buffer.NewID()
			for i, ps := range payloads {
				if err := bareBatch(id+"-"+strconv.Itoa(i+1)+"-", ps); err != nil {
					return err
				}
			}
			return nil
		},
		e2e: func(dir string) (pipeline.Output, error) {
			s, err := nats.New(nats.Options{URL: srv.ClientURL(), JetStream: true, Subject: "e2e.{kind}"}, nil)
			if err != nil {
				return pipeline.Output{}, err
			}
			b, id, err := diskBuffer(dir)
			if err != nil {
				return pipeline.Output{}, err
			}
			return pipeline.Output{Name: "nats", Sink: s, Buffer: b, BufferID: id, Counters: new(pipeline.OutputCounters)}, nil
		},
	}
	return c, cleanup, nil
}

// benchSinks runs every sink case: the stage and its bare client
// alternate, with the end-to-end replay in between.
func benchSinks(e *env) ([]Row, error) {
	fx, err := e.fixture()
	if err != nil {
		return nil, err
	}
	mb := float64(fx.bytes) / 1e6
	var rows []Row
	for _, open := range []func(*env, *fixture) (*sinkCase, func(), error){fileCase, kafkaCase, natsCase} {
		c, cleanup, err := open(e, fx)
		if err != nil {
			return rows, err
		}
		var stage, base, e2e []float64 // seconds per run
		timed := func(out *[]float64, fn func(int) error) func() error {
			run := 0
			return func() error {
				run++
				start := time.Now()
				if err := fn(run); err != nil {
					return err
				}
				*out = append(*out, time.Since(start).Seconds())
				return nil
			}
		}
		replay := func(int) error {
			dir, err := os.MkdirTemp(e.dir, c.name+"-e2e-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			out, err := c.e2e(dir)
			if err != nil {
				return err
			}
			return replayInto(e.ctx, fx.pcap, out)
		}
		var warm []float64
		err = interleave(1, timed(&warm, c.stage), timed(&warm, c.base), timed(&warm, replay)) // untimed warm-up
		if err == nil {
			err = interleave(e.runs, timed(&stage, c.stage), timed(&base, c.base), timed(&e2e, replay))
		}
		cleanup()
		if err != nil {
			return rows, fmt.Errorf("sink %s: %w", c.name, err)
		}
		e.logf("sink %s: stage %v s, bare %v s (%d passes), e2e %v s (%d events, %.1f MB per pass)", c.name, stage, base, c.passes, e2e, fx.events, mb)
		p := float64(c.passes)
		per := func(secs []float64, n float64) []float64 {
			var xs []float64
			for _, s := range secs {
				xs = append(xs, n/s)
			}
			return xs
		}
		rows = append(rows,
			pairedRow(c.name+" sink stage, given encoded batches", per(stage, p*mb), "MB/s", c.bare, per(base, p*mb), "ratio >= 0.8"),
			pairedRow(c.name+" end to end: replay → pipeline → sink", per(e2e, float64(fx.events)), "events/s",
				c.bare, per(base, p*float64(fx.events)), ""))
	}
	return rows, nil
}
