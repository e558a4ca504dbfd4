// Package faultfs holds file systems that fail on purpose, for the buffer's
// tests: Inject wraps another file system and fails chosen operations, and
// Mem is an in-memory file system that can simulate a machine crash, losing
// whatever was not made durable by fsync.
package faultfs

import (
	"io/fs"
	"sync"

	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

// Op names an operation Inject can fail.
type Op string

const (
	OpOpen     Op = "open"
	OpWrite    Op = "write"
	OpSync     Op = "sync"
	OpTruncate Op = "truncate"
	OpRename   Op = "rename"
	OpRemove   Op = "remove"
	OpSyncDir  Op = "syncdir"
)

// Call is one operation as Inject saw it.
type Call struct {
	Op   Op
	Path string
	// Handle numbers each opened file, so a test can tell whether an
	// operation was retried on the same file. 0 for path operations.
	Handle int
}

// Inject wraps FS. Before each operation it calls Fault; a non-nil error is
// returned instead of doing the operation. It records every call.
type Inject struct {
	FS    fsx.FS
	Fault func(c Call) error

	mu      sync.Mutex
	calls   []Call
	handles int
}

// Calls returns the operations seen so far.
func (x *Inject) Calls() []Call {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Call(nil), x.calls...)
}

func (x *Inject) check(c Call) error {
	x.mu.Lock()
	x.calls = append(x.calls, c)
	x.mu.Unlock()
	if x.Fault == nil {
		return nil
	}
	return x.Fault(c)
}

func (x *Inject) OpenFile(name string, flag int, perm fs.FileMode) (fsx.File, error) {
	if err := x.check(Call{Op: OpOpen, Path: name}); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f, err := x.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.handles++
	h := x.handles
	x.mu.Unlock()
	return &injectFile{File: f, x: x, h: h}, nil
}

func (x *Inject) Rename(oldpath, newpath string) error {
	if err := x.check(Call{Op: OpRename, Path: newpath}); err != nil {
		return &fs.PathError{Op: "rename", Path: newpath, Err: err}
	}
	return x.FS.Rename(oldpath, newpath)
}

func (x *Inject) Remove(name string) error {
	if err := x.check(Call{Op: OpRemove, Path: name}); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return x.FS.Remove(name)
}

func (x *Inject) SyncDir(name string) error {
	if err := x.check(Call{Op: OpSyncDir, Path: name}); err != nil {
		return &fs.PathError{Op: "sync", Path: name, Err: err}
	}
	return x.FS.SyncDir(name)
}

func (x *Inject) ReadDir(name string) ([]fs.DirEntry, error)   { return x.FS.ReadDir(name) }
func (x *Inject) MkdirAll(path string, perm fs.FileMode) error { return x.FS.MkdirAll(path, perm) }
func (x *Inject) Stat(name string) (fs.FileInfo, error)        { return x.FS.Stat(name) }

type injectFile struct {
	fsx.File
	x *Inject
	h int
}

func (f *injectFile) Write(p []byte) (int, error) {
	if err := f.x.check(Call{Op: OpWrite, Path: f.Name(), Handle: f.h}); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return f.File.Write(p)
}

func (f *injectFile) Sync() error {
	if err := f.x.check(Call{Op: OpSync, Path: f.Name(), Handle: f.h}); err != nil {
		return &fs.PathError{Op: "sync", Path: f.Name(), Err: err}
	}
	return f.File.Sync()
}

func (f *injectFile) Truncate(size int64) error {
	if err := f.x.check(Call{Op: OpTruncate, Path: f.Name(), Handle: f.h}); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.Name(), Err: err}
	}
	return f.File.Truncate(size)
}

func (f *injectFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	if err := f.x.check(Call{Op: OpWrite, Path: f.Name(), Handle: f.h}); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: err}
	}
	return f.File.WritevAt(bufs, off)
}
