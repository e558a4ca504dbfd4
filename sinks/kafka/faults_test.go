package kafka

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// failProduce makes the broker answer produce requests with code for the
// given partition (-1: all) until n requests were failed, without storing
// their records. If code is 0, it drops the connection instead. It returns
// the count of failed requests.
func failProduce(c *kfake.Cluster, partition int32, code int16, n int32) *atomic.Int32 {
	var failed atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.ProduceRequest)
		if partition >= 0 && !hasPartition(req, partition) {
			return nil, nil, false
		}
		if failed.Load() >= n {
			c.DropControl()
			return nil, nil, false
		}
		failed.Add(1)
		if code == 0 {
			return nil, errors.New("test drops the connection"), true
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &failed
}

func hasPartition(req *kmsg.ProduceRequest, p int32) bool {
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition == p {
				return true
			}
		}
	}
	return false
}

// checkDelivered reads topic back and checks every event arrived, with at
// most maxDups extra copies. It returns the duplicates.
func checkDelivered(t *testing.T, c *kfake.Cluster, topic string, kind event.Kind, evs []testEvent, maxDups int) int {
	t.Helper()
	got := consumeMessages(t, c, topic)
	seen := map[string]int{}
	var unique []message
	for _, m := range got {
		if seen[m.Value]++; seen[m.Value] == 1 {
			unique = append(unique, m)
		}
	}
	if diff := cmp.Diff(sortMessages(wantMessages(topic, kind, evs)), sortMessages(unique)); diff != "" {
		t.Errorf("distinct messages read back (-want +got):\n%s", diff)
	}
	dups := len(got) - len(unique)
	if dups > maxDups {
		t.Errorf("%d duplicates, more than the bound of %d", dups, maxDups)
	}
	return dups
}

// TestBrokerErrors injects Kafka errors on produce requests.
func TestBrokerErrors(t *testing.T) {
	tests := []struct {
		name       string
		code       int16 // 0 drops the connection
		partition  int32 // -1: every partition
		failures   int32
		bufferID   string
		wantRetry  bool // Write returns a retryable error at least once
		wantCause  error
		exactNoDup bool // the failures store nothing and retries skip what succeeded: no duplicate may appear
	}{
		{name: "a few NOT_LEADER_FOR_PARTITION answers are retried within one Write",
			code: kerr.NotLeaderForPartition.Code, partition: -1, failures: 2, exactNoDup: true},
		{name: "REQUEST_TIMED_OUT beyond MaxAttempts is a retryable error, and the caller's retries deliver everything",
			code: kerr.RequestTimedOut.Code, partition: -1, failures: 7, bufferID: "buf-1", wantRetry: true, wantCause: kafkago.RequestTimedOut, exactNoDup: true},
		{name: "dropped connections are retried within one Write",
			partition: -1, failures: 2, exactNoDup: true},
		{name: "connections dropped beyond MaxAttempts are a retryable error, and the caller's retries deliver everything",
			partition: -1, failures: 5, bufferID: "buf-1", wantRetry: true, exactNoDup: true},
		{name: "without a buffer identity, the caller's retry after a partial success duplicates what succeeded",
			partition: -1, failures: 5, wantRetry: true},
		{name: "one failing partition of a batch with a buffer identity: the retry sends only what failed",
			code: kerr.NotEnoughReplicas.Code, partition: 0, failures: 6, bufferID: "buf-1", wantRetry: true, wantCause: kafkago.NotEnoughReplicas, exactNoDup: true},
		{name: "one failing partition of a batch without a buffer identity: the retry resends the whole batch",
			code: kerr.NotEnoughReplicas.Code, partition: 0, failures: 6, wantRetry: true, wantCause: kafkago.NotEnoughReplicas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One partition when every request fails, so that the failures
			// count attempts of one request; four to fail only some.
			partitions := int32(1)
			if tt.partition >= 0 {
				partitions = 4
			}
			c := newCluster(t, kfake.SeedTopics(partitions, "faults-flow"))
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "faults-{kind}", MaxAttempts: 3})
			evs := makeEvents(event.KindFlow, tt.name, 400)
			b := frameOf(event.KindFlow, evs)
			b.BufferID, b.RecordID = tt.bufferID, 42
			failed := failProduce(c, tt.partition, tt.code, tt.failures)

			err := s.Write(t.Context(), b)
			if (err != nil) != tt.wantRetry {
				t.Fatalf("first Write: %v, want an error: %v", err, tt.wantRetry)
			}
			retries := 0
			if err != nil {
				if errors.Is(err, sinks.ErrPermanent) {
					t.Fatalf("first Write: %v, want a retryable error", err)
				}
				if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
					t.Fatalf("first Write: %v, want it to wrap %v", err, tt.wantCause)
				}
				var kerr *Error
				if !errors.As(err, &kerr) || kerr.Permanent {
					t.Fatalf("first Write: %#v, want a retryable *Error", err)
				}
				retries, err = deliver(t, s, b, 10*time.Second)
				retries++
				if err != nil {
					t.Fatalf("retries: %v", err)
				}
			}
			if got := failed.Load(); got != tt.failures {
				t.Errorf("%d produce requests failed, want %d", got, tt.failures)
			}
			maxDups := retries * len(evs)
			if tt.exactNoDup {
				maxDups = 0
			}
			dups := checkDelivered(t, c, "faults-flow", event.KindFlow, evs, maxDups)
			t.Logf("%d failed Writes, %d duplicates", retries, dups)
		})
	}
}

// TestAmbiguousTimeoutDuplicates shows the duplicate window: a broker that
// appends a batch and still answers REQUEST_TIMED_OUT makes kafka-go's
// retry store it again. Nothing is lost, and each faulted request adds at
// most one copy of its records.
func TestAmbiguousTimeoutDuplicates(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "ambiguous-dns"))
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "ambiguous-{kind}", MaxAttempts: 3})
	const faults = 2
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.RequestTimedOut, Count: faults})
	defer h.Remove()
	evs := makeEvents(event.KindDNS, "ambiguous", 300)
	if err := s.Write(t.Context(), frameOf(event.KindDNS, evs)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	dups := checkDelivered(t, c, "ambiguous-dns", event.KindDNS, evs, faults*len(evs))
	t.Logf("%d faulted requests, %d duplicates (bound %d)", faults, dups, faults*len(evs))
	if dups == 0 {
		t.Errorf("no duplicates: the fault did not append, so this test no longer shows the window")
	}
}

// TestMessageTooLarge covers both size limits.
func TestMessageTooLarge(t *testing.T) {
	big := testEvent{Key: "1:big=", Value: `{"pad":"` + strings.Repeat("x", 20000) + `"}`}
	t.Run("an event over BatchBytes is refused permanently and nothing is sent", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(1, "big-tls"))
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "big-{kind}", BatchBytes: 16 << 10})
		evs := append(makeEvents(event.KindTLS, "big", 10), big)
		err := s.Write(t.Context(), frameOf(event.KindTLS, evs))
		var tooLarge kafkago.MessageTooLargeError
		if !errors.Is(err, sinks.ErrPermanent) || !errors.As(err, &tooLarge) {
			t.Fatalf("Write: %v, want a permanent MessageTooLargeError", err)
		}
		if n := recordCount(c, "big-tls"); n != 0 {
			t.Errorf("%d records written, want none", n)
		}
	})
	t.Run("a batch over the broker's message.max.bytes is refused permanently", func(t *testing.T) {
		c := newCluster(t, kfake.SeedTopics(1, "brokerbig-tls"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "8192"}))
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "brokerbig-{kind}", Compression: "none"})
		err := s.Write(t.Context(), frameOf(event.KindTLS, []testEvent{big}))
		if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, kafkago.MessageSizeTooLarge) {
			t.Fatalf("Write: %v, want a permanent MessageSizeTooLarge", err)
		}
		if !strings.Contains(err.Error(), "message.max.bytes") {
			t.Errorf("error %q does not say what to change", err)
		}
	})
}

// TestBrokerUnreachable: nothing listens on the broker address.
func TestBrokerUnreachable(t *testing.T) {
	s := newSink(t, Options{Brokers: []string{"127.0.0.1:1"}, WriteTimeout: 5 * time.Second})
	start := time.Now()
	err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "down", 5)))
	if err == nil || errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("Write: %v, want a retryable error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Write took %s to notice a refused connection", d)
	}
	t.Logf("error: %v", err)
}

// TestBlackhole puts a proxy that stops answering between the sink and the
// broker.
func TestBlackhole(t *testing.T) {
	const writeTimeout = time.Second
	t.Run("a Write to a silent broker returns a retryable error within WriteTimeout, and Close does not hang", func(t *testing.T) {
		c, p := proxiedCluster(t, kfake.SeedTopics(2, "hole-flow"))
		s, err := New(Options{Brokers: c.ListenAddrs(), Topic: "hole-{kind}", WriteTimeout: writeTimeout,
			RequestTimeout: 10 * time.Second, BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		first := makeEvents(event.KindFlow, "before", 50)
		if err := s.Write(t.Context(), frameOf(event.KindFlow, first)); err != nil {
			t.Fatalf("Write before the blackhole: %v", err)
		}

		p.setBlackhole(true)
		lost := makeEvents(event.KindFlow, "during", 50)
		start := time.Now()
		err = s.Write(t.Context(), frameOf(event.KindFlow, lost))
		took := time.Since(start)
		if err == nil || errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Write into the blackhole: %v, want a retryable timeout", err)
		}
		if took < writeTimeout || took > writeTimeout+time.Second {
			t.Errorf("Write into the blackhole took %s, want about WriteTimeout (%s)", took, writeTimeout)
		}

		// The produce request is still in flight (RequestTimeout is 10s):
		// Close must give up on it when its ctx ends.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start = time.Now()
		err = s.Close(ctx)
		if took := time.Since(start); took > time.Second {
			t.Errorf("Close took %s with a 500ms ctx", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close: %v, want it to report abandoned messages with ctx's error", err)
		}
		if n := s.dialer.open(); n != 0 {
			t.Errorf("%d connections open after Close", n)
		}

		// Once the network heals, a new sink delivers the batch again; the
		// abandoned request may have landed too: at most one duplicate batch.
		p.setBlackhole(false)
		s2 := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "hole-{kind}"})
		if _, err := deliver(t, s2, frameOf(event.KindFlow, lost), 10*time.Second); err != nil {
			t.Fatalf("Write after the blackhole: %v", err)
		}
		checkDelivered(t, c, "hole-flow", event.KindFlow, append(first, lost...), len(lost))
	})
	t.Run("a sink that never reached the broker times out too", func(t *testing.T) {
		c, p := proxiedCluster(t)
		p.setBlackhole(true)
		s := newSink(t, Options{Brokers: c.ListenAddrs(), WriteTimeout: writeTimeout, DialTimeout: 300 * time.Millisecond})
		start := time.Now()
		err := s.Write(t.Context(), frameOf(event.KindDNS, makeEvents(event.KindDNS, "never", 5)))
		if err == nil || errors.Is(err, sinks.ErrPermanent) {
			t.Fatalf("Write: %v, want a retryable error", err)
		}
		if took := time.Since(start); took > writeTimeout+time.Second {
			t.Errorf("Write took %s, more than WriteTimeout (%s)", took, writeTimeout)
		}
	})
	t.Run("connections cut by the network are re-established", func(t *testing.T) {
		c, p := proxiedCluster(t, kfake.SeedTopics(2, "cut-packet"))
		s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "cut-{kind}"})
		var all []testEvent
		for i := range 5 {
			evs := makeEvents(event.KindPacket, "cut"+string(rune('a'+i)), 40)
			b := frameOf(event.KindPacket, evs)
			b.BufferID, b.RecordID = "buf", uint64(i+1)
			if _, err := deliver(t, s, b, 10*time.Second); err != nil {
				t.Fatalf("Write %d: %v", i, err)
			}
			all = append(all, evs...)
			p.cut()
		}
		checkDelivered(t, c, "cut-packet", event.KindPacket, all, 0)
	})
}

// TestCallerCancel: a Write whose ctx ends returns promptly with ctx's
// error, and is not logged as a sink failure.
func TestCallerCancel(t *testing.T) {
	c, p := proxiedCluster(t, kfake.SeedTopics(1, "cancel-flow"))
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "cancel-{kind}", RequestTimeout: 500 * time.Millisecond, MaxAttempts: 1})
	b := frameOf(event.KindFlow, makeEvents(event.KindFlow, "cancel", 10))
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	p.setBlackhole(true)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, b)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write: %v, want ctx's error", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Write took %s after its ctx ended", took)
	}
	var kerr *Error
	if errors.As(err, &kerr) {
		t.Errorf("a cancelled Write returned a sink *Error: %v", err)
	}
	p.setBlackhole(false)
}
