package promanalytics

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tracklane/analytics"
)

// Errors of New and Register.
var (
	// ErrInvalidClientName: ClientName was given an empty name.
	ErrInvalidClientName = errors.New("promanalytics: client name is empty")
	// ErrNilClient: Register was given a nil *analytics.Client.
	ErrNilClient = errors.New("promanalytics: client is nil")
	// ErrRegistered: Register was called a second time; a Metrics observes
	// one client (make one Metrics per client).
	ErrRegistered = errors.New("promanalytics: a client is already registered")
	// ErrClosed: Register was called after Close.
	ErrClosed = errors.New("promanalytics: metrics are closed")
)

// Option configures New.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	labels prometheus.Labels
}

// ClientName sets the const label client on every series, to tell several
// clients of one process apart. Default none: no label, which is right for
// a process with one client. An empty name makes New fail with
// ErrInvalidClientName.
func ClientName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" {
			return ErrInvalidClientName
		}
		c.labels = prometheus.Labels{"client": name}
		return nil
	})
}

// Metrics collects one analytics.Client's figures: the ledger of
// Client.Stats, read at each scrape, and the upload attempts it is told of
// through Option. Build it with New, give Option to analytics.New, then
// Register the client; Close unregisters it. A Metrics is for one client:
// make one per client, each with its ClientName. It implements
// prometheus.Collector; its methods are safe for concurrent use.
type Metrics struct {
	reg prometheus.Registerer // nil: the user registers m

	enqueued, delivered, failed, spooled, refused *prometheus.Desc
	recovered, lost, corrupt                      *prometheus.Desc
	queueMessages, queueBytes                     *prometheus.Desc
	capacityMessages, capacityBytes               *prometheus.Desc
	batches, retries, rateLimited, splits         *prometheus.Desc
	duration                                      *prometheus.HistogramVec

	stats  atomic.Pointer[func() analytics.Stats] // the registered client's Stats
	closed atomic.Bool
	mu     sync.Mutex // guards the Register and Close transitions
}

const namespace = "tracklane_analytics"

// Values of the reason label, the same as error.type in the OpenTelemetry
// module.
const (
	reasonRejected  = "rejected"          // FailedRejected
	reasonExhausted = "retries_exhausted" // FailedExhausted
	reasonDeadline  = "deadline"          // FailedDeadline
	reasonInvalid   = "invalid"           // RefusedInvalid
	reasonTooLarge  = "too_large"         // RefusedTooLarge
	reasonQueueFull = "queue_full"        // RefusedQueueFull
	reasonClosed    = "already_shutdown"  // RefusedClosed
	reasonSpool     = "spool"             // RefusedSpool
)

// New builds the collector and registers it with reg; a nil reg registers
// nothing (register m yourself: it is a prometheus.Collector). The Stats
// series are collected once a client is registered. An invalid option
// returns its error (nil options are ignored); reg's error (a *prometheus.AlreadyRegisteredError when
// the same series are already registered, as by two Metrics without
// distinct ClientNames) is returned as is.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	var cfg config
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, cfg.labels)
	}
	m := &Metrics{
		enqueued:         desc("messages_enqueued_total", "Messages accepted by Enqueue, plus those recovered from the spool."),
		delivered:        desc("messages_delivered_total", "Messages accepted by the endpoint."),
		failed:           desc("messages_failed_total", "Messages accepted, then given up on, by reason.", "reason"),
		spooled:          desc("messages_spooled_total", "Messages not delivered in this run but kept in the spool for the next start."),
		refused:          desc("messages_refused_total", "Messages refused by Enqueue, by reason.", "reason"),
		recovered:        desc("messages_recovered_total", "Messages read back from the spool at start-up."),
		lost:             desc("messages_lost_total", "Messages lost to spool corruption at start-up."),
		corrupt:          desc("spool_corrupt_segments_total", "Spool segments whose torn or corrupt tail was skipped at start-up."),
		queueMessages:    desc("queue_messages", "Messages accepted without an outcome yet (queued, in flight, waiting to retry)."),
		queueBytes:       desc("queue_bytes", "Encoded bytes of the queued messages."),
		capacityMessages: desc("queue_capacity_messages", "The queue's bound in messages."),
		capacityBytes:    desc("queue_capacity_bytes", "The queue's bound in encoded bytes."),
		batches:          desc("batches_total", "Batches delivered."),
		retries:          desc("retries_total", "Upload attempts that were retried."),
		rateLimited:      desc("rate_limited_total", "Rate-limited answers (HTTP 429)."),
		splits:           desc("split_requests_total", "Extra uploads spent on split batches (413, and 400 bisection)."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "upload_duration_seconds",
			Help:      "Duration of each upload attempt (one POST of a batch), by the delivery policy's result and the HTTP status code.",
			// In seconds: those OpenTelemetry's messaging conventions
			// recommend for the duration of a send.
			Buckets:     []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10},
			ConstLabels: cfg.labels,
		}, []string{"result", "code"}),
	}
	if reg != nil {
		if err := reg.Register(m); err != nil {
			return nil, err
		}
		m.reg = reg
	}
	return m, nil
}

// Option returns the analytics.Option that tells m of every upload attempt
// (for upload_duration_seconds): give it to analytics.New of the client you
// then Register. Attempts are observed until Close.
func (m *Metrics) Option() analytics.Option {
	return analytics.WithUploadObserver(observer{m})
}

// Register starts collecting client's Stats at every scrape. It returns
// ErrNilClient for a nil client, ErrRegistered when a client is already
// registered, and ErrClosed after Close.
func (m *Metrics) Register(client *analytics.Client) error {
	if client == nil {
		return ErrNilClient
	}
	return m.register(client.Stats)
}

// register collects what stats returns (a seam for tests, which feed every
// Stats field a distinct value).
func (m *Metrics) register(stats func() analytics.Stats) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return ErrClosed
	}
	if m.stats.Load() != nil {
		return ErrRegistered
	}
	m.stats.Store(&stats)
	return nil
}

// Close unregisters m from the Registerer given to New, stops collecting
// the client's Stats and stops observing upload attempts. It does not close
// the client. Close is idempotent.
func (m *Metrics) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Swap(true) {
		return
	}
	if m.reg != nil {
		m.reg.Unregister(m)
	}
	m.stats.Store(nil)
}

// Describe implements prometheus.Collector: every series m may collect.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		m.enqueued, m.delivered, m.failed, m.spooled, m.refused, m.recovered, m.lost, m.corrupt,
		m.queueMessages, m.queueBytes, m.capacityMessages, m.capacityBytes,
		m.batches, m.retries, m.rateLimited, m.splits,
	} {
		ch <- d
	}
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector: the registered client's Stats
// (none before Register and after Close) and the upload durations.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if stats := m.stats.Load(); stats != nil {
		m.collectStats(ch, (*stats)())
	}
	m.duration.Collect(ch)
}

func (m *Metrics) collectStats(ch chan<- prometheus.Metric, s analytics.Stats) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(m.enqueued, s.Enqueued)
	counter(m.delivered, s.Delivered)
	counter(m.failed, s.FailedRejected, reasonRejected)
	counter(m.failed, s.FailedExhausted, reasonExhausted)
	counter(m.failed, s.FailedDeadline, reasonDeadline)
	counter(m.spooled, s.Spooled)
	counter(m.refused, s.RefusedInvalid, reasonInvalid)
	counter(m.refused, s.RefusedTooLarge, reasonTooLarge)
	counter(m.refused, s.RefusedQueueFull, reasonQueueFull)
	counter(m.refused, s.RefusedClosed, reasonClosed)
	counter(m.refused, s.RefusedSpool, reasonSpool)
	counter(m.recovered, s.Recovered)
	counter(m.lost, s.SpoolLost)
	counter(m.corrupt, s.SpoolCorrupt)
	gauge(m.queueMessages, s.Queued)
	gauge(m.queueBytes, s.QueuedBytes)
	gauge(m.capacityMessages, s.MaxQueued)
	gauge(m.capacityBytes, s.MaxQueuedBytes)
	counter(m.batches, s.Batches)
	counter(m.retries, s.Retries)
	counter(m.rateLimited, s.RateLimited)
	counter(m.splits, s.SplitRequests)
}

// observer observes upload attempts; a type of its own so that Metrics
// does not export ObserveUpload.
type observer struct{ m *Metrics }

// ObserveUpload observes one attempt's duration.
func (o observer) ObserveUpload(info analytics.UploadInfo) {
	if o.m.closed.Load() {
		return
	}
	code := "none"
	if info.StatusCode != 0 {
		code = strconv.Itoa(info.StatusCode)
	}
	o.m.duration.WithLabelValues(info.Result, code).Observe(info.Duration.Seconds())
}
