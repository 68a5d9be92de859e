package promanalytics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	promanalytics "github.com/tracklane/analytics/prometheus"
)

// metrics is a Metrics registered with reg (nil: none), closed when the
// test ends.
func metrics(t testing.TB, reg prometheus.Registerer, opts ...promanalytics.Option) *promanalytics.Metrics {
	t.Helper()
	m, err := promanalytics.New(reg, opts...)
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
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
