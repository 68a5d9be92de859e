package promanalytics_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

const writeKey = "test-write-key"

// latency is how long every scripted upload takes (in a synctest bubble,
// exactly).
const latency = 20 * time.Millisecond

func track(i int) analytics.Track {
	return analytics.Track{Event: "Product Viewed", UserID: fmt.Sprintf("u%d", i)}
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
// and compares the whole exposition: refusals (invalid, too large, queue
// full, closed), 503s retried, a 429 with Retry-After, a 400 rejected,
// retries exhausted, a 413 split, Close's deadline, and the duration of
// every attempt.
func TestEveryCounterMoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reg := prometheus.NewPedanticRegistry()
		m, err := promanalytics.New(reg, promanalytics.ClientName("shop"))
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
		assert.ErrorIs(t, m.Register(client), promanalytics.ErrRegistered)

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
		queued := client.Stats().QueuedBytes
		require.Positive(t, queued)
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(`
# HELP tracklane_analytics_queue_bytes Encoded bytes of the queued messages.
# TYPE tracklane_analytics_queue_bytes gauge
tracklane_analytics_queue_bytes{client="shop"} %d
# HELP tracklane_analytics_queue_messages Messages accepted without an outcome yet (queued, in flight, waiting to retry).
# TYPE tracklane_analytics_queue_messages gauge
tracklane_analytics_queue_messages{client="shop"} 3
`, queued)), "tracklane_analytics_queue_messages", "tracklane_analytics_queue_bytes"))
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

		// Attempts: A 503 503 429 200, B 400, C 503 503 503, D 413 200
		// 200, E 503. (The last attempt of C ends its attempt budget:
		// result="exhausted".)
		want, err := os.ReadFile("testdata/sequence.prom")
		require.NoError(t, err)
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(string(want))))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)

		// Close unregisters; attempts are no longer observed.
		m.Close()
		m.Close()
		assert.ErrorIs(t, m.Register(client), promanalytics.ErrClosed)
		n, err := testutil.GatherAndCount(reg)
		require.NoError(t, err)
		assert.Zero(t, n)
		other, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(rec)), analytics.WithLogger(nil))
		require.NoError(t, err)
		require.NoError(t, other.Enqueue(track(11)))
		require.NoError(t, other.Close(ctx))
		require.Equal(t, uint64(1), other.Stats().Batches)
		require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(string(want)), "tracklane_analytics_upload_duration_seconds"),
			"the histogram keeps the attempts it had, and no more")
		assert.Equal(t, 6, testutil.CollectAndCount(m), "only the histogram's series, no Stats")
	})
}
