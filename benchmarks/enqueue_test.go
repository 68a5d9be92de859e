package benchmarks

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracklane/analytics/benchmarks/internal/contender"
)

// acceptAll answers every batch the way the SDK's real endpoint would on
// success, after reading the body.
func acceptAll(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "/batch/") { // PostHog
		_, _ = io.WriteString(w, `{"status":1}`)
		return
	}
	_, _ = io.WriteString(w, `{"success":true}`)
}

// enqueueContenders are benchmarked in this order, so that benchstat
// (-col /sdk) takes analytics-go as its base column.
var enqueueContenders = []string{contender.AnalyticsGo, contender.PostHogGo, contender.Tracklane}

func newBenchClient(b *testing.B, name string) contender.Client {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(acceptAll))
	b.Cleanup(srv.Close)
	c, err := contender.New(name, srv.URL, new(contender.Counters))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// closeBench closes c outside the timed region and fails b on error.
func closeBench(b *testing.B, c contender.Client) {
	b.Helper()
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		b.Fatalf("Close: %v", err)
	}
}

// reportWaits adds queuefull/op. When uploads fall behind, the peers'
// Enqueue blocks (a channel of 100 in front of one batching goroutine),
// while tracklane's refuses with ErrQueueFull; send then waits for the next
// delivery report and enqueues again, so that every SDK is measured at the
// same sustained rate, backpressure included. queuefull/op says how often
// that happened (0 for the peers, which block inside Enqueue).
func reportWaits(b *testing.B, waits int64) {
	b.ReportMetric(float64(waits)/float64(b.N), "queuefull/op")
}

func send(b *testing.B, c contender.Client) int64 {
	waits, err := c.Send(true)
	if err != nil {
		b.Fatalf("Enqueue: %v", err)
	}
	return int64(waits)
}

// BenchmarkEnqueue: build the Order Completed workload event the way each
// SDK's users would, and enqueue it, from one goroutine.
func BenchmarkEnqueue(b *testing.B) {
	for _, name := range enqueueContenders {
		b.Run("sdk="+name, func(b *testing.B) {
			c := newBenchClient(b, name)
			var waits int64
			b.ReportAllocs()
			for b.Loop() {
				waits += send(b, c)
			}
			closeBench(b, c)
			reportWaits(b, waits)
		})
	}
}

// BenchmarkEnqueueParallel is BenchmarkEnqueue from GOMAXPROCS goroutines
// sharing one client.
func BenchmarkEnqueueParallel(b *testing.B) {
	for _, name := range enqueueContenders {
		b.Run("sdk="+name, func(b *testing.B) {
			c := newBenchClient(b, name)
			var waits atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if n := send(b, c); n > 0 {
						waits.Add(n)
					}
				}
			})
			closeBench(b, c)
			reportWaits(b, waits.Load())
		})
	}
}
