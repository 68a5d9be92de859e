package promanalytics_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

// TestEveryCounterMoves runs a known sequence against a faulty endpoint
// and compares the whole exposition: refusals (invalid, too large, queue
// full, closed), 503s retried, a 429 with Retry-After, a 400 rejected,
// retries exhausted, a 413 split, Close's deadline, and the duration of
// every attempt.
func TestEveryCounterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m := metrics(t, reg, promanalytics.ClientName("shop"))
		client := obstest.Sequence(t, m, func(client *analytics.Client) {
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP tracklane_analytics_queue_bytes Encoded bytes of the queued messages.
# TYPE tracklane_analytics_queue_bytes gauge
tracklane_analytics_queue_bytes{client="shop"} %d
# HELP tracklane_analytics_queue_messages Messages accepted without an outcome yet (queued, in flight, waiting to retry).
# TYPE tracklane_analytics_queue_messages gauge
tracklane_analytics_queue_messages{client="shop"} 3
`, client.Stats().QueuedBytes)), "tracklane_analytics_queue_messages", "tracklane_analytics_queue_bytes"))
		})
		assert.ErrorIs(t, m.Register(client), promanalytics.ErrRegistered)

		// The attempts of obstest.Sequence, by result and code.
		want, err := os.ReadFile("testdata/sequence.prom")
		require.NoError(t, err)
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(string(want))))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)

		// Close unregisters; attempts are no longer observed.
		m.Close()
		m.Close()
		assert.ErrorIs(t, m.Register(client), promanalytics.ErrClosed)
		n, err := testutil.GatherAndCount(reg)
		require.NoError(t, err)
		assert.Zero(t, n)
		obstest.AfterClose(t, m)
		require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(string(want)), "tracklane_analytics_upload_duration_seconds"),
			"the histogram keeps the attempts it had, and no more")
		assert.Equal(t, 6, testutil.CollectAndCount(m), "only the histogram's series, no Stats")
	})
}

func TestNew(t *testing.T) {
	_, err := promanalytics.New(nil, promanalytics.ClientName(""))
	assert.ErrorIs(t, err, promanalytics.ErrInvalidClientName)

	reg := prometheus.NewPedanticRegistry()
	shop, err := promanalytics.New(reg, promanalytics.ClientName("shop"))
	require.NoError(t, err)
	// Two clients without distinct names cannot share a registry...
	_, err = promanalytics.New(reg, promanalytics.ClientName("shop"))
	var are prometheus.AlreadyRegisteredError
	assert.True(t, errors.As(err, &are), "got %v", err)
	// ...with distinct names they can.
	backoffice, err := promanalytics.New(reg, promanalytics.ClientName("backoffice"))
	require.NoError(t, err)
	assert.ErrorIs(t, shop.Register(nil), promanalytics.ErrNilClient)

	// Close unregisters: the name is free again.
	shop.Close()
	again, err := promanalytics.New(reg, promanalytics.ClientName("shop"))
	require.NoError(t, err)
	again.Close()
	backoffice.Close()

	// A nil Registerer registers nothing: the Metrics is a Collector to
	// register yourself.
	own, err := promanalytics.New(nil)
	require.NoError(t, err)
	mine := prometheus.NewPedanticRegistry()
	require.NoError(t, mine.Register(own))
	n, err := testutil.GatherAndCount(mine)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing before Register, and no upload yet")
	own.Close()
}

// TestSeveralClients collects two clients of one process in one registry,
// told apart by the client label.
func TestSeveralClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		obstest.SeveralClients(t, func(name string) obstest.Metrics {
			return metrics(t, reg, promanalytics.ClientName(name))
		})
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_messages_delivered_total Messages accepted by the endpoint.
# TYPE tracklane_analytics_messages_delivered_total counter
tracklane_analytics_messages_delivered_total{client="backoffice"} 3
tracklane_analytics_messages_delivered_total{client="shop"} 2
`), "tracklane_analytics_messages_delivered_total"))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

// TestSpool moves the spool's counters: messages spooled by a Close that
// ran out of time, recovered and delivered by the next client, and a
// corrupt tail skipped.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()

		// First run: the endpoint is down; Close keeps both messages on disk.
		m := metrics(t, reg, promanalytics.ClientName("first"))
		obstest.SpoolDown(t, dir, m)
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_messages_spooled_total Messages not delivered in this run but kept in the spool for the next start.
# TYPE tracklane_analytics_messages_spooled_total counter
tracklane_analytics_messages_spooled_total{client="first"} 2
`), "tracklane_analytics_messages_spooled_total"))
		m.Close()

		// A torn record at the end of the segment; second run: the
		// endpoint is back.
		obstest.TearSpool(t, dir)
		m2 := metrics(t, reg, promanalytics.ClientName("second"))
		obstest.SpoolBack(t, dir, m2)
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
	})
}
