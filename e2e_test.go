package analytics_test

// End-to-end tests as a new user would write them: the public API against
// analyticstest.Server, a strict Segment-compatible collector, over HTTP.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func TestE2ETenThousandTracksExactlyOnce(t *testing.T) {
	srv := analyticstest.NewServer("wk")
	defer srv.Close()
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	const n = 10000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Product Viewed", UserID: fmt.Sprint("u", i%97),
			Properties: analytics.Properties{"i": i, "name": "Monopoly", "price": 19.99}}))
	}
	// The deadline only bounds a hang: delivery is checked below, not its speed
	// (a loaded 2-core machine under -race needs several seconds).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	assert.Empty(t, srv.Violations())
	assert.Equal(t, n, srv.Len())
	assert.Zero(t, srv.Duplicates())
	for _, r := range srv.Requests() {
		assert.LessOrEqual(t, len(r.Body), analytics.MaxBatchBytes)
	}
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Zero(t, st.Failed)
}

func TestE2EOutageThenRateLimitWithinCloseBudget(t *testing.T) {
	srv := analyticstest.NewServer("wk")
	defer srv.Close()
	srv.Respond(analyticstest.Status(500).Times(3), analyticstest.Status(429).RetryAfter(time.Second))
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL)) // default retry policy
	require.NoError(t, err)
	const n = 1000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	assert.Empty(t, srv.Violations())
	assert.Equal(t, n, srv.Len())
	assert.Zero(t, srv.Duplicates())
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Equal(t, uint64(1), st.RateLimited)
}

func TestE2EPermanentOutageCloseReportsEverything(t *testing.T) {
	srv := analyticstest.NewServer("wk")
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Times(1 << 30))
	o := newOutcomes()
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL), analytics.WithDeliveryCallback(o.callback))
	require.NoError(t, err)
	const n = 5000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = c.Close(ctx)
	// Real time on a shared 2-core CI machine: this bound catches a Close that
	// hangs; TestCloseKeepsRetryingUntilDeadline checks the exact deadline with synctest.
	assert.Less(t, time.Since(start), 3*time.Second, "Close returns by its deadline")
	var ue *analytics.UndeliveredError
	require.True(t, errors.As(err, &ue), "got %v", err)
	assert.Equal(t, n, ue.Count)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, analytics.ErrDeadline)
	o.mu.Lock()
	assert.Len(t, o.failed, n, "every message reported with its reason")
	o.mu.Unlock()
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Failed)
	assert.Equal(t, uint64(n), st.FailedDeadline)
	assert.Zero(t, st.Queued)
	assert.Zero(t, srv.Len())
}

func TestDefaultContextAndOrderMessageIDs(t *testing.T) {
	rec := analyticstest.NewRecorder()
	def := &analytics.Context{Channel: "server", App: &analytics.AppInfo{Name: "shop", Version: "2.1"}}
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithDefaultContext(def),
		analytics.WithOrderMessageIDs(true))
	require.NoError(t, err)
	def.Channel = "changed after New" // New copied the default context
	order := analytics.Order{OrderID: "50314b8e", Total: 27.5, Currency: "USD"}
	for i := 0; i < 2; i++ { // a checkout handler that ran twice
		ev := analytics.OrderCompleted(order)
		ev.UserID = "u1"
		ev.Context = &analytics.Context{IP: "203.0.113.9"}
		require.NoError(t, c.Enqueue(ev))
	}
	refund := analytics.OrderRefunded(order)
	refund.UserID = "u1"
	require.NoError(t, c.Enqueue(refund))
	require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u1"})) // no order_id: random id
	require.NoError(t, c.Close(context.Background()))

	msgs := rec.Messages()
	require.Len(t, msgs, 4)
	assert.Equal(t, msgs[0].MessageID, msgs[1].MessageID, "same order, same messageId")
	assert.NotEqual(t, msgs[0].MessageID, msgs[2].MessageID, "another event of the order has its own id")
	assert.NotEqual(t, msgs[0].MessageID, msgs[3].MessageID)
	assert.Equal(t, "server", msgs[0].Context["channel"])
	assert.Equal(t, map[string]any{"name": "shop", "version": "2.1"}, msgs[0].Context["app"])
	assert.Equal(t, "203.0.113.9", msgs[0].Context["ip"])
	assert.Equal(t, "server", msgs[3].Context["channel"])
	assert.Empty(t, rec.Violations())
}
