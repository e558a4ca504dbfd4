package enrich

import (
	"net/netip"
	"testing"
	"time"
)

func TestNameCache(t *testing.T) {
	ip := netip.MustParseAddr("198.18.7.2")
	sec := int64(time.Second)
	for _, tc := range []struct {
		name     string
		ttl      time.Duration
		lookupAt int64
		want     string
	}{
		{"a name is found within its TTL", 600 * time.Second, 500 * sec, "www.ayaflow.test"},
		{"a name expires after its TTL", 600 * time.Second, 601 * sec, ""},
		{"a zero TTL still lives the minimum TTL", 0, 299 * sec, "www.ayaflow.test"},
		{"and expires after the minimum TTL", 0, 301 * sec, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewNameCache(10, 300*time.Second)
			c.Add(ip, "www.ayaflow.test", tc.ttl, 0)
			got, ok := c.Lookup(ip, tc.lookupAt)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Lookup = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
	t.Run("an IPv4-mapped address finds the IPv4 entry", func(t *testing.T) {
		c := NewNameCache(10, time.Minute)
		c.Add(ip, "a.test", time.Minute, 0)
		if got, _ := c.Lookup(netip.MustParseAddr("::ffff:198.18.7.2"), 1); got != "a.test" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("the cache is bounded and drops the least recently used", func(t *testing.T) {
		c := NewNameCache(2, time.Minute)
		a, b, d := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")
		c.Add(a, "a", time.Minute, 0)
		c.Add(b, "b", time.Minute, 0)
		c.Lookup(a, 1) // a is now the most recently used
		c.Add(d, "d", time.Minute, 0)
		if _, ok := c.Lookup(b, 1); ok {
			t.Error("b survived although it was the least recently used")
		}
		if got, _ := c.Lookup(a, 1); got != "a" {
			t.Errorf("a = %q", got)
		}
		st := c.Stats()
		if st.Entries != 2 || st.Resolved != 3 || st.Hits != 2 || st.Misses != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}
