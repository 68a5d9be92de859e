package pgxoutbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

// copyRows writes n encoded events with COPY (the bytes Enqueue would
// store; only faster to load) and returns their messageIds.
func copyRows(t testing.TB, e *env, o *outbox.Outbox, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range n {
		ev := order(prefix + strconv.Itoa(i))
		st, err := o.Statement(ev)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = st.Info.MessageID
		rows[i] = st.Args[:4] // message_id, type, event, data
	}
	got, err := e.pool.CopyFrom(t.Context(), pgx.Identifier{e.table}, []string{"message_id", "type", "event", "data"}, pgx.CopyFromRows(rows))
	if err != nil || got != int64(n) {
		t.Fatalf("copy: %d rows, %v", got, err)
	}
	return ids
}

// Three relays share one table of 100,000 rows: every row is delivered,
// none twice. Under the race detector (15 times slower) it runs 20,000.
func TestThreeRelaysShareOneTable(t *testing.T) {
	n := 100_000
	if raceEnabled || testing.Short() {
		n = 20_000
	}
	e := newEnv(t)
	s := newSink(t)
	s.keepRaw = false
	var relays []*pgxoutbox.Relay
	var o *outbox.Outbox
	for i := range 3 {
		c := newClient(t, s.URL(), analytics.WithGzip(true))
		oi := e.outbox(t, c)
		if o == nil {
			o = oi
		}
		r, err := pgxoutbox.NewRelay(oi, e.pool, outbox.WithRelayID("relay-"+strconv.Itoa(i)), outbox.WithPollInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		relays = append(relays, r)
	}
	ids := copyRows(t, e, o, "three-", n)
	began := time.Now()
	for _, r := range relays {
		start(t, r)
	}
	waitUntil(t, 2*time.Minute, "every row delivered", func() bool { u, _ := s.stats(); return u == n }, s)
	took := time.Since(began)
	waitUntil(t, 20*time.Second, "every row removed", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, nil)
	unique, dup := s.stats()
	if unique != n || dup != 0 {
		t.Errorf("%d delivered, %d duplicates; want %d, 0", unique, dup, n)
	}
	for _, id := range ids[:10] {
		if s.times(id) != 1 {
			t.Errorf("%s delivered %d times", id, s.times(id))
		}
	}
	var claimed, delivered uint64
	for _, r := range relays {
		st := r.Stats()
		claimed += st.Claimed
		delivered += st.Delivered
		t.Logf("%s: %+v", r.ID(), st)
		if st.Claimed == 0 {
			t.Errorf("%s claimed nothing: the relays did not share the work", r.ID())
		}
	}
	if claimed != uint64(n) || delivered != uint64(n) {
		t.Errorf("claimed %d, delivered %d; want %d each", claimed, delivered, n)
	}
	t.Logf("%d rows through 3 relays in %v (%.0f events/s)", n, took, float64(n)/took.Seconds())
}

// PostgreSQL restarts (an immediate stop, as a crash) while two relays run
// and an app keeps committing: the relays reconnect, their listeners too,
// and every committed event is delivered. (Rows whose claim was lost with
// the connection come back when their lease ends, found by the next poll.)
func TestPostgresRestartWhileRelaysRun(t *testing.T) {
	e := newEnv(t)
	if !cluster.Owned() {
		t.Skip("needs a cluster this test may restart; unset " + "TRACKLANE_TEST_POSTGRES")
	}
	s := newSink(t)
	var relays []*pgxoutbox.Relay
	var o *outbox.Outbox
	for i := range 2 {
		oi := e.outbox(t, newClient(t, s.URL()))
		if o == nil {
			o = oi
		}
		r, err := pgxoutbox.NewRelay(oi, e.pool, outbox.WithPollInterval(200*time.Millisecond), outbox.WithLease(2*time.Second), outbox.WithRelayID(fmt.Sprintf("r%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		relays = append(relays, r)
		start(t, r)
	}
	for _, r := range relays {
		waitUntil(t, 10*time.Second, "the relays to start", func() bool { return !r.Stats().LagAt.IsZero() }, nil)
	}

	// The app: commits an event at a time until stopped; an event whose
	// commit failed may or may not be committed.
	var mu sync.Mutex
	var committed, maybe []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			id := "restart-" + strconv.Itoa(i)
			_, err := checkout(ctx, e.db, o, e.table, id, true)
			cancel()
			mu.Lock()
			if err == nil {
				committed = append(committed, "order-"+id)
			} else {
				maybe = append(maybe, "order-"+id)
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(20 * time.Millisecond) // the app's own retry pace while the database is down
			}
		}
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(committed) }
	waitUntil(t, 20*time.Second, "commits before the restart", func() bool { return count() >= 50 }, nil)
	if err := cluster.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := cluster.StartServer(); err != nil {
		t.Fatal(err)
	}
	before := count()
	waitUntil(t, 30*time.Second, "commits after the restart", func() bool { return count() >= before+50 }, nil)
	listening := "SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN \"" + e.table + "\"'"
	waitUntil(t, 30*time.Second, "both listeners to reconnect", func() bool { return e.count(t, listening) == 2 }, nil)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	waitUntil(t, 30*time.Second, "every committed event", func() bool {
		for _, id := range committed {
			if s.times(id) == 0 {
				return false
			}
		}
		return true
	}, s)
	var dbErrors uint64
	for _, r := range relays {
		dbErrors += r.Stats().DBErrors
	}
	if dbErrors == 0 {
		t.Error("the relays saw no database error: was the server restarted?")
	}
	_, dup := s.stats()
	t.Logf("%d committed, %d uncertain, %d duplicates, %d database errors seen by the relays", len(committed), len(maybe), dup, dbErrors)
}

// The endpoint is down for a while: rows wait in the table (within the
// in-flight bound), then go; a poison row the endpoint refuses with 400 goes
// to the dead letters with its reason.
func TestEndpointDownRowsWaitPoisonDeadLettered(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	s.status.Store(503)
	c := newClient(t, s.URL(), analytics.WithRetry(2, time.Second))
	o := e.outbox(t, c)
	ids := insertRows(t, e, o, "down-", 30)
	poison := ids[7]
	s.mu.Lock()
	s.poison[poison] = true
	s.mu.Unlock()
	r, err := pgxoutbox.NewRelay(o, e.pool, outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithRetryDelay(20*time.Millisecond, 100*time.Millisecond), outbox.WithMaxAttempts(1000), outbox.WithMaxInFlight(10), outbox.WithClaimBatch(10))
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	maxClaimed := 0
	waitUntil(t, 20*time.Second, "every row tried and given back", func() bool {
		maxClaimed = max(maxClaimed, e.count(t, "SELECT count(*) FROM {t} WHERE claimed_by IS NOT NULL"))
		return e.count(t, "SELECT count(*) FROM {t} WHERE attempts >= 2") == len(ids)
	}, nil)
	if n := e.count(t, "SELECT count(*) FROM {t}"); n != len(ids) {
		t.Errorf("%d rows while the endpoint is down, want all %d waiting", n, len(ids))
	}
	if maxClaimed > 10 || r.Stats().InFlight > 10 {
		t.Errorf("%d rows claimed at once, over the in-flight bound 10", maxClaimed)
	}
	if st := r.Stats(); st.Retried < uint64(len(ids)) || st.Delivered != 0 || st.Lag <= 0 {
		t.Errorf("stats while down: %+v", st)
	}
	var lastErr string
	if err := e.db.QueryRowContext(t.Context(), "SELECT last_error FROM "+e.table+" LIMIT 1").Scan(&lastErr); err != nil || !strings.Contains(lastErr, "503") {
		t.Errorf("last_error = %q, %v; want the 503", lastErr, err)
	}

	s.status.Store(0) // back up
	waitUntil(t, 20*time.Second, "the rows to go", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, s)
	if u, dup := s.stats(); u != len(ids)-1 || dup != 0 {
		t.Errorf("%d delivered (%d duplicates), want %d", u, dup, len(ids)-1)
	}
	var reason, mid string
	var data []byte
	if err := e.db.QueryRowContext(t.Context(), "SELECT message_id, reason, data FROM "+e.table+"_dead").Scan(&mid, &reason, &data); err != nil {
		t.Fatal(err)
	}
	if mid != poison || !strings.Contains(reason, "400") || !strings.Contains(reason, "rejected") || !strings.Contains(string(data), poison) {
		t.Errorf("dead letter %s: %q", mid, reason)
	}
	if st := r.Stats(); st.DeadLettered != 1 || st.Delivered != uint64(len(ids)-1) {
		t.Errorf("stats: %+v", st)
	}
}

// A row out of relay attempts goes to the dead letters, saying so.
func TestMaxAttemptsDeadLetters(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	s.status.Store(500)
	o := e.outbox(t, newClient(t, s.URL(), analytics.WithRetry(1, time.Second)))
	insertRows(t, e, o, "max-", 3)
	e.sqlRelay(t, o, outbox.WithPollInterval(20*time.Millisecond), outbox.WithRetryDelay(10*time.Millisecond, 10*time.Millisecond), outbox.WithMaxAttempts(2))
	waitUntil(t, 20*time.Second, "dead letters", func() bool { return e.count(t, "SELECT count(*) FROM {t}_dead") == 3 }, nil)
	if n := e.count(t, "SELECT count(*) FROM {t}_dead WHERE attempts = 2 AND reason LIKE 'not delivered after 2 relay attempts: %retries exhausted%'"); n != 3 {
		t.Errorf("%d dead letters with the expected reason", n)
	}
	if n := e.count(t, "SELECT count(*) FROM {t}"); n != 0 {
		t.Errorf("%d rows left", n)
	}
}

// Shutdown lets the rows in flight finish; when its context ends first,
// they are given back at once (claimable by the next relay) and Run returns.
func TestShutdown(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	o := e.outbox(t, newClient(t, s.URL(), analytics.WithFlushInterval(time.Hour)))

	t.Run("drains", func(t *testing.T) {
		ids := insertRows(t, e, o, "drain-", 20)
		release := s.holdRequests()
		r, err := pgxoutbox.NewRelay(o, e.pool)
		if err != nil {
			t.Fatal(err)
		}
		done := start(t, r)
		waitUntil(t, 10*time.Second, "rows in flight", func() bool { return r.Stats().InFlight == len(ids) }, nil)
		go func() {
			waitUntil(t, 10*time.Second, "the flush's request", func() bool { return s.requestCount() > 0 }, s)
			release()
		}()
		if err := r.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run after Shutdown: %v", err)
		}
		if u, _ := s.stats(); u != len(ids) {
			t.Errorf("%d delivered by Shutdown, want %d", u, len(ids))
		}
		if n := e.count(t, "SELECT count(*) FROM {t}"); n != 0 {
			t.Errorf("%d rows left after a graceful stop", n)
		}
		if err := r.Run(t.Context()); !errors.Is(err, outbox.ErrRelayRunning) {
			t.Errorf("second Run: %v", err)
		}
	})
	t.Run("gives back", func(t *testing.T) {
		s.Reset()
		ids := insertRows(t, e, o, "back-", 20)
		release := s.holdRequests()
		defer release()
		r, err := o.NewRelay(e.db, outbox.WithRelayID("leaving"))
		if err != nil {
			t.Fatal(err)
		}
		done := start(t, r)
		waitUntil(t, 10*time.Second, "rows in flight", func() bool { return r.Stats().InFlight == len(ids) }, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown with a hung endpoint: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if n := e.count(t, "SELECT count(*) FROM {t} WHERE claimed_by IS NULL AND claimed_until IS NULL AND attempts = 0"); n != len(ids) {
			t.Errorf("%d of %d rows given back", n, len(ids))
		}
		if st := r.Stats(); st.Released != uint64(len(ids)) || st.InFlight != 0 {
			t.Errorf("stats: %+v", st)
		}
	})
}

// Run returns when the client is closed under it.
func TestRunStopsWhenClientClosed(t *testing.T) {
	e := newEnv(t)
	c := newClient(t, "http://127.0.0.1:1")
	o := e.outbox(t, c)
	insertRows(t, e, o, "closed-", 3)
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	r, err := o.NewRelay(e.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context()); !errors.Is(err, analytics.ErrClosed) {
		t.Errorf("Run on a closed client: %v", err)
	}
	if n := e.count(t, "SELECT count(*) FROM {t} WHERE claimed_by IS NULL AND attempts = 0"); n != 3 {
		t.Errorf("%d of 3 rows given back", n)
	}
	_ = os.Getenv
}

// The privileges the package documentation lists are enough: INSERT for
// the app's role; SELECT, UPDATE, DELETE on the outbox and SELECT, INSERT
// on the dead letters for the relay's role.
func TestDocumentedPrivilegesSuffice(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	c := newClient(t, s.URL())
	o := e.outbox(t, c)
	writer, relayRole := e.table+"_writer", e.table+"_relay"
	for _, q := range []string{
		"CREATE ROLE " + writer + " LOGIN",
		"CREATE ROLE " + relayRole + " LOGIN",
		"GRANT INSERT ON " + e.table + " TO " + writer,
		"GRANT SELECT, UPDATE, DELETE ON " + e.table + " TO " + relayRole,
		"GRANT SELECT, INSERT ON " + e.table + "_dead TO " + relayRole,
	} {
		if _, err := e.db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	as := func(role string) *sql.DB {
		u := strings.Replace(e.url, "postgres@", role+"@", 1)
		if !strings.Contains(u, role+"@") {
			t.Skip("cannot switch roles in " + e.url)
		}
		db, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	wdb := as(writer)
	tx, err := wdb.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	good, bad := order("p1"), order("p2")
	good.MessageID, bad.MessageID = "priv-good", "priv-bad"
	for _, ev := range []analytics.Track{good, bad} {
		if err := o.Enqueue(t.Context(), tx, ev); err != nil {
			t.Fatalf("Enqueue as the writer: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.poison["priv-bad"] = true
	s.mu.Unlock()
	r, err := o.NewRelay(as(relayRole), outbox.WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	waitUntil(t, 10*time.Second, "delivery and dead letter", func() bool {
		return s.times("priv-good") == 1 && e.count(t, "SELECT count(*) FROM {t}_dead") == 1
	}, s)
	if st := r.Stats(); st.DBErrors != 0 {
		t.Errorf("the relay's role lacked a privilege: %+v", st)
	}
}

// The replay statement of the package documentation puts a dead letter
// back, and it is delivered with its original messageId.
func TestDocumentedReplay(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	o := e.outbox(t, newClient(t, s.URL()))
	ids := insertRows(t, e, o, "replay-", 1)
	s.mu.Lock()
	s.poison[ids[0]] = true
	s.mu.Unlock()
	e.sqlRelay(t, o, outbox.WithPollInterval(20*time.Millisecond))
	waitUntil(t, 10*time.Second, "the dead letter", func() bool { return e.count(t, "SELECT count(*) FROM {t}_dead") == 1 }, nil)
	s.mu.Lock()
	s.poison[ids[0]] = false
	s.mu.Unlock()
	var deadID int64
	if err := e.db.QueryRowContext(t.Context(), "SELECT id FROM "+e.table+"_dead").Scan(&deadID); err != nil {
		t.Fatal(err)
	}
	replay := strings.NewReplacer("analytics_outbox_dead", e.table+"_dead", "analytics_outbox", e.table).Replace(
		`WITH d AS (DELETE FROM analytics_outbox_dead WHERE id = $1 RETURNING message_id, type, event, data, created_at)
	INSERT INTO analytics_outbox (message_id, type, event, data, created_at) SELECT * FROM d`)
	if _, err := e.db.ExecContext(t.Context(), replay, deadID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the replayed message", func() bool { return s.times(ids[0]) == 1 }, s)
}

// A live relay renews the lease of the rows it holds: another relay does
// not take them, however long their delivery takes.
func TestLeaseRenewedWhileInFlight(t *testing.T) {
	const lease = 1500 * time.Millisecond
	e := newEnv(t)
	slow, other := newSink(t), newSink(t)
	release := slow.holdRequests()
	defer release()
	oa := e.outbox(t, newClient(t, slow.URL()))
	ob := e.outbox(t, newClient(t, other.URL()))
	ids := insertRows(t, e, oa, "renew-", 20)
	e.sqlRelay(t, oa, outbox.WithLease(lease), outbox.WithRelayID("holder"))
	waitUntil(t, 10*time.Second, "the rows in flight", func() bool { return slow.requestCount() > 0 }, slow)
	b := e.sqlRelay(t, ob, outbox.WithLease(lease), outbox.WithPollInterval(20*time.Millisecond))
	// Three leases long: without renewal the rows would have passed to b.
	deadline := time.Now().Add(3 * lease)
	waitUntil(t, 10*time.Second, "three leases", func() bool { return time.Now().After(deadline) }, nil)
	if st := b.Stats(); st.Claimed != 0 {
		t.Fatalf("the other relay claimed %d rows held by a live relay", st.Claimed)
	}
	release()
	waitUntil(t, 10*time.Second, "delivery by the holder", func() bool { u, _ := slow.stats(); return u == len(ids) }, slow)
	if u, _ := other.stats(); u != 0 {
		t.Errorf("the other relay delivered %d", u)
	}
}

// When the client's queue stays full (its endpoint hangs, the app fills
// it too), the relay gives back the rows it could not hand over instead of
// sitting on them, so that another relay delivers them; it keeps the
// leases of those it did hand over.
func TestClientQueueFullGivesRowsBack(t *testing.T) {
	const lease = 900 * time.Millisecond
	e := newEnv(t)
	hung, good := newSink(t), newSink(t)
	release := hung.holdRequests()
	defer release()
	c := newClient(t, hung.URL(), analytics.WithMaxQueue(5, 1<<20), analytics.WithBatchSize(5))
	o := e.outbox(t, c)
	ids := insertRows(t, e, o, "full-", 20)
	a := e.sqlRelay(t, o, outbox.WithLease(lease), outbox.WithRelayID("holder"), outbox.WithPollInterval(50*time.Millisecond))
	waitUntil(t, 10*time.Second, "rows given back", func() bool { return a.Stats().Released >= 15 }, nil)
	ob := e.outbox(t, newClient(t, good.URL()))
	e.sqlRelay(t, ob, outbox.WithLease(lease), outbox.WithPollInterval(50*time.Millisecond))
	waitUntil(t, 20*time.Second, "the other relay to deliver the rows given back", func() bool { u, _ := good.stats(); return u == 15 }, good)
	if n := e.count(t, "SELECT count(*) FROM {t} WHERE claimed_by = 'holder' AND claimed_until > now()"); n != 5 {
		t.Errorf("%d rows leased to the full relay, want the 5 its client holds", n)
	}
	release()
	waitUntil(t, 20*time.Second, "every row", func() bool { u1, _ := hung.stats(); u2, _ := good.stats(); return u1+u2 == len(ids) }, nil)
	waitUntil(t, 20*time.Second, "the rows to be removed", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, nil)
	_, d1 := hung.stats()
	_, d2 := good.stats()
	if d1+d2 != 0 || hung.times(ids[0])+good.times(ids[0]) != 1 {
		t.Errorf("%d duplicates", d1+d2)
	}
	if st := a.Stats(); st.Claimed > 40 {
		t.Errorf("the full relay claimed %d times for 20 rows: it should back off", st.Claimed)
	}
}

// Shutdown waits for the relay's rows, not for the app's own messages
// that share the client (their endpoint hangs here).
func TestShutdownDoesNotWaitForAppMessages(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	release := s.holdRequests()
	defer release()
	c := newClient(t, s.URL())
	o := e.outbox(t, c)
	r, err := o.NewRelay(e.db)
	if err != nil {
		t.Fatal(err)
	}
	done := start(t, r)
	waitUntil(t, 10*time.Second, "the relay to start", func() bool { return !r.Stats().LagAt.IsZero() }, nil)
	if err := c.Enqueue(order("app")); err != nil { // not through the outbox
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("Shutdown waited for a message the relay does not own")
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
