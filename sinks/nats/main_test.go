package nats

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a goroutine outlives the tests: every
// server, connection and sink is closed when its test ends.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
