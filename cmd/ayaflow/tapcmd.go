package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/tap"
)

func agentFlag() cli.Flag {
	return &cli.StringFlag{Name: "agent", Value: metrics.DefaultAddr, EnvVars: []string{"AYAFLOW_AGENT"},
		Usage: "`ADDR` of the running agent: the metrics address of ayaflow ship (--metrics-addr)"}
}

// listFlag is a repeatable flag whose values are kept whole: a filter may
// contain commas, which cli.StringSliceFlag would split on.
type listFlag []string

// listFlagSerial marks the whole list as cli copies it from a flag's
// alias to its name (cli.Serializer).
const listFlagSerial = "\x00listFlag:"

func (l *listFlag) Set(v string) error {
	if rest, ok := strings.CutPrefix(v, listFlagSerial); ok {
		return json.Unmarshal([]byte(rest), l)
	}
	*l = append(*l, v)
	return nil
}

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Serialize() string {
	b, _ := json.Marshal([]string(*l))
	return listFlagSerial + string(b)
}

func tapCommand(stdout, stderr io.Writer) *cli.Command {
	var keys []string
	for _, k := range tap.FilterKeys {
		keys = append(keys, fmt.Sprintf("  %-11s %s", k.Key+"=V", k.Doc))
	}
	return &cli.Command{
		Name:  "tap",
		Usage: "stream a running agent's events as NDJSON",
		Description: "Prints the events a running `ayaflow ship` encodes, as it encodes them, one JSON\n" +
			"object per line, until interrupted. The agent drops events for a tap that reads too\n" +
			"slowly, never for its sinks; the count is reported on stderr.\n\n" +
			"Filters (--filter, all must hold; without '=', a substring of the event's JSON):\n" +
			strings.Join(keys, "\n") + "\n\n" +
			"Example: ayaflow tap --kind dns --filter domain=example.com | jq .dns.question",
		Flags: []cli.Flag{
			agentFlag(),
			&cli.StringSliceFlag{Name: "kind", Aliases: []string{"k"},
				Usage: "only events of kind `K`: " + strings.Join(tap.Kinds, ", ") + " (repeatable)"},
			&cli.GenericFlag{Name: "filter", Aliases: []string{"f"}, Value: new(listFlag),
				Usage: "only events `F` matches: ip=ADDR|CIDR, port=N, domain=TEXT, transport=T, direction=D, or a substring (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("tap takes no arguments, got %q (filters go in --filter)", c.Args().First()), 2)
			}
			f, err := tap.ParseFilter(c.StringSlice("kind"), *c.Generic("filter").(*listFlag))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			a, err := newAgentClient(c.String("agent"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runTap(ctx, a, f, stdout, stderr)
		},
	}
}

// runTap copies the agent's stream to stdout until ctx ends (exit 0), the
// reader of stdout goes away (EPIPE, exit 0), or the agent stops.
func runTap(ctx context.Context, a *agentClient, f tap.Filter, stdout, stderr io.Writer) error {
	body, err := a.openTap(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer body.Close()

	br := bufio.NewReaderSize(body, 256<<10)
	bw := bufio.NewWriterSize(stdout, 64<<10)
	var (
		atLineStart = true
		dropped     uint64
		closed      bool
	)
	for {
		chunk, rerr := br.ReadSlice('\n')
		if len(chunk) > 0 {
			n, isNotice := tap.Notice{}, false
			if atLineStart {
				n, isNotice = tap.ParseNotice(chunk)
			}
			if isNotice {
				if n.Dropped > dropped {
					fmt.Fprintf(stderr, "ayaflow: tap: the agent dropped %d events for this tap so far: it reads too slowly (narrow --kind or --filter)\n", n.Dropped)
					dropped = n.Dropped
				}
				closed = closed || n.Closed
			} else if _, err := bw.Write(chunk); err != nil {
				return writeError(err)
			}
			atLineStart = chunk[len(chunk)-1] == '\n'
		}
		// Flush whenever the agent has nothing more for now, so a quiet
		// stream is still seen at once.
		if br.Buffered() == 0 || rerr != nil {
			if err := bw.Flush(); err != nil {
				return writeError(err)
			}
		}
		switch {
		case rerr == nil || errors.Is(rerr, bufio.ErrBufferFull):
		case ctx.Err() != nil:
			return nil // interrupted
		case closed && errors.Is(rerr, io.EOF):
			fmt.Fprintf(stderr, "ayaflow: tap: the agent at %s stopped\n", a.addr)
			return nil
		case errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF):
			return cli.Exit(fmt.Sprintf("the agent at %s ended the stream", a.addr), 1)
		default:
			return cli.Exit(fmt.Sprintf("read events from the agent at %s: %v", a.addr, rerr), 1)
		}
	}
}

// writeError is nil when the reader of stdout went away (`ayaflow tap |
// head`), which ends the tap as asked.
func writeError(err error) error {
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return cli.Exit(fmt.Sprintf("write events: %v", err), 1)
}

// agent is a client of a running agent's local endpoints.
type agentClient struct {
	addr string // as the user gave it, for messages
	base string // http://host:port, no trailing slash
	hc   *http.Client
}

// newAgent parses an address given as host:port, :port (loopback) or an
// http URL.
func newAgentClient(addr string) (*agentClient, error) {
	raw := strings.TrimSpace(addr)
	if raw == "" {
		return nil, errors.New("--agent is empty (want host:port, e.g. " + metrics.DefaultAddr + ")")
	}
	if strings.HasPrefix(raw, ":") {
		raw = "127.0.0.1" + raw
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("--agent %q is not host:port (e.g. %s)", addr, metrics.DefaultAddr)
	}
	dialer := &net.Dialer{Timeout: 3 * time.Second}
	return &agentClient{
		addr: addr,
		base: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/"),
		hc: &http.Client{Transport: &http.Transport{
			Proxy:                 nil, // the agent is local: never through a proxy
			DialContext:           dialer.DialContext,
			ResponseHeaderTimeout: 5 * time.Second,
			MaxIdleConns:          2,
			IdleConnTimeout:       time.Minute,
		}},
	}, nil
}

// get requests path; a non-200 answer is an error that says what to do.
func (a *agentClient) get(ctx context.Context, path string, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, a.unreachable(err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	endpoint, _, _ := strings.Cut(path, "?")
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, cli.Exit(fmt.Sprintf("the agent at %s has no %s endpoint: it runs an older ayaflow, or this is not its metrics address (pass --agent)", a.addr, endpoint), 1)
	case http.StatusBadRequest:
		return nil, cli.Exit(fmt.Sprintf("the agent at %s refused the request: %s", a.addr, oneLine(string(msg))), 2)
	default:
		return nil, cli.Exit(fmt.Sprintf("the agent at %s answered %s: %s", a.addr, resp.Status, oneLine(string(msg))), 1)
	}
}

// openTap opens the agent's event stream with filter f.
func (a *agentClient) openTap(ctx context.Context, f tap.Filter) (io.ReadCloser, error) {
	path := tap.Path
	if q := f.Query().Encode(); q != "" {
		path += "?" + q
	}
	resp, err := a.get(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// unreachable turns a failed request into one actionable line.
func (a *agentClient) unreachable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	cause := err.Error()
	var (
		op  *net.OpError
		dns *net.DNSError
		ue  *url.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		cause = "connection refused"
	case errors.As(err, &dns):
		cause = dns.Error()
	case errors.As(err, &op) && op.Err != nil:
		cause = op.Err.Error()
		if op.Timeout() {
			cause = "timed out"
		}
	case errors.As(err, &ue):
		cause = ue.Err.Error()
		if ue.Timeout() {
			cause = "timed out"
		}
	}
	return cli.Exit(fmt.Sprintf("cannot reach the agent at %s: %s (is `ayaflow ship` running? pass --agent)", a.addr, cause), 1)
}
