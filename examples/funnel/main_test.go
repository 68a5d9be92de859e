package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func noenv(string) string { return "" }

func runFunnel(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, noenv, &out, &errb)
	return code, out.String(), errb.String()
}

// expectedSummary simulates without sending: the table the endpoint must show.
func expectedSummary(shoppers int, seed uint64) (summary, int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t := newTally()
	for n := range shoppers {
		for _, s := range shopper(rng, n) {
			t.add(s.rec)
		}
	}
	return t.summary(), t.messages()
}

func TestFunnelDefaultCollector(t *testing.T) {
	code, out, errOut := runFunnel(t, "-shoppers", "200", "-seed", "7")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errOut)

	want, n := expectedSummary(200, 7)
	var table bytes.Buffer
	want.print(&table)
	assert.Contains(t, out, table.String(), "the printed table is the one simulated")
	assert.Contains(t, out, fmt.Sprintf("collector: %d messages received, 0 violations, 0 duplicates", n))
	assert.Contains(t, out, fmt.Sprintf("client:    enqueued %d, delivered %d, failed 0, refused 0, queued 0", n, n))
	assert.Contains(t, out, fmt.Sprintf("result:    OK: all %d messages sent were received", n))
	assert.Empty(t, errOut)

	// The funnel narrows, every shopper views, and money adds up.
	assert.Equal(t, 200, want.shoppers[0])
	for i := 1; i < 6; i++ {
		assert.LessOrEqual(t, want.shoppers[i], want.shoppers[i-1], rows[i].label)
		assert.Positive(t, want.shoppers[i], rows[i].label)
	}
	assert.Positive(t, want.cents[5], "revenue")
	assert.Positive(t, want.events[6], "coupons")
}

func TestFunnelDeterministic(t *testing.T) {
	table := func(out string) string {
		start := strings.Index(out, "step ")
		end := strings.Index(out, "\ncollector:")
		require.True(t, start >= 0 && end > start, out)
		return out[start:end]
	}
	_, a, _ := runFunnel(t, "-shoppers", "100", "-seed", "3")
	_, b, _ := runFunnel(t, "-shoppers", "100", "-seed", "3")
	_, c, _ := runFunnel(t, "-shoppers", "100", "-seed", "4")
	assert.Equal(t, table(a), table(b))
	assert.NotEqual(t, table(a), table(c))
}

func TestFunnelZeroShoppers(t *testing.T) {
	code, out, _ := runFunnel(t, "-shoppers", "0")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "result:    OK: all 0 messages sent were received")
}

func TestFunnelBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-shoppers", "-1"},
		{"-shoppers", "many"},
		{"-timeout", "0s"},
		{"-endpoint", "http://127.0.0.1:1"}, // no write key
		{"-endpoint", "ftp://x", "-write-key", "k"},
		{"extra"},
	} {
		code, _, errOut := runFunnel(t, args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.NotEmpty(t, errOut, "%v", args)
	}
	code, _, _ := runFunnel(t, "-h")
	assert.Equal(t, 0, code)
}

// TestFunnelRealEndpoint uses -endpoint: the table comes from what the
// client reports delivered. The key comes from SEGMENT_WRITE_KEY.
func TestFunnelRealEndpoint(t *testing.T) {
	srv := analyticstest.NewServer("real-key")
	defer srv.Close()
	var out, errb bytes.Buffer
	env := func(k string) string {
		if k == "SEGMENT_WRITE_KEY" {
			return "real-key"
		}
		return ""
	}
	code := run(t.Context(), []string{"-shoppers", "50", "-endpoint", srv.URL}, env, &out, &errb)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	want, n := expectedSummary(50, 1)
	var table bytes.Buffer
	want.print(&table)
	assert.Contains(t, out.String(), table.String())
	assert.Contains(t, out.String(), fmt.Sprintf("endpoint: %d messages delivered", n))
	assert.Equal(t, n, srv.Len())
	assert.Empty(t, srv.Violations())
}

// TestFunnelLossExitsNonZero: an endpoint that refuses everything (a wrong
// write key answers 401, never retried) loses every message.
func TestFunnelLossExitsNonZero(t *testing.T) {
	srv := analyticstest.NewServer("right-key")
	defer srv.Close()
	code, out, errOut := runFunnel(t, "-shoppers", "20", "-endpoint", srv.URL, "-write-key", "wrong-key")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "result:    LOST:")
	assert.Contains(t, out, "endpoint: 0 messages delivered")
	assert.Contains(t, errOut, "not delivered")
}

// TestFunnelSurvivesFaults: 503s and lost answers are retried; the collector
// deduplicates the redelivered messages, and nothing is lost.
func TestFunnelSurvivesFaults(t *testing.T) {
	srv := analyticstest.NewServer("funnel-demo-write-key")
	defer srv.Close()
	srv.Respond(
		analyticstest.Status(503).Times(2),
		analyticstest.ProcessThenDisconnect(),
		analyticstest.Status(429).RetryAfter(0),
	)
	var out, errb bytes.Buffer
	cfg := config{
		shoppers: 100, seed: 5, timeout: time.Minute, collector: srv,
		clientOpts: []analytics.Option{analytics.WithBackoff(time.Millisecond, 5*time.Millisecond), analytics.WithBatchSize(50)},
	}
	code := simulate(t.Context(), cfg, &out, &errb)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	// The run drains (and resets) the collector, so read the counts it printed.
	var recv, viol, dups, retries int
	for _, l := range strings.Split(out.String(), "\n") {
		fmt.Sscanf(l, "collector: %d messages received, %d violations, %d duplicates", &recv, &viol, &dups)
		fmt.Sscanf(l, "           batches %d, retries %d", new(int), &retries)
	}
	assert.Positive(t, recv)
	assert.Zero(t, viol)
	assert.Positive(t, dups, "the lost answer's batch was redelivered")
	assert.GreaterOrEqual(t, retries, 4, "503, 503, lost answer, 429")
}

// TestFunnelCollectorViolationsFail: a violation at the collector fails the run
// even when everything was delivered.
func TestFunnelCollectorViolationsFail(t *testing.T) {
	srv := analyticstest.NewServer("funnel-demo-write-key", analyticstest.WithRejectViolations(false))
	defer srv.Close()
	// A v1 property name (orderId) reaches the collector before the funnel runs.
	client, err := analytics.New("funnel-demo-write-key", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	require.NoError(t, client.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u", Properties: map[string]any{"orderId": "x"}}))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Close(ctx))
	require.NotEmpty(t, srv.Violations())

	var out, errb bytes.Buffer
	code := simulate(t.Context(), config{shoppers: 10, seed: 1, timeout: time.Minute, collector: srv}, &out, &errb)
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "violations")
}

// TestFunnelTinyQueueLosesNothing: with a queue of 20 messages the
// producer outruns the client all the time; EnqueueContext waits for room,
// so every message still arrives.
func TestFunnelTinyQueueLosesNothing(t *testing.T) {
	srv := analyticstest.NewServer("funnel-demo-write-key")
	defer srv.Close()
	var out, errb bytes.Buffer
	code := simulate(t.Context(), config{shoppers: 300, seed: 9, timeout: time.Minute, collector: srv,
		clientOpts: []analytics.Option{analytics.WithMaxQueue(20, 1<<20), analytics.WithBatchSize(10)}}, &out, &errb)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	_, n := expectedSummary(300, 9)
	assert.Contains(t, out.String(), fmt.Sprintf("collector: %d messages received, 0 violations, 0 duplicates", n))
	assert.Contains(t, out.String(), fmt.Sprintf("result:    OK: all %d messages sent were received", n))
}

func TestDollars(t *testing.T) {
	for cents, want := range map[int64]string{
		0: "$0.00", 5: "$0.05", 199: "$1.99", 100000: "$1,000.00", 123456789: "$1,234,567.89", -250: "-$2.50",
	} {
		assert.Equal(t, want, dollars(cents))
	}
}

func BenchmarkFunnel(b *testing.B) {
	for b.Loop() {
		var out, errb bytes.Buffer
		if code := run(b.Context(), []string{"-shoppers", "2000"}, noenv, &out, &errb); code != 0 {
			b.Fatal(out.String(), errb.String())
		}
	}
}
