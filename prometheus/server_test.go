package promanalytics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

// TestFaultyServer runs the HTTP transport against a fake Segment server
// that answers 503 twice, then 429 with Retry-After, then delivers the
// batch, and then 400 for the next one.
func TestFaultyServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := analyticstest.NewServer(writeKey)
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Times(2), analyticstest.Status(429).RetryAfter(time.Second))

	reg := prometheus.NewPedanticRegistry()
	m, err := promanalytics.New(reg)
	require.NoError(t, err)
	defer m.Close()
	client, err := analytics.New(writeKey, m.Option(),
		analytics.WithEndpoint(srv.URL), analytics.WithHTTPClient(srv.Client()),
		analytics.WithBackoff(10*time.Millisecond, 10*time.Millisecond), analytics.WithLogger(nil))
	require.NoError(t, err)
	require.NoError(t, m.Register(client))

	require.NoError(t, client.Enqueue(track(1)))
	require.NoError(t, client.Enqueue(track(2)))
	require.NoError(t, client.Flush(ctx))
	srv.Respond(analyticstest.Status(400))
	require.NoError(t, client.Enqueue(track(3)))
	require.ErrorIs(t, client.Flush(ctx), analytics.ErrRejected)
	require.NoError(t, client.Close(ctx))
	require.Equal(t, 2, srv.Len())

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

// histogram returns the count and sum of upload_duration_seconds for
// result and code.
func histogram(t *testing.T, c prometheus.Collector, result, code string) (uint64, float64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	defer reg.Unregister(c)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "tracklane_analytics_upload_duration_seconds" {
			continue
		}
		for _, met := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range met.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == result && labels["code"] == code {
				return met.GetHistogram().GetSampleCount(), met.GetHistogram().GetSampleSum()
			}
		}
	}
	return 0, 0
}
