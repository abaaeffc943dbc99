package upstream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: every
// connection, health loop, DNS loop, dial loop and request pump must end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
