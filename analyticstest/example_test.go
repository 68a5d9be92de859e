package analyticstest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// checkout is the handler under test: it reports a completed order.
func checkout(client *analytics.Client, userID string) {
	ev := analytics.OrderCompleted(analytics.Order{
		OrderID: "50314b8e", Total: 27.50, Revenue: 22.50, Currency: "USD",
		Products: []analytics.Product{{ProductID: "507f1f77", Name: "Monopoly", Price: 19, Quantity: 1}},
	})
	ev.UserID = userID
	_ = client.Enqueue(ev)
}

// A Recorder replaces the HTTP transport; after Flush the test asserts on
// what was sent.
func ExampleRecorder() {
	rec := analyticstest.NewRecorder()
	client, _ := analytics.New("test-key", analytics.WithTransport(rec))
	defer client.Close(context.Background())

	checkout(client, "u1")
	_ = client.Flush(context.Background())

	// The assertion, in three lines:
	orders := rec.Tracks("Order Completed")
	products, _ := orders[0].Products()
	fmt.Println(len(orders), orders[0].Properties["order_id"], products[0].Name, rec.Violations())
	// Output: 1 50314b8e Monopoly []
}

// Scripted failures let a test see how the client, or the caller's own
// error handling, copes with an unavailable endpoint.
func ExampleRecorder_FailNextStatus() {
	rec := analyticstest.NewRecorder()
	rec.FailNextStatus(2, 503, 0)
	client, _ := analytics.New("test-key", analytics.WithTransport(rec),
		analytics.WithBackoff(time.Millisecond, time.Millisecond))
	defer client.Close(context.Background())

	checkout(client, "u1")
	_ = client.Flush(context.Background())

	for _, a := range rec.Attempts() {
		fmt.Println(a.Batch.Attempt, a.Err)
	}
	fmt.Println("delivered:", rec.Len())
	// Output:
	// 1 analytics: server answered 503 Service Unavailable
	// 2 analytics: server answered 503 Service Unavailable
	// 3 <nil>
	// delivered: 1
}

// A Server checks what goes over the wire and can misbehave on cue.
func ExampleServer() {
	srv := analyticstest.NewServer("test-key")
	defer srv.Close()
	srv.Respond(
		analyticstest.Status(500),
		analyticstest.Status(429),
		analyticstest.ProcessThenDisconnect(), // delivered, but the answer is lost
	)
	client, _ := analytics.New("test-key", analytics.WithEndpoint(srv.URL),
		analytics.WithBackoff(time.Millisecond, time.Millisecond))
	defer client.Close(context.Background())

	checkout(client, "u1")
	_ = client.Flush(context.Background())

	var statuses []int
	for _, r := range srv.Requests() {
		statuses = append(statuses, r.Status) // 0: closed without an answer
	}
	fmt.Println(statuses)
	fmt.Println("delivered:", srv.Len(), "duplicates:", srv.Duplicates(), "violations:", srv.Violations())
	// Output:
	// [500 429 0 200]
	// delivered: 1 duplicates: 1 violations: []
}

// Validate checks one message without a server: here a price sent as a
// string and a v1 property name.
func ExampleValidate() {
	msg := []byte(`{"type":"track","event":"Product Viewed","messageId":"m1","userId":"u1",
		"timestamp":"2015-12-10T04:08:31.905Z","context":{"library":{"name":"x","version":"1"}},
		"properties":{"productId":"507f1f77","price":"19.99"}}`)
	for _, v := range analyticstest.Validate(msg) {
		fmt.Println(v)
	}
	// Output:
	// message 0 (track "Product Viewed"): properties.price: ecommerce: want a number, got a string
	// message 0 (track "Product Viewed"): properties.productId: ecommerce: "productId" is a v1 name; the v2 spec names it product_id
}

// An outage: every request answers 503 until ClearFaults; the client gives
// up on the message after its attempts and reports it failed.
func ExampleFault_Always() {
	srv := analyticstest.NewServer("test-key")
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Always())
	client, _ := analytics.New("test-key", analytics.WithEndpoint(srv.URL), analytics.WithLogger(nil),
		analytics.WithRetry(3, time.Minute), analytics.WithBackoff(time.Millisecond, time.Millisecond))
	defer client.Close(context.Background())

	checkout(client, "u1")
	_ = client.Flush(context.Background())
	fmt.Println("requests:", len(srv.Requests()), "delivered:", srv.Len(), "failed:", client.Stats().Failed)

	srv.ClearFaults() // the outage ends
	checkout(client, "u2")
	_ = client.Flush(context.Background())
	fmt.Println("delivered:", srv.Len())
	// Output:
	// requests: 3 delivered: 0 failed: 1
	// delivered: 1
}

// For a bulk run, a Server that keeps only counts: every check is still
// made, duplicates are still counted, memory stays small.
func ExampleWithCountsOnly() {
	srv := analyticstest.NewServer("test-key", analyticstest.WithCountsOnly())
	defer srv.Close()
	client, _ := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
	defer client.Close(context.Background())

	ctx := context.Background()
	for i := range 10_000 {
		ev := analytics.Track{Event: "Imported", UserID: fmt.Sprint("u", i%100), MessageID: fmt.Sprint("import-", i%5_000)}
		if err := client.EnqueueContext(ctx, ev); err != nil {
			fmt.Println(err)
			return
		}
	}
	_ = client.Flush(ctx)
	fmt.Println("delivered:", srv.Len(), "duplicates:", srv.Duplicates(), "violations:", len(srv.Violations()), "kept:", len(srv.Messages()))
	// Output: delivered: 5000 duplicates: 5000 violations: 0 kept: 0
}
