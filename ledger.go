package analytics

import (
	"errors"
	"sync/atomic"
)

// ledger counts every outcome of the client: the only counters there are,
// from which Stats is derived. Each counter is an atomic, so counting never
// takes a lock; snapshot reads the outcomes before the intake, so that
// Enqueued == Delivered + Failed + Spooled + Queued holds in every snapshot
// (Queued is derived, never counted).
type ledger struct {
	enqueued  atomic.Uint64 // accepted (Recovered included)
	recovered atomic.Uint64

	delivered       atomic.Uint64
	spooled         atomic.Uint64
	failedRejected  atomic.Uint64
	failedExhausted atomic.Uint64
	failedDeadline  atomic.Uint64

	refusedInvalid   atomic.Uint64
	refusedTooLarge  atomic.Uint64
	refusedQueueFull atomic.Uint64
	refusedClosed    atomic.Uint64
	refusedSpool     atomic.Uint64

	spoolCorrupt atomic.Uint64
	spoolLost    atomic.Uint64

	queuedBytes atomic.Int64

	batches       atomic.Uint64
	retries       atomic.Uint64
	rateLimited   atomic.Uint64
	splitRequests atomic.Uint64
}

// accepted counts a message accepted with its encoded size.
func (l *ledger) accepted(bytes int) {
	l.queuedBytes.Add(int64(bytes))
	l.enqueued.Add(1)
}

// outcome counts n messages of bytes encoded bytes finished with o (err
// gives the reason of a failure).
func (l *ledger) outcome(o Outcome, err error, n, bytes int) {
	k := uint64(n) //nolint:gosec // G115: n >= 0
	switch {
	case o == Delivered:
		l.delivered.Add(k)
	case o == Spooled:
		l.spooled.Add(k)
	case errors.Is(err, ErrDeadline):
		l.failedDeadline.Add(k)
	case errors.Is(err, ErrRejected):
		l.failedRejected.Add(k)
	default:
		l.failedExhausted.Add(k)
	}
	l.queuedBytes.Add(-int64(bytes))
}

// refused counts one message Enqueue refused with err.
func (l *ledger) refused(err error) {
	var tl *TooLargeError
	switch {
	case errors.Is(err, ErrClosed):
		l.refusedClosed.Add(1)
	case errors.Is(err, ErrQueueFull):
		l.refusedQueueFull.Add(1)
	case errors.As(err, &tl):
		l.refusedTooLarge.Add(1)
	case errors.Is(err, ErrSpool):
		l.refusedSpool.Add(1)
	default:
		l.refusedInvalid.Add(1)
	}
}

// snapshot derives Stats. Outcomes are read before the intake: every
// outcome follows its message's acceptance, so Queued is never negative and
// the sums hold.
func (l *ledger) snapshot() Stats {
	var s Stats
	s.Delivered = l.delivered.Load()
	s.Spooled = l.spooled.Load()
	s.FailedRejected = l.failedRejected.Load()
	s.FailedExhausted = l.failedExhausted.Load()
	s.FailedDeadline = l.failedDeadline.Load()
	s.Failed = s.FailedRejected + s.FailedExhausted + s.FailedDeadline
	s.QueuedBytes = int(max(l.queuedBytes.Load(), 0))
	s.Enqueued = l.enqueued.Load()
	s.Recovered = l.recovered.Load()
	s.Queued = int(s.Enqueued - s.Delivered - s.Failed - s.Spooled) //nolint:gosec // G115: bounded by the queue

	s.RefusedInvalid = l.refusedInvalid.Load()
	s.RefusedTooLarge = l.refusedTooLarge.Load()
	s.RefusedQueueFull = l.refusedQueueFull.Load()
	s.RefusedClosed = l.refusedClosed.Load()
	s.RefusedSpool = l.refusedSpool.Load()
	s.Refused = s.RefusedInvalid + s.RefusedTooLarge + s.RefusedQueueFull + s.RefusedClosed + s.RefusedSpool

	s.SpoolCorrupt = l.spoolCorrupt.Load()
	s.SpoolLost = l.spoolLost.Load()
	s.Batches = l.batches.Load()
	s.Retries = l.retries.Load()
	s.RateLimited = l.rateLimited.Load()
	s.SplitRequests = l.splitRequests.Load()
	return s
}
