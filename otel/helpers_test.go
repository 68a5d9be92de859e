package otelanalytics_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	otelanalytics "github.com/tracklane/analytics/otel"
)

// manual returns a MeterProvider read by the returned ManualReader, shut
// down when the test ends (after the cleanups registered later, such as a
// Metrics' Close).
func manual(t testing.TB) (*sdkmetric.ManualReader, *sdkmetric.MeterProvider) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	return reader, mp
}

// metrics is a Metrics on mp, closed when the test ends.
func metrics(t testing.TB, mp *sdkmetric.MeterProvider, opts ...otelanalytics.Option) *otelanalytics.Metrics {
	t.Helper()
	m, err := otelanalytics.New(mp, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// collect reads every data point of rm as "name{k=v,...}" → value; for a
// histogram, "name{...} count" and "name{...} sum" (the sum in
// milliseconds, rounded, to compare exactly).
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, otelanalytics.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[key(m.Name, p.Attributes)] = float64(p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[key(m.Name, p.Attributes)+" count"] = float64(p.Count)
					got[key(m.Name, p.Attributes)+" sum"] = float64(time.Duration(p.Sum * float64(time.Second)).Round(time.Millisecond).Milliseconds())
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return got
}

func key(name string, set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	return k(name, kv...)
}

// k is the key of a series: name{k=v,...}, the pairs sorted.
func k(name string, kv ...string) string {
	kv = slices.Clone(kv)
	slices.Sort(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}
