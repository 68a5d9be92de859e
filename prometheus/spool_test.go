package promanalytics_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

// TestSpool moves the spool's counters: messages spooled by a Close that
// ran out of time, recovered and delivered by the next client, and a
// corrupt tail skipped.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reg := prometheus.NewPedanticRegistry()

		// First run: the endpoint is down; Close keeps both messages on disk.
		rec := analyticstest.NewRecorder()
		rec.FailNextStatus(100, 503, 0)
		m, err := promanalytics.New(reg, promanalytics.ClientName("first"))
		require.NoError(t, err)
		first, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(rec)),
			analytics.WithSpool(dir, 1<<20), analytics.WithBackoff(time.Second, time.Second), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, m.Register(first))
		require.NoError(t, first.Enqueue(track(1)))
		require.NoError(t, first.Enqueue(track(2)))
		closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		require.Error(t, first.Close(closeCtx))
		cancel()
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_messages_spooled_total Messages not delivered in this run but kept in the spool for the next start.
# TYPE tracklane_analytics_messages_spooled_total counter
tracklane_analytics_messages_spooled_total{client="first"} 2
`), "tracklane_analytics_messages_spooled_total"))
		m.Close()

		tearSpool(t, dir)

		// Second run: the endpoint is back.
		m2, err := promanalytics.New(reg, promanalytics.ClientName("second"))
		require.NoError(t, err)
		second, err := analytics.New(writeKey, m2.Option(), analytics.WithTransport(scripted(analyticstest.NewRecorder())),
			analytics.WithSpool(dir, 1<<20), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, m2.Register(second))
		require.NoError(t, second.Flush(ctx))
		require.NoError(t, second.Close(ctx))
		// Bytes after the last record of a segment are reported as one
		// record possibly lost (the journal cannot tell them from a last
		// record whose header was destroyed): SpoolLost moves too.
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_messages_delivered_total Messages accepted by the endpoint.
# TYPE tracklane_analytics_messages_delivered_total counter
tracklane_analytics_messages_delivered_total{client="second"} 2
# HELP tracklane_analytics_messages_enqueued_total Messages accepted by Enqueue, plus those recovered from the spool.
# TYPE tracklane_analytics_messages_enqueued_total counter
tracklane_analytics_messages_enqueued_total{client="second"} 2
# HELP tracklane_analytics_messages_lost_total Messages lost to spool corruption at start-up.
# TYPE tracklane_analytics_messages_lost_total counter
tracklane_analytics_messages_lost_total{client="second"} 1
# HELP tracklane_analytics_messages_recovered_total Messages read back from the spool at start-up.
# TYPE tracklane_analytics_messages_recovered_total counter
tracklane_analytics_messages_recovered_total{client="second"} 2
# HELP tracklane_analytics_spool_corrupt_segments_total Spool segments whose torn or corrupt tail was skipped at start-up.
# TYPE tracklane_analytics_spool_corrupt_segments_total counter
tracklane_analytics_spool_corrupt_segments_total{client="second"} 1
`), "tracklane_analytics_messages_delivered_total", "tracklane_analytics_messages_enqueued_total",
			"tracklane_analytics_messages_lost_total", "tracklane_analytics_messages_recovered_total",
			"tracklane_analytics_spool_corrupt_segments_total"))
		m2.Close()
	})
}

// tearSpool appends half a record to every segment of the spool in dir.
func tearSpool(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "seg-") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte{0, 0, 1, 0, 'x'})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		n++
	}
	require.Positive(t, n, "no spool segment in %s", dir)
}
