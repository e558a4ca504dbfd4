package config

import _ "embed"

// Example is the reference configuration `ayaflow config example` prints:
// every setting at its default, each with a comment that says what it
// does. Decoding it gives Default().
//
//go:embed example.yaml
var Example []byte
