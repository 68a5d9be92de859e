package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake is an in-memory transport scripted per call.
type fake struct {
	mu      sync.Mutex
	calls   []fakeCall
	respond func(n int, b *Batch) error // n counts calls from 1; nil: accept
}

type fakeCall struct {
	at       time.Time
	messages []string
	ids      []string
	attempt  int
	err      error
}

func (f *fake) Send(ctx context.Context, b *Batch) error {
	f.mu.Lock()
	n := len(f.calls) + 1
	f.calls = append(f.calls, fakeCall{at: time.Now(), attempt: b.Attempt})
	f.mu.Unlock()
	var err error
	if f.respond != nil {
		err = f.respond(n, b)
	}
	msgs := make([]string, len(b.Messages))
	ids := make([]string, len(b.Messages))
	for i, m := range b.Messages {
		msgs[i] = string(m)
		var p struct {
			MessageID string `json:"messageId"`
		}
		_ = json.Unmarshal(m, &p)
		ids[i] = p.MessageID
	}
	f.mu.Lock()
	f.calls[n-1].messages, f.calls[n-1].ids, f.calls[n-1].err = msgs, ids, err
	f.mu.Unlock()
	return err
}

func (f *fake) snapshot() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// delivered returns the messageIds of successful calls, in order.
func (f *fake) delivered() []string {
	var ids []string
	for _, c := range f.snapshot() {
		if c.err == nil {
			ids = append(ids, c.ids...)
		}
	}
	return ids
}

// recorder collects delivery reports.
type recorder struct {
	mu      sync.Mutex
	reports []Report
}

func (r *recorder) add(rep Report) {
	r.mu.Lock()
	r.reports = append(r.reports, rep)
	r.mu.Unlock()
}

func (r *recorder) count(o Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rep := range r.reports {
		if rep.Outcome == o {
			n += len(rep.Messages)
		}
	}
	return n
}

func (r *recorder) errs(o Outcome) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []error
	for _, rep := range r.reports {
		if rep.Outcome == o {
			out = append(out, rep.Err)
		}
	}
	return out
}

func newTestClient(t *testing.T, f *fake, rec *recorder, opts ...Option) *Client {
	t.Helper()
	n := 0
	var mu sync.Mutex
	base := []Option{
		WithTransport(f),
		WithJitterless(),
		WithMessageIDs(func() string { mu.Lock(); defer mu.Unlock(); n++; return fmt.Sprintf("m%d", n) }),
	}
	if rec != nil {
		base = append(base, WithDeliveryCallback(rec.add))
	}
	c, err := New("key", append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// WithJitterless makes every delay exactly the backoff curve (factor 1.0).
func WithJitterless() Option { return withJitter(func() float64 { return 0.5 }) }

func track(i int) Track {
	return Track{Event: "E", UserID: fmt.Sprintf("u%d", i)}
}

func enqueueN(t *testing.T, c *Client, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(track(i)))
	}
}

func advance(d time.Duration) {
	<-time.After(d)
	synctest.Wait()
}

func TestBatchesByCountThenInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		c := newTestClient(t, f, nil, WithBatchSize(3), WithFlushInterval(time.Second), WithConcurrency(1))
		enqueueN(t, c, 7)
		synctest.Wait()
		calls := f.snapshot()
		require.Len(t, calls, 2, "two full batches go at once")
		assert.Equal(t, []string{"m1", "m2", "m3"}, calls[0].ids)
		assert.Equal(t, []string{"m4", "m5", "m6"}, calls[1].ids)
		advance(999 * time.Millisecond)
		require.Len(t, f.snapshot(), 2, "the partial batch waits for the interval")
		advance(time.Millisecond)
		calls = f.snapshot()
		require.Len(t, calls, 3)
		assert.Equal(t, []string{"m7"}, calls[2].ids)
		require.NoError(t, c.Close(context.Background()))
		st := c.Stats()
		assert.Equal(t, uint64(7), st.Delivered)
		assert.Equal(t, uint64(3), st.Batches)
	})
}

func TestBatchesByBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		const limit = 4096
		c := newTestClient(t, f, nil, WithBatchBytes(limit), WithFlushInterval(time.Hour))
		big := make([]byte, 900)
		for i := range big {
			big[i] = 'x'
		}
		for i := 0; i < 20; i++ {
			require.NoError(t, c.Enqueue(Track{Event: "E", UserID: "u", Properties: Properties{"p": string(big)}}))
		}
		require.NoError(t, c.Flush(context.Background()))
		calls := f.snapshot()
		total := 0
		for _, call := range calls {
			b := &Batch{SentAt: fixedTime}
			for _, m := range call.messages {
				b.Messages = append(b.Messages, json.RawMessage(m))
			}
			body := b.AppendJSON(nil, "key")
			assert.LessOrEqual(t, len(body), limit)
			assert.Equal(t, len(body), batchBodySize(len(b.Messages), msgBytes(b), len(`"key"`)), "size formula is exact")
			total += len(call.messages)
		}
		assert.Equal(t, 20, total)
		assert.Greater(t, len(calls), 4, "a 4 KB limit needs several batches of ~1 KB messages")
		// Full batches were cut without waiting for the hour-long interval or the flush.
		require.NoError(t, c.Close(context.Background()))
	})
}

func msgBytes(b *Batch) int {
	n := 0
	for _, m := range b.Messages {
		n += len(m)
	}
	return n
}

func TestFlushWaitsForDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{respond: func(int, *Batch) error { <-release; return nil }}
		c := newTestClient(t, f, nil, WithFlushInterval(time.Hour))
		enqueueN(t, c, 5)
		done := blocked(t, "Flush returned before the batch was delivered", func() error { return c.Flush(context.Background()) })
		close(release)
		require.NoError(t, <-done)
		assert.Equal(t, uint64(5), c.Stats().Delivered)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestFlushHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(_ int, b *Batch) error { return &HTTPError{StatusCode: 503} }}
		c := newTestClient(t, f, nil)
		enqueueN(t, c, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.Flush(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, 1, c.Stats().Queued, "still retrying after Flush gave up")
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		var ue *UndeliveredError
		require.ErrorAs(t, c.Close(ctx2), &ue)
		assert.Equal(t, 1, ue.Count)
	})
}

func TestFlushReportsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 400} }}
		c := newTestClient(t, f, nil)
		enqueueN(t, c, 3)
		var ue *UndeliveredError
		err := c.Flush(context.Background())
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, 3, ue.Count)
		assert.ErrorIs(t, err, ErrRejected, "the reason is in the error")
		var he *HTTPError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, 400, he.StatusCode)
		require.NoError(t, c.Flush(context.Background()), "nothing new failed")
		require.NoError(t, c.Close(context.Background()))
		assert.ErrorIs(t, c.Flush(context.Background()), ErrClosed)
	})
}

func TestRetryBackoffSameBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(n int, _ *Batch) error {
			if n <= 3 {
				return &HTTPError{StatusCode: 500 + n} // 501 is never retried: use 500, 502, 503
			}
			return nil
		}}
		f.respond = func(n int, _ *Batch) error {
			switch n {
			case 1:
				return &HTTPError{StatusCode: 500}
			case 2:
				return errors.New("connection reset")
			case 3:
				return &HTTPError{StatusCode: 503}
			}
			return nil
		}
		rec := &recorder{}
		c := newTestClient(t, f, rec)
		enqueueN(t, c, 2)
		require.NoError(t, c.Flush(context.Background()))
		calls := f.snapshot()
		require.Len(t, calls, 4)
		for i, call := range calls {
			assert.Equal(t, calls[0].messages, call.messages, "attempt %d sends the same bytes", i+1)
			assert.Equal(t, i+1, call.attempt)
		}
		// Jitter factor 1.0: 500 ms, 1 s, 2 s.
		assert.Equal(t, 500*time.Millisecond, calls[1].at.Sub(calls[0].at))
		assert.Equal(t, time.Second, calls[2].at.Sub(calls[1].at))
		assert.Equal(t, 2*time.Second, calls[3].at.Sub(calls[2].at))
		st := c.Stats()
		assert.Equal(t, uint64(2), st.Delivered)
		assert.Equal(t, uint64(3), st.Retries)
		assert.Equal(t, 2, rec.count(Delivered))
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestRetryClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{400, false}, {401, false}, {403, false}, {404, false}, {422, false}, {501, false}, {505, false}, {511, false},
		{408, true}, {410, true}, {429, true}, {460, true}, {500, true}, {502, true}, {503, true}, {504, true}, {599, true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{respond: func(n int, _ *Batch) error {
					if n == 1 {
						return &HTTPError{StatusCode: tc.status}
					}
					return nil
				}}
				rec := &recorder{}
				c := newTestClient(t, f, rec)
				enqueueN(t, c, 1)
				_ = c.Flush(context.Background())
				require.NoError(t, c.Close(context.Background()))
				st := c.Stats()
				if tc.retry {
					assert.Len(t, f.snapshot(), 2)
					assert.Equal(t, uint64(1), st.Delivered)
				} else {
					assert.Len(t, f.snapshot(), 1)
					assert.Equal(t, uint64(1), st.FailedRejected)
					errs := rec.errs(Failed)
					require.Len(t, errs, 1)
					assert.ErrorIs(t, errs[0], ErrRejected)
					var he *HTTPError
					require.ErrorAs(t, errs[0], &he)
					assert.Equal(t, tc.status, he.StatusCode)
				}
			})
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 500} }}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithRetry(3, time.Hour))
		enqueueN(t, c, 2)
		var ue *UndeliveredError
		require.ErrorAs(t, c.Flush(context.Background()), &ue)
		assert.Equal(t, 2, ue.Count)
		assert.Len(t, f.snapshot(), 3)
		st := c.Stats()
		assert.Equal(t, uint64(2), st.FailedExhausted)
		errs := rec.errs(Failed)
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], ErrRetriesExhausted)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestRetryTimeBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 500} }}
		c := newTestClient(t, f, nil, WithRetry(100, 5*time.Second))
		enqueueN(t, c, 1)
		start := time.Now()
		require.Error(t, c.Flush(context.Background()))
		// Delays 0.5+1+2 = 3.5 s; the next (4 s) would end past 5 s.
		assert.Len(t, f.snapshot(), 4)
		assert.Equal(t, 3500*time.Millisecond, time.Since(start))
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestSplitOn413(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(_ int, b *Batch) error {
			if len(b.Messages) > 2 {
				return &HTTPError{StatusCode: 413}
			}
			return nil
		}}
		c := newTestClient(t, f, nil)
		enqueueN(t, c, 7)
		require.NoError(t, c.Flush(context.Background()))
		ids := f.delivered()
		assert.Equal(t, []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7"}, ids, "every message once, in order")
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestSingle413Fails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 413} }}
		c := newTestClient(t, f, nil)
		enqueueN(t, c, 1)
		require.Error(t, c.Flush(context.Background()))
		assert.Equal(t, uint64(1), c.Stats().FailedRejected)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestRateLimitPausesEveryUpload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		f.respond = func(n int, _ *Batch) error {
			if n == 1 {
				return &HTTPError{StatusCode: 429, RetryAfter: 3 * time.Second}
			}
			return nil
		}
		c := newTestClient(t, f, nil, WithBatchSize(1), WithConcurrency(2), WithRetry(1, time.Hour))
		require.NoError(t, c.Enqueue(track(1)))
		synctest.Wait() // the first batch is rate limited
		start := time.Now()
		require.NoError(t, c.Enqueue(track(2)))
		synctest.Wait()
		require.Len(t, f.snapshot(), 1, "the second batch waits for the pause too")
		require.NoError(t, c.Flush(context.Background()))
		calls := f.snapshot()
		require.Len(t, calls, 3, "with 1 attempt allowed, a 429 with Retry-After does not use it up")
		for _, call := range calls[1:] {
			assert.Equal(t, 3*time.Second, call.at.Sub(start))
		}
		st := c.Stats()
		assert.Equal(t, uint64(1), st.RateLimited)
		assert.Equal(t, uint64(2), st.Delivered)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestRetryAfterIsCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(n int, _ *Batch) error {
			if n == 1 {
				return &HTTPError{StatusCode: 503, RetryAfter: 24 * time.Hour}
			}
			return nil
		}}
		c := newTestClient(t, f, nil, WithRetry(10, time.Hour))
		enqueueN(t, c, 1)
		require.NoError(t, c.Flush(context.Background()))
		calls := f.snapshot()
		require.Len(t, calls, 2)
		assert.Equal(t, MaxRetryAfter, calls[1].at.Sub(calls[0].at))
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestCloseDrainsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		c := newTestClient(t, f, nil, WithFlushInterval(time.Hour), WithBatchSize(10))
		enqueueN(t, c, 25)
		require.NoError(t, c.Close(context.Background()))
		assert.Len(t, f.delivered(), 25)
		assert.ErrorIs(t, c.Enqueue(track(1)), ErrClosed)
		st := c.Stats()
		assert.Equal(t, uint64(1), st.RefusedClosed)
		assert.Equal(t, uint64(25), st.Delivered)
		assert.Equal(t, 0, st.Queued)
		require.NoError(t, c.Close(context.Background()), "idempotent")
	})
}

func TestCloseKeepsRetryingUntilDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 500} }}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithBatchSize(10))
		enqueueN(t, c, 35)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := c.Close(ctx)
		assert.Equal(t, 2*time.Second, time.Since(start), "returns at its deadline")
		var ue *UndeliveredError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, 35, ue.Count)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.ErrorIs(t, err, ErrDeadline)
		st := c.Stats()
		assert.Equal(t, uint64(35), st.FailedDeadline)
		assert.Equal(t, uint64(35), st.Failed)
		assert.Equal(t, 0, st.Queued)
		assert.Equal(t, 35, rec.count(Failed))
		for _, e := range rec.errs(Failed) {
			assert.ErrorIs(t, e, ErrDeadline)
		}
		assert.Greater(t, len(f.snapshot()), 4, "it kept retrying until the deadline")
		// A second Close returns the same result.
		assert.Equal(t, err, c.Close(context.Background()))
	})
}

func TestCloseDeadlineAbortsInFlightSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(_ int, b *Batch) error { return nil }}
		hung := TransportFunc(func(ctx context.Context, b *Batch) error {
			<-ctx.Done()
			return ctx.Err()
		})
		c, err := New("test-write-key", WithTransport(hung))
		require.NoError(t, err)
		enqueueN(t, c, 3)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var ue *UndeliveredError
		require.ErrorAs(t, c.Close(ctx), &ue)
		assert.Equal(t, 3, ue.Count)
		_ = f
	})
}

func TestConcurrentCloseCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{respond: func(int, *Batch) error { <-release; return nil }}
		c := newTestClient(t, f, nil)
		enqueueN(t, c, 2)
		first := make(chan error, 1)
		go func() { first <- c.Close(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, c.Close(ctx), context.DeadlineExceeded, "a second caller is bounded by its own ctx")
		close(release)
		require.NoError(t, <-first)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestQueueBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{respond: func(int, *Batch) error { <-release; return nil }}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithMaxQueue(3, 1<<20), WithBatchSize(1), WithConcurrency(1))
		enqueueN(t, c, 3)
		err := c.Enqueue(track(9))
		assert.ErrorIs(t, err, ErrQueueFull)
		st := c.Stats()
		assert.Equal(t, uint64(1), st.RefusedQueueFull)
		assert.Equal(t, 3, st.Queued)
		assert.Equal(t, 1, rec.count(Refused))
		close(release)
		require.NoError(t, c.Flush(context.Background()))
		require.NoError(t, c.Enqueue(track(10)), "space is freed by delivery")
		require.NoError(t, c.Close(context.Background()))
		assert.Equal(t, uint64(4), c.Stats().Delivered)
	})
}

func TestQueueByteBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{respond: func(int, *Batch) error { <-release; return nil }}
		c := newTestClient(t, f, nil, WithMaxQueue(1000, MaxMessageBytes), WithFlushInterval(time.Hour))
		pad := make([]byte, 10000)
		for i := range pad {
			pad[i] = 'x'
		}
		m := Track{Event: "E", UserID: "u", Properties: Properties{"p": string(pad)}}
		for i := 0; i < 3; i++ {
			require.NoError(t, c.Enqueue(m))
		}
		assert.ErrorIs(t, c.Enqueue(m), ErrQueueFull)
		st := c.Stats()
		assert.LessOrEqual(t, st.QueuedBytes, MaxMessageBytes)
		close(release)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestConcurrentEnqueueFlushClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithBatchSize(7))
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					err := c.Enqueue(track(i))
					if err == nil {
						mu.Lock()
						accepted++
						mu.Unlock()
					} else if !errors.Is(err, ErrClosed) {
						t.Errorf("unexpected error %v", err)
					}
					if i%50 == 0 {
						_ = c.Flush(context.Background())
					}
				}
			}()
		}
		go func() { _ = c.Flush(context.Background()) }()
		require.NoError(t, c.Close(context.Background()))
		wg.Wait()
		st := c.Stats()
		assert.Equal(t, uint64(accepted), st.Enqueued)
		assert.Equal(t, st.Enqueued, st.Delivered+st.Failed)
		assert.Len(t, f.delivered(), accepted)
		assert.Equal(t, accepted, rec.count(Delivered))
	})
}

// A partial batch the dispatcher holds back is completed by later messages
// at once, not at the next interval.
func TestHeldBackPartialBatchCompletesOnCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{respond: func(int, *Batch) error { <-release; return nil }}
		c := newTestClient(t, f, nil, WithBatchSize(3), WithConcurrency(1), WithFlushInterval(time.Hour))
		enqueueN(t, c, 3) // batch 1: in flight, blocked
		synctest.Wait()
		enqueueN(t, c, 3) // batch 2: the dispatcher waits for the uploader
		synctest.Wait()
		enqueueN(t, c, 5) // taken together later: one batch of 3, 2 held back
		close(release)
		synctest.Wait()
		require.Len(t, f.snapshot(), 3)
		require.NoError(t, c.Enqueue(track(99))) // completes the held-back batch
		synctest.Wait()
		calls := f.snapshot()
		require.Len(t, calls, 4, "sent without waiting for the hour-long interval")
		assert.Equal(t, []string{"m10", "m11", "m12"}, calls[3].ids)
		require.NoError(t, c.Close(context.Background()))
	})
}

func TestPanickingTransportAndCallbackDoNotStopDelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		tr := TransportFunc(func(context.Context, *Batch) error {
			calls++
			if calls == 1 {
				panic("bug in a custom transport")
			}
			return nil
		})
		var reports []Report
		var logs strings.Builder
		c, err := New("test-write-key", WithTransport(tr), WithConcurrency(1), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
			WithDeliveryCallback(func(r Report) {
				reports = append(reports, r)
				if len(reports) == 1 {
					panic("bug in the callback")
				}
			}))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		var ue *UndeliveredError
		require.ErrorAs(t, c.Flush(context.Background()), &ue)
		assert.ErrorIs(t, ue, ErrRejected)
		assert.Contains(t, ue.Error(), "transport panicked: bug in a custom transport")
		require.NoError(t, c.Enqueue(track(2)))
		require.NoError(t, c.Close(context.Background()))
		st := c.Stats()
		assert.Equal(t, uint64(1), st.FailedRejected, "the panicking attempt's batch failed, not retried")
		assert.Equal(t, uint64(1), st.Delivered, "later batches go on")
		require.Len(t, reports, 2)
		assert.Contains(t, logs.String(), "delivery callback panicked")
	})
}

// A 400 caused by one message is bisected until that message is isolated:
// the others are delivered.
func TestBadRequestIsBisectedToTheBadMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(_ int, b *Batch) error {
			for _, m := range b.Messages {
				if strings.Contains(string(m), `"userId":"bad"`) {
					return &HTTPError{StatusCode: 400}
				}
			}
			return nil
		}}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithBatchSize(100), WithFlushInterval(time.Hour))
		for i := 0; i < 100; i++ {
			m := track(i)
			if i == 37 {
				m.UserID = "bad"
			}
			require.NoError(t, c.Enqueue(m))
		}
		var ue *UndeliveredError
		require.ErrorAs(t, c.Flush(context.Background()), &ue)
		assert.Equal(t, 1, ue.Count, "only the refused message fails")
		assert.Len(t, f.delivered(), 99)
		assert.LessOrEqual(t, len(f.snapshot()), 1+newBisection(100).allowance(), "bisection is bounded")
		st := c.Stats()
		assert.Equal(t, uint64(1), st.FailedRejected)
		assert.Equal(t, uint64(99), st.Delivered)
		require.NoError(t, c.Close(context.Background()))
	})
}

// When the endpoint refuses everything with 400, bisection stops within its budget.
func TestBadRequestBisectionIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(int, *Batch) error { return &HTTPError{StatusCode: 400} }}
		c := newTestClient(t, f, nil, WithBatchSize(500), WithFlushInterval(time.Hour), WithDeliveryCallback(func(Report) {}))
		enqueueN(t, c, 500)
		var ue *UndeliveredError
		require.ErrorAs(t, c.Flush(context.Background()), &ue)
		assert.Equal(t, 500, ue.Count)
		assert.LessOrEqual(t, len(f.snapshot()), 1+(2*newBisection(500).depth*(maxIsolated+1)+2))
		require.NoError(t, c.Close(context.Background()))
	})
}

// A 429 asking for longer than a batch's retry time budget fails it at once
// (ErrRetriesExhausted), and so does the pause for other batches.
func TestRateLimitPastTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{respond: func(n int, _ *Batch) error {
			if n == 1 {
				return &HTTPError{StatusCode: 429, RetryAfter: time.Hour}
			}
			return nil
		}}
		rec := &recorder{}
		c := newTestClient(t, f, rec, WithRetry(10, time.Minute), WithConcurrency(1))
		enqueueN(t, c, 1)
		start := time.Now()
		require.Error(t, c.Flush(context.Background()))
		assert.Zero(t, time.Since(start), "no waiting for a pause longer than the budget")
		enqueueN(t, c, 1)
		require.Error(t, c.Flush(context.Background()))
		assert.Zero(t, time.Since(start))
		errs := rec.errs(Failed)
		require.Len(t, errs, 2)
		for _, e := range errs {
			assert.ErrorIs(t, e, ErrRetriesExhausted)
		}
		assert.Contains(t, errs[1].Error(), "rate-limited past the retry time budget")
		require.NoError(t, c.Close(context.Background()))
	})
}

// Flush returns only after the delivery callback has been told the outcome
// of every message it waited for.
func TestFlushReturnsAfterTheCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fake{}
		c := newTestClient(t, f, nil, WithDeliveryCallback(func(Report) { <-release }))
		enqueueN(t, c, 3)
		done := blocked(t, "Flush returned while the callback was still running", func() error { return c.Flush(context.Background()) })
		close(release)
		require.NoError(t, <-done)
		require.NoError(t, c.Close(context.Background()))
	})
}
