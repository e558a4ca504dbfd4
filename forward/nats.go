package forward

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	natsgo "github.com/nats-io/nats.go"

	"github.com/ayaflow/ayaflow/forward/wire"
)

// NATSListener serves batches that arrive as NATS requests on one
// subject. Stop it before closing the buffers.
type NATSListener struct {
	s      *Server
	sub    *natsgo.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	stopped bool
}

// ServeNATS subscribes to subject in queue group queue on nc and handles
// each request in a goroutine of its own, at most Options.NATSWorkers at
// once. Each reply carries the status in the header Ayaflow-Status
// (package wire). nc stays the caller's.
func (s *Server) ServeNATS(nc *natsgo.Conn, subject, queue string) (*NATSListener, error) {
	if subject == "" {
		subject = wire.DefaultSubject
	}
	if queue == "" {
		queue = wire.DefaultQueue
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &NATSListener{s: s, ctx: ctx, cancel: cancel, sem: make(chan struct{}, s.opts.NATSWorkers)}
	sub, err := nc.QueueSubscribe(subject, queue, l.handle)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("nats subscribe %s: %w", subject, err)
	}
	// The subscription holds back no more than the workers can take soon:
	// beyond that, nats.go drops (slow consumer) and the agents retry.
	_ = sub.SetPendingLimits(4*s.opts.NATSWorkers, 4*s.opts.NATSWorkers*int(min(s.opts.MaxBodyBytes, 1<<20)))
	// Requests count on the subscription once ServeNATS returns: wait
	// until the server has it.
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("nats subscribe %s: %w", subject, err)
	}
	l.sub = sub
	return l, nil
}

// handle runs on the subscription's goroutine; blocking on the semaphore
// is the back-pressure.
func (l *NATSListener) handle(m *natsgo.Msg) {
	select {
	case l.sem <- struct{}{}:
	case <-l.ctx.Done():
		return
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		<-l.sem
		return // no reply: the agent times out and retries
	}
	l.wg.Add(1)
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		defer func() { <-l.sem }()
		req := Request{Transport: "nats", Body: m.Data}
		var rep Reply
		if m.Header != nil {
			req.BufferID = m.Header.Get(wire.HeaderBufferID)
			req.Encoding = m.Header.Get(wire.HeaderContentEncoding)
			if v := m.Header.Get(wire.HeaderRecordID); v != "" || req.BufferID != "" {
				id, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					rep = Reply{Status: http.StatusBadRequest, Message: fmt.Sprintf("%s %q is not a decimal record id", wire.HeaderRecordID, v)}
					l.s.stats.count("nats", rep)
				}
				req.RecordID = id
			}
		}
		if rep.Status == 0 {
			rep = l.s.Receive(l.ctx, req)
		}
		if m.Reply == "" {
			return // a publish, not a request: nobody waits for the outcome
		}
		out := natsgo.NewMsg(m.Reply)
		out.Header.Set(wire.HeaderStatus, strconv.Itoa(rep.Status))
		if rep.Duplicate {
			out.Header.Set(wire.HeaderDuplicate, "true")
		}
		if rep.RetryAfter > 0 {
			out.Header.Set(wire.HeaderRetryAfter, retryAfterSeconds(rep.RetryAfter))
		}
		out.Data = []byte(rep.Message)
		if err := m.RespondMsg(out); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
			l.s.log.Warn("nats reply", "error", err)
		}
	}()
}

// Stop stops taking requests, lets the ones in progress finish and reply
// within ctx, and then cuts off the rest (they answer 503).
func (l *NATSListener) Stop(ctx context.Context) error {
	err := l.sub.Unsubscribe()
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		l.cancel()
		<-done
	}
	l.cancel()
	if err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) && !errors.Is(err, natsgo.ErrBadSubscription) {
		return fmt.Errorf("nats unsubscribe: %w", err)
	}
	return nil
}
