package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Client batches messages and delivers them to a Segment-compatible
// endpoint. Create it with New, share it between goroutines (every method is
// safe for concurrent use), and Close it on shutdown.
type Client struct {
	cfg   *config
	stamp stamp
	led   ledger
	log   *safeLogger
	b     *batcher

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
}

// New returns a started client that sends with writeKey. It fails with a
// *ConfigError when writeKey is empty (unless a custom transport is given
// with WithTransport), is only whitespace, has whitespace around it, holds
// a line break or another control character, or is not valid UTF-8, and
// when an option is invalid (a nil Option included). The write key never
// appears in errors or logs.
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
	if writeKey != "" || cfg.transport == nil {
		if reason := checkWriteKey(writeKey); reason != "" {
			return nil, &ConfigError{Option: "New", Reason: reason}
		}
	}
	if cfg.transport == nil {
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
		log:       &safeLogger{l: cfg.logger, red: newRedactor(writeKey)},
		closeDone: make(chan struct{}),
	}
	var jr journaler
	var recs []replayed
	var losses []Report
	if cfg.spoolDir != "" {
		fj, r, lost, err := openFileJournal(cfg.spoolDir, cfg.spoolMaxBytes)
		if err != nil {
			return nil, err
		}
		jr, recs = fj, r
		var files int
		losses, files = lossReports(lost)
		c.led.spoolCorrupt.Store(uint64(files)) //nolint:gosec // G115: a count of files
		if len(losses) > 0 {
			c.led.spoolLost.Store(uint64(len(losses)))
			c.log.log(slog.LevelWarn, "analytics: spool records lost to corruption",
				slog.Int("count", len(losses)), slog.Int("files", files), slog.String("dir", cfg.spoolDir),
				slog.String("first", losses[0].Err.Error()))
		}
	}
	c.b = newBatcher(cfg, &c.led, c.log, jr, recs)
	if cfg.callback != nil {
		for _, r := range losses { // each message lost to corruption, one by one
			c.b.rep.call(cfg.callback, r)
		}
	}
	return c, nil
}

// checkWriteKey says what is wrong with a write key, or "".
func checkWriteKey(k string) string {
	switch {
	case k == "":
		return "write key is empty"
	case !utf8.ValidString(k):
		return "write key is not valid UTF-8"
	case strings.TrimSpace(k) == "":
		return "write key is only whitespace"
	case strings.ContainsAny(k, "\r\n"):
		return "write key contains a line break (read from a file with its newline?)"
	case strings.TrimSpace(k) != k:
		return "write key has whitespace around it"
	case strings.IndexFunc(k, unicode.IsControl) >= 0:
		return "write key contains a control character"
	}
	return ""
}

// Enqueue validates msg, stamps its messageId, timestamp and
// context.library, encodes it and queues it for delivery. It never blocks
// and never panics, whatever msg holds (a MarshalJSON that panics
// included). It refuses the message, with an error saying why, when msg is
// invalid (*ValidationError; ErrNilMessage), when its encoding is over
// 32,000 bytes (*TooLargeError, ErrMessageTooLarge), when the queue is at
// a bound (*QueueFullError, which matches ErrQueueFull and names the
// bound), when the spool cannot be written (ErrSpool) or when the client
// is closed (ErrClosed). A refused message affects no other message; it is
// counted in Stats and reported to the delivery callback (from Enqueue's
// goroutine). An accepted message ends delivered or reported failed.
//
// Enqueue reads msg and does not keep it: the caller may reuse it after the
// call returns.
func (c *Client) Enqueue(msg Message) error {
	return c.enqueue(context.Background(), msg, false)
}

// EnqueueContext is Enqueue for bulk senders (backfills, batch jobs): when
// the queue is at its bound, it waits for room, first come first served,
// woken as deliveries free space, until ctx ends; then it returns a
// *QueueFullError that matches both ErrQueueFull and ctx.Err(). It never
// waits on a closed or closing client (ErrClosed at once, and a waiting
// call returns ErrClosed when Close is called). A nil ctx is
// context.Background(). Every other refusal is Enqueue's.
func (c *Client) EnqueueContext(ctx context.Context, msg Message) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return c.enqueue(ctx, msg, true)
}

func (c *Client) enqueue(ctx context.Context, msg Message, wait bool) error {
	if !wait {
		if err := c.b.q.precheck(); err != nil {
			// Refuse at once: encoding a message that cannot be queued is waste.
			return c.refuse(msg, "", err)
		}
	}
	// Encoded straight into a slab, where the message stays until its outcome.
	q := c.b.q
	enc := q.getEncoder()
	defer q.putEncoder(enc)
	id, err := c.encodeSafe(&enc.w, msg)
	if err != nil {
		return c.refuse(msg, "", err)
	}
	w := &enc.w
	if max := c.b.maxMessage; len(w.Buf) > max {
		return c.refuse(msg, "", &TooLargeError{Size: len(w.Buf), Limit: max})
	}
	var in *slab
	if enc.inSlab() {
		in = enc.s
	}
	info := infoOf(msg, id) // MessageID "" (appended by the encoder): messageInfos reads it
	if err := c.b.accept(ctx, w.Buf, in, info, nil, wait); err != nil {
		if id == "" {
			id = idIn(w.Buf)
		}
		return c.refuse(msg, id, err)
	}
	if in != nil {
		enc.used()
	}
	return nil
}

// refuse counts and reports a refusal and returns err.
func (c *Client) refuse(msg Message, id string, err error) error {
	c.led.refused(err)
	if c.cfg.callback != nil {
		c.b.rep.call(c.cfg.callback, Report{Outcome: Refused, Err: err, Messages: []MessageInfo{infoOf(msg, id)}})
	}
	return err
}

// encodeSafe is encodeTo with the user's code contained: a panic in a
// MarshalJSON, in the WithMessageIDs function or in the WithClock function
// becomes a *ValidationError, and what those functions made is checked like
// a value set by hand.
func (c *Client) encodeSafe(w *jsonw.Writer, msg Message) (id string, err error) {
	defer func() {
		if v := recover(); v != nil {
			id = ""
			err = &ValidationError{Type: infoOf(msg, "").Type, Event: infoOf(msg, "").Event,
				Err: fmt.Errorf("%w: a value's encoding panicked: %v", ErrInvalidValue, c.log.red.string(fmt.Sprint(v)))}
		}
	}()
	return encodeTo(w, msg, &c.stamp)
}

// Encoded is a message validated, stamped and encoded exactly as Enqueue
// sends it, for storing it elsewhere first (the outbox) and queueing it
// later with EnqueueEncoded.
type Encoded struct {
	// Data is the message's JSON encoding, exactly the bytes sent.
	Data []byte
	// Info identifies the message (MessageID, Type, Event).
	Info MessageInfo
}

// Encode validates msg and stamps and encodes it as Enqueue does (the same
// errors, the same bytes), without queueing, counting or reporting it.
func (c *Client) Encode(msg Message) (Encoded, error) {
	w := getWriter()
	defer putWriter(w)
	id, err := c.encodeSafe(w, msg)
	if err != nil {
		return Encoded{}, err
	}
	if max := c.b.maxMessage; len(w.Buf) > max {
		return Encoded{}, &TooLargeError{Size: len(w.Buf), Limit: max}
	}
	data := append([]byte(nil), w.Buf...)
	if id == "" {
		id = idIn(data)
	}
	return Encoded{Data: data, Info: infoOf(msg, id)}, nil
}

// EnqueueEncoded queues a message encoded by Encode (possibly by another
// process or an earlier run), waiting for room as EnqueueContext does. done,
// when not nil, is called exactly once with the message's final outcome
// (Delivered; Failed, with Err wrapping ErrRejected, ErrRetriesExhausted or
// ErrDeadline; or Spooled) from a client goroutine, after the delivery
// callback; it must not call Flush or Close. done is not called when
// EnqueueEncoded returns an error, nor for reports dropped when Close's
// context ended first. Data that is not a JSON object with a messageId is
// refused with a *ValidationError wrapping ErrInvalidValue; over the size
// limit, with a *TooLargeError. Refusals are counted and reported as
// Enqueue's are.
func (c *Client) EnqueueEncoded(ctx context.Context, e Encoded, done func(Report)) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var err error
	switch {
	case len(e.Data) == 0 || e.Data[0] != '{' || !json.Valid(e.Data):
		err = &ValidationError{Type: e.Info.Type, Event: e.Info.Event, Err: fmt.Errorf("%w: Encoded.Data is not a JSON object", ErrInvalidValue)}
	case len(e.Data) > c.b.maxMessage:
		err = &TooLargeError{Size: len(e.Data), Limit: c.b.maxMessage}
	case e.Info.MessageID == "":
		err = &ValidationError{Type: e.Info.Type, Event: e.Info.Event, Field: "messageId", Err: fmt.Errorf("%w: Encoded.Info.MessageID is empty", ErrInvalidValue)}
	}
	if err == nil {
		err = c.b.accept(ctx, e.Data, nil, e.Info, done, true)
	}
	if err != nil {
		c.led.refused(err)
		if c.cfg.callback != nil {
			c.b.rep.call(c.cfg.callback, Report{Outcome: Refused, Err: err, Messages: []MessageInfo{e.Info}})
		}
		return err
	}
	return nil
}

// Flush sends every message enqueued before the call without waiting for
// the flush interval, and returns once each of them is delivered or has
// failed, or ctx ends (returning ctx.Err()); by then the delivery callback
// has been told each of those outcomes. It returns an *UndeliveredError if
// messages failed while it waited (each also reported to the delivery
// callback), and ErrClosed after Close. A nil ctx is context.Background().
func (c *Client) Flush(ctx context.Context) error {
	return c.b.flush(ctx)
}

// Close stops intake (Enqueue returns ErrClosed from the moment Close is
// called, and waiting EnqueueContext calls return ErrClosed), then delivers
// what is queued, retrying as configured, until everything has an outcome
// or ctx ends. When ctx ends first, in-flight uploads are cancelled and
// every undelivered message is failed with ErrDeadline (or, with
// WithSpool, kept on disk); Close returns within a few milliseconds of
// ctx's end. A nil ctx is context.Background().
//
// Close returns nil when every message queued at the call was delivered,
// else an *UndeliveredError: one line that counts the messages that failed
// during Close by reason, with the reasons behind errors.As and errors.Is.
// Failures reported before Close (by Flush, the callback, Stats) are not
// counted again. Without a delivery callback, Close logs one summary line
// of its failures.
//
// All goroutines of the client have stopped when Close returns, except
// that of a delivery callback blocked in one call for 30 ms after ctx
// ended (it exits when the callback returns; the reports it has not taken
// are dropped, and their messages are counted in Stats and in Close's
// error) and an upload whose Transport ignores its ctx.
//
// Close is idempotent: later and concurrent calls wait for the first to
// finish (or their own ctx to end) and return its result.
func (c *Client) Close(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
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

// Stats returns a snapshot of the client's counters, all read from one
// ledger: Enqueued == Delivered + Failed + Spooled + Queued in every
// snapshot.
func (c *Client) Stats() Stats {
	s := c.led.snapshot()
	s.MaxQueued, s.MaxQueuedBytes = c.cfg.maxQueueMessages, c.cfg.maxQueueBytes
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
	SpoolCorrupt uint64 // spool files in which records were found damaged at start-up
	SpoolLost    uint64 // messages lost to spool damage at start-up, each reported as Failed with ErrSpoolCorrupt (accepted by an earlier run: not in Enqueued or Failed)

	Queued         int // accepted, without an outcome yet (queued, in flight, waiting to retry)
	QueuedBytes    int // encoded bytes of the Queued messages
	MaxQueued      int // the WithMaxQueue message bound
	MaxQueuedBytes int // the WithMaxQueue byte bound

	Batches       uint64 // batches delivered
	Retries       uint64 // upload attempts that were retried
	RateLimited   uint64 // 429 answers
	SplitRequests uint64 // extra uploads spent on split batches (413, and 400 bisection)
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
