package enrich

import (
	"net/netip"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// NameCache maps addresses to the names the observed hosts resolved for
// them, learned passively from DNS answers. Entries expire on the DNS TTL,
// but live at least MinTTL: answers often carry a TTL of 0 or a few
// seconds and the connection follows right after. Time is whatever the
// caller passes (packet time), so a replay behaves like the live run.
//
// NameCache is bounded (least recently used entries go first) and is not
// safe for concurrent use; its counters are.
type NameCache struct {
	cache  *lru.Cache[netip.Addr, nameEntry]
	minTTL time.Duration

	resolved, hits, misses atomic.Uint64
}

type nameEntry struct {
	name    string
	expires int64 // unix nanoseconds
}

// NewNameCache returns a cache of at most size addresses.
func NewNameCache(size int, minTTL time.Duration) *NameCache {
	if size < 1 {
		size = 1
	}
	c, _ := lru.New[netip.Addr, nameEntry](size) // only fails for size <= 0
	return &NameCache{cache: c, minTTL: minTTL}
}

// Add records that name resolved to addr at time now (unix ns) with ttl.
func (c *NameCache) Add(addr netip.Addr, name string, ttl time.Duration, now int64) {
	if !addr.IsValid() || name == "" {
		return
	}
	ttl = max(ttl, c.minTTL)
	c.cache.Add(addr.Unmap(), nameEntry{name: name, expires: now + int64(ttl)})
	c.resolved.Add(1)
}

// Lookup returns the name resolved for addr, if one is cached and not
// expired at now (unix ns).
func (c *NameCache) Lookup(addr netip.Addr, now int64) (string, bool) {
	e, ok := c.cache.Get(addr.Unmap())
	if !ok || now > e.expires {
		if ok {
			c.cache.Remove(addr.Unmap())
		}
		c.misses.Add(1)
		return "", false
	}
	c.hits.Add(1)
	return e.name, true
}

// NameStats are the cache's counters.
type NameStats struct {
	Resolved uint64 // address→name pairs learned from answers
	Hits     uint64 // lookups that found a name
	Misses   uint64 // lookups that found none (or an expired one)
	Entries  int    // addresses held now
}

// Stats returns the counters. Entries is only exact from the owning
// goroutine.
func (c *NameCache) Stats() NameStats {
	return NameStats{Resolved: c.resolved.Load(), Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: c.cache.Len()}
}
