package kafka

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// TestRoundTrip writes batches with every codec and acks setting and reads
// them back with franz-go: every message's topic, key, value and headers,
// the codec on the wire, the record time, and the partition of each key.
func TestRoundTrip(t *testing.T) {
	c := newCluster(t)
	tests := []struct {
		name        string
		compression string
		acks        string
		codec       uint8 // kgo.RecordAttrs.CompressionType
	}{
		{"uncompressed batches round-trip with acks all", "none", "all", 0},
		{"gzip batches round-trip with acks all", "gzip", "all", 1},
		{"snappy batches round-trip with acks all", "snappy", "all", 2},
		{"lz4 batches round-trip with acks all", "lz4", "all", 3},
		{"zstd batches round-trip with acks all", "zstd", "all", 4},
		{"the default codec is zstd", "", "", 4},
		{"batches round-trip with acks from the leader only", "lz4", "one", 3},
		{"batches arrive with no acks at all", "snappy", "none", 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := fmt.Sprintf("rt%d-{kind}", i)
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: tmpl, Compression: tt.compression, RequiredAcks: tt.acks, Partitions: 3})
			start := time.Now().Add(-time.Second)
			var want []message
			for n, kind := range kinds {
				evs := makeEvents(kind, tt.name, 200+n*50)
				if err := s.Write(t.Context(), frameOf(kind, evs)); err != nil {
					t.Fatalf("Write %s: %v", kind, err)
				}
				want = append(want, wantMessages(topicName(tmpl, kind), kind, evs)...)
			}
			var got []message
			for _, kind := range kinds {
				topic := topicName(tmpl, kind)
				if tt.acks == "none" {
					waitRecords(t, c, topic, 200+int(kind)*50)
				}
				if n := len(c.PartitionInfos(topic)); n != 3 {
					t.Errorf("topic %s has %d partitions, want the 3 asked for", topic, n)
				}
				part := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
				lastSeq := map[string]int{}
				for _, r := range consume(t, c, topic) {
					got = append(got, toMessage(r))
					if ct := r.Attrs.CompressionType(); ct != tt.codec {
						t.Fatalf("record of %s has codec %d, want %d", topic, ct, tt.codec)
					}
					if r.Timestamp.Before(start) || r.Timestamp.After(time.Now().Add(time.Second)) {
						t.Fatalf("record time %s is not the time of the write (%s)", r.Timestamp, start)
					}
					if r.Key == nil {
						continue
					}
					// Same partition as the Java client's default partitioner.
					if p := part.Partition(r, 3); int32(p) != r.Partition {
						t.Fatalf("key %s went to partition %d, murmur2 says %d", r.Key, r.Partition, p)
					}
					// One key, one partition: its events keep their order.
					seq := seqOf(t, r.Value)
					if last, ok := lastSeq[string(r.Key)]; ok && seq <= last {
						t.Fatalf("key %s: event %d after event %d", r.Key, seq, last)
					}
					lastSeq[string(r.Key)] = seq
				}
			}
			if diff := cmp.Diff(sortMessages(want), sortMessages(got)); diff != "" {
				t.Errorf("messages read back (-want +got):\n%s", diff)
			}
		})
	}
}

func seqOf(t testing.TB, v []byte) int {
	i := strings.Index(string(v), `"seq":`)
	var n int
	if i < 0 {
		t.Fatalf("no seq in %s", v)
	}
	fmt.Sscanf(string(v[i+len(`"seq":`):]), "%d", &n)
	return n
}

// waitRecords waits for topic to hold n records (acks none: Write does not
// wait for them).
func waitRecords(t testing.TB, c *kfake.Cluster, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for recordCount(c, topic) < n {
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: %d of %d records after 10s", topic, recordCount(c, topic), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLargeBatch writes 20k events in one Write: several produce requests
// per partition, all acknowledged before Write returns.
func TestLargeBatch(t *testing.T) {
	c := newCluster(t)
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "large-{kind}"})
	evs := makeEvents(event.KindFlow, "large", 20000)
	if err := s.Write(t.Context(), frameOf(event.KindFlow, evs)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := recordCount(c, "large-flow"); n != len(evs) {
		t.Fatalf("after Write returned the topic holds %d records, want %d", n, len(evs))
	}
	got := consumeMessages(t, c, "large-flow")
	if diff := cmp.Diff(sortMessages(wantMessages("large-flow", event.KindFlow, evs)), sortMessages(got)); diff != "" {
		t.Errorf("messages read back (-want +got):\n%s", diff)
	}
}

// TestTopicTemplates checks where each kind goes.
func TestTopicTemplates(t *testing.T) {
	c := newCluster(t)
	tests := []struct {
		name     string
		template string
		want     map[event.Kind]string
	}{
		{"the default template names one topic per kind", "",
			map[event.Kind]string{event.KindPacket: "ayaflow-packet", event.KindFlow: "ayaflow-flow", event.KindDNS: "ayaflow-dns", event.KindTLS: "ayaflow-tls"}},
		{"the kind can sit anywhere in the name", "net.{kind}.v1",
			map[event.Kind]string{event.KindPacket: "net.packet.v1", event.KindFlow: "net.flow.v1", event.KindDNS: "net.dns.v1", event.KindTLS: "net.tls.v1"}},
		{"a template without the kind sends every kind to one topic", "all_events",
			map[event.Kind]string{event.KindPacket: "all_events", event.KindFlow: "all_events", event.KindDNS: "all_events", event.KindTLS: "all_events"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: tt.template})
			want := map[string][]message{}
			for _, kind := range kinds {
				evs := makeEvents(kind, tt.name, 30)
				if err := s.Write(t.Context(), frameOf(kind, evs)); err != nil {
					t.Fatalf("Write %s: %v", kind, err)
				}
				want[tt.want[kind]] = append(want[tt.want[kind]], wantMessages(tt.want[kind], kind, evs)...)
			}
			for topic, w := range want {
				got := consumeMessages(t, c, topic)
				if diff := cmp.Diff(sortMessages(w), sortMessages(got)); diff != "" {
					t.Errorf("topic %s (-want +got):\n%s", topic, diff)
				}
			}
		})
	}
}

// TestTopicCreation covers creating topics once, finding them existing,
// and not creating them.
func TestTopicCreation(t *testing.T) {
	t.Run("an existing topic is used as it is", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(2, "seeded-flow"))
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "seeded-{kind}", Partitions: 7})
		if err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "seeded", 20))); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if n := len(c.PartitionInfos("seeded-flow")); n != 2 {
			t.Errorf("seeded topic has %d partitions, want its 2", n)
		}
	})
	t.Run("a topic is created once per sink", func(t *testing.T) {
		c := newCluster(t)
		var creates atomic.Int32
		c.ControlKey(int16(kmsg.CreateTopics), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			creates.Add(1)
			return nil, nil, false
		})
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "once-{kind}"})
		for range 3 {
			if err := s.Write(t.Context(), frameOf(event.KindDNS, makeEvents(event.KindDNS, "once", 10))); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if n := creates.Load(); n != 1 {
			t.Errorf("%d CreateTopics requests for one topic, want 1", n)
		}
	})
	t.Run("with creation off a missing topic is a retryable error until it exists", func(t *testing.T) {
		c := newCluster(t)
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "manual-{kind}", NoCreateTopics: true})
		b := frameOf(event.KindTLS, makeEvents(event.KindTLS, "manual", 10))
		err := s.Write(t.Context(), b)
		if err == nil || errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, kafkago.UnknownTopicOrPartition) {
			t.Fatalf("Write to a missing topic: %v, want a retryable UnknownTopicOrPartition", err)
		}
		if recordCount(c, "manual-tls") != 0 || c.TopicInfo("manual-tls") != nil {
			t.Fatal("the sink created the topic with creation off")
		}
		if err := c.CreateTopic("manual-tls", 2, nil); err != nil {
			t.Fatal(err)
		}
		// The metadata cache refreshes within MetadataTTL (6s at most).
		if _, err := deliver(t, s, b, 15*time.Second); err != nil {
			t.Fatalf("Write once the topic exists: %v", err)
		}
	})
	t.Run("a name the broker rejects is a permanent error", func(t *testing.T) {
		// Kafka refuses topics that differ from an existing one only in '.'
		// versus '_'.
		c := newCluster(t, kfake.SeedTopics(1, "a.flow"))
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "a_{kind}"})
		err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "collide", 5)))
		if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, kafkago.InvalidTopic) {
			t.Fatalf("Write: %v, want a permanent InvalidTopic", err)
		}
	})
}

// TestEmptyAndBadFrames covers the edges of the frame contract.
func TestEmptyAndBadFrames(t *testing.T) {
	c := newCluster(t)
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "edge-{kind}"})
	if err := s.Write(t.Context(), sinks.Batch{Frame: encode.NewFrame(event.KindDNS).Bytes()}); err != nil {
		t.Errorf("empty frame: %v", err)
	}
	err := s.Write(t.Context(), sinks.Batch{Frame: []byte("AYF1\x01\x05garbage")})
	if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, encode.ErrBadFrame) {
		t.Errorf("bad frame: %v, want permanent and ErrBadFrame", err)
	}
	if c.TopicInfo("edge-dns") != nil || c.TopicInfo("edge-flow") != nil {
		t.Error("a topic was created for a batch without events")
	}
}

// TestWriteDoesNotRetainFrame overwrites the caller's frame after Write and
// checks Kafka got the original.
func TestWriteDoesNotRetainFrame(t *testing.T) {
	c := newCluster(t)
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "retain-{kind}"})
	evs := makeEvents(event.KindPacket, "retain", 100)
	b := frameOf(event.KindPacket, evs)
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	clear(b.Frame)
	if diff := cmp.Diff(sortMessages(wantMessages("retain-packet", event.KindPacket, evs)), sortMessages(consumeMessages(t, c, "retain-packet"))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestClose covers Close's edges on a healthy cluster.
func TestClose(t *testing.T) {
	c := newCluster(t)
	s, err := New(Options{Brokers: c.ListenAddrs()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "close", 10))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := s.dialer.open(); n != 0 {
		t.Errorf("%d connections open after Close", n)
	}
	if err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "close", 1))); !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}
