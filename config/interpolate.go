package config

import (
	"fmt"
	"strings"
)

// Expand replaces each ${NAME} in s with lookup(NAME) and each $$ with a
// single $. Any other $ is kept. NAME is letters, digits and underscores,
// not starting with a digit. A variable that is not set is an error that
// names it; one set to "" expands to "". Errors never quote s, which may
// be next to a secret.
func Expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("${ without a closing }; write $$ for a literal $")
			}
			name := s[i+2 : i+2+end]
			if !isVarName(name) {
				return "", fmt.Errorf("${%s} does not name an environment variable (letters, digits and _); write $$ for a literal $", clip(name))
			}
			val, ok := lookup(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set (${%s})", name, name)
			}
			b.WriteString(val)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), nil
}

// isReference reports whether s is exactly one ${NAME}, the only way a
// secret may appear in a file.
func isReference(s string) bool {
	name, ok := strings.CutPrefix(s, "${")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, "}")
	return ok && isVarName(name)
}

func isVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// clip shortens what an error quotes back.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
