// Package statsmetrics is what the otel and prometheus modules share in
// reporting an analytics.Client as metrics: which Stats field feeds which
// series (with the series' names, units and descriptions in each of the
// two vocabularies), the reasons that label failed and refused messages,
// the buckets of the upload-duration histogram, and the lifecycle of the
// one client a Metrics reports (Register once, Close for good).
//
// Each module keeps what is its own: its instruments or collector, the
// series it builds from Delivered and Spooled, and how it labels an upload
// attempt. A new Stats figure is one row here, and both modules report it.
package statsmetrics

import (
	"sync"
	"sync/atomic"

	"github.com/tracklane/analytics"
)

// Reason is one cause of a message's final failure or refusal: the label
// value (error.type in OpenTelemetry, reason in Prometheus) and the Stats
// field that counts it.
type Reason struct {
	Name  string
	Count func(analytics.Stats) uint64
}

// Failed lists the reasons of Stats.Failed, one per Failed* field.
var Failed = []Reason{
	{"rejected", func(s analytics.Stats) uint64 { return s.FailedRejected }},
	{"retries_exhausted", func(s analytics.Stats) uint64 { return s.FailedExhausted }},
	{"deadline", func(s analytics.Stats) uint64 { return s.FailedDeadline }},
}

// Refused lists the reasons of Stats.Refused, one per Refused* field. The
// values are those of the OpenTelemetry SDK's own processors where they
// mean the same (queue_full, already_shutdown).
var Refused = []Reason{
	{"invalid", func(s analytics.Stats) uint64 { return s.RefusedInvalid }},
	{"too_large", func(s analytics.Stats) uint64 { return s.RefusedTooLarge }},
	{"queue_full", func(s analytics.Stats) uint64 { return s.RefusedQueueFull }},
	{"already_shutdown", func(s analytics.Stats) uint64 { return s.RefusedClosed }},
	{"spool", func(s analytics.Stats) uint64 { return s.RefusedSpool }},
}

// Figure is a Stats field reported as a series of its own, without labels
// but the client's.
type Figure struct {
	OTel string // the OpenTelemetry instrument's name
	Unit string // and its unit
	Prom string // the Prometheus name, without the namespace
	Help string // the description, the same in both
}

// Counter is a Stats total reported as a counter.
type Counter struct {
	Figure
	Count func(analytics.Stats) uint64
}

// Gauge is a Stats level reported as a gauge (an UpDownCounter in
// OpenTelemetry).
type Gauge struct {
	Figure
	Level func(analytics.Stats) int
}

// Counters are the Stats totals that are a series each in both modules.
// (Delivered, Spooled and the reasons are series each module shapes its
// own way.)
var Counters = []Counter{
	{Figure{"tracklane.analytics.enqueued", "{message}", "messages_enqueued_total",
		"Messages accepted by Enqueue, plus those recovered from the spool."},
		func(s analytics.Stats) uint64 { return s.Enqueued }},
	{Figure{"tracklane.analytics.recovered", "{message}", "messages_recovered_total",
		"Messages read back from the spool at start-up."},
		func(s analytics.Stats) uint64 { return s.Recovered }},
	{Figure{"tracklane.analytics.spool.corrupt", "{segment}", "spool_corrupt_segments_total",
		"Spool segments whose torn or corrupt tail was skipped at start-up."},
		func(s analytics.Stats) uint64 { return s.SpoolCorrupt }},
	{Figure{"tracklane.analytics.spool.lost", "{message}", "messages_lost_total",
		"Messages lost to spool corruption at start-up."},
		func(s analytics.Stats) uint64 { return s.SpoolLost }},
	{Figure{"tracklane.analytics.batches", "{batch}", "batches_total",
		"Batches delivered."},
		func(s analytics.Stats) uint64 { return s.Batches }},
	{Figure{"tracklane.analytics.retries", "{attempt}", "retries_total",
		"Upload attempts that were retried."},
		func(s analytics.Stats) uint64 { return s.Retries }},
	{Figure{"tracklane.analytics.rate_limited", "{response}", "rate_limited_total",
		"Rate-limited answers (HTTP 429)."},
		func(s analytics.Stats) uint64 { return s.RateLimited }},
	{Figure{"tracklane.analytics.split_requests", "{request}", "split_requests_total",
		"Extra uploads spent on split batches (413, and 400 bisection)."},
		func(s analytics.Stats) uint64 { return s.SplitRequests }},
}

// Gauges are the queue's figures, observed at each collection.
var Gauges = []Gauge{
	{Figure{"tracklane.analytics.queue.size", "{message}", "queue_messages",
		"Messages accepted without an outcome yet (queued, in flight, waiting to retry)."},
		func(s analytics.Stats) int { return s.Queued }},
	{Figure{"tracklane.analytics.queue.capacity", "{message}", "queue_capacity_messages",
		"The queue's bound in messages."},
		func(s analytics.Stats) int { return s.MaxQueued }},
	{Figure{"tracklane.analytics.queue.data.size", "By", "queue_bytes",
		"Encoded bytes of the queued messages."},
		func(s analytics.Stats) int { return s.QueuedBytes }},
	{Figure{"tracklane.analytics.queue.data.capacity", "By", "queue_capacity_bytes",
		"The queue's bound in encoded bytes."},
		func(s analytics.Stats) int { return s.MaxQueuedBytes }},
}

// DurationBuckets returns the bounds, in seconds, of the upload-duration
// histogram: those OpenTelemetry's messaging conventions recommend for the
// duration of a send, 5 ms to 10 s. Each call returns a new slice.
func DurationBuckets() []float64 {
	return []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
}

// Binding is the one client a Metrics reports on: Register binds its Stats
// once, Close ends the binding for good. The module's own sentinels are
// set once, before use; the methods are safe for concurrent use.
type Binding struct {
	ErrRegistered error // Register when a client is bound
	ErrClosed     error // Register after Close

	mu       sync.Mutex // serialises Register and Close, and the hooks they run
	stats    atomic.Pointer[func() analytics.Stats]
	closed   atomic.Bool
	bound    bool
	closeErr error
}

// Register binds stats. It returns ErrClosed after Close, ErrRegistered
// when a client is already bound, or the error of start (run under the
// lock, before binding; nil for none), binding nothing then.
func (b *Binding) Register(stats func() analytics.Stats, start func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return b.ErrClosed
	}
	if b.bound {
		return b.ErrRegistered
	}
	if start != nil {
		if err := start(); err != nil {
			return err
		}
	}
	b.stats.Store(&stats)
	b.bound = true
	return nil
}

// Close ends the binding: Stats reports nothing from now on, and Closed is
// true. The first call runs stop (under the lock; nil for none) and
// returns its error; later calls return the same.
func (b *Binding) Close(stop func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Swap(true) {
		return b.closeErr
	}
	if stop != nil {
		b.closeErr = stop()
	}
	b.stats.Store(nil)
	return b.closeErr
}

// Stats returns the bound client's Stats, and false when no client is
// bound (before Register, after Close).
func (b *Binding) Stats() (analytics.Stats, bool) {
	stats := b.stats.Load()
	if stats == nil {
		return analytics.Stats{}, false
	}
	return (*stats)(), true
}

// Closed reports whether Close was called.
func (b *Binding) Closed() bool { return b.closed.Load() }
