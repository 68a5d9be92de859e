package otelanalytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	otelanalytics "github.com/tracklane/analytics/otel"
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

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(ctx)) }()
	m, err := otelanalytics.New(mp)
	require.NoError(t, err)
	client, err := analytics.New(writeKey, m.Option(),
		analytics.WithEndpoint(srv.URL), analytics.WithHTTPClient(srv.Client()),
		analytics.WithBackoff(10*time.Millisecond, 10*time.Millisecond), analytics.WithLogger(nil))
	require.NoError(t, err)
	require.NoError(t, m.Register(client))
	defer func() { require.NoError(t, m.Close()) }()

	require.NoError(t, client.Enqueue(track(1)))
	require.NoError(t, client.Enqueue(track(2)))
	require.NoError(t, client.Flush(ctx))
	srv.Respond(analyticstest.Status(400))
	require.NoError(t, client.Enqueue(track(3)))
	require.ErrorIs(t, client.Flush(ctx), analytics.ErrRejected)
	require.NoError(t, client.Close(ctx))
	require.Equal(t, 2, srv.Len())

	got := collect(t, reader)
	ms := []string{"messaging.operation.name=send", "messaging.system=segment"}
	sent := func(kv ...string) float64 { return got[k("messaging.client.sent.messages", append(kv, ms...)...)] }
	assert.Equal(t, 2.0, sent())
	assert.Equal(t, 1.0, sent("error.type=rejected"))
	assert.Equal(t, 3.0, got[k("tracklane.analytics.retries")])
	assert.Equal(t, 1.0, got[k("tracklane.analytics.rate_limited")])
	assert.Equal(t, 1.0, got[k("tracklane.analytics.batches")])
	assert.Equal(t, 0.0, got[k("tracklane.analytics.queue.size")])
	count := func(result, code string) float64 {
		kv := append([]string{"tracklane.analytics.upload.result=" + result}, ms...)
		kv = append(kv, "http.response.status_code="+code)
		if result != "delivered" {
			kv = append(kv, "error.type="+code)
		}
		return got[k("messaging.client.operation.duration", kv...)+" count"]
	}
	assert.Equal(t, 2.0, count("retried", "503"))
	assert.Equal(t, 1.0, count("paused", "429"))
	assert.Equal(t, 1.0, count("delivered", "200"))
	assert.Equal(t, 1.0, count("rejected", "400"))
	// The 429's wait is not part of any attempt's duration.
	sum := got[k("messaging.client.operation.duration", append([]string{"tracklane.analytics.upload.result=delivered", "http.response.status_code=200"}, ms...)...)+" sum"]
	assert.Less(t, sum, float64(time.Second/time.Millisecond))
}
