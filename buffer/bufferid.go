package buffer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// idFile names the file holding a disk buffer's identity.
const idFile = "buffer-id"

// NewID returns a random UUID (version 4) in its text form.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// DirID returns the identity of the buffer in dir, creating it on first
// use: a UUID written atomically to dir/buffer-id. A buffer directory that
// is removed and created again gets a new identity, so ids derived from
// (identity, record id) never repeat, even though record ids restart at 1.
func DirID(dir string) (string, error) {
	path := filepath.Join(dir, idFile)
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if len(id) == 36 {
			return id, nil
		}
		// A damaged identity is replaced: a fresh one cannot collide.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read buffer identity: %w", err)
	}
	id := NewID()
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return "", fmt.Errorf("write buffer identity: %w", err)
	}
	_, werr := f.WriteString(id + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return "", fmt.Errorf("write buffer identity: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write buffer identity: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		serr := d.Sync()
		d.Close()
		if serr != nil {
			return "", fmt.Errorf("sync buffer directory: %w", serr)
		}
	}
	return id, nil
}
