package promanalytics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

// BenchmarkObserveUpload is the cost added to each upload attempt.
func BenchmarkObserveUpload(b *testing.B) {
	m := metrics(b, nil, promanalytics.ClientName("shop"))
	obstest.BenchmarkObserveUpload(b, m.Observer())
}

// BenchmarkGather is the cost of one scrape's gathering of the collector.
func BenchmarkGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	m := metrics(b, reg, promanalytics.ClientName("shop"))
	require.NoError(b, m.RegisterStats(func() analytics.Stats { return analytics.Stats{Enqueued: 1} }))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
