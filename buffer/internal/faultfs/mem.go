package faultfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

// ErrCrashed is returned by every operation on a file opened before Crash.
var ErrCrashed = errors.New("file system crashed")

// Mem is an in-memory file system that keeps, for every file and directory,
// what is durable apart from what is merely written: a file's content as of
// its last Sync, and a directory's entries as of its last SyncDir. Crash
// throws away what is not durable, the way a power cut does.
type Mem struct {
	// Capacity, when positive, is the total number of file bytes the file
	// system holds; a write past it writes what fits and fails with ENOSPC.
	Capacity int64

	mu   sync.Mutex
	dirs map[string]*memDir
	gen  int
}

type memDir struct {
	live, durable map[string]*inode
}

type inode struct {
	data, synced []byte
}

// NewMem returns an empty file system with a root directory.
func NewMem() *Mem {
	return &Mem{dirs: map[string]*memDir{"/": newDir()}}
}

func newDir() *memDir {
	return &memDir{live: map[string]*inode{}, durable: map[string]*inode{}}
}

func clean(name string) string { return filepath.Clean("/" + name) }

// Crash simulates a power cut. With rng nil exactly the durable state
// survives. With an rng, each file keeps its synced content plus a random
// prefix of what was written after (a torn write), and each directory entry
// changed since the last SyncDir independently survives or not, as on a
// real disk whose page cache was partly written back.
// Files opened before the crash fail with ErrCrashed from then on.
func (m *Mem) Crash(rng *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	seen := map[*inode]bool{}
	for _, d := range m.dirs {
		next := map[string]*inode{}
		names := map[string]bool{}
		for n := range d.live {
			names[n] = true
		}
		for n := range d.durable {
			names[n] = true
		}
		for _, n := range slices.Sorted(mapsKeys(names)) {
			v := d.durable[n]
			if rng != nil && d.live[n] != v && rng.IntN(2) == 0 {
				v = d.live[n]
			}
			if v != nil {
				next[n] = v
			}
		}
		d.live = next
		d.durable = cloneMap(next)
		for _, n := range slices.Sorted(mapsKeys(names)) {
			ino := next[n]
			if ino == nil || seen[ino] {
				continue
			}
			seen[ino] = true
			ino.data = crashData(ino, rng)
			ino.synced = bytes.Clone(ino.data)
		}
	}
}

func crashData(ino *inode, rng *rand.Rand) []byte {
	if rng == nil {
		return bytes.Clone(ino.synced)
	}
	p := 0
	for p < len(ino.data) && p < len(ino.synced) && ino.data[p] == ino.synced[p] {
		p++
	}
	if p == len(ino.data) && len(ino.synced) > p {
		// Truncated since the sync: the truncation may or may not stick.
		if rng.IntN(2) == 0 {
			return bytes.Clone(ino.synced)
		}
		return bytes.Clone(ino.data)
	}
	if p < len(ino.synced) {
		// Overwritten in place since the sync: old or new.
		if rng.IntN(2) == 0 {
			return bytes.Clone(ino.synced)
		}
	}
	keep := p + rng.IntN(len(ino.data)-p+1)
	return bytes.Clone(ino.data[:keep])
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cloneMap(m map[string]*inode) map[string]*inode {
	out := make(map[string]*inode, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (m *Mem) lookup(name string) (*memDir, string, error) {
	name = clean(name)
	d, ok := m.dirs[filepath.Dir(name)]
	if !ok {
		return nil, "", fs.ErrNotExist
	}
	return d, filepath.Base(name), nil
}

func (m *Mem) used() int64 {
	var n int64
	seen := map[*inode]bool{}
	for _, d := range m.dirs {
		for _, ino := range d.live {
			if !seen[ino] {
				seen[ino] = true
				n += int64(len(ino.data))
			}
		}
	}
	return n
}

func (m *Mem) OpenFile(name string, flag int, perm fs.FileMode) (fsx.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if _, isDir := m.dirs[clean(name)]; isDir {
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
	}
	ino, ok := d.live[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		ino = &inode{}
		d.live[base] = ino
	}
	if flag&os.O_TRUNC != 0 {
		ino.data = ino.data[:0:0]
	}
	return &memFile{m: m, ino: ino, name: name, flag: flag, gen: m.gen}, nil
}

func (m *Mem) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.lookup(oldpath)
	if err != nil {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: err}
	}
	nd, nb, err := m.lookup(newpath)
	if err != nil {
		return &fs.PathError{Op: "rename", Path: newpath, Err: err}
	}
	ino, ok := od.live[ob]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldpath, Err: fs.ErrNotExist}
	}
	delete(od.live, ob)
	nd.live[nb] = ino
	return nil
}

func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, b, err := m.lookup(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	if _, ok := d.live[b]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.live, b)
	return nil
}

func (m *Mem) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	d, ok := m.dirs[name]
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for n, ino := range d.live {
		out = append(out, fs.FileInfoToDirEntry(memInfo{name: n, size: int64(len(ino.data))}))
	}
	for p := range m.dirs {
		if p != "/" && filepath.Dir(p) == name {
			out = append(out, fs.FileInfoToDirEntry(memInfo{name: filepath.Base(p), dir: true}))
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int {
		switch {
		case a.Name() < b.Name():
			return -1
		case a.Name() > b.Name():
			return 1
		}
		return 0
	})
	return out, nil
}

func (m *Mem) MkdirAll(path string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	path = clean(path)
	for p := path; ; p = filepath.Dir(p) {
		if _, ok := m.dirs[p]; !ok {
			m.dirs[p] = newDir()
		}
		if p == "/" {
			return nil
		}
	}
}

func (m *Mem) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[clean(name)]; ok {
		return memInfo{name: filepath.Base(clean(name)), dir: true}, nil
	}
	d, b, err := m.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	ino, ok := d.live[b]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return memInfo{name: b, size: int64(len(ino.data))}, nil
}

func (m *Mem) SyncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[clean(name)]
	if !ok {
		return &fs.PathError{Op: "sync", Path: name, Err: fs.ErrNotExist}
	}
	d.durable = cloneMap(d.live)
	return nil
}

type memFile struct {
	m      *Mem
	ino    *inode
	name   string
	flag   int
	off    int64
	gen    int
	closed bool
}

func (f *memFile) check(op string) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	if f.gen != f.m.gen {
		return &fs.PathError{Op: op, Path: f.name, Err: ErrCrashed}
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if f.flag&os.O_APPEND != 0 {
		f.off = int64(len(f.ino.data))
	}
	var err error
	n := len(p)
	if f.m.Capacity > 0 {
		grow := f.off + int64(n) - int64(len(f.ino.data))
		if free := f.m.Capacity - f.m.used(); grow > free {
			n -= int(grow - max(free, 0))
			n = max(n, 0)
			err = &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
		}
	}
	if end := f.off + int64(n); end > int64(len(f.ino.data)) {
		f.ino.data = append(f.ino.data, make([]byte, end-int64(len(f.ino.data)))...)
	}
	copy(f.ino.data[f.off:], p[:n])
	f.off += int64(n)
	return n, err
}

func (f *memFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	f.m.mu.Lock()
	saved, flag := f.off, f.flag
	f.off, f.flag = off, flag&^os.O_APPEND
	f.m.mu.Unlock()
	n, err := f.Write(bytes.Join(bufs, nil))
	f.m.mu.Lock()
	f.off, f.flag = saved, flag
	f.m.mu.Unlock()
	return n, err
}

func (f *memFile) Read(p []byte) (int, error) {
	n, err := f.ReadAt(p, f.off)
	f.m.mu.Lock()
	f.off += int64(n)
	f.m.mu.Unlock()
	return n, err
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	f.ino.synced = bytes.Clone(f.ino.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if size <= int64(len(f.ino.data)) {
		f.ino.data = f.ino.data[:size:size]
	} else {
		f.ino.data = append(f.ino.data, make([]byte, size-int64(len(f.ino.data)))...)
	}
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	return memInfo{name: filepath.Base(f.name), size: int64(len(f.ino.data))}, nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
