package main

import (
	"os"
	"testing"
)

// TestMain makes every ayaflow the tests start serve its metrics on a
// free port, so that tests, and other agents on the machine, never fight
// over the default 127.0.0.1:9477.
func TestMain(m *testing.M) {
	if os.Getenv("AYAFLOW_METRICS_ADDR") == "" {
		os.Setenv("AYAFLOW_METRICS_ADDR", "127.0.0.1:0")
	}
	os.Exit(m.Run())
}
