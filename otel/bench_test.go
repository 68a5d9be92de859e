package otelanalytics_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
	otelanalytics "github.com/tracklane/analytics/otel"
)

// BenchmarkObserveUpload is the cost added to each upload attempt.
func BenchmarkObserveUpload(b *testing.B) {
	_, mp := manual(b)
	m := metrics(b, mp, otelanalytics.ClientName("shop"))
	obstest.BenchmarkObserveUpload(b, m.Observer())
}

// BenchmarkCollect is the cost of one collection of the Stats series.
func BenchmarkCollect(b *testing.B) {
	reader, mp := manual(b)
	m := metrics(b, mp, otelanalytics.ClientName("shop"))
	require.NoError(b, m.RegisterStats(func() analytics.Stats { return analytics.Stats{Enqueued: 1} }))
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}
