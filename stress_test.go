package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// soakMessages is the size of the stress run: small by default so CI stays
// quick, larger with SOAK_MESSAGES=200000 (make soak).
func soakMessages(t *testing.T) int {
	if v := os.Getenv("SOAK_MESSAGES"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return n
	}
	return 4000
}

// TestStressConcurrentEnqueueFlushCloseAgainstFlappingEndpoint: many
// goroutines enqueue while others Flush, the endpoint fails in every way it
// can, and Close runs while enqueuers are still going. Every Enqueue that
// returned nil ends delivered exactly once (by messageId) or reported
// failed; nothing else reaches the server; the counters add up.
func TestStressConcurrentEnqueueFlushCloseAgainstFlappingEndpoint(t *testing.T) {
	total := soakMessages(t)
	srv := analyticstest.NewServer(faultKey)
	defer srv.Close()
	var faults []analyticstest.Fault
	for i := 0; i < total/50; i++ {
		faults = append(faults, analyticstest.Process(), analyticstest.Status(503), analyticstest.Process(),
			analyticstest.Disconnect(), analyticstest.ProcessThenDisconnect(), analyticstest.Status(429).RetryAfter(0),
			analyticstest.Process().Delay(time.Millisecond), analyticstest.Status(500))
	}
	srv.Respond(faults...)
	c, o := faultClient(t, srv.URL, analytics.WithBatchSize(37), analytics.WithConcurrency(4),
		analytics.WithFlushInterval(3*time.Millisecond), analytics.WithMaxQueue(total, 64<<20),
		analytics.WithRetry(100, time.Minute)) // 5 of 8 answers fail: ten in a row happen in long runs

	var accepted sync.Map
	var nAccepted, nClosed atomic.Int64
	var wg sync.WaitGroup
	const workers = 8
	started := make(chan struct{})
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < total/workers; i++ {
				if i == 10 && g == 0 {
					close(started)
				}
				id := fmt.Sprintf("g%d-%d", g, i)
				err := c.Enqueue(analytics.Track{Event: "Product Viewed", UserID: "u", MessageID: id})
				switch {
				case err == nil:
					accepted.Store(id, true)
					nAccepted.Add(1)
				case errors.Is(err, analytics.ErrClosed):
					nClosed.Add(1)
				default:
					t.Errorf("Enqueue: %v", err)
					return
				}
				if i%200 == 0 {
					ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
					err := c.Flush(ctx)
					cancel()
					var ue *analytics.UndeliveredError
					if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, analytics.ErrClosed) && !errors.As(err, &ue) {
						t.Errorf("Flush: %v", err)
					}
				}
			}
		}()
	}
	<-started
	require.Eventually(t, func() bool { return c.Stats().Enqueued > uint64(total/2) }, 30*time.Second, 100*time.Microsecond)
	// While the enqueuers are still running. The strict server checks about
	// 7,000 messages a second under -race: give long soaks the time to drain.
	err := closeWithin(t, c, 30*time.Second+time.Duration(total/1000)*time.Second)
	wg.Wait()
	require.NoError(t, err)

	st := c.Stats()
	assert.Equal(t, uint64(nAccepted.Load()), st.Enqueued)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed)
	assert.Equal(t, uint64(nClosed.Load()), st.RefusedClosed)
	assert.Zero(t, st.Failed, "the retry budget outlasts this endpoint's faults")
	got := 0
	for _, m := range srv.Messages() {
		_, ok := accepted.Load(m.MessageID)
		assert.True(t, ok, "the server got a message that Enqueue did not accept: %s", m.MessageID)
		got++
	}
	assert.Equal(t, int(st.Delivered), got, "each accepted message reached the server, once by messageId")
	o.mu.Lock()
	assert.Len(t, o.delivered, got)
	o.mu.Unlock()
	assert.Empty(t, srv.Violations())
	t.Logf("accepted %d, refused after Close %d, duplicates absorbed %d, retries %d", nAccepted.Load(), nClosed.Load(), srv.Duplicates(), st.Retries)
}
