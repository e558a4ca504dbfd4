package buffer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

type pf struct {
	path string
	f    *os.File
	tot  int
	rec  []byte
	flag int
	d    time.Duration
}

func (p *pf) round() {
	start := time.Now()
	for i := 0; i < 16; i++ {
		p.f.Write(p.rec)
	}
	p.f.Sync()
	p.d += time.Since(start)
	if p.tot += 16 * len(p.rec); p.tot >= 64<<20 {
		p.f.Close()
		os.Remove(p.path)
		p.f, _ = os.OpenFile(p.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|p.flag, 0o644)
		p.tot = 0
	}
}

func newPF(dir, name string, size, flag int) *pf {
	p := &pf{path: filepath.Join(dir, name), rec: make([]byte, size), flag: flag}
	p.f, _ = os.OpenFile(p.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|flag, 0o644)
	return p
}

func TestTmpExp(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ a, b *pf }{
		{newPF(dir, "a1", 65536, 0), newPF(dir, "b1", 65536, 0)},
		{newPF(dir, "a2", 65536+16, os.O_APPEND), newPF(dir, "b2", 65536, 0)},
		{newPF(dir, "a3", 65536+16, 0), newPF(dir, "b3", 65536, 0)},
		{newPF(dir, "a4", 65536, os.O_APPEND), newPF(dir, "b4", 65536, 0)},
		{newPF(dir, "a5", 65536+4096, 0), newPF(dir, "b5", 65536, 0)},
	} {
		for i := 0; i < 1000; i++ {
			if i%2 == 0 {
				c.a.round()
				c.b.round()
			} else {
				c.b.round()
				c.a.round()
			}
		}
		t.Logf("%s %.1f MB/s  %s %.1f MB/s ratio %.2f", c.a.path[len(dir):], 1000*16*float64(len(c.a.rec))/1e6/c.a.d.Seconds(),
			c.b.path[len(dir):], 1000*16*65536/1e6/c.b.d.Seconds(), c.b.d.Seconds()/c.a.d.Seconds())
	}
}
