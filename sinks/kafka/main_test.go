package kafka

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if goroutines outlive the tests: every sink,
// kafka-go writer, franz-go client and fake cluster must be shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
