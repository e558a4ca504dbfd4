package nats

import (
	"context"
	"strconv"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// BenchmarkSinkNATS compares the sink writing pre-encoded frames (1000
// events of about 400 bytes) with the bare nats.go client publishing the
// same messages (same subject, headers and payloads) the same way: async
// JetStream publishes and a wait for every PubAck, or core publishes and a
// flush. Each iteration runs one batch through each, alternating which
// goes first, so both see the same server state; the metrics report each
// side's events/s and MB/s (of event payloads) and the sink/bare ratio.
func BenchmarkSinkNATS(b *testing.B) {
	const events, size = 1000, 400
	ts := runServer(b, nil)
	js := ts.createStream("BENCH", 2*time.Minute)
	ctx := context.Background()
	st, err := js.Stream(ctx, "BENCH")
	if err != nil {
		b.Fatal(err)
	}
	// Keep the store from growing without bound over -count runs.
	cfg := st.CachedInfo().Config
	cfg.MaxBytes = 512 << 20
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	batch, payloads := testBatch(event.KindFlow, events, size, "", 0)
	var payloadBytes int
	for _, p := range payloads {
		payloadBytes += len(p)
	}

	for _, mode := range []string{"jetstream", "core"} {
		b.Run(mode, func(b *testing.B) {
			jetStream := mode == "jetstream"
			subject := "ayaflow.flow" // captured by the stream
			if !jetStream {
				subject = "core.flow" // captured by nothing: pure core NATS
			}
			s := newSink(b, Options{URL: ts.url(), JetStream: jetStream, Subject: subject})
			nc := ts.connect()
			bare, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(DefaultMaxPending),
				jetstream.WithPublishAsyncTimeout(DefaultAckTimeout))
			if err != nil {
				b.Fatal(err)
			}
			sinkBuffer, bareBuffer := newUUID(), newUUID()
			kind := []string{"flow"}

			barePublish := func(record int) error {
				msgs := make([]*natsgo.Msg, len(payloads))
				for i, p := range payloads {
					msgs[i] = &natsgo.Msg{Subject: subject, Data: p, Header: natsgo.Header{
						HeaderMsgID:  {bareBuffer + "-" + strconv.Itoa(record) + "-" + strconv.Itoa(i)},
						HeaderSchema: schemaValue,
						HeaderKind:   kind,
					}}
				}
				if !jetStream {
					for _, m := range msgs {
						if err := nc.PublishMsg(m); err != nil {
							return err
						}
					}
					fctx, cancel := context.WithTimeout(ctx, DefaultAckTimeout)
					defer cancel()
					return nc.FlushWithContext(fctx)
				}
				futs := make([]jetstream.PubAckFuture, len(msgs))
				for i, m := range msgs {
					if futs[i], err = bare.PublishMsgAsync(m); err != nil {
						return err
					}
				}
				for _, f := range futs {
					select {
					case <-f.Ok():
					case err := <-f.Err():
						return err
					}
				}
				return nil
			}
			sinkWrite := func(record int) error {
				return s.Write(ctx, sinks.Batch{Frame: batch.Frame, Events: events, BufferID: sinkBuffer, RecordID: uint64(record)})
			}

			// Connect and warm up both before timing (record -1).
			if err := sinkWrite(-1); err != nil {
				b.Fatal(err)
			}
			if err := barePublish(-1); err != nil {
				b.Fatal(err)
			}
			var sinkTime, bareTime time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				for j := range 2 {
					start := time.Now()
					if (i+j)%2 == 0 {
						if err := sinkWrite(i); err != nil {
							b.Fatal(err)
						}
						sinkTime += time.Since(start)
					} else {
						if err := barePublish(i); err != nil {
							b.Fatal(err)
						}
						bareTime += time.Since(start)
					}
				}
			}
			n := float64(b.N)
			sinkRate := n * events / sinkTime.Seconds()
			bareRate := n * events / bareTime.Seconds()
			b.ReportMetric(sinkRate, "sink_events/s")
			b.ReportMetric(bareRate, "bare_events/s")
			b.ReportMetric(n*float64(payloadBytes)/sinkTime.Seconds()/1e6, "sink_MB/s")
			b.ReportMetric(n*float64(payloadBytes)/bareTime.Seconds()/1e6, "bare_MB/s")
			b.ReportMetric(sinkRate/bareRate, "sink/bare")
		})
	}
}
