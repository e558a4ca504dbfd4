package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/config"
)

// validateCommand checks configuration files the way ship and replay read
// them (defaults, then the file, with ${VAR} taken from the environment),
// and reports every problem of every file, one per line.
func validateCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check configuration files and report every problem",
		ArgsUsage: "FILE...",
		Description: "Decodes each file strictly (unknown keys, wrong types, unset ${VAR}s and secrets\n" +
			"written as literals are errors) and checks every setting, as ship and replay would\n" +
			"before they touch the kernel. Prints \"FILE: ok\" for a valid file and one line per\n" +
			"problem, naming its setting, for the others. Exits 0 when all are valid, 2 when not.\n" +
			"A FILE of - reads standard input. AYAFLOW_* variables and flags, which override the\n" +
			"file when ayaflow runs, are not applied.\n\n" +
			"Example: ayaflow config example | ayaflow validate -",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("validate needs at least one file: ayaflow validate FILE...", 2)
			}
			failed := false
			for _, name := range c.Args().Slice() {
				shown, problems := validateFile(name, c.App.Reader)
				if len(problems) == 0 {
					fmt.Fprintf(stdout, "%s: ok\n", shown)
					continue
				}
				failed = true
				for _, p := range problems {
					fmt.Fprintf(stderr, "config %s: %s\n", shown, p)
				}
			}
			if failed {
				return cli.Exit("", 2)
			}
			return nil
		},
	}
}

// validateFile returns the name to show for a file and its problems.
func validateFile(name string, stdin io.Reader) (string, []string) {
	var data []byte
	var err error
	if name == "-" {
		name = "<stdin>"
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		if pe := (*os.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return name, []string{err.Error()}
	}
	cfg, _, err := config.Decode(data, os.LookupEnv)
	var problems []string
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, fe := range errs {
			problems = append(problems, fe.Error())
		}
	}
	// A setting that failed to decode kept its default, so the rest can
	// still be checked: every problem is reported at once.
	if errors.As(cfg.Validate(), &errs) {
		for _, fe := range errs {
			problems = append(problems, fe.Error())
		}
	}
	return name, problems
}

// configCommand groups the commands about the configuration file.
func configCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "show the configuration file's format",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown config command %q: try ayaflow config example", c.Args().First()), 2)
			}
			return cli.ShowSubcommandHelp(c)
		},
		Subcommands: []*cli.Command{{
			Name:  "example",
			Usage: "print a reference configuration: every setting at its default, with what it does",
			Description: "The output is a valid configuration file. Keep the settings you change:\n\n" +
				"  ayaflow config example > ayaflow.yaml\n" +
				"  ayaflow validate ayaflow.yaml\n" +
				"  ayaflow ship --config ayaflow.yaml",
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return cli.Exit(fmt.Sprintf("config example takes no arguments, got %q", c.Args().First()), 2)
				}
				_, err := stdout.Write(config.Example)
				return err
			},
		}},
	}
}
