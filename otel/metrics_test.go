package otelanalytics_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	otelanalytics "github.com/tracklane/analytics/otel"
)

const writeKey = "test-write-key"

// latency is how long every scripted upload takes (in a synctest bubble,
// exactly).
const latency = 20 * time.Millisecond

func track(i int) analytics.Track {
	return analytics.Track{Event: "Product Viewed", UserID: fmt.Sprintf("u%d", i)}
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

// scripted is a transport that takes latency and then answers as rec
// scripts it.
func scripted(rec *analyticstest.Recorder) analytics.Transport {
	return analytics.TransportFunc(func(ctx context.Context, b *analytics.Batch) error {
		time.Sleep(latency)
		return rec.Send(ctx, b)
	})
}

// TestEveryCounterMoves runs a known sequence against a faulty endpoint
// and checks every series exactly: refusals (invalid, too large, queue
// full, closed), 503s retried, a 429 with Retry-After, a 400 rejected,
// retries exhausted, a 413 split, Close's deadline, and the duration of
// every attempt.
func TestEveryCounterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { require.NoError(t, mp.Shutdown(ctx)) }()

		m, err := otelanalytics.New(mp, otelanalytics.ClientName("shop"))
		require.NoError(t, err)
		rec := analyticstest.NewRecorder()
		client, err := analytics.New(writeKey, m.Option(),
			analytics.WithTransport(scripted(rec)),
			analytics.WithConcurrency(1),
			analytics.WithFlushInterval(time.Hour),
			analytics.WithMaxQueue(3, 1<<20),
			analytics.WithRetry(3, time.Hour),
			analytics.WithBackoff(time.Second, time.Second),
			analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, m.Register(client))
		assert.ErrorIs(t, m.Register(client), otelanalytics.ErrRegistered)

		// Refused: invalid, too large.
		require.ErrorIs(t, client.Enqueue(analytics.Track{Event: "Product Viewed"}), analytics.ErrMissingID)
		big := track(0)
		big.Properties = map[string]any{"blob": strings.Repeat("x", 40_000)}
		require.ErrorIs(t, client.Enqueue(big), analytics.ErrMessageTooLarge)

		// Batch A: 503, 503, 429 (Retry-After 1s), delivered; the queue's
		// bound (3) refuses a fourth message meanwhile.
		rec.FailNextStatus(2, 503, 0)
		rec.FailNextStatus(1, 429, time.Second)
		for i := 1; i <= 3; i++ {
			require.NoError(t, client.Enqueue(track(i)))
		}
		require.ErrorIs(t, client.Enqueue(track(4)), analytics.ErrQueueFull)
		synctest.Wait()
		got := collect(t, reader)
		assert.Equal(t, 3.0, got[`tracklane.analytics.queue.size{tracklane.analytics.client.name=shop}`])
		queued := client.Stats().QueuedBytes
		assert.Positive(t, queued)
		assert.Equal(t, float64(queued), got[`tracklane.analytics.queue.data.size{tracklane.analytics.client.name=shop}`])
		require.NoError(t, client.Flush(ctx))

		// Batch B: 400, one message: rejected.
		rec.FailNextStatus(1, 400, 0)
		require.NoError(t, client.Enqueue(track(5)))
		require.ErrorIs(t, client.Flush(ctx), analytics.ErrRejected)

		// Batch C: 503 three times: retries exhausted.
		rec.FailNextStatus(3, 503, 0)
		require.NoError(t, client.Enqueue(track(6)))
		require.ErrorIs(t, client.Flush(ctx), analytics.ErrRetriesExhausted)

		// Batch D: 413 splits it; both halves delivered.
		rec.FailNextStatus(1, 413, 0)
		require.NoError(t, client.Enqueue(track(7)))
		require.NoError(t, client.Enqueue(track(8)))
		require.NoError(t, client.Flush(ctx))

		// Batch E: 503, then Close's deadline ends the wait for the retry.
		rec.FailNextStatus(1, 503, 0)
		require.NoError(t, client.Enqueue(track(9)))
		closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		require.ErrorIs(t, client.Close(closeCtx), analytics.ErrDeadline)
		cancel()
		require.ErrorIs(t, client.Enqueue(track(10)), analytics.ErrClosed)

		s := client.Stats()
		assert.Equal(t, analytics.Stats{
			Enqueued: 8, Delivered: 5, Failed: 3, Refused: 4,
			FailedRejected: 1, FailedExhausted: 1, FailedDeadline: 1,
			RefusedInvalid: 1, RefusedTooLarge: 1, RefusedQueueFull: 1, RefusedClosed: 1,
			MaxQueued: 3, MaxQueuedBytes: 1 << 20,
			Batches: 3, Retries: 6, RateLimited: 1, SplitRequests: 2,
		}, s)

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
		ms := float64(latency / time.Millisecond)
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

			// Attempts: A 503 503 429 200, B 400, C 503 503 503, D 413 200 200, E 503.
			// (The last attempt of C ends its attempt budget: "exhausted".)
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
		other, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(rec)), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, other.Enqueue(track(11)))
		require.NoError(t, other.Close(ctx))
		require.Equal(t, uint64(1), other.Stats().Batches)
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
	m, err := otelanalytics.New(mp)
	require.NoError(t, err)
	assert.ErrorIs(t, m.Register(nil), otelanalytics.ErrNilClient)
	assert.True(t, errors.Is(m.Close(), nil))
}

// TestSpool moves the spool's counters: messages spooled by a Close that
// ran out of time, recovered and delivered by the next client, and a
// corrupt tail skipped.
func TestSpool(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { require.NoError(t, mp.Shutdown(ctx)) }()

		// First run: the endpoint is down; Close keeps both messages on disk.
		rec := analyticstest.NewRecorder()
		rec.FailNextStatus(100, 503, 0)
		m, err := otelanalytics.New(mp, otelanalytics.ClientName("first"))
		require.NoError(t, err)
		first, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(rec)),
			analytics.WithSpool(dir, 1<<20), analytics.WithBackoff(time.Second, time.Second), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, m.Register(first))
		require.NoError(t, first.Enqueue(track(1)))
		require.NoError(t, first.Enqueue(track(2)))
		closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		require.Error(t, first.Close(closeCtx))
		cancel()
		got := collect(t, reader)
		assert.Equal(t, 2.0, got[k("tracklane.analytics.processed", "tracklane.analytics.client.name=first", "tracklane.analytics.outcome=spooled")])
		require.NoError(t, m.Close())

		// A torn record at the end of the segment.
		tearSpool(t, dir)

		// Second run: the endpoint is back.
		m2, err := otelanalytics.New(mp, otelanalytics.ClientName("second"))
		require.NoError(t, err)
		second, err := analytics.New(writeKey, m2.Option(), analytics.WithTransport(scripted(analyticstest.NewRecorder())),
			analytics.WithSpool(dir, 1<<20), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, m2.Register(second))
		require.NoError(t, second.Flush(ctx))
		require.NoError(t, second.Close(ctx))
		s := second.Stats()
		got = collect(t, reader)
		own := func(name string) float64 {
			return got[k("tracklane.analytics."+name, "tracklane.analytics.client.name=second")]
		}
		assert.Equal(t, 2.0, own("recovered"))
		assert.Equal(t, 2.0, own("enqueued"))
		assert.Equal(t, 1.0, own("spool.corrupt"))
		// Bytes after the last record are reported as one record possibly
		// lost (the journal cannot tell them from a destroyed last header).
		assert.Equal(t, uint64(1), s.SpoolLost)
		assert.Equal(t, 1.0, own("spool.lost"))
		assert.Equal(t, 2.0, got[k("tracklane.analytics.processed", "tracklane.analytics.client.name=second", "tracklane.analytics.outcome=delivered")])
		require.NoError(t, m2.Close())
	})
}

// tearSpool appends half a record to every segment of the spool in dir.
func tearSpool(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		t.Log(e.Name())
		if e.IsDir() || strings.Contains(e.Name(), "lock") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte{0, 0, 1, 0, 'x'})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		n++
	}
	require.Positive(t, n, "no spool segment in %s", dir)
}

// TestSeveralClients reports two clients of one process on one
// MeterProvider, told apart by ClientName.
func TestSeveralClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer func() { require.NoError(t, mp.Shutdown(ctx)) }()
		for name, n := range map[string]int{"shop": 2, "backoffice": 3} {
			m, err := otelanalytics.New(mp, otelanalytics.ClientName(name))
			require.NoError(t, err)
			defer func() { require.NoError(t, m.Close()) }()
			client, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(analyticstest.NewRecorder())))
			require.NoError(t, err)
			require.NoError(t, m.Register(client))
			for i := range n {
				require.NoError(t, client.Enqueue(track(i)))
			}
			require.NoError(t, client.Close(ctx))
		}
		got := collect(t, reader)
		ms := []string{"messaging.operation.name=send", "messaging.system=segment"}
		assert.Equal(t, 2.0, got[k("messaging.client.sent.messages", append(ms, "tracklane.analytics.client.name=shop")...)])
		assert.Equal(t, 3.0, got[k("messaging.client.sent.messages", append(ms, "tracklane.analytics.client.name=backoffice")...)])
		assert.Equal(t, 1.0, got[k("messaging.client.operation.duration",
			append(ms, "tracklane.analytics.client.name=backoffice", "tracklane.analytics.upload.result=delivered")...)+" count"])
	})
}
