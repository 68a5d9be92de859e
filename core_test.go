package analytics

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics/internal/syncbuf"
)

// Tests of the delivery core: the policy table, the ledger, and one test
// per defect of issue 11.

// panicMarshaler is a property whose MarshalJSON panics.
type panicMarshaler struct{}

func (panicMarshaler) MarshalJSON() ([]byte, error) { panic("boom in MarshalJSON") }

// badMarshaler is a property whose MarshalJSON returns invalid JSON.
type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { return []byte(`{"a":`), nil }

func TestUserCodePanicsAreRefusedNotPropagated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []Option
		msg   Message
		field string
	}{
		{"MarshalJSON panics", nil, Track{Event: "E", UserID: "u", Properties: map[string]any{"p": panicMarshaler{}}}, ""},
		{"MarshalJSON returns invalid JSON", nil, Track{Event: "E", UserID: "u", Properties: map[string]any{"p": badMarshaler{}}}, "properties.p"},
		{"WithMessageIDs panics", []Option{WithMessageIDs(func() string { panic("id source down") })}, track(1), "messageId"},
		{"WithClock panics", []Option{WithClock(func() time.Time { panic("clock down") })}, track(1), "timestamp"},
		{"WithMessageIDs returns empty", []Option{WithMessageIDs(func() string { return "" })}, track(1), "messageId"},
		{"WithMessageIDs returns 101 chars", []Option{WithMessageIDs(func() string { return strings.Repeat("x", 101) })}, track(1), "messageId"},
		{"WithMessageIDs returns invalid UTF-8", []Option{WithMessageIDs(func() string { return "\xff" })}, track(1), "messageId"},
		{"WithClock returns year 10000", []Option{WithClock(func() time.Time { return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })}, track(1), "timestamp"},
		{"WithClock returns the zero time", []Option{WithClock(func() time.Time { return time.Time{} })}, track(1), "timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			f := &fake{}
			opts := append([]Option{WithTransport(f), WithDeliveryCallback(rec.add)}, tc.opts...)
			c, err := New("test-write-key", opts...)
			require.NoError(t, err)
			var got error
			require.NotPanics(t, func() { got = c.Enqueue(tc.msg) })
			var ve *ValidationError
			require.ErrorAs(t, got, &ve)
			if tc.field != "" {
				assert.Equal(t, tc.field, ve.Field)
			}
			assert.True(t, errors.Is(got, ErrInvalidValue) || errors.Is(got, ErrMessageIDTooLong), "%v", got)
			require.NoError(t, c.Close(context.Background()))
			st := c.Stats()
			assert.Equal(t, uint64(1), st.RefusedInvalid, "counted")
			assert.Equal(t, uint64(0), st.Enqueued)
			assert.Equal(t, 1, rec.count(Refused), "reported")
			assert.Empty(t, f.snapshot(), "never sent")
		})
	}
}

// A clock that panics at send time (sentAt) does not stop delivery.
func TestClockPanickingAtSendTime(t *testing.T) {
	var calls atomic.Int32
	f := &fake{}
	c, err := New("test-write-key", WithTransport(f), WithClock(func() time.Time {
		if calls.Add(1) > 1 {
			panic("clock down")
		}
		return time.Now()
	}))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	require.NoError(t, c.Close(context.Background()))
	assert.Equal(t, uint64(1), c.Stats().Delivered)
}

// Flush(nil) and Close(nil) are context.Background(): no panic, and the
// client is closed for good, not half-closed.
func TestNilContexts(t *testing.T) {
	f := &fake{}
	c := newTestClient(t, f, nil)
	require.NoError(t, c.Enqueue(track(1)))
	//nolint:staticcheck // SA1012: a nil context is what this test is about
	require.NotPanics(t, func() { require.NoError(t, c.Flush(nil)) })
	require.NoError(t, c.Enqueue(track(2)))
	//nolint:staticcheck // SA1012
	require.NotPanics(t, func() { require.NoError(t, c.Close(nil)) })
	assert.ErrorIs(t, c.Enqueue(track(3)), ErrClosed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, c.Close(ctx), "a later Close returns the first one's result at once")
	assert.Equal(t, uint64(2), c.Stats().Delivered)
	//nolint:staticcheck // SA1012
	assert.ErrorIs(t, c.EnqueueContext(nil, track(4)), ErrClosed)
}

func TestWriteKeyIsCheckedWithAReason(t *testing.T) {
	for _, tc := range []struct{ key, reason string }{
		{"", "empty"},
		{"   ", "only whitespace"},
		{"\t", "only whitespace"},
		{"secretkey\n", "line break"},
		{"secret\r\nkey", "line break"},
		{" secretkey", "whitespace around"},
		{"secretkey ", "whitespace around"},
		{"secret\x00key", "control character"},
		{"secret\xffkey", "UTF-8"},
	} {
		_, err := New(tc.key)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, "%q", tc.key)
		assert.Contains(t, ce.Error(), tc.reason, "%q", tc.key)
		if strings.TrimSpace(tc.key) != "" {
			assert.NotContains(t, ce.Error(), strings.TrimSpace(tc.key), "the key is never in the error")
		}
	}
	c, err := New("", WithTransport(&fake{}))
	require.NoError(t, err, "an empty key is fine with a custom transport")
	require.NoError(t, c.Close(context.Background()))
	_, err = New("key\n", WithTransport(&fake{}))
	require.Error(t, err, "a non-empty key is checked whatever the transport")
}

// keyForms are the forms of the write key a server may echo.
func keyForms(key string) []string {
	return []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(key + ":")),
		base64.RawStdEncoding.EncodeToString([]byte(key + ":")),
		base64.StdEncoding.EncodeToString([]byte(key)),
		url.QueryEscape(key),
		strings.Trim(string(mustJSON(key)), `"`),
		key[:len(key)/2], // what a cut through the middle would leave
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// A server that echoes the key in every form, in a body long enough that
// the 1 KiB cut falls through a key: no form reaches an error, a log line,
// a report or Close's error.
func TestWriteKeyNeverLeaks(t *testing.T) {
	const key = `sk_live/9f+3"k&y=ab` // needs JSON, URL and base64 escaping
	for _, status := range []int{401, 400, 500, 200} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				var b strings.Builder
				b.WriteString(`{"ok":false,"auth":"` + r.Header.Get("Authorization") + `"`)
				for _, f := range keyForms(key)[:6] {
					b.WriteString(`,"echo":"` + f + `"`)
				}
				b.WriteString(`,"pad":"` + strings.Repeat("x", maxErrorBody-b.Len()-len(key)/2) + key + `"}`)
				w.Header().Set("Content-Type", "text/plain")
				if status == 200 {
					w.Header().Set("Content-Type", "text/html") // a proxy's page
				}
				w.WriteHeader(status)
				_, _ = io.WriteString(w, b.String())
			}))
			defer srv.Close()
			var logs bytes.Buffer
			rec := &recorder{}
			c, err := New(key, WithEndpoint(srv.URL), WithRetry(1, time.Second),
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithDeliveryCallback(rec.add))
			require.NoError(t, err)
			require.NoError(t, c.Enqueue(track(1)))
			cerr := c.Close(context.Background())
			require.Error(t, cerr)
			var texts []string
			texts = append(texts, cerr.Error(), fmt.Sprintf("%+v", cerr), logs.String())
			for _, e := range rec.errs(Failed) {
				texts = append(texts, e.Error())
				var he *HTTPError
				if errors.As(e, &he) {
					texts = append(texts, he.Body, he.URL)
				}
			}
			for _, text := range texts {
				for _, f := range keyForms(key) {
					assert.NotContains(t, text, f)
				}
			}
			assert.Contains(t, cerr.Error(), redacted, "the echo is visible as redacted")
		})
	}
}

// A panic value holding the key is redacted too.
func TestWriteKeyNotInTransportPanic(t *testing.T) {
	const key = "sk_live_panicking_key"
	rec := &recorder{}
	c, err := New(key, WithTransport(TransportFunc(func(context.Context, *Batch) error { panic("auth " + key + " failed") })),
		WithDeliveryCallback(rec.add))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	err = c.Close(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), key)
	for _, e := range rec.errs(Failed) {
		assert.NotContains(t, e.Error(), key)
	}
}

func TestServerDelays(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	facts := batchFacts{size: 1, maxDelay: MaxRetryAfter, nowForDates: now}
	for _, tc := range []struct {
		name string
		a    attempt
		want time.Duration
	}{
		{"Retry-After too large for an int64 means the cap", attempt{status: 429, retryAfter: "99999999999999999999"}, MaxRetryAfter},
		{"on a 503 too", attempt{status: 503, retryAfter: "99999999999999999999"}, MaxRetryAfter},
		{"X-RateLimit-Reset as a delay", attempt{status: 429, rateLimitReset: "30"}, 30 * time.Second},
		{"X-RateLimit-Reset as a Unix time", attempt{status: 429, rateLimitReset: strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)}, 42 * time.Second},
		{"X-RateLimit-Reset as Unix milliseconds", attempt{status: 429, rateLimitReset: strconv.FormatInt(now.Add(7*time.Second).UnixMilli(), 10)}, 7 * time.Second},
		{"X-RateLimit-Reset in the past", attempt{status: 429, rateLimitReset: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)}, 0},
		{"Retry-After as a date", attempt{status: 429, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat)}, 90 * time.Second},
		{"absent", attempt{status: 429}, 0},
	} {
		d := decide(tc.a, facts)
		assert.Equal(t, tc.want, d.delay, tc.name)
	}
}

// A 429 with an overflowing Retry-After pauses for the cap rather than
// being retried at once.
func TestHugeRetryAfterIsTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(n int, _ *Batch) error {
			if n == 1 {
				return &HTTPError{StatusCode: 503, RetryAfter: forever}
			}
			return nil
		}}
		c := newTestClient(t, f, nil, WithRetry(3, time.Hour))
		enqueueN(t, c, 1)
		start := time.Now()
		require.NoError(t, c.Flush(context.Background()))
		calls := f.snapshot()
		require.Len(t, calls, 2)
		assert.Equal(t, MaxRetryAfter, calls[1].at.Sub(start), "the second attempt waits the cap")
		require.NoError(t, c.Close(context.Background()))
	})
}

// A 2xx HTML page is not a delivery; its error and a 404's name the URL.
func TestWrongEndpointAnswersAreFailuresThatNameTheURL(t *testing.T) {
	for _, tc := range []struct {
		status int
		ctype  string
		body   string
	}{
		{200, "text/html; charset=utf-8", "<html><body>Sign in to continue</body></html>"},
		{404, "text/plain", "404 page not found"},
		{302, "text/html", ""},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", tc.ctype)
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		}))
		rec := &recorder{}
		c, err := New("test-write-key", WithEndpoint(srv.URL+"/collect"), WithDeliveryCallback(rec.add))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		cerr := c.Close(context.Background())
		srv.Close()
		require.Error(t, cerr, "%d", tc.status)
		st := c.Stats()
		assert.Zero(t, st.Delivered, "%d", tc.status)
		assert.Equal(t, uint64(1), st.FailedRejected)
		assert.Contains(t, cerr.Error(), srv.URL+"/collect/v1/batch", "names the URL posted to")
		assert.Contains(t, cerr.Error(), "Segment-compatible")
		assert.NotContains(t, cerr.Error(), "test-write-key")
	}
}

// With k bad messages in a batch of n, every good message is delivered
// within 2(k+1)⌈log2 n⌉+2 extra requests, counted in Stats.
func TestPoisonMessagesCostOnlyThemselves(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{100, 10}, {500, 1}, {500, 16}, {64, 3}} {
		t.Run(fmt.Sprintf("%d_of_%d", tc.k, tc.n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				bad := map[int]bool{}
				for i := 0; i < tc.k; i++ {
					bad[(i*7919+13)%tc.n] = true
				}
				f := &fake{respond: func(_ int, b *Batch) error {
					for _, m := range b.Messages {
						if bytes.Contains(m, []byte(`"userId":"bad"`)) {
							return &HTTPError{StatusCode: 400, Body: `{"error":"identity missing"}`}
						}
					}
					return nil
				}}
				// A batch bound of n+1: the n messages go in one batch that
				// Flush cuts, so every failure comes while Flush waits (at
				// n, the full batch could start, and fail, before the call,
				// and Flush does not count what failed before it).
				c := newTestClient(t, f, nil, WithBatchSize(tc.n+1), WithFlushInterval(time.Hour), WithDeliveryCallback(func(Report) {}))
				for i := 0; i < tc.n; i++ {
					m := track(i)
					if bad[i] {
						m.UserID = "bad"
					}
					require.NoError(t, c.Enqueue(m))
				}
				var ue *UndeliveredError
				require.ErrorAs(t, c.Flush(context.Background()), &ue)
				assert.Equal(t, len(bad), ue.Count)
				assert.Len(t, f.delivered(), tc.n-len(bad), "every good message delivered")
				extra := len(f.snapshot()) - 1
				depth := newBisection(tc.n).depth
				assert.LessOrEqual(t, extra, 2*(len(bad)+1)*depth+2)
				st := c.Stats()
				assert.Equal(t, uint64(extra), st.SplitRequests, "extra requests are counted")
				require.NoError(t, c.Close(context.Background()))
			})
		})
	}
}

// Past the bisection budget, the rest fails with a reason that says so.
func TestPoisonPastTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 400} }}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithBatchSize(500), WithFlushInterval(time.Hour))
		enqueueN(t, c, 500)
		require.Error(t, c.Flush(context.Background()))
		extra := len(f.snapshot()) - 1
		assert.LessOrEqual(t, extra, 2*newBisection(500).depth*(maxIsolated+1)+2, "bounded when all are bad")
		found := false
		for _, e := range rec.errs(Failed) {
			if strings.Contains(e.Error(), "bisection budget spent") {
				found = true
			}
		}
		assert.True(t, found, "the reason says the budget was spent")
		assert.Equal(t, 500, rec.count(Failed))
		require.NoError(t, c.Close(context.Background()))
	})
}

// Shutdown during an outage: one summary log line, and a one-line Close
// error with the details behind errors.As.
func TestShutdownDuringOutageLogsOneLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 503} }}
		var logs syncbuf.Buffer
		c, err := New("test-write-key", WithTransport(f), WithJitterless(), WithBatchSize(500), WithFlushInterval(time.Minute),
			WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		enqueueN(t, c, 5000)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cerr := c.Close(ctx)
		var ue *UndeliveredError
		require.ErrorAs(t, cerr, &ue)
		assert.Equal(t, 5000, ue.Count)
		assert.Equal(t, 5000, ue.Deadline)
		assert.NotContains(t, cerr.Error(), "\n", "one line")
		assert.ErrorIs(t, cerr, ErrDeadline)
		assert.ErrorIs(t, cerr, context.DeadlineExceeded)
		var he *HTTPError
		assert.ErrorAs(t, cerr, &he)
		lines := logs.Lines()
		require.Len(t, lines, 1, "one summary line: %v", lines)
		assert.Contains(t, lines[0], "count=5000")
	})
}

// During a long outage, failures are logged at most once per flush interval.
func TestOutageLogsAtMostOncePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 400} }}
		var logs syncbuf.Buffer
		c, err := New("test-write-key", WithTransport(f), WithBatchSize(1), WithFlushInterval(10*time.Second),
			WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		for range 30 { // one rejected message a second for 30 s
			enqueueN(t, c, 1)
			time.Sleep(time.Second)
		}
		synctest.Wait()
		n := len(logs.Lines())
		assert.GreaterOrEqual(t, n, 2)
		assert.LessOrEqual(t, n, 4, "at most one line per 10 s interval over 30 s")
		require.NoError(t, c.Close(context.Background()))
	})
}

// Close returns within 50 ms of its deadline with 20,000 messages queued
// behind a hanging endpoint, and when the delivery callback blocks.
func TestCloseKeepsItsDeadline(t *testing.T) {
	t.Run("hanging endpoint", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			hang := TransportFunc(func(ctx context.Context, _ *Batch) error { <-ctx.Done(); return ctx.Err() })
			c, err := New("test-write-key", WithTransport(hang), WithDeliveryCallback(func(Report) {}))
			require.NoError(t, err)
			enqueueN(t, c, 20000)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			var ue *UndeliveredError
			require.ErrorAs(t, c.Close(ctx), &ue)
			assert.LessOrEqual(t, time.Since(start), time.Second+50*time.Millisecond)
			assert.Equal(t, 20000, ue.Count)
			st := c.Stats()
			assert.Equal(t, uint64(20000), st.FailedDeadline)
			assert.Zero(t, st.Queued)
		})
	})
	t.Run("blocking callback", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c, err := New("test-write-key", WithTransport(&fake{}), WithDeliveryCallback(func(Report) { <-release }))
			require.NoError(t, err)
			enqueueN(t, c, 10)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			_ = c.Close(ctx)
			assert.LessOrEqual(t, time.Since(start), time.Second+50*time.Millisecond)
			assert.Equal(t, uint64(10), c.Stats().Delivered, "counted even though the callback has not been told")
			close(release) // the callback's goroutine exits once it returns
		})
	})
}

// ErrQueueFull says which bound refused the message and its value.
func TestQueueFullNamesTheBound(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	hang := TransportFunc(func(ctx context.Context, _ *Batch) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return errors.New("down")
	})
	c, err := New("test-write-key", WithTransport(hang), WithMaxQueue(3, MaxMessageBytes), WithDeliveryCallback(func(Report) {}))
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, c.Enqueue(track(1)))
	}
	err = c.Enqueue(track(1))
	require.ErrorIs(t, err, ErrQueueFull)
	var qf *QueueFullError
	require.ErrorAs(t, err, &qf)
	assert.Equal(t, "messages", qf.Bound)
	assert.Equal(t, int64(3), qf.Limit)
	assert.Contains(t, err.Error(), "3 messages")

	c2, err := New("test-write-key", WithTransport(hang), WithMaxQueue(1000, MaxMessageBytes), WithDeliveryCallback(func(Report) {}))
	require.NoError(t, err)
	big := Track{Event: "E", UserID: "u", Properties: map[string]any{"pad": strings.Repeat("x", 20000)}}
	require.NoError(t, c2.Enqueue(big))
	err = c2.Enqueue(big)
	require.ErrorAs(t, err, &qf)
	assert.Equal(t, "bytes", qf.Bound)
	assert.Equal(t, int64(MaxMessageBytes), qf.Limit)
	assert.Equal(t, uint64(1), c2.Stats().RefusedQueueFull)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
	_ = c2.Close(ctx)
}

// The ledger's sum holds in every snapshot while producers, Flush, Close
// and Stats race.
func TestLedgerInvariantUnderRace(t *testing.T) {
	var n atomic.Int32
	flaky := TransportFunc(func(context.Context, *Batch) error {
		switch n.Add(1) % 4 {
		case 1:
			return &HTTPError{StatusCode: 400}
		case 2:
			return errors.New("reset")
		}
		return nil
	})
	c, err := New("test-write-key", WithTransport(flaky), WithBatchSize(7), WithFlushInterval(time.Millisecond),
		WithBackoff(time.Microsecond, time.Microsecond), WithMaxQueue(200, 1<<20), WithDeliveryCallback(func(Report) {}))
	require.NoError(t, err)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	check := func() {
		s := c.Stats()
		if s.Enqueued != s.Delivered+s.Failed+s.Spooled+uint64(s.Queued) ||
			s.Failed != s.FailedRejected+s.FailedExhausted+s.FailedDeadline ||
			s.Refused != s.RefusedInvalid+s.RefusedTooLarge+s.RefusedQueueFull+s.RefusedClosed+s.RefusedSpool || s.Queued < 0 {
			bad.Add(1)
		}
	}
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = c.Enqueue(track(i))
				if i%50 == 0 {
					_ = c.Flush(context.Background())
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				check()
			}
		}
	}()
	for c.Stats().Enqueued < 3000 {
		check()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
	close(stop)
	wg.Wait()
	check()
	assert.Zero(t, bad.Load(), "snapshots that broke a sum")
	s := c.Stats()
	assert.Zero(t, s.Queued, "everything has an outcome after Close")
	assert.Equal(t, s.Enqueued, s.Delivered+s.Failed)
	assert.Positive(t, s.RefusedClosed+s.RefusedQueueFull+s.Delivered)
}

// statusRow matches a row of a status table: codes, then the verdict word.
var (
	readmeRow = regexp.MustCompile(`^\s*\| ([0-9][0-9, -]*[0-9]) \| (delivered|retried|split|rejected|paused)\b`)
	docRow    = regexp.MustCompile(`^//\t([0-9][0-9, -]*[0-9])\s{2,}(delivered|retried|split|rejected|paused)\b`)
)

// statusTable reads a status table: for each code, the verdict of the most
// specific row (one listing the code beats a range).
func statusTable(t *testing.T, path string, row *regexp.Regexp) map[int]string {
	t.Helper()
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	type entry struct {
		verdict string
		width   int
	}
	table := map[int]entry{}
	for _, line := range strings.Split(string(src), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, part := range strings.Split(m[1], ",") {
			part = strings.TrimSpace(part)
			lo, hi := part, part
			if a, b, ok := strings.Cut(part, "-"); ok {
				lo, hi = a, b
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			require.NoError(t, errors.Join(err1, err2), line)
			for c := l; c <= h; c++ {
				if e, ok := table[c]; !ok || h-l < e.width {
					table[c] = entry{m[2], h - l}
				}
			}
		}
	}
	out := map[int]string{}
	for c, e := range table {
		out[c] = e.verdict
	}
	return out
}

// The README's and HTTPError's status tables say what the policy does, for
// every status from 100 to 599.
func TestPolicyTableMatchesREADME(t *testing.T) {
	for _, src := range []struct {
		path string
		row  *regexp.Regexp
	}{{"README.md", readmeRow}, {"transport.go", docRow}} {
		table := statusTable(t, src.path, src.row)
		for code := 100; code <= 599; code++ {
			want, ok := table[code]
			require.True(t, ok, "%s has no row for %d", src.path, code)
			d := decide(attempt{status: code}, batchFacts{size: 2, canBisect: true, maxDelay: MaxRetryAfter, nowForDates: time.Now()})
			assert.Equal(t, want, d.verdict.String(), "%s: status %d", src.path, code)
		}
	}
	// The qualified rows: a lone message, an HTML page, {"ok":false}, network errors, panics.
	one := batchFacts{size: 1, maxDelay: MaxRetryAfter}
	assert.Equal(t, reject, decide(attempt{status: 400}, one).verdict)
	assert.Equal(t, reject, decide(attempt{status: 413}, one).verdict)
	assert.Equal(t, reject, decide(attempt{status: 200, contentType: "text/html; charset=utf-8"}, one).verdict)
	assert.Equal(t, reject, decide(attempt{status: 200, raw: []byte(`{"ok":false}`)}, one).verdict)
	assert.Equal(t, deliver, decide(attempt{status: 200, contentType: "text/plain", raw: []byte(`OK`)}, one).verdict)
	assert.Equal(t, resend, decide(attempt{err: errors.New("connection reset")}, one).verdict)
	assert.Equal(t, reject, decide(attempt{err: &panicError{msg: "x"}}, one).verdict)
	assert.Equal(t, reject, decide(attempt{status: 700}, one).verdict)
	assert.Equal(t, reject, decide(attempt{status: 400}, batchFacts{size: 2, canBisect: false}).verdict, "past the budget")
}

// A Transport with resources is closed once, after its last Send.
type closingTransport struct {
	fake
	closed atomic.Int32
	after  atomic.Int32 // Sends after Close
}

func (c *closingTransport) Send(ctx context.Context, b *Batch) error {
	if c.closed.Load() > 0 {
		c.after.Add(1)
	}
	return c.fake.Send(ctx, b)
}

func (c *closingTransport) Close() error { c.closed.Add(1); return nil }

func TestTransportCloserIsClosedOnce(t *testing.T) {
	tr := &closingTransport{}
	c, err := New("test-write-key", WithTransport(tr))
	require.NoError(t, err)
	enqueueN(t, c, 10)
	require.NoError(t, c.Close(context.Background()))
	require.NoError(t, c.Close(context.Background()))
	assert.Equal(t, int32(1), tr.closed.Load())
	assert.Zero(t, tr.after.Load())
	var _ TransportCloser = newHTTPTransport(defaultConfig("k")) // the HTTP transport implements it
}

// A panicking RoundTripper of a WithHTTPClient client fails its batch and
// delivery goes on.
func TestPanickingRoundTripper(t *testing.T) {
	var n atomic.Int32
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1) == 1 {
			panic("round tripper bug")
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(`{"success":true}`)), Header: http.Header{}}, nil
	})}
	c, err := New("test-write-key", WithHTTPClient(hc), WithEndpoint("https://collector.test"), WithBatchSize(1), WithConcurrency(1),
		WithDeliveryCallback(func(Report) {}))
	require.NoError(t, err)
	enqueueN(t, c, 2)
	_ = c.Close(context.Background())
	st := c.Stats()
	assert.Equal(t, uint64(1), st.FailedRejected)
	assert.Equal(t, uint64(1), st.Delivered)
}

// EnqueueContext waits for room, then succeeds.
func TestEnqueueContextWaitsForRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var sent atomic.Int32
		tr := TransportFunc(func(ctx context.Context, b *Batch) error {
			<-release
			sent.Add(int32(len(b.Messages)))
			return nil
		})
		c, err := New("test-write-key", WithTransport(tr), WithMaxQueue(2, 1<<20), WithBatchSize(1), WithConcurrency(1))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		require.NoError(t, c.Enqueue(track(2)))
		require.ErrorIs(t, c.Enqueue(track(3)), ErrQueueFull, "Enqueue never waits")
		done := blocked(t, "EnqueueContext returned while the queue was full", func() error { return c.EnqueueContext(context.Background(), track(4)) })
		close(release)
		require.NoError(t, <-done)
		require.NoError(t, c.Close(context.Background()))
		assert.Equal(t, int32(3), sent.Load())
		assert.Equal(t, uint64(1), c.Stats().RefusedQueueFull, "the wait is not a refusal")
	})
}

// When ctx ends first, the error matches ErrQueueFull and ctx.Err().
func TestEnqueueContextExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		block := make(chan struct{})
		tr := TransportFunc(func(ctx context.Context, _ *Batch) error {
			select {
			case <-block:
			case <-ctx.Done():
			}
			return ctx.Err()
		})
		c, err := New("test-write-key", WithTransport(tr), WithMaxQueue(1, 1<<20), WithDeliveryCallback(func(Report) {}))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err = c.EnqueueContext(ctx, track(2))
		assert.ErrorIs(t, err, ErrQueueFull)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var qf *QueueFullError
		assert.ErrorAs(t, err, &qf)
		assert.Equal(t, uint64(1), c.Stats().RefusedQueueFull)
		close(block)
		_ = c.Close(context.Background())
	})
}

// Close while EnqueueContext waits: ErrClosed, and no goroutine left.
func TestEnqueueContextCloseWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := TransportFunc(func(ctx context.Context, _ *Batch) error { <-ctx.Done(); return ctx.Err() })
		c, err := New("test-write-key", WithTransport(tr), WithMaxQueue(1, 1<<20), WithDeliveryCallback(func(Report) {}))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		done := make(chan error, 3)
		for range 3 {
			go func() { done <- c.EnqueueContext(context.Background(), track(2)) }()
		}
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = c.Close(ctx)
		for range 3 {
			assert.ErrorIs(t, <-done, ErrClosed)
		}
		// synctest.Test fails if any goroutine of the bubble is left.
	})
}

// Waiters are served first come, first served, and a plain Enqueue does
// not take the room a waiter is owed.
func TestEnqueueContextIsFair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var mu sync.Mutex
		var order []string
		tr := TransportFunc(func(ctx context.Context, b *Batch) error {
			<-gate
			mu.Lock()
			for _, m := range b.Messages {
				var p struct {
					UserID string `json:"userId"`
				}
				_ = json.Unmarshal(m, &p)
				order = append(order, p.UserID)
			}
			mu.Unlock()
			return nil
		})
		c, err := New("test-write-key", WithTransport(tr), WithMaxQueue(1, 1<<20), WithBatchSize(1), WithConcurrency(1))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(Track{Event: "E", UserID: "first"}))
		errs := make(chan error, 5)
		for i := range 5 {
			go func() {
				errs <- c.EnqueueContext(context.Background(), Track{Event: "E", UserID: fmt.Sprintf("w%d", i)})
			}()
			synctest.Wait() // w0 waits before w1, ...
		}
		for range 5 {
			gate <- struct{}{} // deliver one, which frees room for the head waiter
			synctest.Wait()
			assert.ErrorIs(t, c.Enqueue(Track{Event: "E", UserID: "barger"}), ErrQueueFull, "room goes to the waiter")
		}
		for range 5 {
			require.NoError(t, <-errs)
		}
		close(gate)
		require.NoError(t, c.Close(context.Background()))
		assert.Equal(t, []string{"first", "w0", "w1", "w2", "w3", "w4"}, order)
	})
}

// EnqueueEncoded sends Encode's bytes unchanged and tells done the outcome.
func TestEncodeAndEnqueueEncoded(t *testing.T) {
	f := &fake{respond: func(_ int, b *Batch) error {
		if bytes.Contains(b.Messages[0], []byte(`"userId":"bad"`)) {
			return &HTTPError{StatusCode: 403}
		}
		return nil
	}}
	c := newTestClient(t, f, nil, WithBatchSize(1))
	good, err := c.Encode(track(1))
	require.NoError(t, err)
	badMsg := track(2)
	badMsg.UserID = "bad"
	bad, err := c.Encode(badMsg)
	require.NoError(t, err)
	_, err = c.Encode(Track{Event: "E"})
	assert.ErrorIs(t, err, ErrMissingID, "the same errors as Enqueue")
	var mu sync.Mutex
	outcomes := map[string]Report{}
	done := func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, r.Messages, 1)
		outcomes[r.Messages[0].MessageID] = r
	}
	require.NoError(t, c.EnqueueEncoded(context.Background(), good, done))
	require.NoError(t, c.EnqueueEncoded(context.Background(), bad, done))
	err = c.EnqueueEncoded(context.Background(), Encoded{Data: []byte(`not json`), Info: MessageInfo{MessageID: "x"}}, done)
	assert.ErrorIs(t, err, ErrInvalidValue)
	_ = c.Close(context.Background())
	var sent []string // the delivered upload's messages (the uploads run concurrently: any order)
	for _, call := range f.snapshot() {
		if call.err == nil {
			sent = append(sent, call.messages...)
		}
	}
	assert.Equal(t, []string{string(good.Data)}, sent, "the same bytes")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, outcomes, 2)
	assert.Equal(t, Delivered, outcomes[good.Info.MessageID].Outcome)
	assert.Equal(t, Failed, outcomes[bad.Info.MessageID].Outcome)
	assert.ErrorIs(t, outcomes[bad.Info.MessageID].Err, ErrRejected)
}

type observerFunc func(UploadInfo)

func (f observerFunc) ObserveUpload(i UploadInfo) { f(i) }

// Every attempt is observed with the policy's result; a panicking observer
// does not stop delivery.
func TestUploadObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(n int, _ *Batch) error {
			switch n {
			case 1:
				return &HTTPError{StatusCode: 503}
			case 2:
				return &HTTPError{StatusCode: 429, RetryAfter: time.Second}
			}
			return nil
		}}
		var mu sync.Mutex
		var got []UploadInfo
		c := newTestClient(t, f, nil, WithConcurrency(1),
			WithUploadObserver(observerFunc(func(i UploadInfo) { mu.Lock(); got = append(got, i); mu.Unlock() })),
			WithUploadObserver(observerFunc(func(UploadInfo) { panic("observer bug") })),
			WithLogger(slog.New(slog.DiscardHandler)))
		enqueueN(t, c, 3)
		require.NoError(t, c.Flush(context.Background()))
		require.NoError(t, c.Close(context.Background()))
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 3)
		assert.Equal(t, []string{"retried", "paused", "delivered"}, []string{got[0].Result, got[1].Result, got[2].Result})
		assert.Equal(t, []int{503, 429, 0}, []int{got[0].StatusCode, got[1].StatusCode, got[2].StatusCode})
		assert.Equal(t, 3, got[2].Messages)
		assert.Equal(t, 3, got[2].Attempt)
		assert.Positive(t, got[2].Bytes)
		_, err := New("k", WithTransport(f), WithUploadObserver(nil))
		var ce *ConfigError
		assert.ErrorAs(t, err, &ce)
	})
}

// The attempt after which the budget runs out is observed as "exhausted".
func TestUploadObserverExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 503} }}
		var mu sync.Mutex
		var results []string
		c := newTestClient(t, f, nil, WithRetry(2, time.Hour), WithDeliveryCallback(func(Report) {}),
			WithUploadObserver(observerFunc(func(i UploadInfo) { mu.Lock(); results = append(results, i.Result); mu.Unlock() })))
		enqueueN(t, c, 1)
		require.Error(t, c.Flush(context.Background()))
		require.NoError(t, c.Close(context.Background()))
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"retried", "exhausted"}, results)
	})
}
