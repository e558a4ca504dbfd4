package config

import "log/slog"

// Secret is a password or token. However it is printed, logged or
// marshalled, it shows as [redacted] (or "" when empty); string(s) is the
// only way to its value.
//
// A configuration file may give a secret only as a reference to an
// environment variable, ${VAR}, never as a literal.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// LogValue keeps slog from logging the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
