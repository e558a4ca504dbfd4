package kafka

import (
	"fmt"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// BenchmarkSinkKafka writes batches of 1000 events of about 430 bytes to an
// in-process Kafka (4 partitions, produce acknowledged and discarded), once
// through the sink from encoded frames and once through a bare kafka-go
// Writer with the same settings from ready-made messages, alternating
// batch by batch. One op is one batch through each. It reports both
// throughputs and sink/kafka-go, the sink's share of the bare writer's
// throughput (1.0: the sink costs nothing on top of kafka-go).
func BenchmarkSinkKafka(b *testing.B) {
	for _, bc := range []struct {
		codec  string
		events int
	}{
		{"zstd", 1000}, // the default codec
		{"lz4", 1000},
		{"none", 1000},
		{"zstd", 130}, // the pipeline's default 64 KiB batches
	} {
		b.Run(fmt.Sprintf("codec=%s/events=%d", bc.codec, bc.events), func(b *testing.B) { benchSink(b, bc.codec, bc.events) })
	}
}

func benchSink(b *testing.B, codec string, events int) {
	const frames = 8
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bench-flow"), kfake.BlackholeProduce())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	var batches []sinks.Batch
	var msgs [][]kafkago.Message
	bytesPerBatch := 0
	headers := []kafkago.Header{{Key: HeaderSchema, Value: []byte("1")}, {Key: HeaderKind, Value: []byte("flow")}}
	for i := range frames {
		evs := makeEvents(event.KindFlow, fmt.Sprint("bench", i), events)
		batch := frameOf(event.KindFlow, evs)
		batch.BufferID, batch.RecordID = "bench", uint64(i+1)
		batches = append(batches, batch)
		ms := make([]kafkago.Message, len(evs))
		n := 0
		for j, e := range evs {
			ms[j] = kafkago.Message{Topic: "bench-flow", Value: []byte(e.Value), Headers: headers}
			if e.Key != "" {
				ms[j].Key = []byte(e.Key)
			}
			n += len(e.Key) + len(e.Value)
		}
		msgs = append(msgs, ms)
		bytesPerBatch = n
	}

	opts := Options{Brokers: c.ListenAddrs(), Topic: "bench-{kind}", Compression: codec}
	s, err := New(opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(b.Context())
	o := s.opts // with defaults
	bare := &kafkago.Writer{
		Addr:         kafkago.TCP(o.Brokers...),
		Balancer:     &kafkago.Murmur2Balancer{},
		MaxAttempts:  o.MaxAttempts,
		BatchSize:    o.BatchSize,
		BatchBytes:   o.BatchBytes,
		BatchTimeout: o.BatchTimeout,
		ReadTimeout:  o.RequestTimeout,
		WriteTimeout: o.RequestTimeout,
		RequiredAcks: acks[o.RequiredAcks],
		Compression:  codecs[o.Compression],
		Transport:    &kafkago.Transport{ClientID: o.ClientID},
	}
	defer bare.Transport.(*kafkago.Transport).CloseIdleConnections()
	defer bare.Close()

	// Warm up both: connections, metadata, topic check.
	for i := range 2 {
		if err := s.Write(b.Context(), batches[i]); err != nil {
			b.Fatal(err)
		}
		if err := bare.WriteMessages(b.Context(), msgs[i]...); err != nil {
			b.Fatal(err)
		}
	}

	var sinkTime, bareTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % frames
		start := time.Now()
		if err := s.Write(b.Context(), batches[j]); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := bare.WriteMessages(b.Context(), msgs[j]...); err != nil {
			b.Fatal(err)
		}
		sinkTime += mid.Sub(start)
		bareTime += time.Since(mid)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(n*float64(events)/sinkTime.Seconds(), "sink_events/s")
	b.ReportMetric(n*float64(events)/bareTime.Seconds(), "kafkago_events/s")
	b.ReportMetric(n*float64(bytesPerBatch)/1e6/sinkTime.Seconds(), "sink_MB/s")
	b.ReportMetric(n*float64(bytesPerBatch)/1e6/bareTime.Seconds(), "kafkago_MB/s")
	b.ReportMetric(bareTime.Seconds()/sinkTime.Seconds(), "sink/kafkago")
	b.ReportMetric(float64(bytesPerBatch)/float64(events), "B/event")
}
