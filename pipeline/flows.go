package pipeline

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/flow"
)

// FlowMode turns packets into flow events.
type FlowMode struct {
	// Options are the tables' timeouts and bounds.
	Options flow.Options
	// Kernel is the kernel's flow map in live flow mode: records flagged
	// capture.FlagInFlow are counted there and read from it. Nil in
	// replay, where the pipeline counts every record itself.
	Kernel *ebpf.Map
	// Now returns the current time on the records' clock (the boot clock,
	// live). Nil in replay, where the time is the latest record's.
	Now func() uint64
	// Every is how often, on that clock, flows are checked for their
	// timeouts. Default 1s.
	Every uint64
}

// flowStage owns the flow tables. It runs on the capture goroutine.
type flowStage struct {
	mode   FlowMode
	kern   *flow.Table // mirrors the kernel map (live)
	user   *flow.Table // counts records itself (replay, kernel-map overflow)
	last   uint64      // latest record time (replay clock)
	expire uint64      // when the timeouts were last checked
	keys   []bpf.AyaflowFlowKey
	vals   []bpf.AyaflowFlowState
}

func newFlowStage(m FlowMode) *flowStage {
	if m.Every == 0 {
		m.Every = 1e9
	}
	return &flowStage{mode: m, kern: flow.NewTable(m.Options), user: flow.NewTable(m.Options)}
}

// count takes one record. It reports whether the record still needs a
// packet event: only when its flow fits nowhere, so nothing is lost.
func (f *flowStage) count(rec *capture.Record) (packetEvent bool) {
	if rec.TsNs > f.last {
		f.last = rec.TsNs
	}
	if rec.Flags&capture.FlagInFlow != 0 {
		return false // counted in the kernel's map
	}
	return !f.user.Add(rec)
}

func (f *flowStage) now() uint64 {
	if f.mode.Now != nil {
		return f.mode.Now()
	}
	return f.last
}

// due reports whether the timeouts should be checked now.
func (f *flowStage) due() bool {
	n := f.now()
	return n >= f.expire+f.mode.Every
}

// tick emits the records of flows past a timeout.
func (f *flowStage) tick(emit func(*flow.Record)) error {
	now := f.now()
	f.expire = now
	if f.mode.Kernel != nil {
		if err := f.syncKernel(); err != nil {
			return err
		}
		var errs []error
		f.kern.Idle(now, func(k bpf.AyaflowFlowKey) {
			errs = append(errs, f.finishKernel(k, emit))
		})
		f.kern.Active(now, emit)
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	f.user.Expire(now, emit)
	return nil
}

// flush ends every flow: on shutdown, after capture has stopped, and at
// the end of a replay.
func (f *flowStage) flush(emit func(*flow.Record)) error {
	if f.mode.Kernel != nil {
		if err := f.syncKernel(); err != nil {
			return err
		}
		var errs []error
		f.kern.Idle(^uint64(0), func(k bpf.AyaflowFlowKey) {
			errs = append(errs, f.finishKernel(k, emit))
		})
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	f.user.Flush(emit)
	return nil
}

// finishKernel removes an idle flow from the kernel map, reading its last
// counts in the same step, and emits its final record.
func (f *flowStage) finishKernel(k bpf.AyaflowFlowKey, emit func(*flow.Record)) error {
	var s bpf.AyaflowFlowState
	if err := f.mode.Kernel.LookupAndDelete(&k, &s); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		return fmt.Errorf("remove idle flow from the kernel map: %w", err)
	}
	f.kern.Final(k, s, emit)
	return nil
}

// syncKernel copies every kernel flow entry's cumulative state into the
// kernel table.
func (f *flowStage) syncKernel() error {
	const chunk = 4096
	if f.keys == nil {
		f.keys = make([]bpf.AyaflowFlowKey, chunk)
		f.vals = make([]bpf.AyaflowFlowState, chunk)
	}
	var cursor ebpf.MapBatchCursor
	for {
		n, err := f.mode.Kernel.BatchLookup(&cursor, f.keys, f.vals, nil)
		for i := 0; i < n; i++ {
			f.kern.Update(f.keys[i], f.vals[i])
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the kernel flow map: %w", err)
		}
	}
}

// open returns the number of flows tracked.
func (f *flowStage) open() int { return f.kern.Len() + f.user.Len() }

// flowEvent fills ev for a flow record.
func flowEvent(r *flow.Record, ev *event.Event, src Source) {
	r.ToEvent(ev, src, src.Interface(r.State.Ifindex))
}
