package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/sinks/file"
)

// fileFlags are the flags of the file sink (--sink file). Each one sets a
// field of file.Options and can also be set through its AYAFLOW_FILE_*
// environment variable. On the command line 0 turns rotation by size or
// age, and retention, off (file.Options would take 0 as its default).
func fileFlags() []cli.Flag {
	env := func(name string) []string {
		return []string{"AYAFLOW_FILE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	const cat = "File sink"
	return []cli.Flag{
		&cli.StringFlag{Name: "file-path", Value: file.DefaultPath, EnvVars: env("path"), TakesFile: true, Category: cat,
			Usage: "file `PATH` template; {kind} becomes packet, flow, dns or tls, {date} YYYY-MM-DD, {hour} HH, " +
				"{time} the file's creation YYYYMMDDTHHMMSS (all UTC); directories are created"},
		&cli.Int64Flag{Name: "file-rotate-bytes", Value: file.DefaultRotateBytes, EnvVars: env("rotate-bytes"), Category: cat,
			Usage: "start a new file before a batch would take the current one past this many bytes on disk (0: never)"},
		&cli.DurationFlag{Name: "file-rotate-age", Value: file.DefaultRotateAge, EnvVars: env("rotate-age"), Category: cat,
			Usage: "start a new file at the first batch after the current one is this old (0: never)"},
		&cli.IntFlag{Name: "file-max-files", Value: file.DefaultMaxFiles, EnvVars: env("max-files"), Category: cat,
			Usage: "files kept per kind, the current one included; older ones are deleted (0: keep all)"},
		&cli.StringFlag{Name: "file-compression", Value: string(file.CompressionNone), EnvVars: env("compression"), Category: cat,
			Usage: "none, zstd (.zst, read with zstdcat) or gzip (.gz, read with gzip -dc); one frame per batch"},
		&cli.StringFlag{Name: "file-fsync", Value: string(file.FsyncOnRotate), EnvVars: env("fsync"), Category: cat,
			Usage: "when to fsync: rotate (each file as it is closed), batch (every batch, before it is acknowledged) or never"},
	}
}

// fileOptions builds the file sink's options from the parsed flags (which
// already merged their environment variables). file.New checks the path.
func fileOptions(c *cli.Context) (file.Options, error) {
	o := fileFrom(fileConfig(c))
	if o.Path == "" {
		return o, fmt.Errorf("--file-path is empty: give a file path template such as %q", file.DefaultPath)
	}
	switch o.Compression {
	case file.CompressionNone, file.CompressionZstd, file.CompressionGzip:
	default:
		return o, fmt.Errorf("--file-compression %q: want none, zstd or gzip", string(o.Compression))
	}
	switch o.Fsync {
	case file.FsyncOnRotate, file.FsyncEveryBatch, file.FsyncNever:
	default:
		return o, fmt.Errorf("--file-fsync %q: want rotate, batch or never", string(o.Fsync))
	}
	return o, nil
}
