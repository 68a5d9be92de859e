package otelanalytics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
	otelanalytics "github.com/tracklane/analytics/otel"
)

// TestMapping feeds every Stats field a distinct value and checks which
// series reports it, including the counters a test against a real client
// cannot move (RefusedSpool needs a failing disk; the core does not count
// SpoolLost yet).
func TestMapping(t *testing.T) {
	reader, mp := manual(t)
	m := metrics(t, mp)
	s := obstest.DistinctStats()
	require.NoError(t, m.RegisterStats(func() analytics.Stats { return s }))

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]int64{}
	units := map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		for _, met := range sm.Metrics {
			sum, ok := met.Data.(metricdata.Sum[int64])
			require.True(t, ok, met.Name)
			assert.Equal(t, !strings.HasPrefix(met.Name, "tracklane.analytics.queue."), sum.IsMonotonic, met.Name)
			units[met.Name] = met.Unit
			for _, p := range sum.DataPoints {
				got[key(met.Name, p.Attributes)] = p.Value
			}
		}
	}
	const sent = "messaging.client.sent.messages{"
	const ms = "messaging.operation.name=send,messaging.system=segment}"
	const proc = "tracklane.analytics.processed{"
	assert.Equal(t, map[string]int64{
		sent + ms:                                   2,
		sent + "error.type=rejected," + ms:          3,
		sent + "error.type=retries_exhausted," + ms: 4,
		sent + "error.type=deadline," + ms:          5,

		proc + "tracklane.analytics.outcome=delivered}":                           2,
		proc + "error.type=rejected,tracklane.analytics.outcome=failed}":          3,
		proc + "error.type=retries_exhausted,tracklane.analytics.outcome=failed}": 4,
		proc + "error.type=deadline,tracklane.analytics.outcome=failed}":          5,
		proc + "tracklane.analytics.outcome=spooled}":                             6,
		proc + "error.type=invalid,tracklane.analytics.outcome=refused}":          7,
		proc + "error.type=too_large,tracklane.analytics.outcome=refused}":        8,
		proc + "error.type=queue_full,tracklane.analytics.outcome=refused}":       9,
		proc + "error.type=already_shutdown,tracklane.analytics.outcome=refused}": 10,
		proc + "error.type=spool,tracklane.analytics.outcome=refused}":            11,

		"tracklane.analytics.enqueued{}":            1,
		"tracklane.analytics.recovered{}":           12,
		"tracklane.analytics.spool.corrupt{}":       13,
		"tracklane.analytics.spool.lost{}":          14,
		"tracklane.analytics.queue.size{}":          15,
		"tracklane.analytics.queue.data.size{}":     16,
		"tracklane.analytics.queue.capacity{}":      17,
		"tracklane.analytics.queue.data.capacity{}": 18,
		"tracklane.analytics.batches{}":             19,
		"tracklane.analytics.retries{}":             20,
		"tracklane.analytics.rate_limited{}":        21,
		"tracklane.analytics.split_requests{}":      22,
	}, got)

	// The units the package doc lists.
	assert.Equal(t, map[string]string{
		"messaging.client.sent.messages":          "{message}",
		"tracklane.analytics.processed":           "{message}",
		"tracklane.analytics.enqueued":            "{message}",
		"tracklane.analytics.recovered":           "{message}",
		"tracklane.analytics.spool.corrupt":       "{segment}",
		"tracklane.analytics.spool.lost":          "{message}",
		"tracklane.analytics.batches":             "{batch}",
		"tracklane.analytics.retries":             "{attempt}",
		"tracklane.analytics.rate_limited":        "{response}",
		"tracklane.analytics.split_requests":      "{request}",
		"tracklane.analytics.queue.size":          "{message}",
		"tracklane.analytics.queue.capacity":      "{message}",
		"tracklane.analytics.queue.data.size":     "By",
		"tracklane.analytics.queue.data.capacity": "By",
	}, units)
}

func TestErrorType(t *testing.T) {
	assert.Equal(t, "503", otelanalytics.ErrorType(analytics.UploadInfo{StatusCode: 503, Err: errors.New("x")}))
	assert.Equal(t, "timeout", otelanalytics.ErrorType(analytics.UploadInfo{Err: fmt.Errorf("post: %w", context.DeadlineExceeded)}))
	assert.Equal(t, "_OTHER", otelanalytics.ErrorType(analytics.UploadInfo{Err: errors.New("connection reset")}))
}

func TestClamp(t *testing.T) {
	assert.Equal(t, int64(5), otelanalytics.Clamp(5))
	assert.Equal(t, int64(1<<63-1), otelanalytics.Clamp(1<<64-1))
}

// TestDocListsEveryMetric checks the package doc's table against the
// instruments: every name with its unit, no more, no fewer.
func TestDocListsEveryMetric(t *testing.T) {
	listed := obstest.DocTable(t, "doc.go", 2, "messaging.", "tracklane.")
	reader, mp := manual(t)
	m := metrics(t, mp)
	require.NoError(t, m.RegisterStats(func() analytics.Stats { return analytics.Stats{} }))
	m.Observer().ObserveUpload(analytics.UploadInfo{Result: "delivered"})
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	got := map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		for _, met := range sm.Metrics {
			got[met.Name] = met.Unit
		}
	}
	assert.Equal(t, listed, got)
}
