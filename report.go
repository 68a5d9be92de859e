package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// reporter owns the delivery callback: the outcomes the uploaders decide
// are handed to it, and its goroutine tells the callback (or, without one,
// the log) and only then releases the Flush and Close calls waiting for
// them. So a slow callback never holds up an upload, and Flush returns
// after the callback was told.
type reporter struct {
	cb       func(Report) // nil: failures are logged
	log      *safeLogger
	gens     func([]genCount) // records outcomes in their flush generations
	interval time.Duration    // at most one failure log line per interval

	mu      sync.Mutex
	jobs    []reportJob
	stopped bool
	wake    chan struct{} // size 1
	done    chan struct{} // closed when the goroutine has returned

	abandoned  atomic.Bool // Close gave up waiting: drop what the callback has not taken
	inCallback userCall    // the callback call running, if any
	closing    atomic.Bool // Close began: its failures make one summary line

	// The failure log, without a callback: summed, written at most once per
	// interval, and once at Close.
	sum     failureSum
	lastLog time.Time
}

// reportJob is one finish call's outcome.
type reportJob struct {
	rep   Report
	tell  bool // call the callback with rep
	dones []func(Report)
	gens  []genCount
}

// genCount is a number of outcomes of one flush generation.
type genCount struct {
	gen uint64
	n   int
}

// failureSum adds up failures for a log line.
type failureSum struct {
	n                                      int
	rejected, exhausted, deadline, spooled int
	last                                   error
}

func (s *failureSum) add(r Report) {
	n := len(r.Messages)
	s.n += n
	switch {
	case r.Outcome == Spooled:
		s.spooled += n
	case errors.Is(r.Err, ErrDeadline):
		s.deadline += n
	case errors.Is(r.Err, ErrRejected):
		s.rejected += n
	default:
		s.exhausted += n
	}
	s.last = r.Err
}

func newReporter(cb func(Report), log *safeLogger, gens func([]genCount), interval time.Duration) *reporter {
	r := &reporter{cb: cb, log: log, gens: gens, interval: interval, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go r.run()
	return r
}

// push hands over one outcome. It never waits for the callback.
func (r *reporter) push(j reportJob) {
	r.mu.Lock()
	if r.stopped {
		// An upload that outlived Close (a Transport that ignored its ctx)
		// finished: tell the callback from here, late rather than never.
		r.mu.Unlock()
		r.tellLate(&j)
		return
	}
	r.jobs = append(r.jobs, j)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop makes the goroutine return once every job handed over is told.
func (r *reporter) stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *reporter) run() {
	defer close(r.done)
	var timer *time.Timer
	var timerC <-chan time.Time
	for {
		select {
		case <-r.wake:
		case <-timerC:
			timerC = nil
			r.logSum(false)
		}
		r.mu.Lock()
		jobs := r.jobs
		r.jobs = nil
		stopped := r.stopped
		r.mu.Unlock()
		for i := range jobs {
			r.tell(&jobs[i])
			jobs[i] = reportJob{}
		}
		if stopped {
			r.mu.Lock()
			more := len(r.jobs) > 0
			r.mu.Unlock()
			if more {
				continue
			}
			if timer != nil {
				timer.Stop()
			}
			r.logSum(true)
			return
		}
		if r.sum.n > 0 && timerC == nil && !r.closing.Load() {
			wait := r.interval - time.Since(r.lastLog)
			if wait <= 0 {
				r.logSum(false)
			} else {
				timer = time.NewTimer(wait)
				timerC = timer.C
			}
		}
	}
}

// tellLate reports a job that arrived after the goroutine stopped, from
// the caller's goroutine: the failure sum belongs to the stopped goroutine,
// so a failure is logged on its own line.
func (r *reporter) tellLate(j *reportJob) {
	if !r.abandoned.Load() && j.tell && r.cb == nil && (j.rep.Outcome == Failed || j.rep.Outcome == Spooled) {
		var one failureSum
		one.add(j.rep)
		r.logOne(one, "analytics: messages not delivered (after Close returned)")
		j.tell = false
	}
	r.tell(j)
}

// tell reports one job and then releases its waiters.
func (r *reporter) tell(j *reportJob) {
	if !r.abandoned.Load() {
		if j.tell {
			if r.cb != nil {
				r.call(r.cb, j.rep)
			} else if j.rep.Outcome == Failed || j.rep.Outcome == Spooled {
				r.sum.add(j.rep)
			}
		}
		for i, d := range j.dones {
			one := j.rep
			if len(j.rep.Messages) == len(j.dones) {
				one.Messages = j.rep.Messages[i : i+1 : i+1]
			}
			if d != nil {
				r.call(d, one)
			}
		}
	}
	r.release(*j)
}

func (r *reporter) release(j reportJob) {
	if len(j.gens) > 0 {
		r.gens(j.gens)
	}
}

// call runs a callback of the user's; a panic in it is logged, never
// propagated: a bug in the callback must not stop delivery.
func (r *reporter) call(f func(Report), rep Report) {
	tok := r.inCallback.begin()
	defer r.inCallback.end(tok)
	defer func() {
		if v := recover(); v != nil {
			r.log.log(slog.LevelError, "analytics: delivery callback panicked",
				slog.String("panic", fmt.Sprint(v)), slog.String("outcome", rep.Outcome.String()))
		}
	}()
	f(rep)
}

// logSum writes the failures summed since the last line (final: the one
// line of Close).
func (r *reporter) logSum(final bool) {
	s := r.sum
	if s.n == 0 {
		return
	}
	if !final && time.Since(r.lastLog) < r.interval {
		return
	}
	r.sum = failureSum{}
	r.lastLog = time.Now()
	msg := "analytics: messages not delivered"
	if final {
		msg = "analytics: messages not delivered (at Close)"
	}
	r.logOne(s, msg)
}

// logOne writes one summed failure line.
func (r *reporter) logOne(s failureSum, msg string) {
	attrs := []slog.Attr{slog.Int("count", s.n)}
	for _, kv := range [...]struct {
		k string
		v int
	}{{"rejected", s.rejected}, {"retries_exhausted", s.exhausted}, {"deadline", s.deadline}, {"spooled", s.spooled}} {
		if kv.v > 0 {
			attrs = append(attrs, slog.Int(kv.k, kv.v))
		}
	}
	if s.last != nil {
		attrs = append(attrs, slog.String("last_error", s.last.Error()))
	}
	r.log.log(slog.LevelError, msg, attrs...)
}

// safeLogger logs through the user's logger; a panicking handler is
// contained. The write key is removed from every string attribute.
type safeLogger struct {
	l   *slog.Logger
	red redactor
}

func (s *safeLogger) log(level slog.Level, msg string, attrs ...slog.Attr) {
	defer func() { _ = recover() }() // a broken slog.Handler must not stop delivery
	for i, a := range attrs {
		if a.Value.Kind() == slog.KindString {
			attrs[i].Value = slog.StringValue(s.red.string(a.Value.String()))
		}
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

// plural returns "n thing" or "n things".
func plural(n int, thing string) string {
	s := strconv.Itoa(n) + " " + thing
	if n != 1 {
		s += "s"
	}
	return s
}
