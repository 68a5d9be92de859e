package analyticstest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tracklane/analytics"
)

// Recorder is an in-memory analytics.Transport that records what the client
// sends. Give it to a client with analytics.WithTransport; the client still
// batches, retries and accounts as it would over HTTP.
//
// A Send succeeds unless its context is done or a failure was scripted with
// FailNext or FailNextStatus. Only successful sends count as delivered
// (Messages, Batches, Tracks, Last, WaitFor); every send, failed or not, is
// kept in Attempts. Each delivered message is also checked with Validate,
// and each batch against the 2,500-message limit; the findings are in
// Violations and never fail a send.
//
// The zero value is ready to use. A Recorder is safe for concurrent use; all
// its methods return copies the caller may keep.
type Recorder struct {
	store          // countsOnly is set only by NewRecorder
	batches  []int // the delivered attempts, as indexes into attempts
	attempts []attempt
	failures []scripted // scripted results of the next sends, in order
}

// attempt is what the Recorder keeps of an Attempt: all but the messages,
// which are in the store's log when kept.
type attempt struct {
	Attempt       // Batch.Messages nil
	at      span  // where the messages are, one after the other
	ends    []int // the end of each message, from at.off; nil when not kept
}

// Attempt is one call of Recorder.Send: the batch as it was sent and what
// Send returned (nil for a delivered batch).
type Attempt struct {
	Batch analytics.Batch
	Err   error
}

// RecorderOption configures NewRecorder.
type RecorderOption func(*Recorder)

// RecorderCountsOnly makes the Recorder keep only counts and violations,
// for bulk runs: every delivered message is still checked, Len, WaitFor and
// Violations work as usual, but Messages, Tracks, Last and Batches find
// nothing and the batches of Attempts carry no messages. Default: off.
func RecorderCountsOnly() RecorderOption {
	return func(r *Recorder) { r.countsOnly = true }
}

// NewRecorder returns an empty Recorder; without options it is the same as
// new(Recorder). Options that are nil are ignored.
func NewRecorder(opts ...RecorderOption) *Recorder {
	r := new(Recorder)
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Send records batch (deep-copied) and returns nil, or the next scripted
// failure, or ctx.Err() when ctx is already done. It implements
// analytics.Transport. A nil batch fails with an error.
func (r *Recorder) Send(ctx context.Context, batch *analytics.Batch) error {
	if batch == nil {
		return fmt.Errorf("analyticstest: Recorder.Send: nil batch")
	}
	// Check outside the lock: the batch is still the caller's, which Send
	// may read until it returns.
	infos := make([]msgInfo, len(batch.Messages))
	var found []Violation
	for i, raw := range batch.Messages {
		info, ok := fastMessage(raw)
		if !ok {
			vs := Validate(raw)
			for j := range vs {
				vs[j].Index = i
			}
			found = append(found, vs...)
			info = infoOf(raw, "")
		}
		infos[i] = info
	}
	defer r.compressSealed()
	r.mu.Lock()
	defer r.mu.Unlock()
	a := attempt{Attempt: Attempt{Batch: analytics.Batch{SentAt: batch.SentAt, Attempt: batch.Attempt}}}
	if !r.countsOnly {
		// The messages one after the other in one block.
		size := 0
		for _, m := range batch.Messages {
			size += len(m)
		}
		r.reserveLocked(size)
		a.at = r.log.put(nil)
		a.ends = make([]int, len(batch.Messages))
		for i, m := range batch.Messages {
			a.at.n += r.log.put(m).n
			a.ends[i] = a.at.n
		}
	}
	var err error
	switch {
	case ctx.Err() != nil:
		err = ctx.Err()
	case len(r.failures) > 0:
		err = r.failures[0].err
		if r.failures[0].times--; r.failures[0].times == 0 {
			r.failures = r.failures[1:]
		}
	}
	a.Err = err
	r.attempts = append(r.attempts, a)
	if err != nil {
		r.notifyLocked()
		return err
	}
	if !r.countsOnly {
		r.batches = append(r.batches, len(r.attempts)-1)
	}
	if len(batch.Messages) > MaxBatchMessages {
		r.violations = append(r.violations, Violation{Index: -1, Field: "batch", Rule: RuleBatch,
			Reason: fmt.Sprintf("batch has %d messages, over %d", len(batch.Messages), MaxBatchMessages)})
	}
	r.violations = append(r.violations, found...)
	for i := range infos {
		var at span
		if a.ends != nil {
			at = a.message(i)
		}
		r.addLocked(at, infos[i])
	}
	r.notifyLocked()
	return nil
}

// message returns where the i-th message of a is kept.
func (a *attempt) message(i int) span {
	start := 0
	if i > 0 {
		start = a.ends[i-1]
	}
	return a.at.sub(start, a.ends[i]-start)
}

// batch returns a's Batch, its messages read from r (in memory of their
// own) when they were kept.
func (a *attempt) batch(r *blobReader) analytics.Batch {
	b := a.Batch
	if a.ends == nil {
		return b
	}
	all := r.get(a.at)
	b.Messages = make([]json.RawMessage, len(a.ends))
	for i := range a.ends {
		sp := a.message(i)
		b.Messages[i] = all[sp.off-a.at.off : sp.off-a.at.off+sp.n : sp.off-a.at.off+sp.n]
	}
	return b
}

// FailNext makes the next n sends return err (after those already
// scripted). Wrap an *analytics.HTTPError in err to have the client classify
// it by status; any other error is retried as a network failure. n below 1
// or a nil err scripts nothing.
func (r *Recorder) FailNext(n int, err error) {
	if n < 1 || err == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, scripted{err: err, times: n})
}

// scripted is one FailNext call: err, for the next times sends.
type scripted struct {
	err   error
	times int
}

// FailNextStatus makes the next n sends fail with an *analytics.HTTPError
// of the given status and Retry-After (0: none), as the HTTP transport
// would report that answer. The client retries 5xx (except 501 and 505),
// 408, 410, 429 and 460, gives up on other statuses and splits a batch on
// 413. n below 1 scripts nothing.
func (r *Recorder) FailNextStatus(n, status int, retryAfter time.Duration) {
	r.FailNext(n, &analytics.HTTPError{StatusCode: status, RetryAfter: retryAfter})
}

// Messages returns the delivered messages, decoded, in the order sent.
func (r *Recorder) Messages() []Message { return r.messages() }

// Tracks returns the delivered track messages whose event is event, or all
// track messages when event is "".
func (r *Recorder) Tracks(event string) []Message { return r.tracks(event) }

// Last returns the last delivered message, and false when there is none.
func (r *Recorder) Last() (Message, bool) { return r.last() }

// Len returns the number of delivered messages.
func (r *Recorder) Len() int { return r.len() }

// Batches returns the delivered batches, in the order sent.
func (r *Recorder) Batches() []analytics.Batch {
	r.mu.Lock()
	attempts, idx, rd := r.attempts[:len(r.attempts):len(r.attempts)], slices.Clone(r.batches), r.log.reader()
	r.mu.Unlock()
	if len(idx) == 0 {
		return nil
	}
	out := make([]analytics.Batch, len(idx))
	for i, j := range idx {
		out[i] = attempts[j].batch(rd)
	}
	return out
}

// Attempts returns every call of Send, delivered or failed, in order.
func (r *Recorder) Attempts() []Attempt {
	r.mu.Lock()
	attempts, rd := r.attempts[:len(r.attempts):len(r.attempts)], r.log.reader()
	r.mu.Unlock()
	if len(attempts) == 0 {
		return nil
	}
	out := make([]Attempt, len(attempts))
	for i := range attempts {
		out[i] = Attempt{Batch: attempts[i].batch(rd), Err: attempts[i].Err}
	}
	return out
}

// Violations returns what Validate found wrong in the delivered messages
// (Index is the message's position in its batch), nil when nothing.
func (r *Recorder) Violations() []Violation { return r.violationList() }

// WaitFor blocks until at least n messages have been delivered (counting
// since the last Reset) or ctx ends, when it returns an error wrapping
// ctx.Err(). It never sleeps: every Send wakes it.
func (r *Recorder) WaitFor(ctx context.Context, n int) error { return r.waitFor(ctx, n) }

// Reset forgets every recorded batch, attempt, message and violation, and
// every failure still scripted.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resetLocked()
	r.batches, r.attempts, r.failures = nil, nil, nil
	r.notifyLocked()
}

var _ analytics.Transport = (*Recorder)(nil)
