package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		paths  []string
	}{
		{"an unknown attach mode", func(c *Config) { c.Capture.Attach = "xdp" }, []string{"capture.attach"}},
		{"a snap length of zero", func(c *Config) { c.Capture.SnapLen = 0 }, []string{"capture.snap_len"}},
		{"a snap length above 4096", func(c *Config) { c.Capture.SnapLen = 4097 }, []string{"capture.snap_len"}},
		{"a ring that is not a power of two", func(c *Config) { c.Capture.RingBytes = 3 << 20 }, []string{"capture.ring_bytes"}},
		{"a wakeup threshold above half the ring", func(c *Config) { c.Capture.WakeupBytes = 4 << 20 }, []string{"capture.wakeup_bytes"}},
		{"a wakeup threshold that is not a power of two", func(c *Config) { c.Capture.WakeupBytes = 5000 }, []string{"capture.wakeup_bytes"}},
		{"a poll interval of a microsecond", func(c *Config) { c.Capture.PollInterval = time.Microsecond }, []string{"capture.poll_interval"}},
		{"nine DNS ports", func(c *Config) { c.Capture.DNSPorts = []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9} }, []string{"capture.dns_ports"}},
		{"DNS port zero", func(c *Config) { c.Capture.DNSPorts = []uint16{53, 0} }, []string{"capture.dns_ports[1]"}},
		{"no sink", func(c *Config) { c.Output.Sinks = nil }, []string{"output.sinks"}},
		{"an unknown sink", func(c *Config) { c.Output.Sinks = []string{"stdout", "pigeon"} }, []string{"output.sinks[1]"}},
		{"a zero batch size", func(c *Config) { c.Output.BatchBytes = 0 }, []string{"output.batch_bytes"}},
		{"a zero batch wait", func(c *Config) { c.Output.BatchWait = 0 }, []string{"output.batch_wait"}},
		{"a sink given twice", func(c *Config) { c.Output.Sinks = []string{"stdout", "stdout"} }, []string{"output.sinks[1]"}},
		{"an unknown buffer type", func(c *Config) { c.Output.BufferTypes = map[string]string{"stdout": "tape"} }, []string{"output.buffer.stdout"}},
		{"a buffer type for a sink that is off", func(c *Config) { c.Output.BufferTypes = map[string]string{"kafka": "disk"} }, []string{"output.buffer.kafka"}},
		{"a tiny buffer", func(c *Config) { c.Output.BufferMaxSize = 100 }, []string{"output.buffer_max_size"}},
		{"an unknown when-full policy", func(c *Config) { c.Output.BufferWhenFull = "panic" }, []string{"output.buffer_when_full"}},
		{"an unknown sync mode", func(c *Config) { c.Output.BufferSync = "never" }, []string{"output.buffer_sync"}},
		{"a negative minimum TTL", func(c *Config) { c.Names.MinTTL = -1 }, []string{"names.min_ttl"}},
		{"a zero shutdown timeout", func(c *Config) { c.Output.ShutdownTimeout = 0 }, []string{"output.shutdown_timeout"}},
		{"an unknown log level", func(c *Config) { c.Log.Level = "loud" }, []string{"log.level"}},
		{"an unknown log format", func(c *Config) { c.Log.Format = "xml" }, []string{"log.format"}},
		{"several problems are all reported at once", func(c *Config) {
			c.Capture.Attach = "x"
			c.Log.Level = "y"
			c.Output.BatchBytes = -1
		}, []string{"capture.attach", "log.level", "output.batch_bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted a bad config")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.paths) {
				t.Errorf("want %d problems, got %d:\n%v", len(tc.paths), len(lines), err)
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p+": ") {
					t.Errorf("error does not name %s:\n%v", p, err)
				}
			}
		})
	}
}
