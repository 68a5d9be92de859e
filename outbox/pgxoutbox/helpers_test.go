package pgxoutbox_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/internal/msgids"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

const testDB = "outbox_test"

var (
	dbOnce  sync.Once
	dbErr   error
	tableNo atomic.Int64
)

// env is one test's view of the shared cluster: its own tables.
type env struct {
	url   string
	pool  *pgxpool.Pool
	db    *sql.DB // database/sql through pgx's stdlib driver
	table string
}

// newEnv skips without PostgreSQL (fails with CI=true: see TestMain), and
// returns pools on the shared test database and a fresh table name whose
// schema is created.
func newEnv(t testing.TB) *env {
	t.Helper()
	if cluster == nil {
		t.Skip(skipReason)
	}
	dbOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := sql.Open("pgx", cluster.URL("postgres"))
		if err != nil {
			dbErr = err
			return
		}
		defer admin.Close()
		var exists bool
		if dbErr = admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", testDB).Scan(&exists); dbErr != nil || exists {
			return
		}
		_, dbErr = admin.ExecContext(ctx, "CREATE DATABASE "+testDB)
	})
	if dbErr != nil {
		t.Fatalf("creating the test database: %v", dbErr)
	}
	e := &env{url: cluster.URL(testDB), table: fmt.Sprintf("ob_%d", tableNo.Add(1))}
	cfg, err := pgxpool.ParseConfig(e.url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 16
	e.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.pool.Close)
	e.db, err = sql.Open("pgx", e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.db.Close() })
	return e
}

// outbox returns an Outbox on e's table over client, with its schema
// created, and an orders table next to it.
func (e *env) outbox(t testing.TB, client *analytics.Client, opts ...outbox.Option) *outbox.Outbox {
	t.Helper()
	o, err := outbox.New(client, append([]outbox.Option{outbox.WithTable(e.table)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.CreateSchema(t.Context(), e.db); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(t.Context(), "CREATE TABLE IF NOT EXISTS "+e.table+"_orders (id text PRIMARY KEY, total numeric NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return o
}

func (e *env) count(t testing.TB, query string) int {
	t.Helper()
	var n int
	q := strings.ReplaceAll(query, "{t}", e.table)
	if err := e.db.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// sink is a counting Segment-compatible endpoint: it records every
// messageId of every batch it accepts, with the message's bytes.
type sink struct {
	srv *httptest.Server

	mu       sync.Mutex
	got      map[string]int             // messageId -> accepted deliveries
	raw      map[string]json.RawMessage // messageId -> the message as sent
	poison   map[string]bool            // batches holding one are answered 400
	requests int
	unique   int // distinct messageIds accepted
	dups     int // accepted deliveries beyond the first
	keepRaw  bool
	// countOnly: find the messageIds by scanning the body instead of
	// decoding it (the benchmarks' minimal sink).
	countOnly bool
	changed   chan struct{}

	status atomic.Int32                  // non-zero: answer every request with it
	hang   atomic.Pointer[chan struct{}] // non-nil: hold requests until it is closed
	// before, when set, runs on each batch about to be accepted, before the
	// answer is written (the crash tests kill a relay there).
	before atomic.Pointer[func(ids []string)]
}

func newSink(t testing.TB) *sink {
	s := &sink{got: map[string]int{}, raw: map[string]json.RawMessage{}, poison: map[string]bool{}, keepRaw: true, changed: make(chan struct{}, 1)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		if h := s.hang.Swap(nil); h != nil {
			close(*h)
		}
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

func (s *sink) URL() string { return s.srv.URL }

// holdRequests makes requests wait until release is called.
func (s *sink) holdRequests() (release func()) {
	ch := make(chan struct{})
	s.hang.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.hang.CompareAndSwap(&ch, nil)
			close(ch)
		})
	}
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	s.notify()
	if h := s.hang.Load(); h != nil {
		select {
		case <-*h:
		case <-r.Context().Done():
			return
		}
	}
	if st := s.status.Load(); st != 0 {
		http.Error(w, `{"code":"down"}`, int(st))
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	var req struct {
		Batch []json.RawMessage `json:"batch"`
	}
	var ids []string
	if s.countOnly {
		data, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		ids = msgids.Scan(data)
		req.Batch = make([]json.RawMessage, len(ids))
	} else if err := json.NewDecoder(body).Decode(&req); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	if !s.countOnly {
		ids = make([]string, len(req.Batch))
	}
	for i, m := range req.Batch {
		if s.countOnly {
			break
		}
		var id struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(m, &id); err != nil || id.MessageID == "" {
			http.Error(w, "bad message", http.StatusBadRequest)
			return
		}
		ids[i] = id.MessageID
	}
	s.mu.Lock()
	for _, id := range ids {
		if s.poison[id] {
			s.mu.Unlock()
			http.Error(w, `{"code":"invalid_request","message":"poison"}`, http.StatusBadRequest)
			return
		}
	}
	for i, id := range ids {
		if s.got[id]++; s.got[id] == 1 {
			s.unique++
		} else {
			s.dups++
		}
		if s.keepRaw {
			s.raw[id] = req.Batch[i]
		}
	}
	s.mu.Unlock()
	if f := s.before.Load(); f != nil {
		(*f)(ids)
	}
	s.notify()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"success":true}`)
}

func (s *sink) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// stats returns the distinct messages accepted and the extra deliveries.
func (s *sink) stats() (unique, duplicates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unique, s.dups
}

func (s *sink) times(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[id]
}

func (s *sink) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// waitUntil waits for cond, re-checking whenever the sink changes and at
// least every 50 ms (conditions on the database change without the sink).
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool, s *sink) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var changed chan struct{}
	if s != nil {
		changed = s.changed
	}
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-changed:
		case <-tick.C:
		}
	}
}

// newClient returns a client sending to url with fast retries, closed at
// the end of the test.
func newClient(t testing.TB, url string, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	c, err := analytics.New("test-key", append([]analytics.Option{
		analytics.WithEndpoint(url),
		analytics.WithFlushInterval(20 * time.Millisecond),
		analytics.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		analytics.WithRetry(3, 5*time.Second),
		analytics.WithLogger(nil),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

// start runs r until the end of the test (then Shutdown, bounded).
func start(t testing.TB, r relay) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- r.Run(ctx)
		close(finished)
	}()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = r.Shutdown(sctx)
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("relay did not stop")
		}
	})
	return done
}

// pgxRelay is a relay of o on e's pool (pgxoutbox.NewRelay), running
// until the end of the test.
func (e *env) pgxRelay(t testing.TB, o *outbox.Outbox, opts ...outbox.RelayOption) *pgxoutbox.Relay {
	t.Helper()
	r, err := pgxoutbox.NewRelay(o, e.pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	return r
}

// sqlRelay is a relay of o on e's database/sql pool (Outbox.NewRelay),
// running until the end of the test.
func (e *env) sqlRelay(t testing.TB, o *outbox.Outbox, opts ...outbox.RelayOption) *outbox.Relay {
	t.Helper()
	r, err := o.NewRelay(e.db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	return r
}

// order is a checkout's Order Completed for order id.
func order(id string) analytics.Track {
	ev := analytics.OrderCompleted(analytics.Order{OrderID: id, Total: 27.5, Revenue: 22.5, Currency: "USD",
		Products: []analytics.Product{{ProductID: "507f1f77", SKU: "45790-32", Name: "Monopoly", Price: 19, Quantity: 1}}})
	ev.UserID = "user-" + id
	return ev
}

// checkout writes the order and its event in one transaction of db.
func checkout(ctx context.Context, db *sql.DB, o *outbox.Outbox, table, id string, commit bool) (messageID string, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+"_orders (id, total) VALUES ($1, 27.50)", id); err != nil {
		return "", err
	}
	ev := order(id)
	ev.MessageID = "order-" + id // known to the test
	if err := o.Enqueue(ctx, tx, ev); err != nil {
		return "", err
	}
	if !commit {
		return ev.MessageID, errors.New("not committed")
	}
	return ev.MessageID, tx.Commit()
}

// relay is an *outbox.Relay or a *pgxoutbox.Relay.
type relay interface {
	Run(ctx context.Context) error
	Shutdown(ctx context.Context) error
	Stats() outbox.RelayStats
}

// Reset forgets what the sink recorded.
func (s *sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.raw, s.requests, s.unique, s.dups = map[string]int{}, map[string]json.RawMessage{}, 0, 0, 0
}
