package analytics

import (
	"context"
	"testing"
)

func benchClient(b *testing.B) *Client {
	b.Helper()
	c, err := New("test-write-key", WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })),
		WithMaxQueue(1_000_000, 1<<30), WithBatchSize(MaxBatchMessages))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func track10() Track {
	return Track{
		Event:  "Product Viewed",
		UserID: "019mr8mf4r",
		Properties: Properties{
			"product_id": "507f1f77bcf86cd799439011",
			"sku":        "G-32",
			"category":   "Games",
			"name":       "Monopoly: 3rd Edition",
			"brand":      "Hasbro",
			"variant":    "200 pieces",
			"price":      18.99,
			"quantity":   1,
			"coupon":     "MAYDEALS",
			"position":   3,
		},
	}
}

// BenchmarkEnqueueTrack10Props: validate, stamp, encode and queue a Track with 10 properties.
func BenchmarkEnqueueTrack10Props(b *testing.B) {
	c := benchClient(b)
	m := track10()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Enqueue(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueTrack10PropsParallel(b *testing.B) {
	c := benchClient(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		m := track10()
		for pb.Next() {
			if err := c.Enqueue(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Enqueue allocates nothing of its own on the caller's path (the Message
// does not escape, the default messageId is appended into the slab), so
// OrderCompleted + Enqueue allocates once: the typed properties.
func TestEnqueueAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops pooled encoders at random under -race")
	}
	c, err := New("k", WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })),
		WithMaxQueue(1_000_000, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	o := FullOrder()
	ev := OrderCompleted(o)
	ev.UserID = "019mr8mf4r"
	if n := testing.AllocsPerRun(2000, func() { _ = c.Enqueue(&ev) }); n != 0 {
		t.Errorf("Enqueue(&ev): %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(2000, func() { _ = c.Enqueue(ev) }); n != 0 {
		t.Errorf("Enqueue(ev): %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(2000, func() {
		ev := OrderCompleted(o)
		ev.UserID = "019mr8mf4r"
		_ = c.Enqueue(&ev)
	}); n != 1 {
		t.Errorf("OrderCompleted + Enqueue: %v allocations, want 1", n)
	}
}
