package daemon_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the
// daemon's listeners, front doors, upstream connections, health loops and
// every backend and client a test starts must all end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
