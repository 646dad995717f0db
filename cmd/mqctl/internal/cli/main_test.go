package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a command, the test broker or
// the client leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
