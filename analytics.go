package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Client batches messages and delivers them to a Segment-compatible
// endpoint. Create it with New, share it between goroutines (every method is
// safe for concurrent use), and Close it on shutdown.
type Client struct {
	cfg   *config
	stamp stamp
	b     *batcher

	refusedInvalid  atomic.Uint64
	refusedTooLarge atomic.Uint64
	spoolCorrupt    atomic.Uint64

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// New returns a started client that sends with writeKey. It fails with a
// *ConfigError when writeKey is empty or not valid UTF-8 (unless a custom
// transport is given with WithTransport) or when an option is invalid. The
// write key never appears in errors or logs.
func New(writeKey string, opts ...Option) (*Client, error) {
	cfg := defaultConfig(writeKey)
	for _, o := range opts {
		if o == nil {
			return nil, &ConfigError{Option: "New", Reason: "nil Option"}
		}
		if err := o.apply(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.transport == nil {
		switch {
		case writeKey == "":
			return nil, &ConfigError{Option: "New", Reason: "write key is empty"}
		case !utf8.ValidString(writeKey) || strings.ContainsAny(writeKey, "\r\n"):
			return nil, &ConfigError{Option: "New", Reason: "write key is not a valid string"}
		}
		owns := cfg.httpClient == nil
		if owns {
			cfg.httpClient = newDefaultHTTPClient(cfg.concurrency)
		}
		ht := newHTTPTransport(cfg)
		ht.ownsHTTP = owns
		cfg.transport = ht
	}
	c := &Client{
		cfg: cfg,
		stamp: stamp{
			newID:    cfg.newID,
			now:      cfg.now,
			defCtx:   cfg.defaultContext,
			orderIDs: cfg.orderIDs,
		},
		closeDone: make(chan struct{}),
	}
	var sp *spool
	var recs []recovered
	if cfg.spoolDir != "" {
		var corrupt int
		var err error
		sp, recs, corrupt, err = openSpool(cfg.spoolDir, cfg.spoolMaxBytes)
		if err != nil {
			return nil, err
		}
		if corrupt > 0 {
			c.spoolCorrupt.Store(uint64(corrupt))
			err := fmt.Errorf("%w: %d segment(s) in %s; their valid records are delivered", ErrSpoolCorrupt, corrupt, cfg.spoolDir)
			cfg.logger.Warn(err.Error())
			c.report(Report{Outcome: Failed, Err: err})
		}
	}
	c.b = newBatcher(cfg, c.report, sp, recs)
	return c, nil
}

// Enqueue validates msg, stamps its messageId, timestamp and
// context.library, encodes it and queues it for delivery. It never blocks
// and never panics. It refuses the message, with an error saying why, when
// msg is invalid (*ValidationError; ErrNilMessage), when its encoding is over
// 32,000 bytes (*TooLargeError, ErrMessageTooLarge), when the queue is full
// (ErrQueueFull) or when the client is closed (ErrClosed). A refused message
// affects no other message; it is counted in Stats and reported to the
// delivery callback. An accepted message ends delivered or reported failed.
//
// Enqueue reads msg and does not keep it: the caller may reuse it after the
// call returns.
func (c *Client) Enqueue(msg Message) error {
	if c.b.full() {
		// Refuse at once: encoding a message that cannot be queued is waste.
		err := c.b.refuseFull()
		c.report(Report{Outcome: Refused, Err: err, Messages: []MessageInfo{infoOf(msg, "")}})
		return err
	}
	w, id, err := encodeWriter(msg, &c.stamp)
	if err != nil {
		var tl *TooLargeError
		if errors.As(err, &tl) {
			c.refusedTooLarge.Add(1)
		} else {
			c.refusedInvalid.Add(1)
		}
		c.report(Report{Outcome: Refused, Err: err, Messages: []MessageInfo{infoOf(msg, "")}})
		return err
	}
	defer putWriter(w)
	if max := c.b.maxMessage; len(w.Buf) > max {
		err := &TooLargeError{Size: len(w.Buf), Limit: max}
		c.refusedTooLarge.Add(1)
		c.report(Report{Outcome: Refused, Err: err, Messages: []MessageInfo{infoOf(msg, "")}})
		return err
	}
	info := infoOf(msg, id)
	if err := c.b.add(item{data: w.Buf, info: info}); err != nil {
		c.report(Report{Outcome: Refused, Err: err, Messages: []MessageInfo{info}})
		return err
	}
	return nil
}

// Flush sends every message enqueued before the call without waiting for
// the flush interval, and returns once each of them is delivered or has
// failed, or ctx ends (returning ctx.Err()); by then the delivery callback
// has been told each of those outcomes. It returns an
// *UndeliveredError if messages failed while it waited (each also reported
// to the delivery callback), and ErrClosed after Close.
func (c *Client) Flush(ctx context.Context) error {
	return c.b.flush(ctx)
}

// Close stops intake (Enqueue returns ErrClosed from the moment Close is
// called), then delivers what is queued, retrying as configured, until
// everything has an outcome or ctx ends. When ctx ends first, in-flight
// uploads are cancelled and every undelivered message is failed with
// ErrDeadline. Close returns nil when every message queued at the call was
// delivered, else an *UndeliveredError counting the messages that failed
// during Close (each also reported to the delivery callback); failures
// reported before Close (by Flush, the callback, Stats) are not counted
// again. All goroutines of the
// client have stopped when Close returns.
//
// Close is idempotent: later and concurrent calls wait for the first to
// finish (or their own ctx to end) and return its result.
func (c *Client) Close(ctx context.Context) error {
	first := false
	c.closeOnce.Do(func() { first = true })
	if first {
		c.closeErr = c.b.close(ctx)
		close(c.closeDone)
		return c.closeErr
	}
	select {
	case <-c.closeDone:
		return c.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	s := c.b.stats()
	s.RefusedInvalid = c.refusedInvalid.Load()
	s.RefusedTooLarge = c.refusedTooLarge.Load()
	s.SpoolCorrupt = c.spoolCorrupt.Load()
	s.Refused = s.RefusedInvalid + s.RefusedTooLarge + s.RefusedQueueFull + s.RefusedClosed + s.RefusedSpool
	return s
}

// Stats counts messages by outcome. Enqueued == Delivered + Failed +
// Spooled + Queued at every snapshot.
type Stats struct {
	Enqueued  uint64 // accepted by Enqueue, plus Recovered
	Delivered uint64 // accepted by the endpoint
	Failed    uint64 // accepted by Enqueue, then given up on; see the Failed* reasons
	Spooled   uint64 // not delivered in this run but kept in the spool for the next start (WithSpool)
	Refused   uint64 // refused by Enqueue; see the Refused* reasons

	FailedRejected  uint64 // the endpoint refused them with a status never retried, or the Transport panicked (ErrRejected)
	FailedExhausted uint64 // attempts or retry time ran out (ErrRetriesExhausted)
	FailedDeadline  uint64 // Close's context ended first (ErrDeadline)

	RefusedInvalid   uint64 // invalid message (*ValidationError, ErrNilMessage)
	RefusedTooLarge  uint64 // over the message size limit (ErrMessageTooLarge)
	RefusedQueueFull uint64 // queue at its bound (ErrQueueFull)
	RefusedClosed    uint64 // Enqueue after Close (ErrClosed)
	RefusedSpool     uint64 // the spool could not be written (ErrSpool)

	Recovered    uint64 // messages read back from the spool at start-up (also in Enqueued)
	SpoolCorrupt uint64 // spool segments whose torn or corrupt tail was skipped at start-up

	Queued      int // accepted, without an outcome yet (queued, in flight, waiting to retry)
	QueuedBytes int // encoded bytes of the Queued messages

	Batches     uint64 // batches delivered
	Retries     uint64 // upload attempts that were retried
	RateLimited uint64 // 429 answers
}

// Outcome is what became of a message.
type Outcome uint8

const (
	// Delivered means the endpoint accepted the message's batch.
	Delivered Outcome = iota + 1
	// Failed means accepted by Enqueue, then given up on; Report.Err says why.
	Failed
	// Refused means Enqueue refused it; Report.Err is the error Enqueue returned.
	Refused
	// Spooled means not delivered in this run (retries or Close's context ran
	// out), but kept on disk by WithSpool and delivered by the next Client
	// started with the same directory. Report.Err wraps ErrSpooled and the reason.
	Spooled
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	case Refused:
		return "refused"
	case Spooled:
		return "spooled"
	}
	return "unknown"
}

// Report tells the delivery callback the outcome of one or more messages.
type Report struct {
	Outcome  Outcome
	Messages []MessageInfo
	// Err is nil for Delivered; otherwise it wraps the reason (ErrRejected,
	// ErrRetriesExhausted, ErrDeadline, ErrQueueFull, ...) and, for failures
	// after an upload, the last *HTTPError or network error.
	Err error
	// Attempts is the number of uploads made (0 for Refused).
	Attempts int
}

// MessageInfo identifies a reported message.
type MessageInfo struct {
	MessageID string // "" when the message was refused before one was assigned
	Type      string // "track", "identify", ...
	Event     string // the Track event name, "" for other calls
}

func infoOf(m Message, id string) MessageInfo {
	switch x := m.(type) {
	case Track:
		return MessageInfo{MessageID: id, Type: "track", Event: x.Event}
	case *Track:
		if x != nil {
			return MessageInfo{MessageID: id, Type: "track", Event: x.Event}
		}
	case Identify, *Identify:
		return MessageInfo{MessageID: id, Type: "identify"}
	case Page, *Page:
		return MessageInfo{MessageID: id, Type: "page"}
	case Screen, *Screen:
		return MessageInfo{MessageID: id, Type: "screen"}
	case Group, *Group:
		return MessageInfo{MessageID: id, Type: "group"}
	case Alias, *Alias:
		return MessageInfo{MessageID: id, Type: "alias"}
	}
	return MessageInfo{MessageID: id}
}

// infoFromJSON reads the identity of a message read back from the spool.
func infoFromJSON(data []byte) MessageInfo {
	var m struct {
		MessageID string `json:"messageId"`
		Type      string `json:"type"`
		Event     string `json:"event"`
	}
	_ = json.Unmarshal(data, &m) // written by encodeMessage: always valid
	return MessageInfo{MessageID: m.MessageID, Type: m.Type, Event: m.Event}
}

// report sends r to the callback, or logs failures when there is none.
func (c *Client) report(r Report) {
	if c.cfg.callback != nil {
		defer func() {
			if v := recover(); v != nil { // a bug in the callback must not stop delivery
				c.cfg.logger.LogAttrs(context.Background(), slog.LevelError, "analytics: delivery callback panicked",
					slog.String("panic", fmt.Sprint(v)), slog.String("outcome", r.Outcome.String()))
			}
		}()
		c.cfg.callback(r)
		return
	}
	if r.Outcome == Failed {
		c.cfg.logger.LogAttrs(context.Background(), slog.LevelError, "analytics: messages not delivered",
			slog.Int("count", len(r.Messages)), slog.Int("attempts", r.Attempts), slog.String("error", r.Err.Error()))
	}
}
