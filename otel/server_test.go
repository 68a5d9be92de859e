package otelanalytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tracklane/analytics/internal/obstest"
)

// TestFaultyServer runs obstest.FaultyServer: the HTTP transport against
// a fake Segment server that answers 503 twice, then 429 with Retry-After,
// then delivers the batch, and then 400 for the next one.
func TestFaultyServer(t *testing.T) {
	reader, mp := manual(t)
	m := metrics(t, mp)
	obstest.FaultyServer(t, m)

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
