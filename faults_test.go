package analytics_test

// The fault-injection suite: each test drives the public API against
// analyticstest.Server with scripted faults and checks the outcome of every
// message: delivered exactly once (by messageId, redeliveries absorbed), or
// reported failed with its reason, and nothing unaccounted for.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func TestFault5xxBurst(t *testing.T) {
	srv := faultServer(t, analyticstest.Status(500).Times(3), analyticstest.Status(502), analyticstest.Status(503).Times(2), analyticstest.Status(504))
	c, o := faultClient(t, srv.URL, analytics.WithBatchSize(50))
	sendTracks(t, c, 300)
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 300)
	assert.GreaterOrEqual(t, c.Stats().Retries, uint64(7))
}

func TestFault429RetryAfterSeconds(t *testing.T) {
	srv := faultServer(t, analyticstest.Status(429).RetryAfter(time.Second))
	c, o := faultClient(t, srv.URL)
	sendTracks(t, c, 10)
	start := time.Now()
	require.NoError(t, c.Flush(context.Background()))
	assert.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After is honoured")
	require.NoError(t, closeWithin(t, c, 5*time.Second))
	checkExactlyOnce(t, c, srv, o, 10)
	assert.Equal(t, uint64(1), c.Stats().RateLimited)
}

func TestFault429RetryAfterHTTPDate(t *testing.T) {
	srv := analyticstest.NewServer(faultKey)
	defer srv.Close()
	// HTTP dates have whole seconds: ask for a moment 2 s from now, at least 1 s away.
	at := time.Now().Add(2 * time.Second).Truncate(time.Second)
	srv.Respond(analyticstest.Status(429).RetryAt(at))
	c, o := faultClient(t, srv.URL)
	sendTracks(t, c, 10)
	require.NoError(t, c.Flush(context.Background()))
	assert.False(t, time.Now().Before(at.Add(-50*time.Millisecond)), "no retry before the date the server gave")
	require.NoError(t, closeWithin(t, c, 5*time.Second))
	checkExactlyOnce(t, c, srv, o, 10)
}

func TestFaultHungServerPastHTTPTimeout(t *testing.T) {
	srv := faultServer(t, analyticstest.Hang())
	c, o := faultClient(t, srv.URL, analytics.WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}))
	sendTracks(t, c, 20)
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 20)
	assert.Equal(t, uint64(1), c.Stats().Retries)
}

func TestFaultConnectionResetBeforeProcessing(t *testing.T) {
	srv := faultServer(t, analyticstest.Disconnect().Times(2))
	c, o := faultClient(t, srv.URL)
	sendTracks(t, c, 25)
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 25)
	assert.Zero(t, srv.Duplicates())
}

func TestFaultConnectionResetAfterProcessing(t *testing.T) {
	srv := faultServer(t, analyticstest.ProcessThenDisconnect())
	c, o := faultClient(t, srv.URL)
	sendTracks(t, c, 25)
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 25)
	assert.Equal(t, 25, srv.Duplicates(), "the batch was redelivered with the same messageIds, and deduplicated")
}

func TestFault413SplitsBatches(t *testing.T) {
	srv := analyticstest.NewServer(faultKey, analyticstest.WithBodyLimit(4000, http.StatusRequestEntityTooLarge))
	defer srv.Close()
	c, o := faultClient(t, srv.URL, analytics.WithBatchSize(100))
	sendTracks(t, c, 100)
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 100, analyticstest.RuleBodySize)
	for _, r := range srv.Requests() {
		if r.Status == 200 {
			assert.LessOrEqual(t, len(r.Body), 4000)
		}
	}
}

func TestFaultClosedPortThatOpensLater(t *testing.T) {
	srv := analyticstest.NewServer(faultKey)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // refused until the proxy below listens

	c, o := faultClient(t, "http://"+addr, analytics.WithRetry(1000, time.Minute), analytics.WithFlushInterval(10*time.Millisecond))
	sendTracks(t, c, 30)
	// Wait until the client has failed to connect a few times.
	require.Eventually(t, func() bool { return c.Stats().Retries >= 3 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, srv.Len())

	stop := proxy(t, addr, srv.URL)
	defer stop()
	require.NoError(t, closeWithin(t, c, 10*time.Second))
	checkExactlyOnce(t, c, srv, o, 30)
}

// proxy listens on addr and forwards every connection to the server at target.
func proxy(t *testing.T, addr, target string) (stop func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port was just closed; rebinding can race with TIME_WAIT
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
	}
	require.NoError(t, err)
	backend := target[len("http://"):]
	var wg sync.WaitGroup
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", backend)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(out, in); out.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
}

func TestFaultFlappingEndpoint(t *testing.T) {
	srv := analyticstest.NewServer(faultKey)
	defer srv.Close()
	var faults []analyticstest.Fault
	for i := 0; i < 6; i++ {
		faults = append(faults, analyticstest.Status(503), analyticstest.Process(), analyticstest.Disconnect(),
			analyticstest.Process(), analyticstest.ProcessThenDisconnect(), analyticstest.Status(429).RetryAfter(0), analyticstest.Process())
	}
	srv.Respond(faults...)
	c, o := faultClient(t, srv.URL, analytics.WithBatchSize(10), analytics.WithConcurrency(3))
	sendTracks(t, c, 400)
	require.NoError(t, closeWithin(t, c, 20*time.Second))
	checkExactlyOnce(t, c, srv, o, 400)
}

func TestFaultOutageMemoryStaysWithinBound(t *testing.T) {
	srv := faultServer(t, analyticstest.Status(500).Times(1_000_000))
	const maxMsgs, maxBytes = 500, 200_000
	c, o := faultClient(t, srv.URL, analytics.WithMaxQueue(maxMsgs, maxBytes), analytics.WithRetry(1000, time.Hour))
	accepted, full := 0, 0
	for i := 0; i < 3000; i++ {
		err := c.Enqueue(analytics.Track{Event: "Product Viewed", UserID: "u", Properties: analytics.Properties{"i": i}})
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, analytics.ErrQueueFull):
			full++
		default:
			t.Fatal(err)
		}
		st := c.Stats()
		require.LessOrEqual(t, st.Queued, maxMsgs)
		require.LessOrEqual(t, st.QueuedBytes, maxBytes)
	}
	assert.Equal(t, maxMsgs, accepted, "the queue bound is in force while the endpoint fails")
	assert.Equal(t, 3000-maxMsgs, full)
	err := closeWithin(t, c, 300*time.Millisecond)
	var ue *analytics.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, accepted, ue.Count)
	st := c.Stats()
	assert.Equal(t, uint64(accepted), st.Failed)
	assert.Equal(t, uint64(full), st.RefusedQueueFull)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed)
	o.mu.Lock()
	assert.Len(t, o.failed, accepted, "every undelivered message was reported with its reason")
	for _, e := range o.failed {
		assert.ErrorIs(t, e, analytics.ErrDeadline)
	}
	o.mu.Unlock()
}

func TestFaultFlushHonoursContextWhileEndpointHangs(t *testing.T) {
	srv := faultServer(t, analyticstest.Hang().Times(100))
	c, _ := faultClient(t, srv.URL)
	sendTracks(t, c, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, c.Flush(ctx), context.DeadlineExceeded)
	err := closeWithin(t, c, 200*time.Millisecond)
	var ue *analytics.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 5, ue.Count)
	assert.Zero(t, srv.Len())
}
