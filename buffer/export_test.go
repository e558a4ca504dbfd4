package buffer

// crashForTest stops b the way a dying process would: its goroutines stop,
// nothing more is synced, and its files are left as they are.
func (b *Disk) crashForTest() {
	b.mu.Lock()
	b.closed = true
	b.notifyLocked()
	b.mu.Unlock()
	close(b.quit)
	<-b.done
}
