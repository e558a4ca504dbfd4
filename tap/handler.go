package tap

import (
	"errors"
	"net/http"
	"time"
)

// ContentType is the media type of the /tap stream.
const ContentType = "application/x-ndjson"

// Path is where Mount serves the stream.
const Path = "/tap"

// writeBatch bounds the bytes the handler collects from the queue before
// it writes and flushes them.
const writeBatch = 64 << 10

// Handler serves the stream described in the package doc, whatever the
// request's path: mount it at Path. It runs until the client disconnects
// or the hub closes.
func (h *Hub) Handler() http.Handler { return http.HandlerFunc(h.serve) }

// Mount returns a handler that serves the stream at Path and everything
// else with next (the metrics mux). On a nil Hub it returns next.
func (h *Hub) Mount(next http.Handler) http.Handler {
	if h == nil {
		return next
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h.Handler())
	mux.Handle("/", next)
	return mux
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	f, err := ParseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sub, err := h.Subscribe(f)
	switch {
	case errors.Is(err, ErrTooManyClients):
		http.Error(w, err.Error()+": close another `ayaflow tap` or `ayaflow top`", http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()

	hdr := w.Header()
	hdr.Set("Content-Type", ContentType)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// Send the headers now: the client knows it is attached before the
	// first event.
	if err := rc.Flush(); err != nil || r.Method == http.MethodHead {
		return
	}

	tick := time.NewTicker(h.noticeEvery())
	defer tick.Stop()
	var (
		buf      []byte
		reported uint64
	)
	// take appends line, if f selects it, and whatever else is queued, up
	// to writeBatch bytes.
	take := func(line []byte) {
		for {
			if f.Match(line) {
				buf = append(buf, line...)
			}
			if len(buf) >= writeBatch {
				return
			}
			select {
			case line = <-sub.C():
			default:
				return
			}
		}
	}
	write := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		if err != nil {
			return err
		}
		return rc.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case line := <-sub.C():
			take(line)
			if write() != nil {
				return
			}
		case <-tick.C:
			if d := sub.Dropped(); d > reported {
				reported = d
				buf = appendNotice(buf, Notice{Dropped: d})
				if write() != nil {
					return
				}
			}
		case <-sub.Done():
			// The agent is stopping: write what is queued, then say so.
			for {
				select {
				case line := <-sub.C():
					take(line)
					if write() != nil {
						return
					}
					continue
				default:
				}
				break
			}
			buf = appendNotice(buf, Notice{Dropped: sub.Dropped(), Closed: true})
			_ = write()
			return
		}
	}
}
