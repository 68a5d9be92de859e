package pgxoutbox_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

// BenchmarkCheckoutTx measures what the outbox adds to the caller's
// transaction per event: each iteration runs one bare checkout transaction
// (BEGIN, INSERT the order, COMMIT) and one that also enqueues its event,
// interleaved so that the load of a shared machine hits both alike, and
// reports both (µs/tx) and their difference (added-µs/event).
func BenchmarkCheckoutTx(b *testing.B) {
	e := newEnv(b)
	c := newClient(b, "http://127.0.0.1:1")
	notify := e.outbox(b, c)
	quiet, err := outbox.New(c, outbox.WithTable(e.table), outbox.WithNotify(false))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	insert := "INSERT INTO " + e.table + "_orders (id, total) VALUES ($1, 27.50)"
	sqlTx := func(o *outbox.Outbox) {
		n++
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, insert, "b"+strconv.Itoa(n)); err != nil {
			b.Fatal(err)
		}
		if o != nil {
			if err := o.Enqueue(ctx, tx, order(strconv.Itoa(n))); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	pgxTx := func(o *outbox.Outbox) {
		n++
		tx, err := e.pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(ctx, insert, "b"+strconv.Itoa(n)); err != nil {
			b.Fatal(err)
		}
		if o != nil {
			if err := pgxoutbox.Enqueue(ctx, o, tx, order(strconv.Itoa(n))); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, tx func(*outbox.Outbox), o *outbox.Outbox) {
		var bare, with time.Duration
		for b.Loop() {
			t0 := time.Now()
			tx(nil)
			t1 := time.Now()
			tx(o)
			with += time.Since(t1)
			bare += t1.Sub(t0)
		}
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
		b.ReportMetric(per(bare), "bare-µs/tx")
		b.ReportMetric(per(with), "outbox-µs/tx")
		b.ReportMetric(per(with-bare), "added-µs/event")
		b.ReportMetric(float64(with)/float64(bare), "outbox/bare")
		b.StopTimer()
		if _, err := e.db.ExecContext(ctx, "TRUNCATE "+e.table); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("database-sql", func(b *testing.B) { run(b, sqlTx, notify) })
	b.Run("database-sql-nonotify", func(b *testing.B) { run(b, sqlTx, quiet) })
	b.Run("pgx", func(b *testing.B) { run(b, pgxTx, notify) })
}

// BenchmarkRelayThroughput delivers a backlog of rows through 1 and 3
// relays (each with its own client, batches of 500, 2 or 4 concurrent
// uploads) to a local counting sink, and reports delivered events/s: from
// the relays' start until the sink has every row and the table is empty.
func BenchmarkRelayThroughput(b *testing.B) {
	const rows = 60_000
	for _, bc := range []struct{ relays, uploads int }{{1, 2}, {3, 2}, {1, 4}, {3, 4}} {
		relays := bc.relays
		b.Run(fmt.Sprintf("relays=%d/uploads=%d", relays, bc.uploads), func(b *testing.B) {
			e := newEnv(b)
			var total time.Duration
			var delivered int
			for range b.N {
				b.StopTimer()
				s := newSink(b)
				s.keepRaw, s.countOnly = false, true
				var rs []*pgxoutbox.Relay
				var o *outbox.Outbox
				for i := range relays {
					c := newClient(b, s.URL(), analytics.WithBatchSize(500), analytics.WithConcurrency(bc.uploads))
					oi := e.outbox(b, c)
					if o == nil {
						o = oi
					}
					r, err := pgxoutbox.NewRelay(oi, e.pool, outbox.WithRelayID("bench-"+strconv.Itoa(i)), outbox.WithRelayLogger(nil))
					if err != nil {
						b.Fatal(err)
					}
					rs = append(rs, r)
				}
				copyRows(b, e, o, "bench-", rows)
				if _, err := e.db.ExecContext(context.Background(), "VACUUM ANALYZE "+e.table); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				began := time.Now()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, len(rs))
				for _, r := range rs {
					go func() { done <- r.Run(ctx) }()
				}
				waitUntil(b, 2*time.Minute, "every row", func() bool { u, _ := s.stats(); return u == rows }, s)
				waitUntil(b, time.Minute, "an empty table", func() bool { return e.count(b, "SELECT count(*) FROM {t}") == 0 }, nil)
				total += time.Since(began)
				delivered += rows
				b.StopTimer()
				for _, r := range rs {
					_ = r.Shutdown(context.Background())
				}
				cancel()
				for range rs {
					<-done
				}
				if _, dup := s.stats(); dup != 0 {
					b.Errorf("%d duplicates", dup)
				}
			}
			b.ReportMetric(float64(delivered)/total.Seconds(), "events/s")
		})
	}
}
