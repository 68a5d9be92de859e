package analytics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tracklane/analytics/internal/ids"
	"github.com/tracklane/analytics/internal/jsonw"
)

// item is one accepted message.
type item struct {
	data []byte
	info MessageInfo
	gen  uint64       // flush generation, see tracker
	seq  uint64       // journal sequence number; 0 without a journal
	slab *slab        // the slab data is carved from; nil for messages replayed from the journal
	done func(Report) // EnqueueEncoded's per-message callback, or nil
}

// messageInfos returns the items' MessageInfo, with the messageIds the
// encoder appended (and did not make strings, see idIn) read back from the
// encodings: into one string for them all, one allocation per report
// rather than one per message.
func messageInfos(items []item) []MessageInfo {
	infos := make([]MessageInfo, len(items))
	n := 0
	for i := range items {
		if infos[i] = items[i].info; infos[i].MessageID == "" {
			n++
		}
	}
	if n == 0 {
		return infos
	}
	var sb strings.Builder
	sb.Grow(n * ids.Len)
	for i := range items {
		if infos[i].MessageID == "" {
			sb.Write(idBytes(items[i].data))
		}
	}
	all, off := sb.String(), 0
	for i := range infos {
		if infos[i].MessageID == "" {
			k := len(idBytes(items[i].data))
			infos[i].MessageID, off = all[off:off+k], off+k
		}
	}
	return infos
}

// QueueFullError is the error of a message refused because the queue (or
// the spool) is at one of its bounds. It matches ErrQueueFull with
// errors.Is, and says which bound and its value. From EnqueueContext and
// EnqueueEncoded, it also wraps the context's error.
type QueueFullError struct {
	// Bound is the bound that refused the message: "messages" or "bytes"
	// (WithMaxQueue), or "spool bytes" (WithSpool).
	Bound string
	// Limit is the bound's value.
	Limit int64
	// Err is the context's error when a wait for room ended, else nil.
	Err error
}

func (e *QueueFullError) Error() string {
	opt := "WithMaxQueue"
	if e.Bound == "spool bytes" {
		opt = "WithSpool"
	}
	msg := "analytics: queue is full: " + strconv.FormatInt(e.Limit, 10) + " " + e.Bound + " waiting for delivery (the " + opt + " bound)"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrQueueFull) true.
func (e *QueueFullError) Is(target error) bool { return target == ErrQueueFull }

// Unwrap returns the context's error, if any.
func (e *QueueFullError) Unwrap() error { return e.Err }

// queue owns the messages accepted and not yet cut into batches, the space
// accepted messages hold until their outcome (the WithMaxQueue bounds), the
// waiters for that space, and the slabs the encodings are copied into. Its
// lock is never held across file or network I/O.
type queue struct {
	maxMsgs, maxBytes     int
	batchSize, batchBytes int // a batch is complete at either

	mu           sync.Mutex
	pending      []item // accepted, not yet taken by the dispatcher
	pendingBytes int    // bytes of pending (+1 each: the comma in a batch)
	carryN       int    // messages the dispatcher holds back as a partial batch
	carryBytes   int
	flushReq     bool // a Flush or Close asked for everything to be sent now
	closed       bool
	reserving    int           // reservations not yet pushed (a journal write in progress)
	used         int           // messages holding space: reserved or accepted, without an outcome
	usedBytes    int           // their bytes
	waiters      []*roomWaiter // EnqueueContext calls waiting for space, first come first served
	released     chan struct{} // closed (and replaced) whenever space is released
	slab         *slab         // the slab copyIn copies into
	freeSlabs    []*slab
	tr           *tracker
	led          *ledger

	encoders sync.Pool // *encoder: Enqueue encodes straight into a slab

	full atomic.Bool // no message fits: Enqueue refuses before encoding
}

// roomWaiter is an EnqueueContext call waiting for space.
type roomWaiter struct {
	n     int
	ready chan struct{} // closed when granted or the queue closed
	ok    bool          // granted: the space is reserved for it
	gen   uint64        // its flush generation, set when granted
}

func newQueue(maxMsgs, maxBytes int, tr *tracker) *queue {
	return &queue{maxMsgs: maxMsgs, maxBytes: maxBytes, tr: tr}
}

// fullErr says which bound refuses a message of n bytes. Called with mu held.
func (q *queue) fullErr(n int) *QueueFullError {
	if q.used+1 > q.maxMsgs {
		return &QueueFullError{Bound: "messages", Limit: int64(q.maxMsgs)}
	}
	return &QueueFullError{Bound: "bytes", Limit: int64(q.maxBytes)}
}

// admitLocked says whether a message of n bytes may take space now: nil,
// ErrClosed, or the *QueueFullError of the bound it is over (also while
// EnqueueContext calls wait: the space they are owed comes first). Called
// with mu held.
func (q *queue) admitLocked(n int) error {
	switch {
	case q.closed:
		return ErrClosed
	case len(q.waiters) > 0 || !q.fits(n):
		return q.fullErr(n)
	}
	return nil
}

// fits reports whether n more bytes fit now. Called with mu held.
func (q *queue) fits(n int) bool {
	return q.used+1 <= q.maxMsgs && q.usedBytes+n <= q.maxBytes
}

// precheck refuses, without locking, when no message can fit.
func (q *queue) precheck() error {
	if !q.full.Load() {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if q.used >= q.maxMsgs {
		return &QueueFullError{Bound: "messages", Limit: int64(q.maxMsgs)}
	}
	if q.usedBytes >= q.maxBytes {
		return &QueueFullError{Bound: "bytes", Limit: int64(q.maxBytes)}
	}
	return nil
}

// reserve takes space for a message of n bytes and its flush generation,
// or refuses: ErrClosed, or a *QueueFullError. With wait, it waits for
// space (first come, first served) until ctx ends. A reservation ends with
// push or cancel.
func (q *queue) reserve(ctx context.Context, n int, wait bool) (gen uint64, err error) {
	q.mu.Lock()
	err = q.admitLocked(n)
	if err == nil {
		gen = q.take(n)
		q.mu.Unlock()
		return gen, nil
	}
	if !wait || errors.Is(err, ErrClosed) {
		q.mu.Unlock()
		return 0, err
	}
	w := &roomWaiter{n: n, ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	full := *q.fullErr(n)
	q.mu.Unlock()
	select {
	case <-w.ready:
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.ok {
		return w.gen, nil // granted, even if ctx ended meanwhile
	}
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	if q.closed {
		return 0, ErrClosed
	}
	qf := full
	qf.Err = ctx.Err()
	q.grant() // the head may have changed
	return 0, &qf
}

// take reserves n bytes. Called with mu held.
func (q *queue) take(n int) uint64 {
	q.used++
	q.usedBytes += n
	q.reserving++
	q.updateFull()
	return q.tr.enter()
}

// grant hands freed space to the waiters at the head. Called with mu held.
func (q *queue) grant() {
	for len(q.waiters) > 0 && q.fits(q.waiters[0].n) {
		w := q.waiters[0]
		q.waiters = q.waiters[1:]
		w.gen, w.ok = q.take(w.n), true
		close(w.ready)
	}
}

// push queues a reserved message, copying it.data unless it is already in
// the slab it.slab (an encoder's). It reports whether a batch is complete,
// so the dispatcher should be woken.
func (q *queue) push(it item) (wake bool) {
	n := len(it.data)
	q.mu.Lock()
	if it.slab != nil {
		it.slab.refs++
	} else {
		it.data, it.slab = q.copyIn(it.data)
	}
	q.pending = append(q.pending, it)
	q.pendingBytes += n + 1
	q.reserving--
	wake = q.batchReady() || q.flushReq || q.closed && q.reserving == 0
	q.mu.Unlock()
	return wake
}

// finished records outcomes in their flush generations, releasing the
// Flush and Close calls they held.
func (q *queue) finished(gens []genCount) {
	q.mu.Lock()
	for _, g := range gens {
		q.tr.done(g.gen, g.n)
	}
	q.mu.Unlock()
}

// add reserves and queues a message in one step, without waiting: the
// path of Enqueue without a journal. It reports whether to wake the
// dispatcher, or refuses as reserve does.
func (q *queue) add(it item) (wake bool, err error) {
	n := len(it.data)
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.admitLocked(n); err != nil {
		return false, err
	}
	it.gen = q.take(n)
	q.reserving--
	q.led.accepted(n) // before the message can have an outcome
	if it.slab != nil {
		it.slab.refs++ // encoded in place, in an encoder's slab
	} else {
		it.data, it.slab = q.copyIn(it.data)
	}
	q.pending = append(q.pending, it)
	q.pendingBytes += n + 1
	return q.batchReady() || q.flushReq || q.closed && q.reserving == 0, nil
}

// replay takes space for a message replayed from the journal, whatever the
// bounds, and returns its generation; push it next.
func (q *queue) replay(n int) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.take(n)
}

// cancel gives back a reservation that was not pushed. It reports whether
// the dispatcher should be woken (intake closed and nothing more to come).
func (q *queue) cancel(gen uint64, n int) (wake bool) {
	q.mu.Lock()
	q.reserving--
	q.releaseLocked(1, n, nil, false)
	wake = q.closed && q.reserving == 0
	q.tr.done(gen, 1)
	q.mu.Unlock()
	return wake
}

// batchReady reports whether pending and the held-back carry make a full
// batch. Called with mu held.
func (q *queue) batchReady() bool {
	return len(q.pending)+q.carryN >= q.batchSize || q.pendingBytes+q.carryBytes >= q.batchBytes
}

// release frees the space of finished messages and returns their slabs.
func (q *queue) release(items []item) {
	bytes := 0
	for i := range items {
		bytes += len(items[i].data)
	}
	q.mu.Lock()
	q.releaseLocked(len(items), bytes, items, true)
	q.mu.Unlock()
}

// releaseLocked frees space; delivered tells that messages got an outcome
// (and so space on disk may have been freed too). Called with mu held.
func (q *queue) releaseLocked(n, bytes int, items []item, delivered bool) {
	q.used -= n
	q.usedBytes -= bytes
	for i := range items {
		if s := items[i].slab; s != nil {
			q.releaseSlab(s)
		}
	}
	q.grant()
	q.updateFull()
	if delivered && q.released != nil {
		close(q.released)
		q.released = nil
	}
}

// releasedChan returns a channel closed the next time messages with an
// outcome release their space.
func (q *queue) releasedChan() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.released == nil {
		q.released = make(chan struct{})
	}
	return q.released
}

// updateFull refreshes full. Called with mu held.
func (q *queue) updateFull() {
	q.full.Store(q.closed || q.used >= q.maxMsgs || q.usedBytes >= q.maxBytes)
}

// close stops intake: later reservations fail with ErrClosed, and so do
// the waiters. It returns a channel closed once every message accepted (or
// reserved) before it has an outcome.
func (q *queue) close() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, w := range q.waiters {
		close(w.ready)
	}
	q.waiters = nil
	q.flushReq = true
	q.updateFull()
	return q.tr.mark()
}

// markFlush asks for everything pending to be sent now and returns a
// channel closed once every message accepted before has an outcome.
func (q *queue) markFlush() (<-chan struct{}, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	q.flushReq = true
	return q.tr.mark(), nil
}

// takePending hands the dispatcher everything pending, whether a flush was
// asked for, and whether intake is closed with no reservation left (so that
// nothing more can arrive).
func (q *queue) takePending(into []item) (out []item, force, drained bool) {
	q.mu.Lock()
	out = append(into, q.pending...)
	clear(q.pending)
	q.pending = q.pending[:0]
	q.pendingBytes = 0
	force, q.flushReq = q.flushReq, false
	drained = q.closed && q.reserving == 0
	q.mu.Unlock()
	return out, force, drained
}

// setCarry records the messages the dispatcher holds back and reports
// whether, with what arrived meanwhile, they make a full batch.
func (q *queue) setCarry(n, bytes int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.carryN, q.carryBytes = n, bytes
	return q.batchReady()
}

// slab is a block of memory that holds the encodings of many messages, so
// that Enqueue allocates nothing per message: a slab returns to the free
// list once every message in it has an outcome. (Transports must not keep a
// batch after Send returns, so no one else can still read it.)
type slab struct {
	buf   []byte
	refs  int  // messages carved from buf without an outcome yet
	owned bool // an encoder appends to it (not free even at refs 0)
}

const slabSize = 256 << 10

// maxFreeSlabs bounds the emptied slabs a client keeps for reuse (4 MiB):
// enough to absorb the bursts of slabs that a stream of deliveries frees
// (with 4, a sixth of them were allocated afresh in
// BenchmarkEnqueueOrderCompleted; with 16, under 2%).
const maxFreeSlabs = 16

// copyIn copies data into the current slab. Called with mu held.
func (q *queue) copyIn(data []byte) ([]byte, *slab) {
	s := q.slab
	if s == nil || cap(s.buf)-len(s.buf) < len(data) {
		if s != nil && s.refs == 0 {
			q.freeSlab(s)
		}
		if n := len(q.freeSlabs); n > 0 {
			s = q.freeSlabs[n-1]
			q.freeSlabs = q.freeSlabs[:n-1]
		} else {
			s = &slab{buf: make([]byte, 0, slabSize)}
		}
		s.buf, s.refs = s.buf[:0], 0
		q.slab = s
	}
	off := len(s.buf)
	s.buf = append(s.buf, data...)
	s.refs++
	return s.buf[off:len(s.buf):len(s.buf)], s
}

// encoder is a writer whose buffer is the free end of a slab it owns, so
// that a message is encoded where it stays until its outcome, with no copy:
// the encoding s.buf[off:off+n] is handed to push with the slab, and the
// encoder moves on past it (used). Encoders come from a sync.Pool, which
// keeps about one per P: callers on different Ps append to different
// slabs, without the queue lock. Only the owner writes past off; the
// messages before it are read by the dispatcher and the uploaders.
type encoder struct {
	w   jsonw.Writer
	s   *slab
	off int
}

// encoderRoom is the free space a slab must have to be encoded into. An
// encoding that outgrows the slab is reallocated by append and then copied
// into the queue's slab by push, as EnqueueEncoded's are: that is rare
// when messages are smaller than encoderRoom, and a slab leaves at most
// encoderRoom bytes unused (under 2%: the dead-endpoint memory stays what
// the queue bound says).
const encoderRoom = 4 << 10

// getEncoder returns an encoder whose w.Buf is empty, with at least
// encoderRoom bytes of capacity in its slab. Give it back with putEncoder.
func (q *queue) getEncoder() *encoder {
	e, ok := q.encoders.Get().(*encoder)
	if !ok {
		e = &encoder{}
	}
	if e.s == nil || cap(e.s.buf)-e.off < encoderRoom {
		q.mu.Lock()
		if e.s != nil {
			e.s.owned = false
			if e.s.refs == 0 {
				q.freeSlab(e.s)
			}
		}
		if n := len(q.freeSlabs); n > 0 {
			e.s = q.freeSlabs[n-1]
			q.freeSlabs = q.freeSlabs[:n-1]
		} else {
			e.s = &slab{buf: make([]byte, 0, slabSize)}
		}
		e.s.owned, e.s.refs = true, 0
		q.mu.Unlock()
		e.off = 0
	}
	e.w.Reset(e.s.buf[e.off:e.off:cap(e.s.buf)])
	return e
}

// inSlab reports whether the encoding is still in the encoder's slab (not
// reallocated by append).
func (e *encoder) inSlab() bool {
	return cap(e.w.Buf) == cap(e.s.buf)-e.off
}

// used moves the encoder past an encoding that push took.
func (e *encoder) used() { e.off += len(e.w.Buf) }

// putEncoder gives an encoder back for reuse.
func (q *queue) putEncoder(e *encoder) {
	if !e.inSlab() {
		e.w.Buf = nil // do not keep an outgrown buffer
	}
	q.encoders.Put(e)
}

// releaseSlab drops one message's reference to s. Called with mu held.
func (q *queue) releaseSlab(s *slab) {
	if s.refs--; s.refs == 0 && s != q.slab && !s.owned {
		q.freeSlab(s)
	}
}

// freeSlab keeps an emptied slab for reuse, up to maxFreeSlabs. Called with mu held.
func (q *queue) freeSlab(s *slab) {
	if len(q.freeSlabs) < maxFreeSlabs {
		q.freeSlabs = append(q.freeSlabs, s)
	}
}

// tracker is the flush generations: every message belongs to the
// generation open when it was accepted; Flush and Close start a new one and
// wait until every earlier one has no message without an outcome (the
// outcome reported to the callback). It is guarded by the queue's lock, so
// that accepting a message takes one lock.
type tracker struct {
	open    []int  // unfinished messages of generations base, base+1, ...
	base    uint64 // the oldest generation still tracked
	waiters []flushWaiter
}

type flushWaiter struct {
	gen  uint64 // released once every generation below gen is finished
	done chan struct{}
}

func newTracker() *tracker { return &tracker{open: []int{0}} }

// enter counts a message in the current generation and returns it.
func (t *tracker) enter() uint64 {
	t.open[len(t.open)-1]++
	return t.base + uint64(len(t.open)) - 1
}

// done records n outcomes of generation gen.
func (t *tracker) done(gen uint64, n int) {
	t.open[gen-t.base] -= n
	t.advance()
}

// mark starts a new generation and returns a channel closed once every
// message of the earlier ones has an outcome.
func (t *tracker) mark() <-chan struct{} {
	t.open = append(t.open, 0)
	w := flushWaiter{gen: t.base + uint64(len(t.open)) - 1, done: make(chan struct{})}
	t.waiters = append(t.waiters, w)
	t.advance()
	return w.done
}

// advance drops finished generations and releases the waiters they held.
func (t *tracker) advance() {
	for len(t.open) > 1 && t.open[0] == 0 {
		t.open = t.open[1:]
		t.base++
	}
	if len(t.open) == 1 && cap(t.open) > 64 {
		t.open = append([]int(nil), t.open...)
	}
	kept := t.waiters[:0]
	for _, w := range t.waiters {
		if w.gen <= t.base || w.gen == t.base+1 && t.open[0] == 0 {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	t.waiters = kept
}
