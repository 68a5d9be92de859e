package otelanalytics

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tracklane/analytics"
)

// BenchmarkObserveUpload is the cost added to each upload attempt.
func BenchmarkObserveUpload(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	m, err := New(mp, ClientName("shop"))
	require.NoError(b, err)
	o := observer{m}
	info := analytics.UploadInfo{Messages: 500, Bytes: 400_000, Attempt: 1, Duration: 30 * time.Millisecond, StatusCode: 200, Result: "delivered"}
	b.ReportAllocs()
	for b.Loop() {
		o.ObserveUpload(info)
	}
}

// BenchmarkCollect is the cost of one collection of the Stats series.
func BenchmarkCollect(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := New(mp, ClientName("shop"))
	require.NoError(b, err)
	require.NoError(b, m.register(func() analytics.Stats { return analytics.Stats{Enqueued: 1} }))
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}
