package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracklane/analytics"
)

// Defaults of the relay options.
const (
	DefaultClaimBatch        = 1000
	DefaultMaxInFlight       = 2000
	DefaultLease             = 30 * time.Second
	DefaultPollInterval      = time.Second
	DefaultMaxAttempts       = 10
	DefaultRetryDelay        = time.Second
	DefaultMaxRetryDelay     = 5 * time.Minute
	defaultLagInterval       = time.Second
	stopWriteTimeout         = 5 * time.Second
	minDBBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
)

// Listener tells a relay when rows may have been committed, so that it
// claims them at once instead of at its next poll. pgxoutbox.Listener
// implements it with PostgreSQL's LISTEN on a dedicated pgx connection;
// with lib/pq, wrap a pq.Listener the same way.
type Listener interface {
	// Listen calls notify whenever a notification arrives on channel, and
	// once after each (re)connection (a notification may have been missed
	// while disconnected). It reconnects by itself after errors, and
	// returns when ctx ends. notify never blocks.
	Listen(ctx context.Context, channel string, notify func()) error
}

// RelayOption configures NewRelay.
type RelayOption interface {
	applyRelay(*relayConfig) error
}

type relayOptionFunc func(*relayConfig) error

func (f relayOptionFunc) applyRelay(c *relayConfig) error { return f(c) }

type relayConfig struct {
	batch         int
	maxInFlight   int
	lease         time.Duration
	poll          time.Duration
	maxAttempts   int
	retryDelay    time.Duration
	maxRetryDelay time.Duration
	listener      Listener
	id            string
	logger        *slog.Logger
	lagInterval   time.Duration
}

// WithClaimBatch sets how many rows one claim takes (one short transaction:
// SELECT ... FOR UPDATE SKIP LOCKED LIMIT n). Default 1,000. Outside
// 1..10,000 NewRelay fails with a *analytics.ConfigError.
func WithClaimBatch(n int) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if n < 1 || n > 10_000 {
			return &analytics.ConfigError{Option: "outbox.WithClaimBatch", Reason: "want 1 to 10000 rows"}
		}
		c.batch = n
		return nil
	})
}

// WithMaxInFlight bounds the rows a relay holds (claimed, handed to the
// client, outcome not yet written back): the relay's memory is at most this
// many messages (each at most 32,000 bytes). Default 2,000. Below 1 NewRelay
// fails with a *analytics.ConfigError.
func WithMaxInFlight(n int) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if n < 1 {
			return &analytics.ConfigError{Option: "outbox.WithMaxInFlight", Reason: "want at least 1 row"}
		}
		c.maxInFlight = n
		return nil
	})
}

// WithLease sets how long a claim keeps a row from other relays. The relay
// renews the lease of its rows every third of it while they are in flight,
// so it bounds only how soon the rows of a relay that died (or lost the
// database) are claimed by another. Default 30 s. Below 100 ms NewRelay
// fails with a *analytics.ConfigError.
func WithLease(d time.Duration) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if d < 100*time.Millisecond {
			return &analytics.ConfigError{Option: "outbox.WithLease", Reason: "want at least 100ms"}
		}
		c.lease = d
		return nil
	})
}

// WithPollInterval sets how often an idle relay looks for rows, the
// fallback when no Listener wakes it (or a notification is lost). Default
// 1 s. Not positive: NewRelay fails with a *analytics.ConfigError.
func WithPollInterval(d time.Duration) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if d <= 0 {
			return &analytics.ConfigError{Option: "outbox.WithPollInterval", Reason: "want a positive interval"}
		}
		c.poll = d
		return nil
	})
}

// WithMaxAttempts sets how many times a row is handed to the client before
// it goes to the dead letters. An attempt ends without delivery when the
// client's own retries ran out (analytics.ErrRetriesExhausted) or its Close
// deadline passed (analytics.ErrDeadline); the row then waits for the retry
// delay (WithRetryDelay) and is claimed again, by any relay. A message the
// endpoint refuses for good (analytics.ErrRejected) goes to the dead
// letters at once. Default 10. Below 1 NewRelay fails with a
// *analytics.ConfigError.
func WithMaxAttempts(n int) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if n < 1 {
			return &analytics.ConfigError{Option: "outbox.WithMaxAttempts", Reason: "want at least 1 attempt"}
		}
		c.maxAttempts = n
		return nil
	})
}

// WithRetryDelay sets how long a row that was not delivered waits before it
// can be claimed again: initial after the first attempt, doubling after
// each, capped at maxDelay. Defaults 1 s and 5 min. initial not positive,
// or maxDelay below initial, make NewRelay fail with a
// *analytics.ConfigError.
func WithRetryDelay(initial, maxDelay time.Duration) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if initial <= 0 || maxDelay < initial {
			return &analytics.ConfigError{Option: "outbox.WithRetryDelay", Reason: "want 0 < initial <= max"}
		}
		c.retryDelay, c.maxRetryDelay = initial, maxDelay
		return nil
	})
}

// WithListener wakes the relay on the outbox's notifications (see
// WithNotify), so that rows are claimed right after their commit. Default
// none: the relay polls (WithPollInterval). Nil restores the default.
func WithListener(l Listener) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		c.listener = l
		return nil
	})
}

// WithRelayID names the relay in the claimed_by column (seen by a DBA
// looking at the table). Default host name, process id and a random
// suffix. Empty or longer than 200 bytes: NewRelay fails with a
// *analytics.ConfigError. Two running relays must not share an id.
func WithRelayID(id string) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if id == "" || len(id) > 200 {
			return &analytics.ConfigError{Option: "outbox.WithRelayID", Reason: "want 1 to 200 bytes"}
		}
		c.id = id
		return nil
	})
}

// WithRelayLogger sets the logger for database errors (each is retried)
// and listener errors. Default slog.Default(); nil discards.
func WithRelayLogger(l *slog.Logger) RelayOption {
	return relayOptionFunc(func(c *relayConfig) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
		return nil
	})
}

// RelayStats are a relay's own counters since it was created.
type RelayStats struct {
	Claimed      uint64 // row claims (a row claimed again after a failed attempt counts again)
	Delivered    uint64 // rows delivered and removed from the outbox
	DeadLettered uint64 // rows moved to the dead-letter table
	Retried      uint64 // rows given back to wait for a later attempt (not delivered this time)
	Released     uint64 // rows given back unsent (the relay stopped, or the client refused them)
	DBErrors     uint64 // failed database statements (each retried after a backoff)
	InFlight     int    // rows claimed whose outcome is not yet written back

	// Lag is the age of the oldest row of the outbox (claimed or not) when
	// last measured, at LagAt (about every second while the relay runs);
	// 0 when the outbox was empty.
	Lag   time.Duration
	LagAt time.Time
}

// Relay delivers committed outbox rows through the Outbox's client. Any
// number of relays, in any number of processes, can share one table: each
// claims rows in short transactions (FOR UPDATE SKIP LOCKED) with a lease,
// so that in normal running no row is sent twice, and the rows of a relay
// that died are claimed by another once its lease has passed. A row is
// removed only after its final outcome: deleted once delivered, moved to
// the dead letters with its reason once refused for good, given back for a
// later attempt otherwise. Delivery is at least once, every attempt with
// the messageId stamped at Enqueue.
//
// Create it with NewRelay, start it with Run, stop it with Shutdown (or by
// ending Run's context). Stop the relay before closing its client.
type Relay struct {
	o      *Outbox
	db     *sql.DB
	client *analytics.Client
	cfg    relayConfig
	q      queries

	mu      sync.Mutex
	pending []outcome // reported by the client, not yet written back
	stopped bool      // Run has returned: outcomes are dropped

	signal   chan struct{} // pending grew
	wake     chan struct{} // the listener or an idle flush
	stop     chan struct{} // closed by Shutdown: stop claiming, drain
	abort    chan struct{} // closed when Shutdown's ctx ends: give back the rest
	stopOne  sync.Once
	abortOne sync.Once
	started  atomic.Bool
	done     chan struct{} // closed when Run returns

	flushing atomic.Bool
	reported atomic.Uint64 // outcomes reported by the client

	claimed, delivered, dead, retried, released, dbErrors atomic.Uint64
	inFlight                                              atomic.Int64
	lagNanos, lagAt                                       atomic.Int64
}

// errClientFull: the client's queue stayed full for a third of the lease;
// the rows not handed over were given back.
var errClientFull = errors.New("outbox: the client's queue is full")

type outcomeKind uint8

const (
	delivered outcomeKind = iota + 1
	deadLetter
	retryLater
	giveBack // not attempted: attempts is not counted
)

type outcome struct {
	id     int64
	kind   outcomeKind
	reason string
}

// NewRelay returns a relay that claims rows of o's table in db and delivers
// them through o's client. It fails with ErrNilDB for a nil db and with a
// *analytics.ConfigError for an invalid option. It does not touch db until
// Run.
func (o *Outbox) NewRelay(db *sql.DB, opts ...RelayOption) (*Relay, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	cfg := relayConfig{
		batch:         DefaultClaimBatch,
		maxInFlight:   DefaultMaxInFlight,
		lease:         DefaultLease,
		poll:          DefaultPollInterval,
		maxAttempts:   DefaultMaxAttempts,
		retryDelay:    DefaultRetryDelay,
		maxRetryDelay: DefaultMaxRetryDelay,
		logger:        slog.Default(),
		lagInterval:   defaultLagInterval,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, &analytics.ConfigError{Option: "outbox.NewRelay", Reason: "nil RelayOption"}
		}
		if err := opt.applyRelay(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.id == "" {
		cfg.id = defaultRelayID()
	}
	return &Relay{
		o: o, db: db, client: o.client, cfg: cfg, q: newQueries(o.names),
		signal: make(chan struct{}, 1),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		abort:  make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

func defaultRelayID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// ID returns the relay's id (WithRelayID), as written in claimed_by.
func (r *Relay) ID() string { return r.cfg.id }

// Stats returns a snapshot of the relay's counters. It never touches the
// database.
func (r *Relay) Stats() RelayStats {
	s := RelayStats{
		Claimed:      r.claimed.Load(),
		Delivered:    r.delivered.Load(),
		DeadLettered: r.dead.Load(),
		Retried:      r.retried.Load(),
		Released:     r.released.Load(),
		DBErrors:     r.dbErrors.Load(),
		InFlight:     int(r.inFlight.Load()),
		Lag:          time.Duration(r.lagNanos.Load()),
	}
	if at := r.lagAt.Load(); at != 0 {
		s.LagAt = time.Unix(0, at)
	}
	return s
}

// Shutdown stops the relay gracefully: it stops claiming, flushes the
// client so that the rows in flight get their outcome, writes those
// outcomes back, and waits for Run to return. When ctx ends first, the rows
// still in flight are given back to the table unsent (another relay claims
// them at once; the client may still deliver them, so they can arrive
// twice, with the same messageIds) and Shutdown returns ctx.Err() once Run
// has returned (at most a few seconds later). Shutdown before Run makes Run
// return at once; Shutdown is idempotent.
func (r *Relay) Shutdown(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	r.stopOne.Do(func() { close(r.stop) })
	if !r.started.Load() {
		return nil
	}
	// The flush also waits for the app's own messages: stop waiting once
	// the relay's rows are done.
	fctx, fcancel := context.WithCancel(ctx)
	defer fcancel()
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		_ = r.client.Flush(fctx) // outcomes reach done; failures are the relay's to handle
	}()
	defer func() { <-flushed }()
	select {
	case <-r.done:
		fcancel()
		return nil
	case <-ctx.Done():
	}
	r.abortOne.Do(func() { close(r.abort) })
	<-r.done
	return ctx.Err()
}

// Run claims and delivers rows until ctx ends or Shutdown is called. It
// returns nil after Shutdown; when ctx ends it writes back the outcomes it
// knows, gives the rows still in flight back to the table (bounded to a
// few seconds) and returns ctx.Err(). Database errors are logged, counted
// (RelayStats.DBErrors) and retried with backoff: the relay carries on
// through a database restart. Run returns an error wrapping
// analytics.ErrClosed when the client is closed under it, and
// ErrRelayRunning when called a second time. A nil ctx is treated as
// context.Background() (stop the relay with Shutdown).
func (r *Relay) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRelayRunning
	}
	defer close(r.done)
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-r.stop: // Shutdown before Run
		return nil
	default:
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if l := r.cfg.listener; l != nil {
		wg.Go(func() {
			if err := l.Listen(runCtx, r.o.Channel(), r.poke); err != nil && runCtx.Err() == nil {
				r.cfg.logger.LogAttrs(runCtx, slog.LevelError, "outbox: listener stopped; polling only", slog.String("error", err.Error()))
			}
		})
	}
	inflight := make(map[int64]struct{}, r.cfg.maxInFlight)
	err := r.loop(runCtx, inflight, &wg)

	// Write back what is known and give back the rest, even though ctx
	// may have ended: a row left claimed waits for its lease.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), stopWriteTimeout)
	if werr := r.writeOutcomes(wctx, inflight); werr != nil {
		r.logDBError(wctx, "writing outcomes at stop", werr)
	}
	r.mu.Lock()
	r.stopped = true
	r.pending = nil
	r.mu.Unlock()
	if len(inflight) > 0 {
		ids := slices.Collect(maps.Keys(inflight))
		if n, gerr := r.exec(wctx, r.q.giveBack, idArray(ids), r.cfg.id); gerr != nil {
			r.logDBError(wctx, "giving rows back at stop", gerr)
		} else {
			r.released.Add(count(n))
		}
		r.inFlight.Store(0)
	}
	wcancel()
	cancel()
	wg.Wait()
	return err
}

func (r *Relay) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// loop is Run's body; it returns when ctx ends (ctx.Err()), after a
// Shutdown once nothing is in flight (nil), or when the client is closed.
func (r *Relay) loop(ctx context.Context, inflight map[int64]struct{}, wg *sync.WaitGroup) error {
	poll := time.NewTimer(r.cfg.poll)
	defer poll.Stop()
	renew := time.NewTicker(r.cfg.lease / 3)
	defer renew.Stop()
	lag := time.NewTicker(r.cfg.lagInterval)
	defer lag.Stop()
	r.measureLag(ctx)

	stopping := false
	stopCh := r.stop // nil once stopping
	claimDue := true // false once a claim found the table drained, until woken
	// After the client's queue stayed full, no claim before fullUntil
	// (backing off while it stays full; reset by outcomes).
	var fullUntil time.Time
	fullDelay := time.Duration(0)
	fullReported := uint64(0) // r.reported when the client was found full
	backoff := time.Duration(0)
	for {
		select {
		case <-stopCh:
			stopping, stopCh = true, nil
		default:
		}
		select {
		case <-r.abort:
			return nil
		default:
		}
		// A busy relay never waits below: keep its leases and lag fresh here.
		select {
		case <-renew.C:
			r.renew(ctx, inflight)
		default:
		}
		select {
		case <-lag.C:
			r.measureLag(ctx)
		default:
		}
		dbErr := r.writeOutcomes(ctx, inflight)
		canClaim := func() bool {
			return !stopping && claimDue && len(inflight) < r.cfg.maxInFlight && !time.Now().Before(fullUntil)
		}
		if dbErr == nil && canClaim() {
			limit := min(r.cfg.batch, r.cfg.maxInFlight-len(inflight))
			n, err := r.claimAndSend(ctx, limit, inflight)
			switch {
			case errors.Is(err, analytics.ErrClosed):
				return err
			case errors.Is(err, errClientFull):
				fullDelay = min(max(2*fullDelay, r.cfg.lease/3), 2*r.cfg.lease)
				fullUntil, fullReported = time.Now().Add(fullDelay), r.reported.Load()
			case err != nil:
				dbErr = err
			case n < limit:
				claimDue = false
				if len(inflight) > 0 {
					r.flushIdle(ctx, wg)
				}
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if stopping && len(inflight) == 0 {
			return nil
		}
		if dbErr != nil {
			r.logDBError(ctx, "relay", dbErr)
			backoff = min(max(2*backoff, minDBBackoff), maxBackoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-r.abort:
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if canClaim() {
			continue // more rows may be waiting
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.abort:
			return nil
		case <-stopCh:
			stopping, stopCh = true, nil
		case <-r.signal:
			// Outcomes to write; a relay that was full (or found the
			// client full) may claim again once they are.
			if len(inflight) >= r.cfg.maxInFlight {
				claimDue = true
			}
			if r.reported.Load() != fullReported { // the client made room
				fullUntil, fullDelay = time.Time{}, 0
			}
		case <-r.wake:
			claimDue = true
		case <-poll.C:
			poll.Reset(r.cfg.poll)
			claimDue = true
		case <-renew.C:
			r.renew(ctx, inflight)
		case <-lag.C:
			r.measureLag(ctx)
		}
	}
}

// flushIdle asks the client to send what it holds without waiting for its
// flush interval, once the table is drained (at most one flush at a time).
func (r *Relay) flushIdle(ctx context.Context, wg *sync.WaitGroup) {
	if !r.flushing.CompareAndSwap(false, true) {
		return
	}
	wg.Go(func() {
		defer r.flushing.Store(false)
		_ = r.client.Flush(ctx) // outcomes reach done
	})
}

// claimAndSend claims up to limit rows and hands them to the client. It
// returns how many it claimed.
func (r *Relay) claimAndSend(ctx context.Context, limit int, inflight map[int64]struct{}) (int, error) {
	rows, err := r.db.QueryContext(ctx, r.q.claim, limit, r.cfg.lease.Milliseconds(), r.cfg.id)
	if err != nil {
		return 0, fmt.Errorf("claiming rows: %w", err)
	}
	type claimedRow struct {
		id       int64
		attempts int
		e        analytics.Encoded
	}
	var batch []claimedRow
	for rows.Next() {
		var c claimedRow
		if err := rows.Scan(&c.id, &c.attempts, &c.e.Info.MessageID, &c.e.Info.Type, &c.e.Info.Event, &c.e.Data); err != nil {
			_ = rows.Close()
			return 0, fmt.Errorf("reading claimed rows: %w", err)
		}
		batch = append(batch, c)
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		// The claim's transaction may or may not have committed: rows it
		// claimed come back after their lease.
		return 0, fmt.Errorf("reading claimed rows: %w", err)
	}
	_ = rows.Close()
	if len(batch) == 0 {
		return 0, nil
	}
	slices.SortFunc(batch, func(a, b claimedRow) int { return compareInt64(a.id, b.id) })
	r.claimed.Add(uint64(len(batch)))
	for _, c := range batch {
		inflight[c.id] = struct{}{}
	}
	r.inFlight.Store(int64(len(inflight)))
	// The hand-off may wait for room in the client's queue; bound it, so
	// that leases are renewed and outcomes written meanwhile.
	hctx, cancel := context.WithTimeout(ctx, r.cfg.lease/3)
	defer cancel()
	for i, c := range batch {
		id, attempts := c.id, c.attempts
		err := r.client.EnqueueEncoded(hctx, c.e, func(rep analytics.Report) { r.report(id, attempts, rep) })
		switch {
		case err == nil:
		case errors.Is(err, analytics.ErrClosed) || errors.Is(err, analytics.ErrQueueFull) || ctx.Err() != nil:
			// Not handed over: give these rows back unsent.
			back := make([]outcome, 0, len(batch)-i)
			for _, c := range batch[i:] {
				back = append(back, outcome{id: c.id, kind: giveBack})
			}
			r.addOutcomes(back...)
			if errors.Is(err, analytics.ErrClosed) {
				return len(batch), fmt.Errorf("outbox: relay: %w", err)
			}
			if ctx.Err() == nil {
				return len(batch), errClientFull
			}
			return len(batch), nil
		default:
			// A row the client refuses (not an encoded message, too
			// large): it can never be sent.
			r.addOutcomes(outcome{id: c.id, kind: deadLetter, reason: "refused by the client: " + err.Error()})
		}
	}
	return len(batch), nil
}

// report is the done callback of EnqueueEncoded: it runs on a client
// goroutine, so it only records the outcome.
func (r *Relay) report(id int64, attempts int, rep analytics.Report) {
	r.reported.Add(1)
	o := outcome{id: id}
	switch {
	case rep.Outcome == analytics.Delivered:
		o.kind = delivered
	case errors.Is(rep.Err, analytics.ErrRejected):
		o.kind, o.reason = deadLetter, errString(rep.Err)
	case attempts >= r.cfg.maxAttempts:
		o.kind, o.reason = deadLetter, "not delivered after "+strconv.Itoa(attempts)+" relay attempts: "+errString(rep.Err)
	default: // retries exhausted, Close's deadline, spooled: try again later
		o.kind, o.reason = retryLater, errString(rep.Err)
	}
	r.addOutcomes(o)
}

func errString(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

func (r *Relay) addOutcomes(os ...outcome) {
	r.mu.Lock()
	if !r.stopped {
		r.pending = append(r.pending, os...)
	}
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// writeOutcomes writes the pending outcomes back to the table: deletes,
// dead letters and give-backs, each kind (and reason) in one statement.
// What it could not write stays pending.
func (r *Relay) writeOutcomes(ctx context.Context, inflight map[int64]struct{}) error {
	r.mu.Lock()
	todo := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	type group struct {
		kind   outcomeKind
		reason string
	}
	groups := map[group][]int64{}
	var order []group
	for _, o := range todo {
		g := group{o.kind, o.reason}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], o.id)
	}
	var failed []outcome
	var firstErr error
	for _, g := range order {
		ids := groups[g]
		var err error
		var n int64
		switch g.kind {
		case delivered:
			_, err = r.exec(ctx, r.q.ack, idArray(ids))
			if err == nil {
				r.delivered.Add(uint64(len(ids))) // even if another relay already removed a duplicate
			}
		case deadLetter:
			n, err = r.exec(ctx, r.q.deadLetter, idArray(ids), g.reason)
			if err == nil {
				r.dead.Add(count(n))
			}
		case retryLater:
			n, err = r.exec(ctx, r.q.retry, idArray(ids), r.cfg.retryDelay.Milliseconds(), r.cfg.maxRetryDelay.Milliseconds(), g.reason, r.cfg.id)
			if err == nil {
				r.retried.Add(count(n))
			}
		case giveBack:
			n, err = r.exec(ctx, r.q.giveBack, idArray(ids), r.cfg.id)
			if err == nil {
				r.released.Add(count(n))
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			for _, id := range ids {
				failed = append(failed, outcome{id: id, kind: g.kind, reason: g.reason})
			}
			continue
		}
		for _, id := range ids {
			delete(inflight, id)
		}
	}
	r.inFlight.Store(int64(len(inflight)))
	if len(failed) > 0 {
		r.mu.Lock()
		r.pending = append(failed, r.pending...)
		r.mu.Unlock()
	}
	return firstErr
}

// renew extends the lease of the rows in flight.
func (r *Relay) renew(ctx context.Context, inflight map[int64]struct{}) {
	if len(inflight) == 0 {
		return
	}
	ids := slices.Collect(maps.Keys(inflight))
	if _, err := r.exec(ctx, r.q.renew, idArray(ids), r.cfg.lease.Milliseconds(), r.cfg.id); err != nil {
		r.logDBError(ctx, "renewing leases", err)
	}
}

// measureLag reads the age of the oldest row.
func (r *Relay) measureLag(ctx context.Context) {
	var secs float64
	err := r.db.QueryRowContext(ctx, r.q.lag).Scan(&secs)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		secs = 0
	case err != nil:
		r.logDBError(ctx, "measuring lag", err)
		return
	}
	r.lagNanos.Store(int64(secs * float64(time.Second)))
	r.lagAt.Store(time.Now().UnixNano())
}

func (r *Relay) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := r.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected() // only for statistics
	return n, nil
}

func (r *Relay) logDBError(ctx context.Context, what string, err error) {
	r.dbErrors.Add(1)
	if ctx.Err() != nil {
		return
	}
	r.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "outbox: database error; retrying", slog.String("during", what), slog.String("relay", r.cfg.id), slog.String("error", err.Error()))
}

// idArray writes ids as a PostgreSQL array literal, passed as text and
// cast in SQL: every driver sends a string the same way.
func idArray(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, '}'))
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// queries are the relay's statements for one table.
type queries struct {
	claim, ack, deadLetter, retry, giveBack, renew, lag string
}

func newQueries(n names) queries {
	t, d := n.table, n.dead
	return queries{
		// One short transaction: lock up to $1 claimable rows, skipping those
		// other relays hold, and lease them to this relay.
		claim: `UPDATE ` + t + ` AS o
SET claimed_until = now() + $2::bigint * interval '1 millisecond', claimed_by = $3::text, attempts = o.attempts + 1
FROM (SELECT id FROM ` + t + ` WHERE claimed_until IS NULL OR claimed_until < now() ORDER BY id LIMIT $1::integer FOR UPDATE SKIP LOCKED) AS c
WHERE o.id = c.id
RETURNING o.id, o.attempts, o.message_id, o.type, o.event, o.data`,
		ack: `DELETE FROM ` + t + ` WHERE id = ANY($1::text::bigint[])`,
		deadLetter: `WITH d AS (DELETE FROM ` + t + ` WHERE id = ANY($1::text::bigint[]) RETURNING id, message_id, type, event, data, created_at, attempts)
INSERT INTO ` + d + ` (id, message_id, type, event, data, created_at, attempts, reason)
SELECT id, message_id, type, event, data, created_at, attempts, $2::text FROM d
ON CONFLICT (id) DO NOTHING`,
		retry: `UPDATE ` + t + `
SET claimed_until = now() + least($3::float8, $2::float8 * power(2, least(greatest(attempts, 1), 40) - 1)) * interval '1 millisecond',
    claimed_by = NULL, last_error = $4::text
WHERE id = ANY($1::text::bigint[]) AND claimed_by = $5::text`,
		giveBack: `UPDATE ` + t + ` SET claimed_until = NULL, claimed_by = NULL, attempts = greatest(attempts - 1, 0)
WHERE id = ANY($1::text::bigint[]) AND claimed_by = $2::text`,
		renew: `UPDATE ` + t + ` SET claimed_until = now() + $2::bigint * interval '1 millisecond'
WHERE id = ANY($1::text::bigint[]) AND claimed_by = $3::text`,
		lag: `SELECT EXTRACT(EPOCH FROM now() - created_at)::float8 FROM ` + t + ` ORDER BY id LIMIT 1`,
	}
}

// count converts a RowsAffected count for the counters.
func count(n int64) uint64 {
	if n <= 0 {
		return 0
	}
	return uint64(n)
}
