package pgxoutbox_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/tracklane/analytics/internal/pgtest"
	"go.uber.org/goleak"
)

// cluster is the PostgreSQL server every test of this binary shares (each
// test uses tables of its own); nil when there is none (skipReason says why).
var (
	cluster    *pgtest.Cluster
	skipReason string
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role)) // a re-executed test binary: an app or a relay process
	}
	cluster, skipReason = pgtest.StartOrSkip()
	code := m.Run()
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
