package analytics_test

// Helpers of the external tests (package analytics_test): the outcome
// collector, fault servers and their clients.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

const faultKey = "fault-key"

// outcomes counts the messages reported to the delivery callback.
type outcomes struct {
	mu        sync.Mutex
	delivered map[string]int
	failed    map[string]error
}

func newOutcomes() *outcomes {
	return &outcomes{delivered: map[string]int{}, failed: map[string]error{}}
}

func (o *outcomes) callback(r analytics.Report) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range r.Messages {
		switch r.Outcome {
		case analytics.Delivered:
			o.delivered[m.MessageID]++
		case analytics.Failed:
			o.failed[m.MessageID] = r.Err
		}
	}
}

// fastRetry keeps the suite quick: the retry schedule itself is tested with
// synctest in the package's own tests.
func fastRetry() analytics.Option {
	return analytics.WithBackoff(5*time.Millisecond, 50*time.Millisecond)
}

// faultServer is a strict fake endpoint that answers with faults first,
// closed when the test ends.
func faultServer(t *testing.T, faults ...analyticstest.Fault) *analyticstest.Server {
	t.Helper()
	srv := analyticstest.NewServer(faultKey)
	t.Cleanup(srv.Close)
	srv.Respond(faults...)
	return srv
}

// faultClient is a client of url with quick retries, and the outcomes its
// delivery callback collects.
func faultClient(t *testing.T, url string, opts ...analytics.Option) (*analytics.Client, *outcomes) {
	t.Helper()
	o := newOutcomes()
	base := []analytics.Option{analytics.WithEndpoint(url), fastRetry(), analytics.WithDeliveryCallback(o.callback)}
	c, err := analytics.New(faultKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, o
}

func sendTracks(t *testing.T, c *analytics.Client, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: fmt.Sprint("u", i),
			Properties: analytics.Properties{"order_id": fmt.Sprint("o", i), "total": 10.5}}))
	}
}

// checkExactlyOnce asserts that every accepted message was delivered once
// (the server saw each messageId, redeliveries counted as duplicates) and
// that the callback and Stats agree.
func checkExactlyOnce(t *testing.T, c *analytics.Client, srv *analyticstest.Server, o *outcomes, n int, expected ...analyticstest.Rule) {
	t.Helper()
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Enqueued)
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Zero(t, st.Failed)
	assert.Zero(t, st.Queued)
	assert.Equal(t, n, srv.Len(), "each messageId reached the server")
	for _, v := range srv.Violations() {
		assert.Contains(t, expected, v.Rule, "unexpected violation %v", v)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.Len(t, o.delivered, n)
	for id, k := range o.delivered {
		assert.Equal(t, 1, k, "message %s reported delivered %d times", id, k)
	}
	assert.Empty(t, o.failed)
}

func closeWithin(t *testing.T, c *analytics.Client, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Close(ctx)
}
