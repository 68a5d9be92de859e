package outbox_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
	"go.uber.org/goleak"
)

// The tests against a real PostgreSQL live in the pgxoutbox module (they
// need a driver, which this module does not depend on): run
// (cd outbox/pgxoutbox && go test -race ./...).

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T) *analytics.Client {
	t.Helper()
	c, err := analytics.New("k", analytics.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// schema.sql is what Schema returns for the default table, and any other
// table's schema names only that table.
func TestSchemaFile(t *testing.T) {
	want, err := outbox.Schema(outbox.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("schema.sql differs from Schema(%q)", outbox.DefaultTable)
	}
	other, err := outbox.Schema("shop.orders")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(other, outbox.DefaultTable) || strings.Count(other, `"shop"."orders"`) != 1 ||
		strings.Count(other, `"shop"."orders_dead"`) != 2 || strings.Count(other, `"orders_dead_failed_at"`) != 1 {
		t.Errorf("Schema(shop.orders) keeps a default name or misses one of its own:\n%s", other)
	}
	for _, s := range []string{`CREATE TABLE IF NOT EXISTS "analytics_outbox" (`, `CREATE TABLE IF NOT EXISTS "analytics_outbox_dead" (`,
		`CREATE INDEX IF NOT EXISTS "analytics_outbox_dead_failed_at" ON "analytics_outbox_dead" (failed_at);`, "fillfactor"} {
		if !strings.Contains(want, s) {
			t.Errorf("schema lacks %s", s)
		}
	}
}

func TestTableNames(t *testing.T) {
	c := newClient(t)
	good := map[string]string{
		"events":                `"events"`,
		"shop.events":           `"shop"."events"`,
		"_q1":                   `"_q1"`,
		strings.Repeat("a", 57): `"` + strings.Repeat("a", 57) + `"`,
	}
	for name, quoted := range good {
		o, err := outbox.New(c, outbox.WithTable(name))
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		if o.Table() != name || o.Channel() != name || !strings.Contains(o.Schema(), "CREATE TABLE IF NOT EXISTS "+quoted+" (") {
			t.Errorf("%q: table %q, channel %q", name, o.Table(), o.Channel())
		}
	}
	bad := []string{"", "Events", `ev"; DROP TABLE orders; --`, "a.b.c", "1abc", "a b", ".t", "s.", "t-1", strings.Repeat("a", 58), "évents"}
	for _, name := range bad {
		if _, err := outbox.New(c, outbox.WithTable(name)); !errors.Is(err, outbox.ErrInvalidTable) {
			t.Errorf("New(WithTable(%q)): %v, want ErrInvalidTable", name, err)
		}
		if _, err := outbox.Schema(name); !errors.Is(err, outbox.ErrInvalidTable) {
			t.Errorf("Schema(%q): %v, want ErrInvalidTable", name, err)
		}
	}
}

func TestNewBadInput(t *testing.T) {
	if _, err := outbox.New(nil); !errors.Is(err, outbox.ErrNilClient) {
		t.Errorf("nil client: %v", err)
	}
	c := newClient(t)
	if _, err := outbox.New(c, nil); err == nil {
		t.Error("nil option accepted")
	}
	o, err := outbox.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if o.Table() != outbox.DefaultTable {
		t.Errorf("default table %q", o.Table())
	}
	if err := o.Enqueue(context.Background(), nil, analytics.Track{UserID: "u", Event: "E"}); !errors.Is(err, outbox.ErrNilTx) {
		t.Errorf("nil tx: %v", err)
	}
	if err := o.CreateSchema(context.Background(), nil); !errors.Is(err, outbox.ErrNilDB) {
		t.Errorf("CreateSchema(nil): %v", err)
	}
	if _, err := o.NewRelay(nil); !errors.Is(err, outbox.ErrNilDB) {
		t.Errorf("NewRelay(nil): %v", err)
	}
}

// Statement encodes as the client does: same errors, same stamping.
func TestStatement(t *testing.T) {
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	c, err := analytics.New("k", analytics.WithLogger(nil), analytics.WithClock(func() time.Time { return fixed }),
		analytics.WithMessageIDs(func() string { return "id-1" }), analytics.WithDefaultContext(&analytics.Context{IP: "10.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, notify := range []bool{true, false} {
		o, err := outbox.New(c, outbox.WithNotify(notify))
		if err != nil {
			t.Fatal(err)
		}
		st, err := o.Statement(analytics.Track{UserID: "u", Event: "Order Completed"})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Encode(analytics.Track{UserID: "u", Event: "Order Completed"})
		if err != nil {
			t.Fatal(err)
		}
		if string(st.Args[3].([]byte)) != string(enc.Data) || st.Info != enc.Info || st.Info.MessageID != "id-1" {
			t.Errorf("statement %v differs from Encode %s", st.Args, enc.Data)
		}
		for _, s := range []string{`"timestamp":"2026-03-04T05:06:07.890Z"`, `"ip":"10.0.0.1"`, `"messageId":"id-1"`} {
			if !strings.Contains(string(enc.Data), s) {
				t.Errorf("encoding lacks %s: %s", s, enc.Data)
			}
		}
		if got := strings.Contains(st.SQL, "pg_notify"); got != notify || (notify && len(st.Args) != 5) {
			t.Errorf("notify %v: %s %v", notify, st.SQL, st.Args)
		}
		_, err = o.Statement(analytics.Track{UserID: "u"})
		var ve *analytics.ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, analytics.ErrMissingField) {
			t.Errorf("invalid message: %v", err)
		}
	}
}

func TestRelayOptions(t *testing.T) {
	c := newClient(t)
	o, err := outbox.New(c)
	if err != nil {
		t.Fatal(err)
	}
	db := openNoDB(t)
	bad := map[string]outbox.RelayOption{
		"nil":         nil,
		"batch 0":     outbox.WithClaimBatch(0),
		"batch 10001": outbox.WithClaimBatch(10_001),
		"in flight 0": outbox.WithMaxInFlight(0),
		"lease 10ms":  outbox.WithLease(10 * time.Millisecond),
		"poll 0":      outbox.WithPollInterval(0),
		"attempts 0":  outbox.WithMaxAttempts(0),
		"retry 0":     outbox.WithRetryDelay(0, time.Second),
		"retry max<":  outbox.WithRetryDelay(time.Second, time.Millisecond),
		"id empty":    outbox.WithRelayID(""),
		"id too long": outbox.WithRelayID(strings.Repeat("x", 201)),
	}
	for name, opt := range bad {
		var ce *analytics.ConfigError
		if _, err := o.NewRelay(db, opt); !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a *ConfigError", name, err)
		}
	}
	r, err := o.NewRelay(db, outbox.WithClaimBatch(10), outbox.WithMaxInFlight(5), outbox.WithLease(time.Second),
		outbox.WithPollInterval(time.Second), outbox.WithMaxAttempts(3), outbox.WithRetryDelay(time.Second, time.Minute),
		outbox.WithRelayID("r1"), outbox.WithListener(nil), outbox.WithRelayLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID() != "r1" || r.Stats() != (outbox.RelayStats{}) {
		t.Errorf("new relay: %q %+v", r.ID(), r.Stats())
	}
	// Shutdown before Run makes Run return at once, touching nothing.
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Errorf("Run after Shutdown: %v", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, outbox.ErrRelayRunning) {
		t.Errorf("second Run: %v", err)
	}
	d, err := o.NewRelay(db)
	if err != nil {
		t.Fatal(err)
	}
	if id := d.ID(); !strings.Contains(id, ":") {
		t.Errorf("default relay id %q", id)
	}
}

// openNoDB returns a *sql.DB whose every connection attempt fails: for the
// tests that must not reach a database.
func openNoDB(t *testing.T) *sql.DB {
	db := sql.OpenDB(noDB{})
	t.Cleanup(func() { _ = db.Close() })
	return db
}

type noDB struct{}

func (noDB) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database in this test")
}
func (noDB) Driver() driver.Driver { return nil }
