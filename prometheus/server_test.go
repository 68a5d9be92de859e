package promanalytics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics/internal/obstest"
)

// TestFaultyServer runs obstest.FaultyServer: the HTTP transport against
// a fake Segment server that answers 503 twice, then 429 with Retry-After,
// then delivers the batch, and then 400 for the next one.
func TestFaultyServer(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics(t, reg)
	obstest.FaultyServer(t, m)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_batches_total Batches delivered.
# TYPE tracklane_analytics_batches_total counter
tracklane_analytics_batches_total 1
# HELP tracklane_analytics_messages_delivered_total Messages accepted by the endpoint.
# TYPE tracklane_analytics_messages_delivered_total counter
tracklane_analytics_messages_delivered_total 2
# HELP tracklane_analytics_messages_failed_total Messages accepted, then given up on, by reason.
# TYPE tracklane_analytics_messages_failed_total counter
tracklane_analytics_messages_failed_total{reason="deadline"} 0
tracklane_analytics_messages_failed_total{reason="rejected"} 1
tracklane_analytics_messages_failed_total{reason="retries_exhausted"} 0
# HELP tracklane_analytics_rate_limited_total Rate-limited answers (HTTP 429).
# TYPE tracklane_analytics_rate_limited_total counter
tracklane_analytics_rate_limited_total 1
# HELP tracklane_analytics_retries_total Upload attempts that were retried.
# TYPE tracklane_analytics_retries_total counter
tracklane_analytics_retries_total 3
# HELP tracklane_analytics_queue_messages Messages accepted without an outcome yet (queued, in flight, waiting to retry).
# TYPE tracklane_analytics_queue_messages gauge
tracklane_analytics_queue_messages 0
`), "tracklane_analytics_batches_total", "tracklane_analytics_messages_delivered_total", "tracklane_analytics_messages_failed_total",
		"tracklane_analytics_rate_limited_total", "tracklane_analytics_retries_total", "tracklane_analytics_queue_messages"))

	// One observation per attempt, by result and status code; the 429's
	// wait is in no attempt's duration.
	for _, c := range []struct {
		result, code string
		n            uint64
	}{{"retried", "503", 2}, {"paused", "429", 1}, {"delivered", "200", 1}, {"rejected", "400", 1}} {
		count, sum := histogram(t, m, c.result, c.code)
		assert.Equal(t, c.n, count, c.result)
		assert.Less(t, sum, 1.0, c.result)
	}
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
