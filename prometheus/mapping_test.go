package promanalytics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
)

// TestMapping feeds every Stats field a distinct value and checks which
// series reports it, including the counters a test against a real client
// cannot move (RefusedSpool needs a failing disk; the core does not count
// SpoolLost yet). It also lints the collector.
func TestMapping(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics(t, reg)
	s := obstest.DistinctStats()
	require.NoError(t, m.RegisterStats(func() analytics.Stats { return s }))
	m.Observer().ObserveUpload(analytics.UploadInfo{Result: "retried", Err: errors.New("connection reset"), Duration: 3e6})

	problems, err := testutil.CollectAndLint(m)
	require.NoError(t, err)
	assert.Empty(t, problems)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_batches_total Batches delivered.
# TYPE tracklane_analytics_batches_total counter
tracklane_analytics_batches_total 19
# HELP tracklane_analytics_messages_delivered_total Messages accepted by the endpoint.
# TYPE tracklane_analytics_messages_delivered_total counter
tracklane_analytics_messages_delivered_total 2
# HELP tracklane_analytics_messages_enqueued_total Messages accepted by Enqueue, plus those recovered from the spool.
# TYPE tracklane_analytics_messages_enqueued_total counter
tracklane_analytics_messages_enqueued_total 1
# HELP tracklane_analytics_messages_failed_total Messages accepted, then given up on, by reason.
# TYPE tracklane_analytics_messages_failed_total counter
tracklane_analytics_messages_failed_total{reason="rejected"} 3
tracklane_analytics_messages_failed_total{reason="retries_exhausted"} 4
tracklane_analytics_messages_failed_total{reason="deadline"} 5
# HELP tracklane_analytics_messages_lost_total Messages lost to spool corruption at start-up.
# TYPE tracklane_analytics_messages_lost_total counter
tracklane_analytics_messages_lost_total 14
# HELP tracklane_analytics_messages_recovered_total Messages read back from the spool at start-up.
# TYPE tracklane_analytics_messages_recovered_total counter
tracklane_analytics_messages_recovered_total 12
# HELP tracklane_analytics_messages_refused_total Messages refused by Enqueue, by reason.
# TYPE tracklane_analytics_messages_refused_total counter
tracklane_analytics_messages_refused_total{reason="invalid"} 7
tracklane_analytics_messages_refused_total{reason="too_large"} 8
tracklane_analytics_messages_refused_total{reason="queue_full"} 9
tracklane_analytics_messages_refused_total{reason="already_shutdown"} 10
tracklane_analytics_messages_refused_total{reason="spool"} 11
# HELP tracklane_analytics_messages_spooled_total Messages not delivered in this run but kept in the spool for the next start.
# TYPE tracklane_analytics_messages_spooled_total counter
tracklane_analytics_messages_spooled_total 6
# HELP tracklane_analytics_queue_bytes Encoded bytes of the queued messages.
# TYPE tracklane_analytics_queue_bytes gauge
tracklane_analytics_queue_bytes 16
# HELP tracklane_analytics_queue_capacity_bytes The queue's bound in encoded bytes.
# TYPE tracklane_analytics_queue_capacity_bytes gauge
tracklane_analytics_queue_capacity_bytes 18
# HELP tracklane_analytics_queue_capacity_messages The queue's bound in messages.
# TYPE tracklane_analytics_queue_capacity_messages gauge
tracklane_analytics_queue_capacity_messages 17
# HELP tracklane_analytics_queue_messages Messages accepted without an outcome yet (queued, in flight, waiting to retry).
# TYPE tracklane_analytics_queue_messages gauge
tracklane_analytics_queue_messages 15
# HELP tracklane_analytics_rate_limited_total Rate-limited answers (HTTP 429).
# TYPE tracklane_analytics_rate_limited_total counter
tracklane_analytics_rate_limited_total 21
# HELP tracklane_analytics_retries_total Upload attempts that were retried.
# TYPE tracklane_analytics_retries_total counter
tracklane_analytics_retries_total 20
# HELP tracklane_analytics_split_requests_total Extra uploads spent on split batches (413, and 400 bisection).
# TYPE tracklane_analytics_split_requests_total counter
tracklane_analytics_split_requests_total 22
# HELP tracklane_analytics_spool_corrupt_segments_total Spool segments whose torn or corrupt tail was skipped at start-up.
# TYPE tracklane_analytics_spool_corrupt_segments_total counter
tracklane_analytics_spool_corrupt_segments_total 13
# HELP tracklane_analytics_upload_duration_seconds Duration of each upload attempt (one POST of a batch), by the delivery policy's result and the HTTP status code.
# TYPE tracklane_analytics_upload_duration_seconds histogram
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.005"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.01"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.025"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.05"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.075"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.1"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.25"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.5"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="0.75"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="1"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="2.5"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="5"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="7.5"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="10"} 1
tracklane_analytics_upload_duration_seconds_bucket{code="none",result="retried",le="+Inf"} 1
tracklane_analytics_upload_duration_seconds_sum{code="none",result="retried"} 0.003
tracklane_analytics_upload_duration_seconds_count{code="none",result="retried"} 1
`)))
}

// TestDocListsEveryMetric checks the package doc's table against the
// collector: every name with its type, no more, no fewer.
func TestDocListsEveryMetric(t *testing.T) {
	listed := obstest.DocTable(t, "doc.go", 1, "tracklane_")
	reg := prometheus.NewPedanticRegistry()
	m := metrics(t, reg)
	require.NoError(t, m.RegisterStats(func() analytics.Stats { return analytics.Stats{} }))
	m.Observer().ObserveUpload(analytics.UploadInfo{Result: "delivered"})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]string{}
	for _, mf := range mfs {
		got[mf.GetName()] = strings.ToLower(mf.GetType().String())
	}
	assert.Equal(t, listed, got)
}
