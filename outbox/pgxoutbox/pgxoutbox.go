// Package pgxoutbox adds pgx v5 to the transactional outbox of
// github.com/tracklane/analytics/outbox: Enqueue in a native pgx.Tx, a
// Listener that wakes relays with PostgreSQL's LISTEN/NOTIFY, and NewRelay
// on a *pgxpool.Pool.
//
// It is a module of its own so that the analytics module and its outbox
// package keep their dependencies to the standard library: users of
// database/sql (pgx's stdlib driver, lib/pq) need only the outbox package.
package pgxoutbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
)

// Enqueue is outbox.Outbox.Enqueue for a native pgx transaction (from a
// *pgx.Conn or a *pgxpool.Pool): it validates, stamps and encodes msg
// exactly as Client.Enqueue does and writes it into o's table inside tx, so
// that the message exists if and only if tx commits.
//
// Errors: outbox.ErrNilTx for a nil tx; the client's own refusal
// (*analytics.ValidationError, *analytics.TooLargeError,
// analytics.ErrNilMessage) before tx is touched; an error wrapping
// outbox.ErrWrite and pgx's error when the database refuses the row
// (pgx.ErrTxClosed for a committed or rolled-back tx). tx is always left
// for the caller to roll back. A nil o returns outbox.ErrNilClient; a nil
// ctx is treated as context.Background().
func Enqueue(ctx context.Context, o *outbox.Outbox, tx pgx.Tx, msg analytics.Message) error {
	if o == nil {
		return outbox.ErrNilClient
	}
	if isNil(tx) {
		return outbox.ErrNilTx
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := o.Statement(msg)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, st.SQL, st.Args...); err != nil {
		return fmt.Errorf("%w: %w", outbox.ErrWrite, err)
	}
	return nil
}

func isNil(tx pgx.Tx) bool {
	if tx == nil {
		return true
	}
	v := reflect.ValueOf(tx)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Relay is an outbox.Relay on a *pgxpool.Pool (see NewRelay): the same
// methods, and Run also releases the database/sql adapter it made.
type Relay struct {
	*outbox.Relay
	db *sql.DB
}

// Run is outbox.Relay.Run; when it returns, the relay's database/sql
// adapter over the pool is closed (the pool itself is not).
func (r *Relay) Run(ctx context.Context) error {
	err := r.Relay.Run(ctx)
	if !errors.Is(err, outbox.ErrRelayRunning) {
		_ = r.db.Close()
	}
	return err
}

// NewRelay returns o's relay on pool (through pgx's database/sql adapter,
// stdlib.OpenDBFromPool), woken by a Listener on a connection of its own
// made with pool's configuration, unless opts set another with
// outbox.WithListener. Closing the pool is the caller's, after the relay
// has stopped. It fails as outbox.Outbox.NewRelay does, with
// outbox.ErrNilClient for a nil o and outbox.ErrNilDB for a nil pool.
func NewRelay(o *outbox.Outbox, pool *pgxpool.Pool, opts ...outbox.RelayOption) (*Relay, error) {
	if o == nil {
		return nil, outbox.ErrNilClient
	}
	if pool == nil {
		return nil, outbox.ErrNilDB
	}
	l := NewListener(pool.Config().ConnConfig, nil)
	db := stdlib.OpenDBFromPool(pool)
	r, err := o.NewRelay(db, append([]outbox.RelayOption{outbox.WithListener(l)}, opts...)...)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &Relay{Relay: r, db: db}, nil
}

// Listener implements outbox.Listener with LISTEN on a dedicated pgx
// connection. It reconnects after errors (a PostgreSQL restart, a dropped
// connection) with a backoff from 100 ms to 5 s, and wakes the relay after
// each connection, since notifications sent while it was away are lost.
type Listener struct {
	cfg    *pgx.ConnConfig
	logger *slog.Logger
}

// NewListener returns a Listener that connects with a copy of cfg. A nil
// logger discards its reports of connection errors (the relay keeps
// polling meanwhile).
func NewListener(cfg *pgx.ConnConfig, logger *slog.Logger) *Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var c *pgx.ConnConfig
	if cfg != nil {
		c = cfg.Copy()
	}
	return &Listener{cfg: c, logger: logger}
}

// ErrNilConfig is returned by Listen when the Listener was made from a nil
// *pgx.ConnConfig.
var ErrNilConfig = errors.New("pgxoutbox: nil connection config")

// Listen implements outbox.Listener: it listens on channel until ctx ends,
// then returns ctx.Err().
func (l *Listener) Listen(ctx context.Context, channel string, notify func()) error {
	if l == nil || l.cfg == nil {
		return ErrNilConfig
	}
	const minDelay, maxDelay = 100 * time.Millisecond, 5 * time.Second
	delay := minDelay
	for {
		connected, err := l.session(ctx, channel, notify)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if connected {
			delay = minDelay
		}
		l.logger.LogAttrs(ctx, slog.LevelWarn, "pgxoutbox: listener disconnected; reconnecting",
			slog.String("channel", channel), slog.Duration("after", delay), slog.String("error", err.Error()))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, maxDelay)
	}
}

// session connects, listens and relays notifications until an error.
func (l *Listener) session(ctx context.Context, channel string, notify func()) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return false, err
	}
	notify() // anything committed while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, err
		}
		notify()
	}
}
