package promanalytics

import (
	"errors"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/statsmetrics"
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

	delivered, failed, spooled, refused *prometheus.Desc
	counters, gauges                    []*prometheus.Desc // one per row of statsmetrics.Counters, statsmetrics.Gauges
	duration                            *prometheus.HistogramVec

	client statsmetrics.Binding
}

const namespace = "tracklane_analytics"

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
		delivered: desc("messages_delivered_total", "Messages accepted by the endpoint."),
		failed:    desc("messages_failed_total", "Messages accepted, then given up on, by reason.", "reason"),
		spooled:   desc("messages_spooled_total", "Messages not delivered in this run but kept in the spool for the next start."),
		refused:   desc("messages_refused_total", "Messages refused by Enqueue, by reason.", "reason"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace:   namespace,
			Name:        "upload_duration_seconds",
			Help:        "Duration of each upload attempt (one POST of a batch), by the delivery policy's result and the HTTP status code.",
			Buckets:     statsmetrics.DurationBuckets(),
			ConstLabels: cfg.labels,
		}, []string{"result", "code"}),
	}
	m.client.ErrRegistered, m.client.ErrClosed = ErrRegistered, ErrClosed
	for _, c := range statsmetrics.Counters {
		m.counters = append(m.counters, desc(c.Prom, c.Help))
	}
	for _, g := range statsmetrics.Gauges {
		m.gauges = append(m.gauges, desc(g.Prom, g.Help))
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
	return m.client.Register(stats, nil)
}

// Close unregisters m from the Registerer given to New, stops collecting
// the client's Stats and stops observing upload attempts. It does not close
// the client. Close is idempotent.
func (m *Metrics) Close() {
	_ = m.client.Close(func() error {
		if m.reg != nil {
			m.reg.Unregister(m)
		}
		return nil
	})
}

// Describe implements prometheus.Collector: every series m may collect.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range slices.Concat([]*prometheus.Desc{m.delivered, m.failed, m.spooled, m.refused}, m.counters, m.gauges) {
		ch <- d
	}
	m.duration.Describe(ch)
}

// Collect implements prometheus.Collector: the registered client's Stats
// (none before Register and after Close) and the upload durations.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if s, ok := m.client.Stats(); ok {
		m.collectStats(ch, s)
	}
	m.duration.Collect(ch)
}

func (m *Metrics) collectStats(ch chan<- prometheus.Metric, s analytics.Stats) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(m.delivered, s.Delivered)
	counter(m.spooled, s.Spooled)
	for _, r := range statsmetrics.Failed {
		counter(m.failed, r.Count(s), r.Name)
	}
	for _, r := range statsmetrics.Refused {
		counter(m.refused, r.Count(s), r.Name)
	}
	for i, c := range statsmetrics.Counters {
		counter(m.counters[i], c.Count(s))
	}
	for i, g := range statsmetrics.Gauges {
		ch <- prometheus.MustNewConstMetric(m.gauges[i], prometheus.GaugeValue, float64(g.Level(s)))
	}
}

// observer observes upload attempts; a type of its own so that Metrics
// does not export ObserveUpload.
type observer struct{ m *Metrics }

// ObserveUpload observes one attempt's duration.
func (o observer) ObserveUpload(info analytics.UploadInfo) {
	if o.m.client.Closed() {
		return
	}
	code := "none"
	if info.StatusCode != 0 {
		code = strconv.Itoa(info.StatusCode)
	}
	o.m.duration.WithLabelValues(info.Result, code).Observe(info.Duration.Seconds())
}
