package otelanalytics

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/statsmetrics"
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

	// Instruments: sent and processed by outcome, one per row of
	// statsmetrics.Counters and statsmetrics.Gauges, and the durations.
	sent, processed metric.Int64ObservableCounter
	counters        []metric.Int64ObservableCounter
	gauges          []metric.Int64ObservableUpDownCounter
	duration        metric.Float64Histogram

	// Attribute sets, built once: the client's own, sent and processed
	// by outcome, and those of failed and refused messages by reason (in
	// the order of statsmetrics.Failed and statsmetrics.Refused).
	baseOpt                    metric.MeasurementOption
	sentOK                     metric.MeasurementOption
	procDelivered, procSpooled metric.MeasurementOption
	sentFailed, procFailed     []metric.MeasurementOption
	procRefused                []metric.MeasurementOption
	durationBase               []attribute.KeyValue
	durationSets               sync.Map // attemptKey → metric.MeasurementOption, built once each

	client statsmetrics.Binding
	reg    metric.Registration // set and read under the Binding's lock
}

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
	m.client.ErrRegistered, m.client.ErrClosed = ErrRegistered, ErrClosed
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
	m.procDelivered = with(OutcomeKey.String("delivered"))
	m.procSpooled = with(OutcomeKey.String("spooled"))
	failed, refused := OutcomeKey.String("failed"), OutcomeKey.String("refused")
	for _, r := range statsmetrics.Failed {
		m.sentFailed = append(m.sentFailed, with(system, send, semconv.ErrorTypeKey.String(r.Name)))
		m.procFailed = append(m.procFailed, with(failed, semconv.ErrorTypeKey.String(r.Name)))
	}
	for _, r := range statsmetrics.Refused {
		m.procRefused = append(m.procRefused, with(refused, semconv.ErrorTypeKey.String(r.Name)))
	}
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
	m.sent = counter("messaging.client.sent.messages", "{message}",
		"Messages whose sending ended: delivered, or failed (error.type says why).")
	m.processed = counter("tracklane.analytics.processed", "{message}",
		"Messages given to the client, by outcome (delivered, failed, spooled, refused) and error.type.")
	for _, c := range statsmetrics.Counters {
		m.counters = append(m.counters, counter(c.OTel, c.Unit, c.Help))
	}
	for _, g := range statsmetrics.Gauges {
		i, err := m.meter.Int64ObservableUpDownCounter(g.OTel, metric.WithUnit(g.Unit), metric.WithDescription(g.Help))
		errs = append(errs, err)
		m.gauges = append(m.gauges, i)
	}
	var err error
	m.duration, err = m.meter.Float64Histogram("messaging.client.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of each upload attempt (one POST of a batch)."),
		metric.WithExplicitBucketBoundaries(statsmetrics.DurationBuckets()...))
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
	return m.client.Register(stats, func() error {
		observables := []metric.Observable{m.sent, m.processed}
		for _, c := range m.counters {
			observables = append(observables, c)
		}
		for _, g := range m.gauges {
			observables = append(observables, g)
		}
		reg, err := m.meter.RegisterCallback(m.observe, observables...)
		if err != nil {
			return err
		}
		m.reg = reg
		return nil
	})
}

// Close removes the callback (collections no longer report the client's
// Stats) and stops recording upload attempts. It does not close the client.
// Close is idempotent: later calls return the first call's result (the
// MeterProvider's error unregistering the callback, if any).
func (m *Metrics) Close() error {
	return m.client.Close(func() error {
		if m.reg == nil {
			return nil
		}
		return m.reg.Unregister()
	})
}

// observe is the callback of the observable instruments.
func (m *Metrics) observe(_ context.Context, o metric.Observer) error {
	s, ok := m.client.Stats()
	if !ok {
		return nil
	}
	count := func(i metric.Int64Observable, v uint64, opt metric.MeasurementOption) {
		o.ObserveInt64(i, clamp(v), opt)
	}
	count(m.sent, s.Delivered, m.sentOK)
	count(m.processed, s.Delivered, m.procDelivered)
	count(m.processed, s.Spooled, m.procSpooled)
	for i, r := range statsmetrics.Failed {
		count(m.sent, r.Count(s), m.sentFailed[i])
		count(m.processed, r.Count(s), m.procFailed[i])
	}
	for i, r := range statsmetrics.Refused {
		count(m.processed, r.Count(s), m.procRefused[i])
	}
	for i, c := range statsmetrics.Counters {
		count(m.counters[i], c.Count(s), m.baseOpt)
	}
	for i, g := range statsmetrics.Gauges {
		o.ObserveInt64(m.gauges[i], int64(g.Level(s)), m.baseOpt)
	}
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
	if m.client.Closed() {
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
