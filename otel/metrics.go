package otelanalytics

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/tracklane/analytics"
)

// ScopeName is the instrumentation scope of the Meter the instruments are
// created with.
const ScopeName = "github.com/tracklane/analytics/otel"

// Attribute keys of this package's own (the others are OpenTelemetry's).
const (
	// ClientNameKey tells the clients of one process apart; its value is
	// the ClientName option.
	ClientNameKey = attribute.Key("tracklane.analytics.client.name")
	// OutcomeKey is a message's outcome on tracklane.analytics.processed:
	// delivered, failed, spooled or refused.
	OutcomeKey = attribute.Key("tracklane.analytics.outcome")
	// UploadResultKey is what the delivery policy made of an upload
	// attempt: delivered, retried, paused, exhausted, split or rejected.
	UploadResultKey = attribute.Key("tracklane.analytics.upload.result")
)

// Errors of New, Register and Close.
var (
	// ErrNilMeterProvider: New was given a nil metric.MeterProvider.
	ErrNilMeterProvider = errors.New("otelanalytics: meter provider is nil")
	// ErrInvalidClientName: ClientName was given an empty name.
	ErrInvalidClientName = errors.New("otelanalytics: client name is empty")
	// ErrNilClient: Register was given a nil *analytics.Client.
	ErrNilClient = errors.New("otelanalytics: client is nil")
	// ErrRegistered: Register was called a second time; a Metrics observes
	// one client (make one Metrics per client).
	ErrRegistered = errors.New("otelanalytics: a client is already registered")
	// ErrClosed: Register was called after Close.
	ErrClosed = errors.New("otelanalytics: metrics are closed")
)

// Option configures New.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	name    string
	hasName bool
}

// ClientName sets the value of the tracklane.analytics.client.name
// attribute on every measurement, to tell several clients of one process
// apart. Default none: the attribute is left out, which is right for a
// process with one client. An empty name makes New fail with
// ErrInvalidClientName.
func ClientName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return ErrInvalidClientName
		}
		c.name, c.hasName = name, true
		return nil
	})
}

// Metrics reports one analytics.Client's figures to an OpenTelemetry
// MeterProvider: the ledger of Client.Stats through observable instruments
// read at each collection, and each upload attempt's duration through an
// analytics.UploadObserver. Build it with New, give Option to analytics.New,
// then Register the client; Close removes the callback. A Metrics is for one
// client: make one per client, each with its ClientName. Its methods are safe
// for concurrent use.
type Metrics struct {
	meter metric.Meter

	// Instruments.
	sent, processed, enqueued, recovered      metric.Int64ObservableCounter
	spoolCorrupt, spoolLost                   metric.Int64ObservableCounter
	batches, retries, rateLimited, splits     metric.Int64ObservableCounter
	queueSize, queueCapacity                  metric.Int64ObservableUpDownCounter
	queueDataSize, queueDataCapacity          metric.Int64ObservableUpDownCounter
	duration                                  metric.Float64Histogram
	baseOpt                                   metric.MeasurementOption
	sentOK, sentRejected, sentExhausted       metric.MeasurementOption
	sentDeadline                              metric.MeasurementOption
	procDelivered, procSpooled                metric.MeasurementOption
	procRejected, procExhausted, procDeadline metric.MeasurementOption
	refInvalid, refTooLarge, refQueueFull     metric.MeasurementOption
	refClosed, refSpool                       metric.MeasurementOption
	durationBase                              []attribute.KeyValue
	durationSets                              sync.Map // attemptKey → metric.MeasurementOption, built once each

	stats  atomic.Pointer[func() analytics.Stats] // the registered client's Stats
	closed atomic.Bool

	mu       sync.Mutex // guards reg, closeErr and the Register/Close transitions
	reg      metric.Registration
	closeErr error
}

// Values of error.type, shared with the OpenTelemetry SDK's own processors
// where they mean the same (queue_full, already_shutdown).
const (
	errRejected  = "rejected"          // FailedRejected
	errExhausted = "retries_exhausted" // FailedExhausted
	errDeadline  = "deadline"          // FailedDeadline
	errInvalid   = "invalid"           // RefusedInvalid
	errTooLarge  = "too_large"         // RefusedTooLarge
	errQueueFull = "queue_full"        // RefusedQueueFull
	errClosed    = "already_shutdown"  // RefusedClosed
	errSpool     = "spool"             // RefusedSpool
)

// New creates the instruments on a Meter of mp (scope ScopeName). The
// observable ones report nothing until Register. A nil mp returns
// ErrNilMeterProvider; an invalid option returns its error (nil options are
// ignored); an error of mp creating an instrument is returned as is.
func New(mp metric.MeterProvider, opts ...Option) (*Metrics, error) {
	if mp == nil {
		return nil, ErrNilMeterProvider
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	m := &Metrics{meter: mp.Meter(ScopeName)}
	var base []attribute.KeyValue
	if cfg.hasName {
		base = append(base, ClientNameKey.String(cfg.name))
	}
	m.baseOpt = metric.WithAttributeSet(attribute.NewSet(base...))
	with := func(kvs ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(append([]attribute.KeyValue(nil), base...), kvs...)...))
	}
	system := semconv.MessagingSystemKey.String("segment")
	send := semconv.MessagingOperationNameKey.String("send")
	m.sentOK = with(system, send)
	m.sentRejected = with(system, send, semconv.ErrorTypeKey.String(errRejected))
	m.sentExhausted = with(system, send, semconv.ErrorTypeKey.String(errExhausted))
	m.sentDeadline = with(system, send, semconv.ErrorTypeKey.String(errDeadline))
	m.procDelivered = with(OutcomeKey.String("delivered"))
	m.procSpooled = with(OutcomeKey.String("spooled"))
	failed, refused := OutcomeKey.String("failed"), OutcomeKey.String("refused")
	m.procRejected = with(failed, semconv.ErrorTypeKey.String(errRejected))
	m.procExhausted = with(failed, semconv.ErrorTypeKey.String(errExhausted))
	m.procDeadline = with(failed, semconv.ErrorTypeKey.String(errDeadline))
	m.refInvalid = with(refused, semconv.ErrorTypeKey.String(errInvalid))
	m.refTooLarge = with(refused, semconv.ErrorTypeKey.String(errTooLarge))
	m.refQueueFull = with(refused, semconv.ErrorTypeKey.String(errQueueFull))
	m.refClosed = with(refused, semconv.ErrorTypeKey.String(errClosed))
	m.refSpool = with(refused, semconv.ErrorTypeKey.String(errSpool))
	m.durationBase = append(append([]attribute.KeyValue(nil), base...), system, send)
	if err := m.instruments(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) instruments() error {
	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		i, err := m.meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}
	gauge := func(name, unit, desc string) metric.Int64ObservableUpDownCounter {
		i, err := m.meter.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return i
	}
	m.sent = counter("messaging.client.sent.messages", "{message}",
		"Messages whose sending ended: delivered, or failed (error.type says why).")
	m.processed = counter("tracklane.analytics.processed", "{message}",
		"Messages given to the client, by outcome (delivered, failed, spooled, refused) and error.type.")
	m.enqueued = counter("tracklane.analytics.enqueued", "{message}",
		"Messages accepted by Enqueue, plus those recovered from the spool.")
	m.recovered = counter("tracklane.analytics.recovered", "{message}",
		"Messages read back from the spool at start-up.")
	m.spoolCorrupt = counter("tracklane.analytics.spool.corrupt", "{segment}",
		"Spool segments whose torn or corrupt tail was skipped at start-up.")
	m.spoolLost = counter("tracklane.analytics.spool.lost", "{message}",
		"Messages lost to spool corruption at start-up.")
	m.batches = counter("tracklane.analytics.batches", "{batch}",
		"Batches delivered.")
	m.retries = counter("tracklane.analytics.retries", "{attempt}",
		"Upload attempts that were retried.")
	m.rateLimited = counter("tracklane.analytics.rate_limited", "{response}",
		"Rate-limited answers (HTTP 429).")
	m.splits = counter("tracklane.analytics.split_requests", "{request}",
		"Extra uploads spent on split batches (413, and 400 bisection).")
	m.queueSize = gauge("tracklane.analytics.queue.size", "{message}",
		"Messages accepted without an outcome yet (queued, in flight, waiting to retry).")
	m.queueCapacity = gauge("tracklane.analytics.queue.capacity", "{message}",
		"The queue's bound in messages.")
	m.queueDataSize = gauge("tracklane.analytics.queue.data.size", "By",
		"Encoded bytes of the queued messages.")
	m.queueDataCapacity = gauge("tracklane.analytics.queue.data.capacity", "By",
		"The queue's bound in encoded bytes.")
	var err error
	m.duration, err = m.meter.Float64Histogram("messaging.client.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of each upload attempt (one POST of a batch)."),
		// The bounds the messaging conventions recommend for this metric.
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	errs = append(errs, err)
	return errors.Join(errs...)
}

// Option returns the analytics.Option that tells m of every upload attempt
// (for messaging.client.operation.duration): give it to analytics.New of the
// client you then Register. Attempts are recorded until Close.
func (m *Metrics) Option() analytics.Option {
	return analytics.WithUploadObserver(observer{m})
}

// Register starts reporting client's Stats at every collection. It returns
// ErrNilClient for a nil client, ErrRegistered when a client is already
// registered, ErrClosed after Close, or the MeterProvider's error.
func (m *Metrics) Register(client *analytics.Client) error {
	if client == nil {
		return ErrNilClient
	}
	return m.register(client.Stats)
}

// register reports what stats returns (a seam for tests, which feed every
// Stats field a distinct value).
func (m *Metrics) register(stats func() analytics.Stats) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.reg != nil {
		return ErrRegistered
	}
	reg, err := m.meter.RegisterCallback(m.observe,
		m.sent, m.processed, m.enqueued, m.recovered, m.spoolCorrupt, m.spoolLost,
		m.batches, m.retries, m.rateLimited, m.splits,
		m.queueSize, m.queueCapacity, m.queueDataSize, m.queueDataCapacity)
	if err != nil {
		return err
	}
	m.stats.Store(&stats)
	m.reg = reg
	return nil
}

// Close removes the callback (collections no longer report the client's
// Stats) and stops recording upload attempts. It does not close the client.
// Close is idempotent: later calls return the first call's result (the
// MeterProvider's error unregistering the callback, if any).
func (m *Metrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return m.closeErr
	}
	if m.reg != nil {
		m.closeErr = m.reg.Unregister()
	}
	m.stats.Store(nil)
	return m.closeErr
}

// observe is the callback of the observable instruments.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	stats := m.stats.Load()
	if stats == nil {
		return nil
	}
	s := (*stats)()
	count := func(i metric.Int64Observable, v uint64, opt metric.MeasurementOption) {
		o.ObserveInt64(i, clamp(v), opt)
	}
	count(m.sent, s.Delivered, m.sentOK)
	count(m.sent, s.FailedRejected, m.sentRejected)
	count(m.sent, s.FailedExhausted, m.sentExhausted)
	count(m.sent, s.FailedDeadline, m.sentDeadline)

	count(m.processed, s.Delivered, m.procDelivered)
	count(m.processed, s.Spooled, m.procSpooled)
	count(m.processed, s.FailedRejected, m.procRejected)
	count(m.processed, s.FailedExhausted, m.procExhausted)
	count(m.processed, s.FailedDeadline, m.procDeadline)
	count(m.processed, s.RefusedInvalid, m.refInvalid)
	count(m.processed, s.RefusedTooLarge, m.refTooLarge)
	count(m.processed, s.RefusedQueueFull, m.refQueueFull)
	count(m.processed, s.RefusedClosed, m.refClosed)
	count(m.processed, s.RefusedSpool, m.refSpool)

	count(m.enqueued, s.Enqueued, m.baseOpt)
	count(m.recovered, s.Recovered, m.baseOpt)
	count(m.spoolCorrupt, s.SpoolCorrupt, m.baseOpt)
	count(m.spoolLost, s.SpoolLost, m.baseOpt)
	count(m.batches, s.Batches, m.baseOpt)
	count(m.retries, s.Retries, m.baseOpt)
	count(m.rateLimited, s.RateLimited, m.baseOpt)
	count(m.splits, s.SplitRequests, m.baseOpt)

	o.ObserveInt64(m.queueSize, int64(s.Queued), m.baseOpt)
	o.ObserveInt64(m.queueCapacity, int64(s.MaxQueued), m.baseOpt)
	o.ObserveInt64(m.queueDataSize, int64(s.QueuedBytes), m.baseOpt)
	o.ObserveInt64(m.queueDataCapacity, int64(s.MaxQueuedBytes), m.baseOpt)
	return nil
}

// clamp converts a counter to int64; counters never reach 2⁶³, but a
// wrapped value must not turn negative.
func clamp(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// observer records upload attempts; a type of its own so that Metrics does
// not export ObserveUpload.
type observer struct{ m *Metrics }

// ObserveUpload records one attempt's duration.
func (o observer) ObserveUpload(info analytics.UploadInfo) {
	m := o.m
	if m.closed.Load() {
		return
	}
	key := attemptKey{result: info.Result, status: info.StatusCode}
	if info.Err != nil {
		key.errorType = errorType(info)
	}
	v, ok := m.durationSets.Load(key)
	if !ok {
		// Few distinct keys (results × statuses): build each set once.
		kvs := make([]attribute.KeyValue, 0, len(m.durationBase)+3)
		kvs = append(kvs, m.durationBase...)
		kvs = append(kvs, UploadResultKey.String(key.result))
		if key.status != 0 {
			kvs = append(kvs, semconv.HTTPResponseStatusCode(key.status))
		}
		if key.errorType != "" {
			kvs = append(kvs, semconv.ErrorTypeKey.String(key.errorType))
		}
		v, _ = m.durationSets.LoadOrStore(key, metric.WithAttributeSet(attribute.NewSet(kvs...)))
	}
	if opt, ok := v.(metric.MeasurementOption); ok { // always: only options are stored
		m.duration.Record(context.Background(), info.Duration.Seconds(), opt)
	}
}

// attemptKey identifies the attribute set of an attempt's duration.
type attemptKey struct {
	result    string
	status    int
	errorType string
}

// errorType is error.type of a failed attempt, as the HTTP conventions
// define it: the status code when there was an answer, "timeout" when the
// attempt's deadline ended it, "_OTHER" for any other error without an
// answer (a network error).
func errorType(info analytics.UploadInfo) string {
	switch {
	case info.StatusCode != 0:
		return strconv.Itoa(info.StatusCode)
	case errors.Is(info.Err, context.DeadlineExceeded):
		return "timeout"
	default:
		return semconv.ErrorTypeOther.Value.AsString()
	}
}
