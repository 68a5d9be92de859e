package analytics

import (
	"context"
	"testing"
)

// BenchmarkEnqueueTrack10PropsSpool is BenchmarkEnqueueTrack10Props with
// WithSpool: every message is appended to the journal before Enqueue
// returns, and acknowledged once delivered. Compare the two with benchstat
// (issue: at most twice the cost without the spool).
func BenchmarkEnqueueTrack10PropsSpool(b *testing.B) {
	c, err := New("test-write-key",
		WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })),
		WithMaxQueue(1_000_000, 1<<30), WithBatchSize(MaxBatchMessages),
		WithSpool(b.TempDir(), 1<<30))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	m := track10()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Enqueue(m); err != nil {
			b.Fatal(err)
		}
	}
}
