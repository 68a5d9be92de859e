package journal

import (
	"testing"

	"go.uber.org/goleak"
)

// The journal starts no goroutine; goleak proves it (and checks the tests'
// own helpers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
