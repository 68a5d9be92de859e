//go:build unix

package journal

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Appends, acks and syncs from many goroutines at once: nothing is lost,
// no sequence number is handed out twice, and the race detector is quiet.
func TestConcurrentSafe(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{MaxBytes: 8 << 20, SegmentBytes: 8 << 10})
	const workers, each = 8, 500
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]bool{}
	kept := map[int]bool{}
	stop := make(chan struct{})
	syncDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				syncDone <- nil
				return
			default:
				if err := l.Sync(); err != nil {
					syncDone <- err
					return
				}
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := w*each + i
				seq, err := l.Append(payload(id))
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				assert.False(t, seen[seq], "sequence number %d handed out twice", seq)
				seen[seq] = true
				mu.Unlock()
				if id%7 == 0 {
					mu.Lock()
					kept[id] = true
					mu.Unlock()
					continue
				}
				assert.NoError(t, l.Ack(seq))
			}
		}()
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-syncDone)
	require.NoError(t, l.Close())
	l, rep := open(t, dir, Options{MaxBytes: 8 << 20})
	got := map[int]bool{}
	for _, id := range replayIDs(t, rep) {
		got[id] = true
	}
	assert.Equal(t, kept, got)
	require.NoError(t, l.Close())
}

var benchData = []byte(`{"messageId":"8f14e45f-ceea-467f-a0e6-7a8e5e0b3c1d","type":"track","event":"Order Completed","userId":"user-1234","properties":{"order_id":"50314b8e","total":27.5,"revenue":22.5,"currency":"USD","products":[{"product_id":"507f1f77","sku":"45790-32","name":"Monopoly","price":19,"quantity":1}]},"timestamp":"2026-12-02T13:00:00.000Z","context":{"library":{"name":"analytics-go","version":"0.1.0"}}}` + strings.Repeat(" ", 0))

// BenchmarkAppend: one Append per op, acknowledged in batches of 100 as the
// client does per delivered batch (so the journal never fills), while a
// goroutine calls Sync every 10 ms as the client's dispatcher does on its
// flush interval. The data is a typical 380-byte Order Completed message.
func BenchmarkAppend(b *testing.B) {
	l, _ := open(&testing.T{}, b.TempDir(), Options{MaxBytes: 64 << 20})
	defer syncEvery(b, l)()
	b.SetBytes(int64(len(benchData)))
	b.ReportAllocs()
	defer cpuPerOp(b)()
	a := newAcker(l)
	for b.Loop() {
		if err := a.accept(); err != nil {
			b.Fatal(err)
		}
	}
}

// acker appends benchData to a Log and acknowledges its records in
// batches of 100, as the client does per delivered batch (so the journal
// never fills).
type acker struct {
	l    *Log
	seqs []uint64
}

func newAcker(l *Log) *acker { return &acker{l: l, seqs: make([]uint64, 0, 100)} }

// accept appends one record; the hundredth acknowledges the batch.
func (a *acker) accept() error {
	seq, err := a.l.Append(benchData)
	if err != nil {
		return err
	}
	a.seqs = append(a.seqs, seq)
	if len(a.seqs) == 100 {
		if err := a.l.Ack(a.seqs...); err != nil {
			return err
		}
		a.seqs = a.seqs[:0]
	}
	return nil
}

// syncEvery calls l.Sync every 10 ms until the returned func is called,
// which also closes l.
func syncEvery(b *testing.B, l *Log) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := l.Sync(); err != nil {
					b.Error(err)
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkAppendParallel: Append from GOMAXPROCS goroutines, each
// acknowledging its own records in batches of 100.
func BenchmarkAppendParallel(b *testing.B) {
	l, _ := open(&testing.T{}, b.TempDir(), Options{MaxBytes: 64 << 20})
	defer syncEvery(b, l)()
	b.SetBytes(int64(len(benchData)))
	b.ReportAllocs()
	defer cpuPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		a := newAcker(l)
		for pb.Next() {
			if err := a.accept(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSync: the fsync the flush interval pays, after 100 appends.
func BenchmarkSync(b *testing.B) {
	l, _ := open(&testing.T{}, b.TempDir(), Options{MaxBytes: 64 << 20})
	for b.Loop() {
		for range 100 {
			seq, err := l.Append(benchData)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Ack(seq); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

// cpuPerOp reports the CPU time (user and system) the process spent per
// op, as "cpu-ns/op": on a loaded machine ns/op counts the time spent
// waiting for a CPU too, this does not. Call it as defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	var r0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	return func() {
		var r1 syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		ns := func(r syscall.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
		b.ReportMetric(float64(ns(r1)-ns(r0))/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkWriteSyscall is the design the journal set aside: one write(2)
// per record to an O_APPEND file (the old spool's append). For comparison
// with BenchmarkAppend on the same machine.
func BenchmarkWriteSyscall(b *testing.B) {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "seg"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	frame := appendFrame(nil, kindData, 1, benchData)
	b.SetBytes(int64(len(benchData)))
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := f.Write(frame); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendLatency reports the distribution of single Append (and,
// every 100th, Ack) latencies, Sync running every 10 ms beside: the mean
// of BenchmarkAppend hides that most appends are a copy and a few begin
// a segment or open its ack file.
func BenchmarkAppendLatency(b *testing.B) {
	l, _ := open(&testing.T{}, b.TempDir(), Options{MaxBytes: 64 << 20})
	defer syncEvery(b, l)()
	lat := make([]time.Duration, 0, b.N)
	a := newAcker(l)
	for b.Loop() {
		t0 := time.Now()
		if err := a.accept(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	for _, q := range []struct {
		name string
		f    float64
	}{{"p50-ns", 0.5}, {"p99-ns", 0.99}, {"p99.9-ns", 0.999}, {"max-ns", 1}} {
		b.ReportMetric(float64(lat[min(len(lat)-1, int(q.f*float64(len(lat))))].Nanoseconds()), q.name)
	}
}
