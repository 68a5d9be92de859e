package pgxoutbox_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

// The committed event is delivered with the bytes Enqueue stored, woken by
// NOTIFY: the relay's poll interval is an hour, so only the notification
// (or the listener's first wake-up, which comes before the commit) can
// make it claim the row.
func TestCommittedEventDeliveredOnNotify(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	c := newClient(t, s.URL())
	o := e.outbox(t, c)
	r := e.pgxRelay(t, o, outbox.WithPollInterval(time.Hour))
	// The listener's first wake-up finds nothing; wait for it to have
	// happened (a claim of an empty table) before committing.
	waitUntil(t, 10*time.Second, "the relay to look at the table once", func() bool { return !r.Stats().LagAt.IsZero() }, nil)

	id, err := checkout(t.Context(), e.db, o, e.table, "1001", true)
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	err = e.db.QueryRowContext(t.Context(), "SELECT data FROM "+e.table+" WHERE message_id = $1", id).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // already delivered: read it from the sink below
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "delivery", func() bool { return s.times(id) == 1 }, s)
	waitUntil(t, 10*time.Second, "the row to be removed", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, nil)
	s.mu.Lock()
	sent := s.raw[id]
	s.mu.Unlock()
	if stored != nil && !bytes.Equal(stored, sent) {
		t.Errorf("sent bytes differ from the stored ones:\nstored %s\nsent   %s", stored, sent)
	}
	if !strings.Contains(string(sent), `"event":"Order Completed"`) || !strings.Contains(string(sent), `"order_id":"1001"`) {
		t.Errorf("unexpected message: %s", sent)
	}
	st := r.Stats()
	if st.Claimed != 1 || st.Delivered != 1 || st.DeadLettered != 0 || st.InFlight != 0 {
		t.Errorf("stats = %+v", st)
	}

	// Without its notification a commit waits (the relay polls once an
	// hour); the next notifying commit wakes the relay, which takes both.
	quiet, err := outbox.New(c, outbox.WithTable(e.table), outbox.WithNotify(false))
	if err != nil {
		t.Fatal(err)
	}
	silent, err := checkout(t.Context(), e.db, quiet, e.table, "1002", true)
	if err != nil {
		t.Fatal(err)
	}
	wait := time.Now().Add(time.Second)
	waitUntil(t, 5*time.Second, "a second", func() bool { return time.Now().After(wait) || s.times(silent) > 0 }, s)
	if s.times(silent) != 0 {
		t.Fatal("a commit without NOTIFY was delivered at once: the relay was woken otherwise")
	}
	loud, err := checkout(t.Context(), e.db, o, e.table, "1003", true)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "both, woken by the notification", func() bool { return s.times(silent) == 1 && s.times(loud) == 1 }, s)
}

// Without a listener the relay polls.
func TestPollingFallback(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	o := e.outbox(t, newClient(t, s.URL()), outbox.WithNotify(false))
	e.sqlRelay(t, o, outbox.WithPollInterval(20*time.Millisecond))
	var ids []string
	for i := range 5 {
		id, err := checkout(t.Context(), e.db, o, e.table, fmt.Sprint(i), true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	waitUntil(t, 10*time.Second, "5 deliveries", func() bool { u, _ := s.stats(); return u == 5 }, s)
	for _, id := range ids {
		if s.times(id) != 1 {
			t.Errorf("%s delivered %d times", id, s.times(id))
		}
	}
}

// A rolled-back transaction leaves nothing to send.
func TestRollbackNeverSent(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	o := e.outbox(t, newClient(t, s.URL()))
	r := e.pgxRelay(t, o, outbox.WithPollInterval(20*time.Millisecond))
	rolledBack, err := checkout(t.Context(), e.db, o, e.table, "rb", false)
	if err == nil || rolledBack == "" {
		t.Fatalf("checkout without commit: %q, %v", rolledBack, err)
	}
	// pgx native, rolled back too.
	tx, err := e.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ev := order("rb2")
	ev.MessageID = "order-rb2"
	if err := pgxoutbox.Enqueue(t.Context(), o, tx, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A committed marker after them: once it is delivered, the relay has
	// claimed past where the rolled-back rows would be.
	marker, err := checkout(t.Context(), e.db, o, e.table, "marker", true)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the marker", func() bool { return s.times(marker) == 1 }, s)
	if err := r.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := s.times(rolledBack) + s.times("order-rb2"); n != 0 {
		t.Errorf("rolled-back events delivered %d times", n)
	}
	if u, _ := s.stats(); u != 1 {
		t.Errorf("%d messages delivered, want only the marker", u)
	}
	if n := e.count(t, "SELECT count(*) FROM {t}"); n != 0 {
		t.Errorf("%d rows left", n)
	}
	if n := e.count(t, "SELECT count(*) FROM {t}_orders"); n != 1 {
		t.Errorf("%d orders, want the committed one", n)
	}
}

// Bad input gets a typed error, and the transaction stays usable for the
// caller to roll back (or, before the database is touched, to carry on).
func TestEnqueueBadInput(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, "http://127.0.0.1:1")
	o := e.outbox(t, c)
	ctx := t.Context()

	t.Run("database/sql", func(t *testing.T) {
		if err := o.Enqueue(ctx, nil, order("x")); !errors.Is(err, outbox.ErrNilTx) {
			t.Errorf("nil tx: %v", err)
		}
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ve *analytics.ValidationError
		if err := o.Enqueue(ctx, tx, analytics.Track{UserID: "u"}); !errors.As(err, &ve) || !errors.Is(err, analytics.ErrMissingField) {
			t.Errorf("track without event: %v", err)
		}
		if err := o.Enqueue(ctx, tx, nil); !errors.Is(err, analytics.ErrNilMessage) {
			t.Errorf("nil message: %v", err)
		}
		var tl *analytics.TooLargeError
		big := order("big")
		big.Properties = analytics.Properties{"blob": strings.Repeat("x", 40_000)}
		if err := o.Enqueue(ctx, tx, big); !errors.As(err, &tl) || !errors.Is(err, analytics.ErrMessageTooLarge) {
			t.Errorf("too large: %v", err)
		}
		// The transaction is untouched: it still works, and commits nothing.
		var one int
		if err := tx.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("tx unusable after refused messages: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("rollback: %v", err)
		}
		// A finished transaction.
		err = o.Enqueue(ctx, tx, order("late"))
		if !errors.Is(err, outbox.ErrWrite) || !errors.Is(err, sql.ErrTxDone) {
			t.Errorf("closed tx: %v", err)
		}
	})
	t.Run("pgx", func(t *testing.T) {
		if err := pgxoutbox.Enqueue(ctx, o, nil, order("x")); !errors.Is(err, outbox.ErrNilTx) {
			t.Errorf("nil tx: %v", err)
		}
		var typedNil *pgxTxStub
		if err := pgxoutbox.Enqueue(ctx, o, typedNil, order("x")); !errors.Is(err, outbox.ErrNilTx) {
			t.Errorf("typed nil tx: %v", err)
		}
		if err := pgxoutbox.Enqueue(ctx, nil, typedNil, order("x")); !errors.Is(err, outbox.ErrNilClient) {
			t.Errorf("nil outbox: %v", err)
		}
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ve *analytics.ValidationError
		bad := order("neg")
		bad.Event = ""
		if err := pgxoutbox.Enqueue(ctx, o, tx, bad); !errors.As(err, &ve) {
			t.Errorf("invalid message: %v", err)
		}
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("tx unusable after a refused message: %v", err)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Errorf("rollback: %v", err)
		}
		err = pgxoutbox.Enqueue(ctx, o, tx, order("late"))
		if !errors.Is(err, outbox.ErrWrite) || !errors.Is(err, pgx.ErrTxClosed) {
			t.Errorf("closed tx: %v", err)
		}
	})
	t.Run("database error", func(t *testing.T) {
		// The table is missing: the driver's error, wrapped; the aborted
		// transaction still rolls back.
		o2, err := outbox.New(c, outbox.WithTable("no_such_table"))
		if err != nil {
			t.Fatal(err)
		}
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := o2.Enqueue(ctx, tx, order("x")); !errors.Is(err, outbox.ErrWrite) || !strings.Contains(err.Error(), "no_such_table") {
			t.Errorf("missing table: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Errorf("rollback after a database error: %v", err)
		}
	})
	if n := e.count(t, "SELECT count(*) FROM {t}"); n != 0 {
		t.Errorf("%d rows written by refused calls", n)
	}
}

// pgxTxStub only provides a typed nil pgx.Tx.
type pgxTxStub struct{ pgx.Tx }

// The schema function is idempotent, and schema-qualified names work.
func TestSchemaQualifiedTable(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	c := newClient(t, s.URL())
	if _, err := e.db.ExecContext(t.Context(), "CREATE SCHEMA IF NOT EXISTS shop"); err != nil {
		t.Fatal(err)
	}
	name := "shop." + e.table
	o, err := outbox.New(c, outbox.WithTable(name))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := o.CreateSchema(t.Context(), e.db); err != nil {
			t.Fatal(err)
		}
	}
	r := e.pgxRelay(t, o, outbox.WithPollInterval(time.Hour))
	waitUntil(t, 10*time.Second, "the relay to start", func() bool { return !r.Stats().LagAt.IsZero() }, nil)
	tx, err := e.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := order("q")
	ev.MessageID = "qualified"
	if err := o.Enqueue(t.Context(), tx, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "delivery through the qualified table's channel", func() bool { return s.times("qualified") == 1 }, s)
}

func TestNewRelayBadInput(t *testing.T) {
	if _, err := pgxoutbox.NewRelay(nil, nil); !errors.Is(err, outbox.ErrNilClient) {
		t.Errorf("nil outbox: %v", err)
	}
	c, err := analytics.New("k", analytics.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	o, err := outbox.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgxoutbox.NewRelay(o, nil); !errors.Is(err, outbox.ErrNilDB) {
		t.Errorf("nil pool: %v", err)
	}
	var l *pgxoutbox.Listener
	if err := l.Listen(context.Background(), "c", func() {}); !errors.Is(err, pgxoutbox.ErrNilConfig) {
		t.Errorf("nil listener: %v", err)
	}
}
