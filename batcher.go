package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracklane/analytics/internal/retry"
)

// batcher runs delivery. State is split by owner, and no lock is held
// across file or network I/O:
//   - queue: intake, the bounds and their waiters, pending messages (its lock);
//   - tracker: flush generations (under the queue's lock: accepting a
//     message takes one lock);
//   - the dispatcher goroutine: batch assembly (the held-back partial batch);
//   - the uploader goroutines: one batch each, its attempts and splits,
//     decided by the delivery policy (decide);
//   - the ledger: every counter (atomics);
//   - the reporter goroutine: the delivery callback and the failure log;
//   - the journal (optional): its own lock.
//
// Flush and Close are requests: they mark a generation, wake the
// dispatcher, and wait for the generation (or their ctx).
type batcher struct {
	cfg        *config
	led        *ledger
	q          *queue
	tr         *tracker
	jr         journaler // nil without WithSpool
	up         attempter
	rep        *reporter
	log        *safeLogger
	red        redactor
	policy     retry.Policy
	maxMessage int // largest encoded message that fits a batch alone
	keyLen     int // length of the quoted write key in a batch body

	pausedUntil atomic.Int64 // a 429 pauses every upload until then (Unix ns)
	inSend      userCall     // attempts running in the Transport
	fails       failLog

	batchesMu   sync.Mutex
	freeBatches [][]item // delivered batch slices kept for reuse

	wake    chan struct{} // size 1: a batch is full, or a flush was asked for
	closing chan struct{} // closed by close: drain and stop
	batches chan []item   // dispatcher -> uploaders

	runCtx context.Context // cancelled when Close's ctx ends: abort everything
	abort  context.CancelFunc
	wg     sync.WaitGroup // the dispatcher and the uploaders
}

func newBatcher(cfg *config, led *ledger, log *safeLogger, jr journaler, recs []replayed) *batcher {
	jitter := cfg.jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	tr := newTracker()
	red := newRedactor(cfg.writeKey)
	b := &batcher{
		cfg: cfg,
		led: led,
		q:   newQueue(cfg.maxQueueMessages, cfg.maxQueueBytes, tr),
		tr:  tr,
		jr:  jr,
		up:  guard(cfg.transport, red),
		log: log,
		red: red,
		policy: retry.Policy{
			Initial:  cfg.initialBackoff,
			Max:      cfg.maxBackoff,
			Jitter:   jitter,
			Attempts: cfg.maxAttempts,
			MaxTime:  cfg.maxRetryTime,
		},
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		batches: make(chan []item),
	}
	b.q.batchSize, b.q.batchBytes, b.q.led = cfg.batchSize, cfg.batchBytes, led
	b.rep = newReporter(cfg.callback, log, b.q.finished, cfg.flushInterval)
	b.keyLen = quotedKeyLen(cfg.writeKey)
	b.maxMessage = min(MaxMessageBytes, cfg.batchBytes-batchBodySize(1, 0, b.keyLen))
	// Messages journaled by an earlier run go first, whatever the queue
	// bound: the journal's own bound limits them.
	for _, r := range recs {
		gen := b.q.replay(len(r.data))
		led.accepted(len(r.data))
		led.recovered.Add(1)
		b.q.push(item{data: r.data, info: infoFromJSON(r.data), seq: r.seq, gen: gen})
	}
	if len(recs) > 0 {
		b.q.flushReq = true // send them now, without waiting for the interval
		b.signal()
	}
	b.runCtx, b.abort = context.WithCancel(context.Background())
	b.wg.Add(1 + cfg.concurrency)
	go b.dispatch()
	for range cfg.concurrency {
		go b.uploader()
	}
	return b
}

// accept queues an encoded message, or refuses it (the caller counts and
// reports refusals). data is copied into a slab (the caller may reuse it
// once accept returns) unless in is the slab it already is in (an
// encoder's, see queue.getEncoder): then, accepted, it stays there until
// its outcome. With wait, it waits for room until ctx ends.
func (b *batcher) accept(ctx context.Context, data []byte, in *slab, info MessageInfo, done func(Report), wait bool) error {
	n := len(data)
	if b.jr == nil && !wait {
		wake, err := b.q.add(item{data: data, info: info, slab: in, done: done})
		if err != nil {
			return err
		}
		if wake {
			b.signal()
		}
		return nil
	}
	for {
		// Taken before the attempt, so that a release between a refusal
		// by the journal and the wait below is not missed.
		var released <-chan struct{}
		if wait && b.jr != nil {
			released = b.q.releasedChan()
		}
		gen, err := b.q.reserve(ctx, n, wait)
		if err != nil {
			return err
		}
		var seq uint64
		if b.jr != nil {
			seq, err = b.jr.append(data) // the journal's write, outside every batcher lock
			if err != nil {
				if b.q.cancel(gen, n) {
					b.signal()
				}
				if wait && errors.Is(err, ErrQueueFull) {
					select {
					case <-released:
						continue // space was freed on disk too: try again
					case <-ctx.Done():
						var qf *QueueFullError
						if errors.As(err, &qf) {
							cp := *qf
							cp.Err = ctx.Err()
							return &cp
						}
						return err
					}
				}
				return err
			}
		}
		b.led.accepted(n)
		if b.q.push(item{data: data, info: info, gen: gen, seq: seq, slab: in, done: done}) {
			b.signal()
		}
		return nil
	}
}

func (b *batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// dispatch cuts batches from what is pending and hands them to the
// uploaders. It alone owns the held-back partial batch (carry).
func (b *batcher) dispatch() {
	defer b.wg.Done()
	defer close(b.batches)
	ticker := time.NewTicker(b.cfg.flushInterval)
	defer ticker.Stop()
	var carry []item
	closingC, abortC := b.closing, b.runCtx.Done()
	closing := false
	for {
		force := false
		select {
		case <-b.wake:
		case <-ticker.C:
			force = true
			b.syncJournal()
		case <-closingC:
			closing, closingC = true, nil
		case <-abortC:
			closing, abortC = true, nil
		}
		var flush, drained bool
		carry, flush, drained = b.q.takePending(carry)
		force = force || flush || closing
		if b.runCtx.Err() != nil {
			// Close's context ended: nothing more can be sent.
			if len(carry) > 0 {
				b.finish(carry, Failed, ErrDeadline, 0)
				clear(carry)
				carry = carry[:0]
			}
			if drained {
				return
			}
			continue
		}
		for len(carry) > 0 {
			n, full := b.cut(carry)
			if !full && !force {
				break
			}
			batch := b.getBatch(n)
			copy(batch, carry[:n])
			clear(carry[:n])
			carry = carry[n:]
			select {
			case b.batches <- batch:
			case <-b.runCtx.Done():
				// Close's context ended: fail this batch and the rest at once.
				carry = append(batch, carry...)
			}
			if b.runCtx.Err() != nil && len(carry) > 0 {
				b.finish(carry, Failed, ErrDeadline, 0)
				clear(carry)
				carry = carry[:0]
			}
		}
		if len(carry) == 0 {
			carry = carry[:0:0] // drop the consumed backing array
		}
		carryBytes := 0
		for i := range carry {
			carryBytes += len(carry[i].data) + 1
		}
		if b.q.setCarry(len(carry), carryBytes) {
			b.signal() // messages enqueued meanwhile complete the held-back batch
		}
		if closing && drained && len(carry) == 0 {
			return
		}
	}
}

// syncJournal fsyncs the journal, from the dispatcher: Enqueue never waits
// for the disk.
func (b *batcher) syncJournal() {
	if b.jr == nil {
		return
	}
	if err := b.jr.sync(); err != nil {
		b.log.log(slog.LevelWarn, "analytics: spool fsync failed", slog.String("error", err.Error()))
	}
}

// cut returns how many leading items make one batch, and whether that batch
// is full (closed by count or bytes rather than by running out of items).
func (b *batcher) cut(items []item) (n int, full bool) {
	bytes := 0
	for n < len(items) {
		if n == b.cfg.batchSize {
			return n, true
		}
		next := bytes + len(items[n].data)
		if n > 0 && batchBodySize(n+1, next, b.keyLen) > b.cfg.batchBytes {
			return n, true
		}
		bytes = next
		n++
	}
	return n, n == b.cfg.batchSize
}

func (b *batcher) uploader() {
	defer b.wg.Done()
	var scratch []json.RawMessage // reused for every batch of this uploader
	for batch := range b.batches {
		b.deliver(batch, &scratch, newBisection(len(batch)))
		b.putBatch(batch)
	}
}

// getBatch returns an item slice of length n from the free list.
func (b *batcher) getBatch(n int) []item {
	b.batchesMu.Lock()
	defer b.batchesMu.Unlock()
	for i := len(b.freeBatches) - 1; i >= 0; i-- {
		if cap(b.freeBatches[i]) >= n {
			s := b.freeBatches[i][:n]
			b.freeBatches = append(b.freeBatches[:i], b.freeBatches[i+1:]...)
			return s
		}
	}
	return make([]item, n, b.cfg.batchSize)
}

// putBatch clears a delivered batch and keeps it for reuse.
func (b *batcher) putBatch(s []item) {
	clear(s)
	b.batchesMu.Lock()
	if len(b.freeBatches) < b.cfg.concurrency+2 {
		b.freeBatches = append(b.freeBatches, s[:0])
	}
	b.batchesMu.Unlock()
}

// deliver uploads one batch until the policy says it is delivered or
// failed, retrying, pausing and splitting as it decides.
func (b *batcher) deliver(items []item, scratch *[]json.RawMessage, bis *bisection) {
	msgs := (*scratch)[:0]
	for i := range items {
		msgs = append(msgs, items[i].data)
	}
	*scratch = msgs
	defer clear(msgs) // drop references to the slabs
	msgs = msgs[:len(items):len(items)]
	r := b.policy.Start(time.Now())
	var last error
	for {
		if err := b.waitPause(r.Deadline()); err != nil {
			if errors.Is(err, errPastBudget) {
				b.finish(items, Failed, fmt.Errorf("%w: rate-limited past the retry time budget (last attempt: %w)", ErrRetriesExhausted, last), r.Attempts())
			} else {
				b.finish(items, Failed, deadlineErr(last), r.Attempts())
			}
			return
		}
		r.Begin()
		started := time.Now()
		tok := b.inSend.begin()
		a := b.up.attempt(b.runCtx, &Batch{Messages: msgs, SentAt: b.sentAt(), Attempt: r.Attempts()})
		b.inSend.end(tok)
		d := decide(a, batchFacts{size: len(items), canBisect: bis.canSplit(), maxDelay: MaxRetryAfter, nowForDates: time.Now()})
		took := time.Since(started)
		aborted := d.verdict != deliver && b.runCtx.Err() != nil
		delay, ok := time.Duration(0), true
		if !aborted && (d.verdict == resend || d.verdict == pause) {
			if d.verdict == pause {
				b.led.rateLimited.Add(1)
				b.pauseFor(d.delay)
				if d.refund {
					r.Refund() // a 429 that says when to come back does not use up an attempt
				}
			}
			delay, ok = r.Next(time.Now(), d.delay)
		}
		if len(b.cfg.observers) > 0 {
			result := d.verdict.String()
			if !ok {
				result = "exhausted"
			}
			bytes := 0
			for _, m := range msgs {
				bytes += len(m)
			}
			b.observe(UploadInfo{Messages: len(msgs), Bytes: bytes, Attempt: r.Attempts(), Duration: took,
				StatusCode: a.status, Result: result, Err: b.red.error(d.reason)})
		}
		if aborted {
			b.finish(items, Failed, deadlineErr(d.reason), r.Attempts())
			return
		}
		switch d.verdict {
		case deliver:
			b.finish(items, Delivered, nil, r.Attempts())
			return
		case split:
			if a.status == 400 {
				bis.spent += 2
				bis.active = true
			}
			b.led.splitRequests.Add(2)
			half := len(items) / 2
			sub := make([]json.RawMessage, 0, half+1)
			b.deliver(items[:half], &sub, bis)
			b.deliver(items[half:], &sub, bis)
			return
		case reject:
			if a.status == 400 && len(items) == 1 && bis.active {
				bis.isolated++
			}
			b.finish(items, Failed, d.reason, r.Attempts())
			return
		}
		last = d.reason
		if !ok {
			b.finish(items, Failed, fmt.Errorf("%w after %s: %w", ErrRetriesExhausted, plural(r.Attempts(), "attempt"), d.reason), r.Attempts())
			return
		}
		b.led.retries.Add(1)
		if !b.sleep(delay) {
			b.finish(items, Failed, deadlineErr(d.reason), r.Attempts())
			return
		}
	}
}

// sentAt reads the client's clock for a batch's sentAt; a clock that panics
// or reads outside years 1-9999 is replaced by time.Now.
func (b *batcher) sentAt() (t time.Time) {
	defer func() {
		if recover() != nil {
			t = time.Now()
		}
	}()
	t = b.cfg.now()
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Now()
	}
	return t
}

func deadlineErr(last error) error {
	if last != nil {
		return fmt.Errorf("%w (last attempt: %w)", ErrDeadline, last)
	}
	return ErrDeadline
}

// pauseFor pauses every upload of the client for d (a 429).
func (b *batcher) pauseFor(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(min(d, MaxRetryAfter)).UnixNano()
	for {
		cur := b.pausedUntil.Load()
		if until <= cur || b.pausedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// errPastBudget: a 429 pause lasts past the batch's retry time budget.
var errPastBudget = errors.New("analytics: rate-limit pause past the retry budget")

// waitPause waits until no 429 pause is in force. It fails with ErrDeadline
// on abort, and with errPastBudget, without waiting, when the pause ends
// after deadline (the batch's retry time budget).
func (b *batcher) waitPause(deadline time.Time) error {
	for {
		until := time.Unix(0, b.pausedUntil.Load())
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		if until.After(deadline) {
			return errPastBudget
		}
		if !b.sleep(d) {
			return ErrDeadline
		}
	}
}

// sleep waits d, or returns false at once when the client is aborted.
func (b *batcher) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.runCtx.Done():
		return false
	}
}

// finish gives items their outcome: the journal is told, the ledger counts
// them, their space is freed, and the reporter tells the callback and then
// releases the Flush and Close calls waiting for them.
func (b *batcher) finish(items []item, o Outcome, err error, attempts int) {
	if len(items) == 0 {
		return
	}
	err = b.red.error(err)
	// With a journal, a message that may still succeed later stays on disk.
	keep := b.jr != nil && o == Failed && (errors.Is(err, ErrDeadline) || errors.Is(err, ErrRetriesExhausted))
	if keep {
		o, err = Spooled, fmt.Errorf("%w: %w", ErrSpooled, err)
	}
	if b.jr != nil && !keep {
		seqs := make([]uint64, 0, len(items))
		for i := range items {
			if items[i].seq != 0 {
				seqs = append(seqs, items[i].seq)
			}
		}
		if len(seqs) > 0 {
			if aerr := b.jr.ack(seqs); aerr != nil {
				// The messages are sent again at the next start (same messageIds).
				b.log.log(slog.LevelWarn, "analytics: spool acknowledgement failed", slog.String("error", aerr.Error()))
			}
		}
	}
	bytes := 0
	tell := b.cfg.callback != nil || o != Delivered
	j := reportJob{tell: tell}
	if tell {
		j.rep = Report{Outcome: o, Err: err, Attempts: attempts, Messages: messageInfos(items)}
	}
	for i := range items {
		bytes += len(items[i].data)
		if items[i].done != nil {
			if j.dones == nil {
				j.dones = make([]func(Report), len(items))
				if !tell {
					j.rep = Report{Outcome: o, Err: err, Attempts: attempts, Messages: messageInfos(items)}
				}
			}
			j.dones[i] = items[i].done
		}
		if g := items[i].gen; len(j.gens) == 0 || j.gens[len(j.gens)-1].gen != g {
			j.gens = append(j.gens, genCount{gen: g, n: 1})
		} else {
			j.gens[len(j.gens)-1].n++
		}
	}
	b.led.outcome(o, err, len(items), bytes)
	if o == Delivered {
		b.led.batches.Add(1)
	} else {
		b.fails.record(err)
	}
	b.q.release(items)
	b.rep.push(j)
}

// failLog keeps the distinct reasons of the latest failures, for the
// errors of Flush and Close.
type failLog struct {
	mu   sync.Mutex
	seq  uint64
	errs []failure
}

type failure struct {
	seq uint64
	err error
}

// maxFailures bounds the failure reasons kept.
const maxFailures = 8

func (f *failLog) record(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	for i, x := range f.errs {
		if x.err.Error() == err.Error() {
			f.errs[i].seq = f.seq
			return
		}
	}
	if len(f.errs) == maxFailures {
		f.errs = append(f.errs[:0], f.errs[1:]...)
	}
	f.errs = append(f.errs, failure{seq: f.seq, err: err})
}

func (f *failLog) mark() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seq
}

func (f *failLog) since(seq uint64) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []error
	for _, x := range f.errs {
		if x.seq > seq {
			out = append(out, x.err)
		}
	}
	return out
}

// before is what Flush and Close compare against to count their failures.
type before struct {
	st  Stats
	seq uint64
}

func (b *batcher) before() before { return before{seq: b.fails.mark(), st: b.led.snapshot()} }

func (b *batcher) flush(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	bf := b.before()
	done, err := b.q.markFlush()
	if err != nil {
		return err
	}
	b.signal()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.undelivered(bf, nil, 0)
}

// closeGrace is how long Close waits, once its context has ended, for the
// goroutines to stop and the callback to take the last reports.
const closeGrace = 30 * time.Millisecond

func (b *batcher) close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	bf := b.before()
	b.rep.closing.Store(true)
	done := b.q.close()
	close(b.closing)
	b.signal()

	var cause error
	select {
	case <-done:
	case <-ctx.Done():
		cause = ctx.Err()
	}
	b.abort() // everything is finished or must stop now
	stopped := make(chan struct{})
	go func() { b.wg.Wait(); close(stopped) }()
	if !b.wait(ctx, stopped, b.inSend.stuck) {
		b.log.log(slog.LevelError, "analytics: an upload did not stop when Close's context ended (a Transport that ignores its ctx?)")
	}
	b.rep.stop()
	if !b.wait(ctx, b.rep.done, b.rep.inCallback.stuck) {
		b.rep.abandoned.Store(true) // reports the blocked callback has not taken are dropped
	}
	if b.jr != nil {
		if err := b.jr.close(); err != nil {
			cause = errors.Join(cause, err)
		}
	}
	if c, ok := b.cfg.transport.(TransportCloser); ok {
		if err := safeClose(c); err != nil {
			cause = errors.Join(cause, b.red.error(err))
		}
	}
	stuck := 0
	if cause != nil {
		stuck = b.led.snapshot().Queued
	}
	return b.undelivered(bf, cause, stuck)
}

// wait waits for ch. Once ctx has ended it gives up only on user code that
// does not return: when stuck reports that a call into it (a Transport's
// Send, the delivery callback) has been running for closeGrace; goroutines
// that are merely slow to be scheduled are waited for (up to closeCap), so
// that no report is dropped because the machine is busy.
func (b *batcher) wait(ctx context.Context, ch <-chan struct{}, stuck func(since time.Time, d time.Duration) bool) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	}
	ended := time.Now()
	capT := time.NewTimer(closeCap)
	defer capT.Stop()
	tick := time.NewTicker(closeGrace / 4)
	defer tick.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-capT.C:
			return false
		case <-tick.C:
			if stuck(ended, closeGrace) {
				return false
			}
		}
	}
}

// closeCap bounds how long Close waits past its context's end for
// goroutines that are busy, not stuck.
const closeCap = 2 * time.Second

// userCall tracks the calls into user code of one kind that are running,
// and since when the oldest began.
type userCall struct {
	mu      sync.Mutex
	running map[uint64]time.Time
	next    uint64
}

// begin records a call's start; call end with the token when it returns.
func (u *userCall) begin() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.running == nil {
		u.running = map[uint64]time.Time{}
	}
	u.next++
	u.running[u.next] = time.Now()
	return u.next
}

func (u *userCall) end(token uint64) {
	u.mu.Lock()
	delete(u.running, token)
	u.mu.Unlock()
}

// stuck reports whether a call has been running for at least d since
// since (when Close's context ended: a call told to stop then has d to
// return).
func (u *userCall) stuck(since time.Time, d time.Duration) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, t := range u.running {
		if time.Since(maxTime(t, since)) >= d {
			return true
		}
	}
	return false
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func safeClose(c TransportCloser) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("analytics: Transport.Close panicked: %v", v)
		}
	}()
	return c.Close()
}

// undelivered returns an *UndeliveredError when messages failed (or were
// spooled) since bf, plus stuck messages still without an outcome.
func (b *batcher) undelivered(bf before, cause error, stuck int) error {
	st := b.led.snapshot()
	ue := &UndeliveredError{
		Spooled:   int(st.Spooled - bf.st.Spooled),                     //nolint:gosec // G115: counts of queued messages fit an int
		Rejected:  int(st.FailedRejected - bf.st.FailedRejected),       //nolint:gosec // G115
		Exhausted: int(st.FailedExhausted - bf.st.FailedExhausted),     //nolint:gosec // G115
		Deadline:  int(st.FailedDeadline-bf.st.FailedDeadline) + stuck, //nolint:gosec // G115
	}
	ue.Count = ue.Spooled + ue.Rejected + ue.Exhausted + ue.Deadline
	if ue.Count == 0 {
		return cause
	}
	errs := append([]error{cause}, b.fails.since(bf.seq)...)
	ue.Err = errors.Join(errs...)
	return ue
}

// attempter makes one upload attempt and reports its facts.
type attempter interface {
	attempt(ctx context.Context, batch *Batch) attempt
}

// guarded is the one place where a Transport's faults are contained: a
// panic (in a custom Transport, or in the RoundTripper of an *http.Client
// passed with WithHTTPClient) becomes a failed attempt that is never
// retried, and the write key is removed from what it reports.
type guarded struct {
	inner attempter
	red   redactor
}

func guard(t Transport, red redactor) attempter {
	if a, ok := t.(attempter); ok {
		return guarded{inner: a, red: red}
	}
	return guarded{inner: plainTransport{t: t, red: red}, red: red}
}

func (g guarded) attempt(ctx context.Context, batch *Batch) (a attempt) {
	defer func() {
		if v := recover(); v != nil {
			a = attempt{err: &panicError{msg: g.red.string(fmt.Sprint(v))}}
		}
	}()
	return g.inner.attempt(ctx, batch)
}

// plainTransport turns a Transport's error into the facts of an attempt.
type plainTransport struct {
	t   Transport
	red redactor
}

func (p plainTransport) attempt(ctx context.Context, batch *Batch) attempt {
	err := p.t.Send(ctx, batch)
	if err == nil {
		return attempt{}
	}
	var he *HTTPError
	if errors.As(err, &he) {
		cp := *he
		cp.Body = p.red.string(cp.Body)
		cp.URL = p.red.string(cp.URL)
		return attempt{err: &cp, status: he.StatusCode, after: he.RetryAfter, raw: []byte(he.Body), body: cp.Body, url: cp.URL}
	}
	return attempt{err: p.red.error(err)}
}

// panicError is a panic recovered from a Transport; it is never retried.
type panicError struct{ msg string }

func (e *panicError) Error() string { return "analytics: transport panicked: " + e.msg }

// TransportCloser is implemented by a Transport that holds resources (idle
// connections, open files). Client.Close calls Close once, after the last
// Send has returned (or, when Close's context ended with an upload that did
// not stop, at that point). The HTTP transport implements it by closing
// the idle connections of the *http.Client New made (not those of a client
// passed with WithHTTPClient). A Transport shared by several clients
// should not implement it, or should count its users.
type TransportCloser interface {
	Transport
	Close() error
}

// infoFromJSON reads the identity of a message read back from the journal.
func infoFromJSON(data []byte) MessageInfo {
	var m struct {
		MessageID string `json:"messageId"`
		Type      string `json:"type"`
		Event     string `json:"event"`
	}
	_ = json.Unmarshal(data, &m) // written by the encoder: always valid
	return MessageInfo{MessageID: m.MessageID, Type: m.Type, Event: m.Event}
}
