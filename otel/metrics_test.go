package otelanalytics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/obstest"
	otelanalytics "github.com/tracklane/analytics/otel"
)

// TestEveryCounterMoves runs a known sequence against a faulty endpoint
// and checks every series exactly: refusals (invalid, too large, queue
// full, closed), 503s retried, a 429 with Retry-After, a 400 rejected,
// retries exhausted, a 413 split, Close's deadline, and the duration of
// every attempt.
func TestEveryCounterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader, mp := manual(t)

		m := metrics(t, mp, otelanalytics.ClientName("shop"))
		client := obstest.Sequence(t, m, func(client *analytics.Client) {
			got := collect(t, reader)
			assert.Equal(t, 3.0, got[`tracklane.analytics.queue.size{tracklane.analytics.client.name=shop}`])
			assert.Equal(t, float64(client.Stats().QueuedBytes), got[`tracklane.analytics.queue.data.size{tracklane.analytics.client.name=shop}`])
		})
		assert.ErrorIs(t, m.Register(client), otelanalytics.ErrRegistered)

		c := "tracklane.analytics.client.name=shop"
		sent := func(kv ...string) string {
			return k("messaging.client.sent.messages", append(kv, c, "messaging.operation.name=send", "messaging.system=segment")...)
		}
		proc := func(kv ...string) string { return k("tracklane.analytics.processed", append(kv, c)...) }
		own := func(name string) string { return k("tracklane.analytics."+name, c) }
		dur := func(result string, code int) string {
			kv := []string{c, "messaging.operation.name=send", "messaging.system=segment", "tracklane.analytics.upload.result=" + result}
			if code != 0 {
				kv = append(kv, fmt.Sprintf("http.response.status_code=%d", code), fmt.Sprintf("error.type=%d", code))
			}
			return k("messaging.client.operation.duration", kv...)
		}
		ms := float64(obstest.Latency / time.Millisecond)
		want := map[string]float64{
			sent():                               5,
			sent("error.type=rejected"):          1,
			sent("error.type=retries_exhausted"): 1,
			sent("error.type=deadline"):          1,

			proc("tracklane.analytics.outcome=delivered"):                              5,
			proc("tracklane.analytics.outcome=spooled"):                                0,
			proc("tracklane.analytics.outcome=failed", "error.type=rejected"):          1,
			proc("tracklane.analytics.outcome=failed", "error.type=retries_exhausted"): 1,
			proc("tracklane.analytics.outcome=failed", "error.type=deadline"):          1,
			proc("tracklane.analytics.outcome=refused", "error.type=invalid"):          1,
			proc("tracklane.analytics.outcome=refused", "error.type=too_large"):        1,
			proc("tracklane.analytics.outcome=refused", "error.type=queue_full"):       1,
			proc("tracklane.analytics.outcome=refused", "error.type=already_shutdown"): 1,
			proc("tracklane.analytics.outcome=refused", "error.type=spool"):            0,

			own("enqueued"):            8,
			own("recovered"):           0,
			own("spool.corrupt"):       0,
			own("spool.lost"):          0,
			own("batches"):             3,
			own("retries"):             6, // 503 ×2 and the 429 of A, 503 ×2 of C, 503 of E
			own("rate_limited"):        1,
			own("split_requests"):      2,
			own("queue.size"):          0,
			own("queue.capacity"):      3,
			own("queue.data.size"):     0,
			own("queue.data.capacity"): 1 << 20,

			// The attempts of obstest.Sequence.
			dur("delivered", 0) + " count": 3, dur("delivered", 0) + " sum": 3 * ms,
			dur("retried", 503) + " count": 5, dur("retried", 503) + " sum": 5 * ms,
			dur("exhausted", 503) + " count": 1, dur("exhausted", 503) + " sum": ms,
			dur("paused", 429) + " count": 1, dur("paused", 429) + " sum": ms,
			dur("rejected", 400) + " count": 1, dur("rejected", 400) + " sum": ms,
			dur("split", 413) + " count": 1, dur("split", 413) + " sum": ms,
		}
		assert.Equal(t, want, collect(t, reader))

		require.NoError(t, m.Close())
		require.NoError(t, m.Close())
		assert.ErrorIs(t, m.Register(client), otelanalytics.ErrClosed)

		// After Close the Stats series are gone, and attempts are no longer
		// recorded (the histogram keeps what it had).
		obstest.AfterClose(t, m)
		histogram := map[string]float64{}
		for k, v := range want {
			if strings.HasPrefix(k, "messaging.client.operation.duration") {
				histogram[k] = v
			}
		}
		assert.Equal(t, histogram, collect(t, reader))
	})
}

func TestErrors(t *testing.T) {
	_, err := otelanalytics.New(nil)
	assert.ErrorIs(t, err, otelanalytics.ErrNilMeterProvider)
	mp := sdkmetric.NewMeterProvider()
	defer mp.Shutdown(context.Background())
	_, err = otelanalytics.New(mp, otelanalytics.ClientName(""))
	assert.ErrorIs(t, err, otelanalytics.ErrInvalidClientName)
	m := metrics(t, mp)
	assert.ErrorIs(t, m.Register(nil), otelanalytics.ErrNilClient)
	assert.NoError(t, m.Close())
}

// TestSpool moves the spool's counters: messages spooled by a Close that
// ran out of time, recovered and delivered by the next client, and a
// corrupt tail skipped.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		reader, mp := manual(t)

		// First run: the endpoint is down; Close keeps both messages on disk.
		m := metrics(t, mp, otelanalytics.ClientName("first"))
		obstest.SpoolDown(t, dir, m)
		got := collect(t, reader)
		assert.Equal(t, 2.0, got[k("tracklane.analytics.processed", "tracklane.analytics.client.name=first", "tracklane.analytics.outcome=spooled")])
		require.NoError(t, m.Close())

		// A torn record at the end of the segment; second run: the
		// endpoint is back.
		obstest.TearSpool(t, dir)
		m2 := metrics(t, mp, otelanalytics.ClientName("second"))
		obstest.SpoolBack(t, dir, m2)
		got = collect(t, reader)
		own := func(name string) float64 {
			return got[k("tracklane.analytics."+name, "tracklane.analytics.client.name=second")]
		}
		assert.Equal(t, 2.0, own("recovered"))
		assert.Equal(t, 2.0, own("enqueued"))
		assert.Equal(t, 1.0, own("spool.corrupt"))
		assert.Equal(t, 1.0, own("spool.lost"))
		assert.Equal(t, 2.0, got[k("tracklane.analytics.processed", "tracklane.analytics.client.name=second", "tracklane.analytics.outcome=delivered")])
	})
}

// TestSeveralClients reports two clients of one process on one
// MeterProvider, told apart by ClientName.
func TestSeveralClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader, mp := manual(t)
		obstest.SeveralClients(t, func(name string) obstest.Metrics {
			return metrics(t, mp, otelanalytics.ClientName(name))
		})
		got := collect(t, reader)
		ms := []string{"messaging.operation.name=send", "messaging.system=segment"}
		assert.Equal(t, 2.0, got[k("messaging.client.sent.messages", append(ms, "tracklane.analytics.client.name=shop")...)])
		assert.Equal(t, 3.0, got[k("messaging.client.sent.messages", append(ms, "tracklane.analytics.client.name=backoffice")...)])
		assert.Equal(t, 1.0, got[k("messaging.client.operation.duration",
			append(ms, "tracklane.analytics.client.name=backoffice", "tracklane.analytics.upload.result=delivered")...)+" count"])
	})
}
