// Command outbox is a checkout service whose order and Order Completed event
// commit together: the handler writes the order row and the event in one
// PostgreSQL transaction (the transactional outbox), and a relay in the
// same process delivers committed events, woken by LISTEN/NOTIFY. A crash
// between the commit and the delivery loses nothing: the event waits in the
// table for the next relay. A rolled-back order sends nothing.
//
//	createdb shop
//	go run . -database-url postgres:///shop            # events go to an embedded collector
//	go run . -database-url postgres:///shop -endpoint https://api.segment.io -write-key KEY
//	curl -X POST 'localhost:8080/checkout?user=u1&sku=45790-32&price=19&qty=2'
//
// Run as many instances as you like on the same database: their relays
// share the outbox table. On SIGINT or SIGTERM it stops taking requests,
// stops the relay (writing back what is in flight) and closes the client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "outbox:", err)
		os.Exit(1)
	}
}

// run serves checkouts until ctx ends or SIGINT/SIGTERM arrives. ready,
// when not nil, is told the listening address.
func run(ctx context.Context, args []string, getenv func(string) string, logw io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("outbox", flag.ContinueOnError)
	fs.SetOutput(logw)
	addr := fs.String("addr", "localhost:8080", "listen address")
	dbURL := fs.String("database-url", getenv("DATABASE_URL"), "PostgreSQL URL (default $DATABASE_URL)")
	endpoint := fs.String("endpoint", "", "base URL of a Segment-compatible endpoint (default: an embedded collector)")
	writeKey := fs.String("write-key", "", "write key for -endpoint (default $SEGMENT_WRITE_KEY)")
	shutdown := fs.Duration("shutdown-timeout", 10*time.Second, "how long shutdown may take")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("-database-url (or $DATABASE_URL) is required")
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *endpoint == "" {
		collector := analyticstest.NewServer("demo-key")
		defer collector.Close()
		*endpoint, *writeKey = collector.URL, "demo-key"
		log.Info("events go to an embedded collector", "url", collector.URL)
	} else if *writeKey == "" {
		*writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	client, err := analytics.New(*writeKey, analytics.WithEndpoint(*endpoint), analytics.WithLogger(log),
		analytics.WithOrderMessageIDs(true)) // a retried checkout's event keeps its messageId
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	ob, err := outbox.New(client)
	if err != nil {
		return err
	}
	if err := migrate(ctx, pool, ob); err != nil {
		return err
	}
	relay, err := pgxoutbox.NewRelay(ob, pool, outbox.WithRelayLogger(log))
	if err != nil {
		return err
	}
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(context.WithoutCancel(ctx)) }() // stopped by Shutdown below

	mux := http.NewServeMux()
	mux.Handle("POST /checkout", checkoutHandler(pool, ob, log))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		s := relay.Stats()
		fmt.Fprintf(w, "claimed %d delivered %d dead-lettered %d in flight %d lag %v\n", s.Claimed, s.Delivered, s.DeadLettered, s.InFlight, s.Lag)
	})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: analytics.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdown)
	defer cancel()
	err = errors.Join(serveErr, srv.Shutdown(sctx))
	// Stop the relay first (it flushes the client and writes the outcomes
	// back), then close the client.
	err = errors.Join(err, relay.Shutdown(sctx), <-relayDone, client.Close(sctx))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// migrate creates the outbox tables and the orders table.
func migrate(ctx context.Context, pool *pgxpool.Pool, ob *outbox.Outbox) error {
	db := stdlib.OpenDBFromPool(pool)
	defer func() { _ = db.Close() }()
	if err := ob.CreateSchema(ctx, db); err != nil { // safe when instances start together
		return err
	}
	_, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS orders (
    id         text PRIMARY KEY,
    user_id    text NOT NULL,
    total      numeric(12,2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)`)
	return err
}

// checkoutHandler places an order: the order row and its Order Completed
// event are written in one transaction, so both exist or neither does.
func checkoutHandler(pool *pgxpool.Pool, ob *outbox.Outbox, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		user, sku := q.Get("user"), q.Get("sku")
		price, err1 := strconv.ParseFloat(q.Get("price"), 64)
		qty, err2 := strconv.Atoi(q.Get("qty"))
		if user == "" || sku == "" || err1 != nil || err2 != nil || qty < 1 {
			http.Error(w, "want user, sku, price and qty (>= 1)", http.StatusBadRequest)
			return
		}
		orderID := q.Get("order_id") // a client-chosen id makes a retried checkout idempotent
		if orderID == "" {
			orderID = uuid.NewString()
		} else if !validOrderID(orderID) {
			http.Error(w, "order_id: want 1 to 64 letters, digits, '-' or '_'", http.StatusBadRequest)
			return
		}
		total := price * float64(qty)
		ev := analytics.OrderCompleted(analytics.Order{
			OrderID: orderID, Total: total, Revenue: total, Currency: "USD",
			Products: []analytics.Product{{ProductID: sku, SKU: sku, Price: price, Quantity: qty}},
		})
		ev.UserID = user
		ev.Context = analytics.RequestContext(r.Context())

		err := pgx.BeginFunc(r.Context(), pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(r.Context(), "INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)", orderID, user, total); err != nil {
				return err
			}
			return pgxoutbox.Enqueue(r.Context(), ob, tx, ev) // same transaction: committed together
		})
		var pgErr *pgconn.PgError
		var ve *analytics.ValidationError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "23505": // unique_violation: the order exists
			http.Error(w, "order "+orderID+" already placed", http.StatusConflict)
		case errors.As(err, &ve):
			http.Error(w, ve.Error(), http.StatusBadRequest)
		case err != nil:
			log.Error("checkout failed", "order", orderID, "error", err)
			http.Error(w, "checkout failed", http.StatusInternalServerError)
		default:
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, orderID+"\n") //nolint:gosec // text/plain, and orderID is checked by validOrderID or generated
		}
	})
}

func validOrderID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
