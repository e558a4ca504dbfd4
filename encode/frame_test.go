package encode

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/event"
)

func TestFrameRoundTrip(t *testing.T) {
	f := NewFrame(event.KindDNS)
	type ev struct{ Key, Payload string }
	var want []ev
	for i := 0; i < 300; i++ {
		e := ev{fmt.Sprintf("1:key%d=", i), fmt.Sprintf(`{"i":%d}`, i)}
		if i%7 == 0 {
			e.Key = "" // events without a key
		}
		want = append(want, e)
		f.Add([]byte(e.Key), []byte(e.Payload+"\n"))
	}
	var got []ev
	kind, err := DecodeFrame(f.Bytes(), func(e FramedEvent) error {
		if e.Index != len(got) {
			t.Fatalf("index %d, want %d", e.Index, len(got))
		}
		got = append(got, ev{string(e.Key), string(e.Payload)})
		return nil
	})
	if err != nil || kind != event.KindDNS {
		t.Fatalf("kind %v err %v", kind, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	lines, err := AppendFrameNDJSON(nil, f.Bytes())
	if err != nil || string(lines[:9]) != "{\"i\":0}\n{" {
		t.Errorf("ndjson %q %v", lines[:20], err)
	}
	f.Reset(event.KindTLS)
	if f.Len() != 0 || f.Kind() != event.KindTLS {
		t.Errorf("reset: %d events kind %v", f.Len(), f.Kind())
	}
}

func TestDecodeFrameRejectsDamage(t *testing.T) {
	f := NewFrame(event.KindPacket)
	f.Add([]byte("k"), []byte(`{"a":1}`))
	f.Add([]byte("k2"), []byte(`{"b":2}`))
	good := append([]byte(nil), f.Bytes()...)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"an empty frame", nil},
		{"a wrong magic", append([]byte("XXXX"), good[4:]...)},
		{"a frame cut inside the last payload", good[:len(good)-3]},
		{"trailing garbage", append(append([]byte{}, good...), 1, 2, 3)},
		{"a count larger than the events", append(append([]byte{}, good[:5]...), append([]byte{9}, good[6:]...)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeFrame(tc.b, func(FramedEvent) error { return nil }); !errors.Is(err, ErrBadFrame) {
				t.Fatalf("want ErrBadFrame, got %v", err)
			}
		})
	}
}

func FuzzDecodeFrame(f *testing.F) {
	fr := NewFrame(event.KindTLS)
	fr.Add([]byte("1:abc"), []byte(`{"x":1}`))
	f.Add(fr.Bytes())
	f.Add([]byte("AYF1\x00\x00"))
	f.Add([]byte("AYF1\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		_, _ = DecodeFrame(b, func(e FramedEvent) error {
			total += len(e.Key) + len(e.Payload)
			return nil
		})
		if total > len(b) {
			t.Fatalf("decoded %d bytes of fields from a %d-byte frame", total, len(b))
		}
	})
}
