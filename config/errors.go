package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A FieldError is one problem with one setting.
type FieldError struct {
	// Path names the setting as the file spells it: capture.snap_len,
	// capture.dns_ports[1], output.buffer_types.kafka. It is "" for a
	// problem with the file as a whole, such as a YAML syntax error.
	Path string
	// Line is the line of the file the problem is on, or 0 when it is not
	// from a file.
	Line int
	// Msg says what is wrong, and when it helps, what to write instead.
	Msg string
}

func (e *FieldError) Error() string {
	s := e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return s
}

// Errors are the problems of one configuration, each on its own line.
type Errors []*FieldError

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, fe := range e {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// problems collects FieldErrors.
type problems struct{ errs Errors }

func (p *problems) add(path, format string, args ...any) {
	p.addLine(path, 0, format, args...)
}

func (p *problems) addLine(path string, line int, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was added: never a nil Errors in an error.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
