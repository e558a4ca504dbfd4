package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/buffer"
)

func bufferCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "buffer",
		Usage: "inspect or verify the on-disk buffers in a data directory",
		Description: "DIR is the data directory, with one buffer directory per sink (or one sink's\n" +
			"buffer directory). Both commands only read; run them on a stopped ayaflow, since a\n" +
			"record being written looks truncated.",
		ArgsUsage: "inspect|verify DIR",
		Subcommands: []*cli.Command{
			{
				Name:      "inspect",
				Usage:     "show each sink's segments, records, bytes and lag",
				ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					reps, err := scanBufferDir(c, "inspect")
					if err != nil {
						return err
					}
					printInspect(stdout, reps)
					return nil
				},
			},
			{
				Name:  "verify",
				Usage: "read every record and report each corruption; exit 0 when clean, 1 when corrupt",
				Description: "Prints one line per problem: sink/segment-file offset N: what. Notes (unknown\n" +
					"files, a missing cursor) are printed but do not make the buffer corrupt.\n" +
					"Exit status: 0 clean, 1 corrupt, 2 usage error or unreadable DIR.",
				ArgsUsage: "DIR",
				Action: func(c *cli.Context) error {
					reps, err := scanBufferDir(c, "verify")
					if err != nil {
						return err
					}
					return printVerify(stdout, reps)
				},
			},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown buffer command %q: use ayaflow buffer inspect DIR or ayaflow buffer verify DIR", c.Args().First()), 2)
			}
			return cli.Exit("buffer needs a command: ayaflow buffer inspect DIR or ayaflow buffer verify DIR", 2)
		},
	}
}

// scanBufferDir checks the arguments and scans DIR, turning what can go
// wrong into one actionable line and exit status 2.
func scanBufferDir(c *cli.Context, name string) ([]buffer.SinkReport, error) {
	if c.NArg() != 1 {
		return nil, cli.Exit(fmt.Sprintf("buffer %s needs exactly one directory: ayaflow buffer %s DIR", name, name), 2)
	}
	dir := c.Args().First()
	reps, err := buffer.Scan(dir)
	switch {
	case err == nil:
		return reps, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, cli.Exit(fmt.Sprintf("buffer directory %s does not exist: pass the data directory that holds one directory per sink", dir), 2)
	case errors.Is(err, fs.ErrPermission):
		return nil, cli.Exit(fmt.Sprintf("cannot read buffer directory %s: permission denied: run as the user ayaflow runs as, or as root", dir), 2)
	}
	return nil, cli.Exit(fmt.Sprintf("cannot read buffer directory %s: %v", dir, err), 2)
}

func orDash(n uint64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func printInspect(w io.Writer, reps []buffer.SinkReport) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SINK\tSEGMENTS\tRECORDS\tBYTES\tFIRST ID\tLAST ID\tACKED ID\tLAG")
	problems := 0
	for _, r := range reps {
		problems += len(r.Problems)
		if r.Sink == "" {
			continue // stray files in the data directory
		}
		acked := orDash(r.AckedID)
		if !r.HasCursor {
			acked = "none"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%d\n", r.Sink, len(r.Segments), r.Records(), r.Bytes(),
			orDash(r.FirstID()), orDash(r.LastID()), acked, r.Lag())
	}
	tw.Flush()
	for _, r := range reps {
		if len(r.Segments) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", r.Sink)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range r.Segments {
			fmt.Fprintf(tw, "  %s\t%d bytes\t%d records\tids %s-%s\n", s.File, s.Size, s.Records, orDash(s.FirstID), orDash(s.LastID))
		}
		tw.Flush()
	}
	if problems > 0 {
		fmt.Fprintf(w, "\n%d problem(s) found: run ayaflow buffer verify for details\n", problems)
	}
}

func printVerify(w io.Writer, reps []buffer.SinkReport) error {
	var corrupt []string
	sinks, segments, records := 0, 0, 0
	for _, r := range reps {
		if r.Sink != "" {
			sinks++
		}
		segments += len(r.Segments)
		records += r.Records()
		for _, p := range r.Problems {
			kind := "note"
			if p.Corrupt {
				kind = "corrupt"
			}
			fmt.Fprintf(w, "%s: %s\n", kind, p)
		}
		if r.Corrupt() {
			corrupt = append(corrupt, r.Sink)
		}
	}
	if len(corrupt) > 0 {
		n := 0
		for _, r := range reps {
			for _, p := range r.Problems {
				if p.Corrupt {
					n++
				}
			}
		}
		return cli.Exit(fmt.Sprintf("buffer is corrupt: %d problem(s) in sink %s (listed above; ayaflow skips the damaged records when it opens the buffer)",
			n, strings.Join(corrupt, ", ")), 1)
	}
	fmt.Fprintf(w, "clean: %d sink(s), %d segment(s), %d record(s)\n", sinks, segments, records)
	return nil
}
