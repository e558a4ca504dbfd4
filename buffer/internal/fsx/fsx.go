// Package fsx is the small file-system interface the buffer does all its I/O
// through, so tests can swap in a file system that fails or crashes on
// purpose. The production implementation, OS, is a thin shim over package os:
// one interface call per system call.
package fsx

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// File is the part of *os.File the buffer uses.
type File interface {
	io.Reader
	io.Writer
	io.ReaderAt
	io.Closer
	Name() string
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	// WritevAt writes the concatenation of bufs at offset off, in one
	// system call (pwritev) when it can, so a record's header and payload
	// need not be copied together. It returns an error whenever it writes
	// fewer bytes than asked, with the count it did write.
	WritevAt(bufs [][]byte, off int64) (int, error)
}

// FS is the part of package os the buffer uses.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	ReadDir(name string) ([]fs.DirEntry, error)
	MkdirAll(path string, perm fs.FileMode) error
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes the directory's entries (creations, renames and
	// removals) durable.
	SyncDir(name string) error
}

// OS is the real file system.
type OS struct{}

func (OS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil File
	}
	return osFile{f}, nil
}

type osFile struct{ *os.File }

func (f osFile) WritevAt(bufs [][]byte, off int64) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	total := 0
	for len(bufs) > 0 {
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			for {
				n, werr = unix.Pwritev(int(fd), bufs, off)
				if werr != unix.EINTR {
					return true
				}
			}
		}); err != nil {
			return total, err
		}
		if werr != nil {
			return total, &fs.PathError{Op: "write", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return total, &fs.PathError{Op: "write", Path: f.Name(), Err: io.ErrShortWrite}
		}
		total += n
		off += int64(n)
		for n > 0 && len(bufs) > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
			} else {
				bufs = append([][]byte{bufs[0][n:]}, bufs[1:]...)
				n = 0
			}
		}
	}
	return total, nil
}

func (OS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OS) Remove(name string) error                     { return os.Remove(name) }
func (OS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (OS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (OS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }

func (OS) SyncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
