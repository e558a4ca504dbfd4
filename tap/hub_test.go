package tap

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPublishWithoutSubscribersCopiesNothing(t *testing.T) {
	var h Hub
	if n := testing.AllocsPerRun(1000, func() { h.Publish(packetTCP) }); n != 0 {
		t.Errorf("Publish with no subscriber allocates %v times per call, want 0", n)
	}
	var nilHub *Hub
	nilHub.Publish(packetTCP) // the pipeline may run without a tap
	nilHub.Close()
}

func TestPublishSkipsSubscribersOfOtherKinds(t *testing.T) {
	var h Hub
	sub, err := h.Subscribe(mustFilter(t, []string{"dns"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if n := testing.AllocsPerRun(1000, func() { h.Publish(packetTCP) }); n != 0 {
		t.Errorf("Publish of a packet event to a dns-only subscriber allocates %v times per call, want 0", n)
	}
	h.Publish(dnsAnswer)
	if diff := cmp.Diff([]string{string(dnsAnswer)}, recv(sub)); diff != "" {
		t.Errorf("dns subscriber got (-want +got):\n%s", diff)
	}
	if d := sub.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0: lines of other kinds are not losses", d)
	}
}

func TestSlowSubscriberDropsAndNeverBlocks(t *testing.T) {
	h := Hub{QueueLen: 4}
	slow, err := h.Subscribe(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	var want []string
	for i := range 100 {
		l := fmt.Appendf(nil, `{"@timestamp":"x","ayaflow":{"schema":1,"kind":"packet"},"n":%d}`+"\n", i)
		if i < 4 {
			want = append(want, string(l))
		}
		h.Publish(l) // a blocking Publish would hang the test here
	}
	if d := slow.Dropped(); d != 96 {
		t.Errorf("Dropped() = %d, want 96 (100 published, queue of 4)", d)
	}
	if diff := cmp.Diff(want, recv(slow)); diff != "" {
		t.Errorf("queued lines (-want +got):\n%s", diff)
	}
}

func TestSubscribersGetTheirOwnCopy(t *testing.T) {
	var h Hub
	a, _ := h.Subscribe(Filter{})
	defer a.Close()
	b, _ := h.Subscribe(Filter{})
	defer b.Close()
	buf := append([]byte(nil), packetTCP...)
	h.Publish(buf)
	for i := range buf {
		buf[i] = 'X' // the pipeline reuses its buffer at once
	}
	for name, s := range map[string]*Subscription{"first": a, "second": b} {
		if diff := cmp.Diff([]string{string(packetTCP)}, recv(s)); diff != "" {
			t.Errorf("%s subscriber got (-want +got):\n%s", name, diff)
		}
	}
}

func TestSubscribeLimitsAndClose(t *testing.T) {
	h := Hub{MaxClients: 2}
	a, err := h.Subscribe(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Subscribe(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe(Filter{}); !errors.Is(err, ErrTooManyClients) {
		t.Errorf("third Subscribe: err = %v, want ErrTooManyClients", err)
	}
	a.Close()
	a.Close() // twice is fine
	if n := h.Subscribers(); n != 1 {
		t.Errorf("Subscribers() = %d after one Close, want 1", n)
	}
	h.Publish(packetTCP)
	h.Close()
	select {
	case <-b.Done():
	default:
		t.Fatal("Close did not end the subscription")
	}
	if !b.HubClosed() {
		t.Error("HubClosed() = false after Hub.Close")
	}
	if got := recv(b); len(got) != 1 {
		t.Errorf("lines queued before Close are kept: got %d, want 1", len(got))
	}
	if _, err := h.Subscribe(Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
	h.Publish(packetTCP) // no subscriber left: a no-op
	if n := h.Subscribers(); n != 0 {
		t.Errorf("Subscribers() = %d after Close, want 0", n)
	}
	b.Close()
	h.Close()
}

// TestConcurrentPublishAndSubscribe is for the race detector.
func TestConcurrentPublishAndSubscribe(t *testing.T) {
	h := Hub{QueueLen: 8}
	var pub, subs sync.WaitGroup
	stop := make(chan struct{})
	pub.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				h.Publish(packetTCP)
				h.Publish(dnsAnswer)
			}
		}
	})
	for range 4 {
		subs.Go(func() {
			for range 200 {
				s, err := h.Subscribe(mustFilter(t, []string{"dns"}, nil))
				if err != nil {
					t.Error(err)
					return
				}
				recv(s)
				s.Close()
			}
		})
	}
	subs.Wait()
	close(stop)
	pub.Wait()
	h.Close()
}

func BenchmarkPublish(b *testing.B) {
	b.Run("no subscriber", func(b *testing.B) {
		var h Hub
		b.ReportAllocs()
		for b.Loop() {
			h.Publish(packetTCP)
		}
	})
	b.Run("one subscriber of another kind", func(b *testing.B) {
		var h Hub
		s, _ := h.Subscribe(mustFilter(b, []string{"dns"}, nil))
		defer s.Close()
		b.ReportAllocs()
		for b.Loop() {
			h.Publish(packetTCP)
		}
	})
	b.Run("one full subscriber", func(b *testing.B) {
		h := Hub{QueueLen: 1}
		s, _ := h.Subscribe(Filter{})
		defer s.Close()
		b.ReportAllocs()
		for b.Loop() {
			h.Publish(packetTCP)
		}
	})
}
