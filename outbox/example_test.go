package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
)

// The schema for a table of your choosing, for a migration tool.
func ExampleSchema() {
	ddl, err := outbox.Schema("shop.analytics_outbox")
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(ddl, "\n") {
		if strings.HasPrefix(line, "CREATE") {
			fmt.Println(line)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS "shop"."analytics_outbox" (
	// CREATE TABLE IF NOT EXISTS "shop"."analytics_outbox_dead" (
	// CREATE INDEX IF NOT EXISTS "analytics_outbox_dead_failed_at" ON "shop"."analytics_outbox_dead" (failed_at);
}

// A checkout writes its order and the order's event in one transaction,
// and a relay in the same process delivers the event after the commit.
func ExampleOutbox_Enqueue() {
	ctx := context.Background()
	db, err := sql.Open("pgx", "postgres:///shop") // any PostgreSQL driver for database/sql
	if err != nil {
		log.Fatal(err)
	}
	client, err := analytics.New("WRITE_KEY")
	if err != nil {
		log.Fatal(err)
	}
	ob, err := outbox.New(client)
	if err != nil {
		log.Fatal(err)
	}
	if err := ob.CreateSchema(ctx, db); err != nil {
		log.Fatal(err)
	}
	relay, err := ob.NewRelay(db)
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = relay.Run(ctx) }()

	checkout := func(ctx context.Context, orderID string, total float64) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if _, err := tx.ExecContext(ctx, "INSERT INTO orders (id, total) VALUES ($1, $2)", orderID, total); err != nil {
			return err
		}
		ev := analytics.OrderCompleted(analytics.Order{OrderID: orderID, Total: total, Currency: "USD"})
		ev.UserID = "user-1"
		if err := ob.Enqueue(ctx, tx, ev); err != nil {
			return err // *analytics.ValidationError, outbox.ErrWrite, ...
		}
		return tx.Commit() // the order and its event, or neither
	}
	if err := checkout(ctx, "50314b8e", 27.50); err != nil {
		log.Print(err)
	}

	// On shutdown: the relay first (it flushes the client), then the client.
	_ = relay.Shutdown(ctx)
	_ = client.Close(ctx)
}
