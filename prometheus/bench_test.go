package promanalytics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
)

// BenchmarkObserveUpload is the cost added to each upload attempt.
func BenchmarkObserveUpload(b *testing.B) {
	m, err := New(nil, ClientName("shop"))
	require.NoError(b, err)
	o := observer{m}
	info := analytics.UploadInfo{Messages: 500, Bytes: 400_000, Attempt: 1, Duration: 30 * time.Millisecond, StatusCode: 200, Result: "delivered"}
	b.ReportAllocs()
	for b.Loop() {
		o.ObserveUpload(info)
	}
}

// BenchmarkGather is the cost of one scrape's gathering of the collector.
func BenchmarkGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	m, err := New(reg, ClientName("shop"))
	require.NoError(b, err)
	require.NoError(b, m.register(func() analytics.Stats { return analytics.Stats{Enqueued: 1} }))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
