package analytics

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Defaults of the options.
const (
	DefaultEndpoint         = "https://api.segment.io"
	DefaultBatchSize        = 500
	DefaultBatchBytes       = MaxBatchBytes
	DefaultFlushInterval    = 5 * time.Second
	DefaultMaxQueueMessages = 100_000
	DefaultMaxQueueBytes    = 16 << 20
	DefaultConcurrency      = 2
	DefaultMaxAttempts      = 10
	DefaultMaxRetryTime     = 10 * time.Minute
	DefaultInitialBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff       = 60 * time.Second
	DefaultHTTPTimeout      = 10 * time.Second
	// MaxRetryAfter caps a server's Retry-After.
	MaxRetryAfter = 5 * time.Minute
	// minBatchBytes is the smallest WithBatchBytes accepted.
	minBatchBytes = 1024
)

// Option configures a Client. Options are applied once, by New.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	writeKey         string
	endpoint         string
	transport        Transport
	httpClient       *http.Client
	batchSize        int
	batchBytes       int
	flushInterval    time.Duration
	maxQueueMessages int
	maxQueueBytes    int
	concurrency      int
	maxAttempts      int
	maxRetryTime     time.Duration
	initialBackoff   time.Duration
	maxBackoff       time.Duration
	gzip             bool
	defaultContext   *Context
	callback         func(Report)
	logger           *slog.Logger
	now              func() time.Time
	newID            func() string // nil: a random UUIDv4 appended straight into the encoding
	orderIDs         bool
	jitter           func() float64 // in [0,1); nil: math/rand/v2
	spoolDir         string
	spoolMaxBytes    int64
	observers        []UploadObserver
}

func defaultConfig(writeKey string) *config {
	return &config{
		writeKey:         writeKey,
		endpoint:         DefaultEndpoint,
		batchSize:        DefaultBatchSize,
		batchBytes:       DefaultBatchBytes,
		flushInterval:    DefaultFlushInterval,
		maxQueueMessages: DefaultMaxQueueMessages,
		maxQueueBytes:    DefaultMaxQueueBytes,
		concurrency:      DefaultConcurrency,
		maxAttempts:      DefaultMaxAttempts,
		maxRetryTime:     DefaultMaxRetryTime,
		initialBackoff:   DefaultInitialBackoff,
		maxBackoff:       DefaultMaxBackoff,
		logger:           slog.Default(),
		now:              time.Now,
	}
}

func newDefaultHTTPClient(concurrency int) *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		t = t.Clone()
	} else { // http.DefaultTransport was replaced by the program
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, MaxIdleConns: 100,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second}
	}
	t.MaxIdleConnsPerHost = max(concurrency, 2)
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &http.Client{Timeout: DefaultHTTPTimeout, Transport: t}
}

// WithEndpoint sets the base URL batches are posted to ({baseURL}/v1/batch;
// a base URL that already ends in /v1 or /v1/batch is not doubled). Default
// DefaultEndpoint (https://api.segment.io; EU workspaces use
// https://events.eu1.segmentapis.com). A URL that is not absolute http(s)
// with a host, or that has credentials, a query or a fragment, makes New
// fail with a *ConfigError. Ignored with WithTransport.
func WithEndpoint(baseURL string) Option {
	return optionFunc(func(c *config) error {
		u, err := url.Parse(baseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &ConfigError{Option: "WithEndpoint", Reason: "want an absolute http or https URL, got " + redactURL(baseURL)}
		}
		if u.User != nil {
			return &ConfigError{Option: "WithEndpoint", Reason: "credentials in the URL are not allowed; the write key is sent as Basic auth"}
		}
		if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return &ConfigError{Option: "WithEndpoint", Reason: "want a base URL without a query or fragment, got " + redactURL(baseURL)}
		}
		c.endpoint = baseURL
		return nil
	})
}

func redactURL(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return "\"" + s + "\""
}

// WithTransport replaces the HTTP transport (tests, fan-out, another
// collector). The client still batches, retries and accounts. Nil makes New
// fail with a *ConfigError.
func WithTransport(t Transport) Option {
	return optionFunc(func(c *config) error {
		if t == nil {
			return &ConfigError{Option: "WithTransport", Reason: "transport is nil"}
		}
		c.transport = t
		return nil
	})
}

// WithHTTPClient sets the *http.Client of the HTTP transport. Default: a
// client with a 10 s timeout and keep-alive connections. Nil makes New fail
// with a *ConfigError.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) error {
		if hc == nil {
			return &ConfigError{Option: "WithHTTPClient", Reason: "client is nil"}
		}
		c.httpClient = hc
		return nil
	})
}

// WithBatchSize sets the most messages one batch carries. Default 500; at
// most 2,500 (the endpoint's limit). Outside 1..2500 New fails with a *ConfigError.
func WithBatchSize(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > MaxBatchMessages {
			return &ConfigError{Option: "WithBatchSize", Reason: "want 1 to 2500 messages"}
		}
		c.batchSize = n
		return nil
	})
}

// WithBatchBytes sets the largest uncompressed request body. Default and
// maximum 500,000 bytes. Below 1,024 New fails with a *ConfigError. When it
// is below 32,000 bytes, a message too large to fit a batch alone is
// refused by Enqueue with ErrMessageTooLarge.
func WithBatchBytes(n int) Option {
	return optionFunc(func(c *config) error {
		if n < minBatchBytes || n > MaxBatchBytes {
			return &ConfigError{Option: "WithBatchBytes", Reason: "want 1024 to 500000 bytes"}
		}
		c.batchBytes = n
		return nil
	})
}

// WithFlushInterval sets how long a partial batch may wait before it is
// sent. Default 5 s. Zero or negative makes New fail with a *ConfigError.
func WithFlushInterval(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return &ConfigError{Option: "WithFlushInterval", Reason: "want a positive duration"}
		}
		c.flushInterval = d
		return nil
	})
}

// WithMaxQueue bounds the messages accepted but not yet delivered or failed
// (queued, in flight and waiting to retry), in count and in encoded bytes.
// Enqueue refuses messages past either bound with a *QueueFullError that
// names the bound (errors.Is(err, ErrQueueFull)); EnqueueContext waits for
// room instead. Defaults 100,000 messages and 16 MiB; for real events the
// byte bound binds first (16 MiB is about 36,000 Order Completed with two
// products). The process's heap grows by about twice the bytes bound in the
// worst case, with Go's default GC settings. Values below 1 message or below
// 32,000 bytes make New fail with a *ConfigError.
func WithMaxQueue(messages, bytes int) Option {
	return optionFunc(func(c *config) error {
		if messages < 1 || bytes < MaxMessageBytes {
			return &ConfigError{Option: "WithMaxQueue", Reason: "want at least 1 message and 32000 bytes"}
		}
		c.maxQueueMessages, c.maxQueueBytes = messages, bytes
		return nil
	})
}

// WithConcurrency sets how many batches may be uploading (or waiting to
// retry) at once. Default 2. Outside 1..64 New fails with a *ConfigError.
func WithConcurrency(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 || n > 64 {
			return &ConfigError{Option: "WithConcurrency", Reason: "want 1 to 64 uploads"}
		}
		c.concurrency = n
		return nil
	})
}

// WithRetry bounds the delivery of a batch: at most attempts uploads (the
// first included; a 429 with Retry-After does not use one up) and at most
// maxTime from its first attempt. Defaults 10 attempts and 10 minutes.
// attempts below 1 or maxTime not positive make New fail with a *ConfigError.
func WithRetry(attempts int, maxTime time.Duration) Option {
	return optionFunc(func(c *config) error {
		if attempts < 1 || maxTime <= 0 {
			return &ConfigError{Option: "WithRetry", Reason: "want at least 1 attempt and a positive duration"}
		}
		c.maxAttempts, c.maxRetryTime = attempts, maxTime
		return nil
	})
}

// WithBackoff sets the exponential backoff between attempts: the first
// delay and the cap; each delay is jittered to between 0.5x and 1.5x.
// Defaults 500 ms and 60 s. Initial not positive, or max below initial,
// make New fail with a *ConfigError.
func WithBackoff(initial, maxDelay time.Duration) Option {
	return optionFunc(func(c *config) error {
		if initial <= 0 || maxDelay < initial {
			return &ConfigError{Option: "WithBackoff", Reason: "want 0 < initial <= max"}
		}
		c.initialBackoff, c.maxBackoff = initial, maxDelay
		return nil
	})
}

// WithGzip compresses request bodies (Content-Encoding: gzip). Default off.
// Limits still apply to the uncompressed body.
func WithGzip(enabled bool) Option {
	return optionFunc(func(c *config) error {
		c.gzip = enabled
		return nil
	})
}

// WithDefaultContext sets context members merged into every message (for
// example App, OS or Channel); a message's own Context wins field by field.
// Default none. Nil clears it.
func WithDefaultContext(ctx *Context) Option {
	return optionFunc(func(c *config) error {
		if ctx != nil {
			cp := *ctx
			ctx = &cp
		}
		c.defaultContext = ctx
		return nil
	})
}

// WithDeliveryCallback sets a function told the outcome of every message:
// delivered, failed or spooled (with the reason) from one goroutine of the
// client, in the order outcomes were decided, and refused, from the
// goroutine that called Enqueue. A slow callback never holds up uploads
// (outcomes wait for it in memory), but Flush and Close return only after
// it was told the outcomes they waited for; when Close's context ends
// first, the reports it has not taken are dropped (their messages are
// counted in Stats and in Close's error). It must be safe for concurrent
// use; it may call Enqueue and Stats but must not call Flush or Close. A
// panic in it is recovered and logged. Default: failures are logged
// (WithLogger), summed: at most one line per flush interval, and one at
// Close. Nil restores the default.
func WithDeliveryCallback(f func(Report)) Option {
	return optionFunc(func(c *config) error {
		c.callback = f
		return nil
	})
}

// WithLogger sets the logger for background failures. Default
// slog.Default(); nil discards log output. The write key is never logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
		return nil
	})
}

// WithClock sets the clock used for timestamps and sentAt. Default
// time.Now. Nil makes New fail with a *ConfigError. A time it returns
// outside years 1-9999 (or the zero time), or a panic, make Enqueue refuse
// the message with a *ValidationError (ErrInvalidValue); for sentAt,
// time.Now is used instead. (Delays use real timers; test them with
// testing/synctest.)
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) error {
		if now == nil {
			return &ConfigError{Option: "WithClock", Reason: "clock is nil"}
		}
		c.now = now
		return nil
	})
}

// WithMessageIDs sets the source of messageIds for messages without one.
// Default random UUIDv4. Nil makes New fail with a *ConfigError. What it
// returns is checked like a MessageID set by hand: an empty id, one that is
// not valid UTF-8, or a panic make Enqueue refuse the message with a
// *ValidationError (ErrInvalidValue), an id over 100 characters with
// ErrMessageIDTooLong.
func WithMessageIDs(newID func() string) Option {
	return optionFunc(func(c *config) error {
		if newID == nil {
			return &ConfigError{Option: "WithMessageIDs", Reason: "id source is nil"}
		}
		c.newID = newID
		return nil
	})
}

// WithOrderMessageIDs derives the messageId of order events that carry an
// order_id (Order Completed, Order Refunded, Order Cancelled) from the
// event name and order id (UUIDv5), so a checkout handler that runs twice
// does not count revenue twice (Segment deduplicates on messageId). A
// MessageID set on the message still wins. Default off: with it, a second
// partial refund of the same order is deduplicated too.
func WithOrderMessageIDs(enabled bool) Option {
	return optionFunc(func(c *config) error {
		c.orderIDs = enabled
		return nil
	})
}

// withJitter injects the jitter source (tests): each backoff delay is scaled by 0.5+f().
func withJitter(f func() float64) Option {
	return optionFunc(func(c *config) error {
		c.jitter = f
		return nil
	})
}

// WithSpool keeps every accepted message in a journal in dir until its
// final outcome, so that a crash of the process loses nothing and an outage
// longer than the retry budget keeps messages on disk for the next Client
// started on dir (queued ahead of new messages, whatever WithMaxQueue
// says: they go in the first batches). Default: no spool, messages live in
// memory only.
//
// Enqueue copies each message into a memory-mapped, checksummed segment
// before it returns (about 1 µs, no system call). The journal is synced on
// every flush interval (by the background goroutine, never by Enqueue) and
// on Close, so a machine crash loses at most one interval. Delivery stays
// at-least-once: a message delivered just before a crash may be sent again,
// with the same messageId. A damaged record costs only itself: each lost
// message is counted (Stats.SpoolLost) and reported as Failed with
// ErrSpoolCorrupt. maxBytes bounds the bytes of messages not yet delivered;
// room is freed as they are delivered, and past the bound Enqueue refuses
// with a *QueueFullError (EnqueueContext waits). A full disk or an I/O
// error refuses the new message with ErrSpool and loses no accepted one.
//
// Only one Client may use dir at a time: New fails with ErrSpoolLocked when
// another (in any process) holds it. An empty dir or maxBytes below 1 MiB
// make New fail with a *ConfigError. Unix only (flock): elsewhere New fails
// with ErrSpool.
func WithSpool(dir string, maxBytes int64) Option {
	return optionFunc(func(c *config) error {
		if dir == "" || maxBytes < 1<<20 {
			return &ConfigError{Option: "WithSpool", Reason: "want a directory and at least 1 MiB"}
		}
		c.spoolDir, c.spoolMaxBytes = dir, maxBytes
		return nil
	})
}
