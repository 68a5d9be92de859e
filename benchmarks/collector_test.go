package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"

	"github.com/tracklane/analytics/benchmarks/internal/sink"
	"github.com/tracklane/analytics/benchmarks/internal/workload"
)

// collectorN is the number of events of one BenchmarkCollector iteration:
// COLLECTOR_N, default 20,000 so that CI's run of every benchmark stays
// short; RESULTS.md uses 300,000, the backfill the issue measured.
func collectorN(b *testing.B) int {
	if s := os.Getenv("COLLECTOR_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("COLLECTOR_N=%q: want a positive integer", s)
		}
		return n
	}
	return 20_000
}

// BenchmarkCollector sends N Order Completed (the workload) through one
// tracklane client with EnqueueContext to three collectors in this process:
// the counting sink of cmd/e2e (the baseline), analyticstest.Server with its
// defaults (every check, every message and body kept, compressed), and
// analyticstest.Server with WithCountsOnly (every check, counts and
// violations kept). Reported per iteration: s/run (ns/op is one whole run
// of N), cpu-s/run (user+system CPU of the process, client and collector
// together), peak-heap-MiB (largest HeapInuse sampled every 10 ms during the
// run, the live heap only; the process's RSS is reported by cmd/e2e
// -collector) and lost.
//
//	COLLECTOR_N=300000 go test -run '^$' -bench BenchmarkCollector -benchtime 1x -count 3 .
func BenchmarkCollector(b *testing.B) {
	n := collectorN(b)
	for _, tc := range []struct {
		name string
		new  func() (url string, count func() int, close func())
	}{
		{"sink", func() (string, func() int, func()) {
			h := &sink.Handler{}
			srv := httptest.NewServer(h)
			return srv.URL, func() int { return int(h.Snapshot().Live.Messages) }, srv.Close
		}},
		{"analyticstest", func() (string, func() int, func()) {
			srv := analyticstest.NewServer("write-key")
			return srv.URL, srv.Len, srv.Close
		}},
		{"analyticstest-counts-only", func() (string, func() int, func()) {
			srv := analyticstest.NewServer("write-key", analyticstest.WithCountsOnly())
			return srv.URL, srv.Len, srv.Close
		}},
	} {
		b.Run("collector="+tc.name, func(b *testing.B) {
			var peak atomic.Uint64
			var cpu float64
			for range b.N {
				b.StopTimer()
				runtime.GC()
				url, count, closeSrv := tc.new()
				stop := sampleHeap(&peak)
				cpu0 := cpuSeconds()
				b.StartTimer()
				lost, err := sendAll(url, n)
				b.StopTimer()
				cpu += cpuSeconds() - cpu0
				stop()
				if err != nil {
					closeSrv()
					b.Fatal(err)
				}
				if got := count(); got != n || lost != 0 {
					closeSrv()
					b.Fatalf("collector counted %d of %d, client reported %d lost", got, n, lost)
				}
				closeSrv()
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
			b.ReportMetric(cpu/float64(b.N), "cpu-s/run")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(0, "lost")
		})
	}
}

// sendAll sends n workload events to url with EnqueueContext, then Close,
// and returns how many the client reported failed.
func sendAll(url string, n int) (int64, error) {
	var failed atomic.Int64
	c, err := analytics.New("write-key", analytics.WithEndpoint(url),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			// Refused reports are the provisional EnqueueContext's waits
			// (it retries Enqueue); an accepted event ends Delivered or Failed.
			if r.Outcome == analytics.Failed {
				failed.Add(int64(len(r.Messages)))
			}
		}))
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := range n {
		if err := c.EnqueueContext(ctx, workload.Tracklane()); err != nil {
			_ = c.Close(ctx)
			return 0, fmt.Errorf("event %d: %w", i, err)
		}
	}
	if err := c.Close(ctx); err != nil && !errors.Is(err, analytics.ErrClosed) {
		return failed.Load(), err
	}
	return failed.Load(), nil
}

// cpuSeconds returns the user+system CPU time of this process: client and
// collector together, which on a loaded machine compares better than wall
// time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// sampleHeap records the largest HeapInuse into peak every 10 ms until stop.
func sampleHeap(peak *atomic.Uint64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

var _ http.Handler = (*sink.Handler)(nil)
