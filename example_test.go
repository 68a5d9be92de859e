package analytics_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tracklane/analytics"
)

func ExampleNew() {
	// A transport that prints what would be sent; real code uses the default
	// HTTP transport (analytics.New(writeKey)) or analytics.WithEndpoint.
	print := analytics.TransportFunc(func(_ context.Context, b *analytics.Batch) error {
		fmt.Printf("batch of %d message(s)\n", len(b.Messages))
		return nil
	})
	client, err := analytics.New("WRITE_KEY", analytics.WithTransport(print))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{Event: "Signed Up", UserID: "u-1", Properties: map[string]any{"plan": "pro"}})
	_ = client.Enqueue(analytics.Identify{UserID: "u-1", Traits: map[string]any{"email": "ada@example.com"}})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Close(ctx); err != nil {
		fmt.Println(err)
	}
	fmt.Println("delivered:", client.Stats().Delivered)
	// Output:
	// batch of 2 message(s)
	// delivered: 2
}

func ExampleClient_Enqueue_invalid() {
	client, _ := analytics.New("WRITE_KEY", analytics.WithTransport(analytics.TransportFunc(
		func(context.Context, *analytics.Batch) error { return nil })))
	defer client.Close(context.Background())

	err := client.Enqueue(analytics.Track{Event: "Order Completed"}) // no UserID or AnonymousID
	fmt.Println(errors.Is(err, analytics.ErrMissingID))
	var ve *analytics.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Type, ve.Event)
	}
	// Output:
	// true
	// track Order Completed
}

func ExampleClient_Close() {
	// An endpoint that is down: Close retries until its deadline, then says
	// how many messages were not delivered.
	down := analytics.TransportFunc(func(context.Context, *analytics.Batch) error {
		return &analytics.HTTPError{StatusCode: 503}
	})
	client, _ := analytics.New("WRITE_KEY", analytics.WithTransport(down),
		analytics.WithDeliveryCallback(func(analytics.Report) {})) // silence the default failure log
	for i := 0; i < 3; i++ {
		_ = client.Enqueue(analytics.Track{Event: "Product Viewed", AnonymousID: "a-1"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := client.Close(ctx)
	var ue *analytics.UndeliveredError
	if errors.As(err, &ue) {
		fmt.Println(ue.Count, "not delivered;", errors.Is(err, context.DeadlineExceeded))
	}
	// Output:
	// 3 not delivered; true
}

func ExampleWithDeliveryCallback() {
	client, _ := analytics.New("WRITE_KEY",
		analytics.WithTransport(analytics.TransportFunc(func(context.Context, *analytics.Batch) error {
			return &analytics.HTTPError{StatusCode: 400, Body: `{"code":"invalid_request"}`}
		})),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			fmt.Println(r.Outcome, len(r.Messages), errors.Is(r.Err, analytics.ErrRejected))
		}))
	_ = client.Enqueue(analytics.Track{Event: "Cart Viewed", UserID: "u-1"})
	_ = client.Close(context.Background())
	// Output:
	// failed 1 true
}
