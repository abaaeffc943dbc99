package mcp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running: every
// server, connection, call and redial loop must end when its owner closes.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
