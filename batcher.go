package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracklane/analytics/internal/retry"
)

// item is one accepted message.
type item struct {
	data []byte
	info MessageInfo
	gen  uint64       // flush generation, see batcher.gens
	seg  uint64       // spool segment holding the message; 0 without a spool
	rec  uint32       // index of the message's record in seg
	slab *slab        // the slab data is carved from; nil for messages read from the spool
	done func(Report) // EnqueueEncoded's per-message callback, or nil
}

// slab is a block of memory that holds the encodings of many messages, so
// that Enqueue allocates nothing per message: a slab returns to slabPool
// once every message in it has an outcome (to the batcher's free list). (Transports must not keep a
// batch after Send returns, so no one else can still read it.)
type slab struct {
	buf  []byte
	refs int // messages carved from buf without an outcome yet
}

const slabSize = 256 << 10

// maxFreeSlabs bounds the emptied slabs a client keeps for reuse.
const maxFreeSlabs = 4

// copyIn copies data into the current slab. Called with mu held.
func (b *batcher) copyIn(data []byte) ([]byte, *slab) {
	s := b.slab
	if s == nil || cap(s.buf)-len(s.buf) < len(data) {
		if s != nil && s.refs == 0 {
			b.freeSlab(s)
		}
		if n := len(b.freeSlabs); n > 0 {
			s = b.freeSlabs[n-1]
			b.freeSlabs = b.freeSlabs[:n-1]
		} else {
			s = &slab{buf: make([]byte, 0, slabSize)}
		}
		s.buf, s.refs = s.buf[:0], 0
		b.slab = s
	}
	off := len(s.buf)
	s.buf = append(s.buf, data...)
	s.refs++
	return s.buf[off:len(s.buf):len(s.buf)], s
}

// releaseSlab drops one message's reference to s. Called with mu held.
func (b *batcher) releaseSlab(s *slab) {
	if s.refs--; s.refs == 0 && s != b.slab {
		b.freeSlab(s)
	}
}

// freeSlab keeps an emptied slab for reuse, up to maxFreeSlabs. Called with mu held.
func (b *batcher) freeSlab(s *slab) {
	if len(b.freeSlabs) < maxFreeSlabs {
		b.freeSlabs = append(b.freeSlabs, s)
	}
}

// failure is the reason of one failed finish call.
type failure struct {
	seq uint64
	err error
}

// maxFailures bounds the failure reasons kept for Flush and Close errors.
const maxFailures = 8

// genCount counts the unfinished messages of one flush generation.
type genCount struct {
	open int
}

type flushWaiter struct {
	gen  uint64 // released once every generation below gen is finished
	done chan struct{}
}

// batcher owns the queue, batch assembly and delivery. Enqueue appends to
// pending under mu; one dispatcher goroutine cuts batches and hands them to
// cfg.concurrency uploader goroutines, which retry and account.
type batcher struct {
	cfg        *config
	report     func(Report)
	transport  Transport
	policy     retry.Policy
	maxMessage int // largest encoded message that fits a batch alone
	keyLen     int // length of the quoted write key in a batch body

	mu           sync.Mutex
	pending      []item // accepted, not yet cut into a batch
	spare        []item // the dispatcher's previous pending buffer, for reuse
	pendingBytes int
	carryN       int // messages the dispatcher took but holds back as a partial batch
	carryBytes   int // their bytes (+1 each, as pendingBytes)
	flushReq     bool
	closed       bool
	queued       int // accepted without an outcome
	queuedBytes  int
	isFull       atomic.Bool // no message can fit: queued or queuedBytes at its bound
	gens         []genCount  // open counts of generations baseGen, baseGen+1, ...
	baseGen      uint64
	waiters      []flushWaiter
	pausedUntil  time.Time     // a 429 pauses every upload until then
	st           Stats         // outcome counters (Enqueued, Delivered, Failed*, RefusedQueueFull, RefusedClosed, ...)
	failSeq      uint64        // number of failed finish calls so far
	failErrs     []failure     // the reasons of the latest failures, for Flush and Close errors
	spool        *spool        // nil without WithSpool
	slab         *slab         // the slab new messages are copied into
	freeSlabs    []*slab       // emptied slabs kept for reuse
	freeBatches  [][]item      // delivered batch slices kept for reuse
	room         chan struct{} // closed when queue space frees

	wake    chan struct{} // size 1: a batch is full, or a flush was asked for
	closing chan struct{} // closed by close: drain and stop
	batches chan []item   // dispatcher -> uploaders

	runCtx context.Context // cancelled when Close's ctx ends: abort everything
	abort  context.CancelFunc
	wg     sync.WaitGroup
}

func newBatcher(cfg *config, report func(Report), sp *spool, recs []recovered) *batcher {
	jitter := cfg.jitter
	if jitter == nil {
		jitter = rand.Float64
	}
	b := &batcher{
		cfg:       cfg,
		report:    report,
		transport: cfg.transport,
		policy: retry.Policy{
			Initial:  cfg.initialBackoff,
			Max:      cfg.maxBackoff,
			Jitter:   jitter,
			Attempts: cfg.maxAttempts,
			MaxTime:  cfg.maxRetryTime,
		},
		gens:    []genCount{{}},
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		batches: make(chan []item),
		spool:   sp,
	}
	// Messages spooled by an earlier run go first, whatever the queue bound:
	// the spool's own bound limits them.
	for _, r := range recs {
		b.pending = append(b.pending, item{data: r.data, info: infoFromJSON(r.data), seg: r.seg, rec: r.idx})
		b.pendingBytes += len(r.data) + 1
		b.queued++
		b.queuedBytes += len(r.data)
	}
	b.gens[0].open = len(recs)
	b.st.Enqueued = uint64(len(recs))
	b.st.Recovered = uint64(len(recs))
	b.updateFull()
	if len(recs) > 0 {
		b.flushReq = true // send them now, without waiting for the interval
		b.wake <- struct{}{}
	}
	b.keyLen = quotedKeyLen(cfg.writeKey)
	b.maxMessage = min(MaxMessageBytes, cfg.batchBytes-batchBodySize(1, 0, b.keyLen))
	b.runCtx, b.abort = context.WithCancel(context.Background())
	b.wg.Add(1 + cfg.concurrency)
	go b.dispatch()
	for range cfg.concurrency {
		go b.uploader()
	}
	return b
}

// add queues an encoded message, or refuses it. it.data is copied: the
// caller may reuse it once add returns.
func (b *batcher) add(it item) error {
	n := len(it.data)
	b.mu.Lock()
	switch {
	case b.closed:
		b.st.RefusedClosed++
		b.mu.Unlock()
		return ErrClosed
	case b.queued+1 > b.cfg.maxQueueMessages || b.queuedBytes+n > b.cfg.maxQueueBytes,
		b.spool != nil && !b.spool.fits(n):
		b.st.RefusedQueueFull++
		b.mu.Unlock()
		return ErrQueueFull
	}
	if b.spool != nil {
		seg, rec, err := b.spool.append(it.data)
		if err != nil {
			b.st.RefusedSpool++
			b.mu.Unlock()
			return err
		}
		it.seg, it.rec = seg, rec
	}
	it.data, it.slab = b.copyIn(it.data)
	it.gen = b.baseGen + uint64(len(b.gens)) - 1
	b.gens[len(b.gens)-1].open++
	b.pending = append(b.pending, it)
	b.pendingBytes += n + 1
	b.queued++
	b.queuedBytes += n
	b.st.Enqueued++
	b.updateFull()
	full := len(b.pending)+b.carryN >= b.cfg.batchSize || b.pendingBytes+b.carryBytes >= b.cfg.batchBytes
	b.mu.Unlock()
	if full {
		b.signal()
	}
	return nil
}

// updateFull refreshes isFull. Called with mu held.
func (b *batcher) updateFull() {
	b.isFull.Store(b.queued >= b.cfg.maxQueueMessages || b.queuedBytes >= b.cfg.maxQueueBytes)
}

// full reports, without locking, whether the queue is at a bound that no
// message can fit under, so Enqueue can refuse before encoding.
func (b *batcher) full() bool { return b.isFull.Load() }

func (b *batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// dispatch cuts batches from pending and hands them to the uploaders.
func (b *batcher) dispatch() {
	defer b.wg.Done()
	defer close(b.batches)
	ticker := time.NewTicker(b.cfg.flushInterval)
	defer ticker.Stop()
	var carry []item // taken from pending, not yet in a batch
	closing := false
	for {
		force := false
		select {
		case <-b.wake:
		case <-ticker.C:
			force = true
			b.syncSpool()
		case <-b.closing:
			closing = true
		case <-b.runCtx.Done():
			closing = true
		}
		b.mu.Lock()
		taken := b.pending
		b.pending, b.spare = b.spare[:0], nil
		b.pendingBytes = 0
		if b.flushReq {
			force, b.flushReq = true, false
		}
		b.mu.Unlock()
		carry = append(carry, taken...)
		clear(taken)
		b.mu.Lock()
		if b.spare == nil {
			b.spare = taken[:0]
		}
		b.mu.Unlock()

		force = force || closing
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
				b.finish(batch, Failed, b.deadlineErr(nil), 0)
				b.putBatch(batch)
			}
		}
		if len(carry) == 0 {
			carry = carry[:0:0] // drop the consumed backing array
		}
		carryBytes := 0
		for i := range carry {
			carryBytes += len(carry[i].data) + 1
		}
		b.mu.Lock()
		b.carryN, b.carryBytes = len(carry), carryBytes
		full := len(b.pending)+b.carryN >= b.cfg.batchSize || b.pendingBytes+b.carryBytes >= b.cfg.batchBytes
		b.mu.Unlock()
		if full {
			b.signal() // messages enqueued meanwhile complete the held-back batch
		}
		if closing {
			if b.runCtx.Err() != nil {
				// Anything that arrived meanwhile cannot be sent now.
				b.mu.Lock()
				rest := b.pending
				b.pending = nil
				b.mu.Unlock()
				if len(rest) > 0 {
					b.finish(rest, Failed, b.deadlineErr(nil), 0)
				}
			}
			b.mu.Lock()
			empty := len(b.pending) == 0
			b.mu.Unlock()
			if empty {
				return
			}
		}
	}
}

// syncSpool fsyncs the spool's active segment, outside the mutex so that
// Enqueue does not wait for the disk.
func (b *batcher) syncSpool() {
	if b.spool == nil {
		return
	}
	b.mu.Lock()
	p := b.spool.takeSync()
	b.mu.Unlock()
	if err := p.do(); err != nil {
		b.cfg.logger.Warn("analytics: spool fsync failed", slog.String("error", err.Error()))
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
		budget := splitBudget(len(batch))
		b.deliver(batch, &scratch, &budget)
		b.putBatch(batch)
	}
}

// getBatch returns an item slice of length n from the free list.
func (b *batcher) getBatch(n int) []item {
	b.mu.Lock()
	defer b.mu.Unlock()
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
	b.mu.Lock()
	if len(b.freeBatches) < b.cfg.concurrency+2 {
		b.freeBatches = append(b.freeBatches, s[:0])
	}
	b.mu.Unlock()
}

// splitBudget is how many extra requests a batch of n messages may spend
// bisecting a 400 to isolate the messages the endpoint refuses: enough to
// find one bad message (two requests per halving), bounded when all are bad.
func splitBudget(n int) int { return 2*bits.Len(uint(n)) + 2 }

// deliver uploads one batch until it succeeds or its retry budget ends. A
// 413 splits it in halves; so does a 400, while budget allows, so that one
// message a strict endpoint refuses does not take the others down with it.
func (b *batcher) deliver(items []item, scratch *[]json.RawMessage, budget *int) {
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
				b.finish(items, Failed, b.deadlineErr(last), r.Attempts())
			}
			return
		}
		r.Begin()
		batch := &Batch{Messages: msgs, SentAt: b.cfg.now(), Attempt: r.Attempts()}
		err := b.send(batch)
		if err == nil {
			b.finish(items, Delivered, nil, r.Attempts())
			return
		}
		last = err
		if b.runCtx.Err() != nil {
			b.finish(items, Failed, b.deadlineErr(err), r.Attempts())
			return
		}
		retryable, after, he := classify(err)
		if he != nil && len(items) > 1 && (he.StatusCode == 413 || he.StatusCode == 400 && *budget >= 2) {
			if he.StatusCode == 400 {
				*budget -= 2
			}
			half := len(items) / 2
			sub := make([]json.RawMessage, 0, half+1)
			b.deliver(items[:half], &sub, budget)
			b.deliver(items[half:], &sub, budget)
			return
		}
		if !retryable {
			b.finish(items, Failed, fmt.Errorf("%w: %w", ErrRejected, err), r.Attempts())
			return
		}
		if he != nil && he.StatusCode == 429 {
			b.rateLimited(after)
			if after > 0 {
				r.Refund() // a 429 that says when to come back does not use up an attempt
			}
		}
		delay, ok := r.Next(time.Now(), min(after, MaxRetryAfter))
		if !ok {
			b.finish(items, Failed, fmt.Errorf("%w after %d attempt(s): %w", ErrRetriesExhausted, r.Attempts(), err), r.Attempts())
			return
		}
		b.mu.Lock()
		b.st.Retries++
		b.mu.Unlock()
		if !b.sleep(delay) {
			b.finish(items, Failed, b.deadlineErr(err), r.Attempts())
			return
		}
	}
}

// send calls the transport, turning a panic in it into an error that is
// never retried: a bug in a custom Transport fails its batch, reported, and
// does not bring the process down.
func (b *batcher) send(batch *Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	return b.transport.Send(b.runCtx, batch)
}

// panicError is a panic recovered from a Transport; it is never retried.
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprintf("analytics: transport panicked: %v", e.v) }

func (b *batcher) deadlineErr(last error) error {
	if last != nil {
		return fmt.Errorf("%w (last attempt: %w)", ErrDeadline, last)
	}
	return ErrDeadline
}

// rateLimited pauses every upload of the client for d.
func (b *batcher) rateLimited(d time.Duration) {
	b.mu.Lock()
	b.st.RateLimited++
	if d > 0 {
		until := time.Now().Add(min(d, MaxRetryAfter))
		if until.After(b.pausedUntil) {
			b.pausedUntil = until
		}
	}
	b.mu.Unlock()
}

// errPastBudget: a 429 pause lasts past the batch's retry time budget.
var errPastBudget = errors.New("analytics: rate-limit pause past the retry budget")

// waitPause waits until no 429 pause is in force. It fails with ErrDeadline
// on abort, and with errPastBudget, without waiting, when the pause ends
// after deadline (the batch's retry time budget).
func (b *batcher) waitPause(deadline time.Time) error {
	for {
		b.mu.Lock()
		until := b.pausedUntil
		b.mu.Unlock()
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

// finish records the outcome of items, releases their queue space, reports
// them, and then releases any Flush or Close waiting for them.
func (b *batcher) finish(items []item, o Outcome, err error, attempts int) {
	if len(items) == 0 {
		return
	}
	// Reports of deliveries are built only for a callback that reads them.
	wantInfos := b.cfg.callback != nil || o != Delivered
	var infos []MessageInfo
	if wantInfos {
		infos = make([]MessageInfo, len(items))
	}
	// With a spool, a message that may still succeed later stays on disk.
	keep := b.spool != nil && o == Failed && (errors.Is(err, ErrDeadline) || errors.Is(err, ErrRetriesExhausted))
	if keep {
		o, err = Spooled, fmt.Errorf("%w: %w", ErrSpooled, err)
	}
	b.mu.Lock()
	for i := range items {
		if wantInfos {
			infos[i] = items[i].info
		}
		b.queued--
		b.queuedBytes -= len(items[i].data)
		if items[i].seg != 0 && !keep {
			b.spool.done(items[i].seg, items[i].rec)
		}
		if items[i].slab != nil {
			b.releaseSlab(items[i].slab)
		}
	}
	if b.spool != nil && !keep {
		b.spool.writeAcks()
	}
	n := uint64(len(items))
	switch {
	case o == Spooled:
		b.st.Spooled += n
	case o == Delivered:
		b.st.Delivered += n
		b.st.Batches++
	case errors.Is(err, ErrDeadline):
		b.st.Failed += n
		b.st.FailedDeadline += n
	case errors.Is(err, ErrRejected):
		b.st.Failed += n
		b.st.FailedRejected += n
	default:
		b.st.Failed += n
		b.st.FailedExhausted += n
	}
	if o == Failed || o == Spooled {
		b.failSeq++
		b.recordFailure(err)
	}
	b.updateFull()
	if b.room != nil {
		close(b.room)
		b.room = nil
	}
	b.mu.Unlock()
	for i := range items {
		if d := items[i].done; d != nil {
			d(Report{Outcome: o, Messages: []MessageInfo{items[i].info}, Err: err, Attempts: attempts})
		}
	}
	if wantInfos {
		b.report(Report{Outcome: o, Messages: infos, Err: err, Attempts: attempts})
	}
	// Only now release the Flush and Close calls waiting for these messages:
	// when they return, the callback has been told.
	b.mu.Lock()
	for i := range items {
		b.gens[items[i].gen-b.baseGen].open--
	}
	b.advance()
	b.mu.Unlock()
}

// recordFailure keeps err as a reason for Flush and Close errors, once per
// distinct text, at most maxFailures. Called with mu held.
func (b *batcher) recordFailure(err error) {
	for i, f := range b.failErrs {
		if f.err.Error() == err.Error() {
			b.failErrs[i].seq = b.failSeq
			return
		}
	}
	if len(b.failErrs) == maxFailures {
		b.failErrs = append(b.failErrs[:0], b.failErrs[1:]...)
	}
	b.failErrs = append(b.failErrs, failure{seq: b.failSeq, err: err})
}

// advance drops finished generations and releases the flushes waiting on them. Called with mu held.
func (b *batcher) advance() {
	for len(b.gens) > 1 && b.gens[0].open == 0 {
		b.gens = b.gens[1:]
		b.baseGen++
	}
	if len(b.gens) == 1 && cap(b.gens) > 64 {
		b.gens = append([]genCount(nil), b.gens...)
	}
	kept := b.waiters[:0]
	for _, w := range b.waiters {
		if b.finishedBelow(w.gen) {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	b.waiters = kept
}

// finishedBelow reports whether every generation below gen is finished. Called with mu held.
func (b *batcher) finishedBelow(gen uint64) bool {
	if gen <= b.baseGen {
		return true
	}
	return gen == b.baseGen+1 && b.gens[0].open == 0
}

// mark starts a new generation and returns a channel closed once every
// message accepted before it has an outcome. Called with mu held.
func (b *batcher) mark() chan struct{} {
	b.gens = append(b.gens, genCount{})
	gen := b.baseGen + uint64(len(b.gens)) - 1
	done := make(chan struct{})
	b.waiters = append(b.waiters, flushWaiter{gen: gen, done: done})
	b.advance()
	return done
}

func (b *batcher) flush(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	before, seqBefore := b.st, b.failSeq
	done := b.mark()
	b.flushReq = true
	b.mu.Unlock()
	b.signal()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.undelivered(before, seqBefore, nil)
}

// undelivered returns an *UndeliveredError when messages failed since the
// Failed counter read failedBefore, joining cause and the distinct reasons
// of the failures since seqBefore.
func (b *batcher) undelivered(before Stats, seqBefore uint64, cause error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	spooled := b.st.Spooled - before.Spooled
	n := b.st.Failed - before.Failed + spooled
	if n == 0 {
		return nil
	}
	errs := []error{cause}
	for _, f := range b.failErrs {
		if f.seq > seqBefore {
			errs = append(errs, f.err)
		}
	}
	return &UndeliveredError{Count: int(n), Spooled: int(spooled), Err: errors.Join(errs...)} //nolint:gosec // G115: counts of queued messages fit an int
}

func (b *batcher) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	before, seqBefore := b.st, b.failSeq
	done := b.mark()
	b.mu.Unlock()
	close(b.closing)

	var cause error
	select {
	case <-done:
	case <-ctx.Done():
		cause = ctx.Err()
		b.abort()
	}
	b.abort() // everything is finished or must stop now
	b.wg.Wait()
	if ci, ok := b.transport.(interface{ closeIdle() }); ok {
		ci.closeIdle()
	}
	if b.spool != nil {
		b.mu.Lock()
		err := b.spool.close()
		b.mu.Unlock()
		if err != nil {
			cause = errors.Join(cause, err)
		}
	}
	return b.undelivered(before, seqBefore, cause)
}

func (b *batcher) stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.st
	s.Queued = b.queued
	s.QueuedBytes = b.queuedBytes
	return s
}

// roomChan returns a channel closed when queue space is next freed.
func (b *batcher) roomChan() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.room == nil {
		b.room = make(chan struct{})
	}
	return b.room
}

// refuseFull counts a message refused by Enqueue's pre-check and returns
// the reason: ErrClosed after Close, else ErrQueueFull.
func (b *batcher) refuseFull() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		b.st.RefusedClosed++
		return ErrClosed
	}
	b.st.RefusedQueueFull++
	return ErrQueueFull
}
