package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/event"
)

// TestKcat reads the sink's output with kcat (librdkafka): a client that
// shares no code with the sink, for every codec.
func TestKcat(t *testing.T) {
	kcat := requireTool(t, "kcat", "kcat")
	c := newCluster(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run("kcat reads "+codec+" batches", func(t *testing.T) {
			tmpl := "kcat-" + codec + "-{kind}"
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: tmpl, Compression: codec, Partitions: 2})
			evs := makeEvents(event.KindTLS, "kcat "+codec, 120)
			if err := s.Write(t.Context(), frameOf(event.KindTLS, evs)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			topic := topicName(tmpl, event.KindTLS)
			want := sortMessages(wantMessages(topic, event.KindTLS, evs))

			// Keys and values as text.
			out := runKcat(t, kcat, c.ListenAddrs()[0], topic, "-f", `%k\t%s\n`)
			var got []message
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				k, v, ok := strings.Cut(sc.Text(), "\t")
				if !ok {
					t.Fatalf("kcat line without a tab: %q", sc.Text())
				}
				got = append(got, message{Topic: topic, Key: k, NullKey: k == "", Value: v,
					Headers: []string{"ayaflow-schema=1", "ayaflow-kind=tls"}})
			}
			if diff := cmp.Diff(want, sortMessages(got)); diff != "" {
				t.Errorf("kcat -f (-want +got):\n%s", diff)
			}

			// Everything, headers and null keys included, as JSON.
			out = runKcat(t, kcat, c.ListenAddrs()[0], topic, "-J")
			got = got[:0]
			dec := json.NewDecoder(bytes.NewReader(out))
			for dec.More() {
				var r struct {
					Topic   string   `json:"topic"`
					Key     *string  `json:"key"`
					Payload string   `json:"payload"`
					Headers []string `json:"headers"`
				}
				if err := dec.Decode(&r); err != nil {
					t.Fatalf("kcat -J output: %v\n%s", err, out)
				}
				m := message{Topic: r.Topic, NullKey: r.Key == nil, Value: r.Payload}
				if r.Key != nil {
					m.Key = *r.Key
				}
				for i := 0; i+1 < len(r.Headers); i += 2 {
					m.Headers = append(m.Headers, r.Headers[i]+"="+r.Headers[i+1])
				}
				got = append(got, m)
			}
			if diff := cmp.Diff(want, sortMessages(got)); diff != "" {
				t.Errorf("kcat -J (-want +got):\n%s", diff)
			}
		})
	}
}

func runKcat(t *testing.T, kcat, broker, topic string, format ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	args := append([]string{"-C", "-b", broker, "-t", topic, "-o", "beginning", "-e", "-q", "-X", "fetch.wait.max.ms=20"}, format...)
	cmd := exec.CommandContext(ctx, kcat, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}
