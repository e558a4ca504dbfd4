package buffer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs a writer and its consumer in a child process (this
// test binary, re-executed with crashChildEnv set: see TestMain), kills it
// with SIGKILL at a random moment, and starts it again on the same
// directory.
//
// Normal `go test` runs crashCycles cycles. The long mode, for a release
// or after touching recovery, runs at least 200 cycles and 10 million
// records:
//
//	go test ./buffer/ -run TestCrashRecovery -timeout 60m -v -buffer.long
//	AYAFLOW_BUFFER_LONG=1 go test -run TestCrashRecovery -timeout 60m -v ./buffer/
var longMode = flag.Bool("buffer.long", os.Getenv("AYAFLOW_BUFFER_LONG") == "1",
	"run the crash test's long mode (200+ cycles, 10M+ records)")

const (
	crashChildEnv    = "AYAFLOW_BUFFER_CRASH_CHILD"
	crashCycles      = 30
	longCycles       = 200
	longRecords      = 10_000_000
	crashChildSyncIv = 2 * time.Millisecond
)

func crashOptions() Options {
	return Options{
		MaxSize:      256 << 20,
		SegmentSize:  4 << 20,
		SyncInterval: crashChildSyncIv,
		SyncBytes:    512 << 10,
	}
}

// crashPayload is record id's payload: the id, then bytes derived from it,
// so a reader can check any record without knowing what was written.
func crashPayload(dst []byte, id uint64) []byte {
	n := 16 + int(id*7919%400)
	dst = binary.LittleEndian.AppendUint64(dst[:0], id)
	for k := 8; k < n; k++ {
		dst = append(dst, byte(id)+byte(k*13))
	}
	return dst
}

// crashChild is the child's main. It prints, one write per line:
//
//	O acked last     after Open
//	D durable cursor whenever more is durable (cursor: the durable ack)
//	R first last     records delivered (before they are acknowledged)
//	E message        a broken promise; the child then exits 3
func crashChild() int {
	dir := os.Getenv(crashChildEnv)
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		os.Stdout.WriteString(fmt.Sprintf(format, args...) + "\n")
	}
	fatal := func(format string, args ...any) {
		say("E "+format, args...)
		os.Exit(3)
	}
	b, err := Open(dir, crashOptions(), nil)
	if err != nil {
		fatal("open: %v", err)
	}
	st := b.Stats()
	say("O %d %d", st.AckedID, st.LastID)
	ctx := context.Background()

	go func() { // writer
		buf := make([]byte, 0, 512)
		for next := st.LastID + 1; ; next++ {
			buf = crashPayload(buf, next)
			id, err := b.Append(ctx, buf)
			if err != nil || id != next {
				fatal("append: id %d, %v; want %d", id, err, next)
			}
		}
	}()
	go func() { // durability reporter
		var d uint64
		for {
			if err := b.WaitDurable(ctx, d+1); err != nil {
				fatal("wait durable: %v", err)
			}
			st := b.Stats()
			d = st.DurableID
			say("D %d %d", d, st.CursorID)
		}
	}()
	// consumer
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	want := make([]byte, 0, 512)
	var first, last uint64
	for batch := 0; ; {
		r, err := b.Read(ctx)
		if err != nil {
			fatal("read: %v", err)
		}
		if want = crashPayload(want, r.ID); !bytes.Equal(r.Data, want) {
			fatal("record %d has the wrong payload", r.ID)
		}
		switch {
		case first == 0:
			first = r.ID
		case r.ID != last+1:
			fatal("read %d after %d", r.ID, last)
		}
		last = r.ID
		if batch++; batch >= 1+rng.IntN(200) {
			say("R %d %d", first, last)
			if err := b.Ack(last); err != nil {
				fatal("ack: %v", err)
			}
			first, batch = 0, 0
		}
	}
}

// crashState is what the parent knows across cycles.
type crashState struct {
	maxDurable   uint64 // largest id reported durable
	maxCursor    uint64 // largest acknowledgement reported in the cursor file
	maxDelivered uint64 // largest id delivered
	duplicates   uint64 // records delivered more than once
	kills        int
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() && !*longMode {
		t.Skip("crash test skipped in -short mode")
	}
	dir := t.TempDir()
	cycles, minRecords := crashCycles, uint64(0)
	if *longMode {
		cycles, minRecords = longCycles, longRecords
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var s crashState
	for cycle := 0; cycle < cycles || s.maxDurable < minRecords; cycle++ {
		// Mostly kill mid-stream; sometimes during Open's recovery.
		life := time.Duration(rng.IntN(250)) * time.Millisecond
		if *longMode {
			life = time.Duration(200+rng.IntN(1300)) * time.Millisecond
		}
		if rng.IntN(8) == 0 {
			life = time.Duration(rng.IntN(5000)) * time.Microsecond
		}
		out, stderr := runCrashChild(t, dir, life)
		s.kills++
		checkCycle(t, cycle, &s, out, stderr)
		if t.Failed() {
			return
		}
	}

	// Last, in process: every durable record is still there, or acknowledged.
	b, err := Open(dir, crashOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := b.Stats()
	if st.LastID < s.maxDurable || st.AckedID < s.maxCursor {
		t.Fatalf("final open: %+v; durable reported up to %d, cursor %d", st, s.maxDurable, s.maxCursor)
	}
	got := readNow(t, b)
	for i, r := range got {
		if r.ID != st.AckedID+1+uint64(i) || !bytes.Equal(r.Data, crashPayload(nil, r.ID)) {
			t.Fatalf("final read: record %d is id %d, want %d with its payload", i, r.ID, st.AckedID+1+uint64(i))
		}
	}
	if len(got) > 0 && got[len(got)-1].ID != st.LastID {
		t.Fatalf("final read ends at %d, last id %d", got[len(got)-1].ID, st.LastID)
	}
	t.Logf("%d kills, %d records durable, %d delivered, %d delivered again after a kill",
		s.kills, s.maxDurable, s.maxDelivered, s.duplicates)
}

func runCrashChild(t *testing.T, dir string, life time.Duration) (out, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(life)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Errorf("child did not die by SIGKILL (%v); stdout tail:\n%s\nstderr:\n%s", err, tail(o.String()), e.String())
	}
	return o.String(), e.String()
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

func checkCycle(t *testing.T, cycle int, s *crashState, out, stderr string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	opened := false
	var acked, next uint64 // next id this cycle's consumer must deliver
	for sc.Scan() {
		line := sc.Text()
		var a, b uint64
		switch {
		case strings.HasPrefix(line, "E "):
			t.Fatalf("cycle %d: child: %s\nstderr:\n%s", cycle, line, stderr)
		case strings.HasPrefix(line, "O "):
			fmt.Sscanf(line, "O %d %d", &a, &b)
			opened, acked, next = true, a, a+1
			switch {
			case b < s.maxDurable:
				t.Fatalf("cycle %d: reopened with last id %d, but %d was reported durable: durable records lost", cycle, b, s.maxDurable)
			case a < s.maxCursor:
				t.Fatalf("cycle %d: reopened at ack %d, behind the durable cursor %d", cycle, a, s.maxCursor)
			case a > s.maxDelivered:
				t.Fatalf("cycle %d: reopened at ack %d, past the last delivered record %d", cycle, a, s.maxDelivered)
			}
		case strings.HasPrefix(line, "D "):
			fmt.Sscanf(line, "D %d %d", &a, &b)
			s.maxDurable, s.maxCursor = max(s.maxDurable, a), max(s.maxCursor, b)
		case strings.HasPrefix(line, "R "):
			fmt.Sscanf(line, "R %d %d", &a, &b)
			if !opened || a != next || b < a {
				t.Fatalf("cycle %d: delivered %d..%d, want from %d", cycle, a, b, next)
			}
			if a <= s.maxDelivered {
				// Delivered again: only what was not durably acknowledged.
				if a <= acked {
					t.Fatalf("cycle %d: redelivered %d, which was acknowledged (%d)", cycle, a, acked)
				}
				s.duplicates += min(b, s.maxDelivered) - a + 1
			}
			next, s.maxDelivered = b+1, max(s.maxDelivered, b)
		}
	}
}
