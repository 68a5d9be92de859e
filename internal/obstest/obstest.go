// Package obstest holds the test helpers the otel and prometheus modules
// share: a scripted transport, the known fault sequence that moves every
// counter, the two runs on one spool, the faulty HTTP server, and the
// benchmark of an upload observer. Each module's tests drive them with its
// own Metrics and compare what its own exposition says.
//
// It uses only the standard library and this module's packages; its
// helpers fail the test with t.Fatalf. The ones that wait on a scripted
// transport (Scripted's latency, Close's deadline) run in a
// testing/synctest bubble.
package obstest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// WriteKey is the write key of every test client.
const WriteKey = "test-write-key"

// Latency is how long every scripted upload takes (in a synctest bubble,
// exactly).
const Latency = 20 * time.Millisecond

// Metrics is what the Metrics of both modules offer a client.
type Metrics interface {
	Option() analytics.Option
	Register(*analytics.Client) error
}

// Track returns a valid Track of user i.
func Track(i int) analytics.Track {
	return analytics.Track{Event: "Product Viewed", UserID: fmt.Sprintf("u%d", i)}
}

// Scripted is a transport that takes Latency and then answers as rec
// scripts it.
func Scripted(rec *analyticstest.Recorder) analytics.Transport {
	return analytics.TransportFunc(func(ctx context.Context, b *analytics.Batch) error {
		time.Sleep(Latency)
		return rec.Send(ctx, b)
	})
}

// DistinctStats gives every Stats field a distinct value (Failed and
// Refused the sums of their reasons), to tell which series reports which field,
// including those a test against a real client cannot move (RefusedSpool
// needs a failing disk).
func DistinctStats() analytics.Stats {
	return analytics.Stats{
		Enqueued: 1, Delivered: 2, Failed: 3 + 4 + 5, Spooled: 6, Refused: 7 + 8 + 9 + 10 + 11,
		FailedRejected: 3, FailedExhausted: 4, FailedDeadline: 5,
		RefusedInvalid: 7, RefusedTooLarge: 8, RefusedQueueFull: 9, RefusedClosed: 10, RefusedSpool: 11,
		Recovered: 12, SpoolCorrupt: 13, SpoolLost: 14,
		Queued: 15, QueuedBytes: 16, MaxQueued: 17, MaxQueuedBytes: 18,
		Batches: 19, Retries: 20, RateLimited: 21, SplitRequests: 22,
	}
}

// SequenceStats is what Sequence leaves in the client's Stats.
var SequenceStats = analytics.Stats{
	Enqueued: 8, Delivered: 5, Failed: 3, Refused: 4,
	FailedRejected: 1, FailedExhausted: 1, FailedDeadline: 1,
	RefusedInvalid: 1, RefusedTooLarge: 1, RefusedQueueFull: 1, RefusedClosed: 1,
	MaxQueued: 3, MaxQueuedBytes: 1 << 20,
	Batches: 3, Retries: 6, RateLimited: 1, SplitRequests: 2,
}

// Sequence runs a known sequence against a faulty endpoint, on a client
// reported by m, and returns the client, closed: refusals (invalid, too
// large, queue full, closed), 503s retried, a 429 with Retry-After, a 400
// rejected, retries exhausted, a 413 split, Close's deadline. Its upload
// attempts, each of them Latency long, are
//
//	A: 503 503 429 200 (retried, retried, paused, delivered)
//	B: 400 (rejected)
//	C: 503 503 503 (retried, retried, exhausted: the last ends the attempt budget)
//	D: 413 200 200 (split, delivered, delivered)
//	E: 503 (retried, then Close's deadline)
//
// queued is called while batch A's three messages fill the queue (3
// messages, 1 MiB), before any of them is delivered. It checks that the
// Stats are SequenceStats in the end. Run it in a synctest bubble.
func Sequence(t testing.TB, m Metrics, queued func(*analytics.Client)) *analytics.Client {
	t.Helper()
	ctx := context.Background()
	rec := analyticstest.NewRecorder()
	client, err := analytics.New(WriteKey, m.Option(),
		analytics.WithTransport(Scripted(rec)),
		analytics.WithConcurrency(1),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithMaxQueue(3, 1<<20),
		analytics.WithRetry(3, time.Hour),
		analytics.WithBackoff(time.Second, time.Second),
		analytics.WithLogger(nil))
	must(t, "New", err, nil)
	must(t, "Register", m.Register(client), nil)

	// Refused: invalid, too large.
	must(t, "Enqueue without an ID", client.Enqueue(analytics.Track{Event: "Product Viewed"}), analytics.ErrMissingID)
	big := Track(0)
	big.Properties = map[string]any{"blob": strings.Repeat("x", 40_000)}
	must(t, "Enqueue 40 kB", client.Enqueue(big), analytics.ErrMessageTooLarge)

	// Batch A: 503, 503, 429 (Retry-After 1s), delivered; the queue's
	// bound (3) refuses a fourth message meanwhile.
	rec.FailNextStatus(2, 503, 0)
	rec.FailNextStatus(1, 429, time.Second)
	for i := 1; i <= 3; i++ {
		must(t, "Enqueue", client.Enqueue(Track(i)), nil)
	}
	must(t, "Enqueue to a full queue", client.Enqueue(Track(4)), analytics.ErrQueueFull)
	synctest.Wait()
	if client.Stats().QueuedBytes <= 0 {
		t.Fatalf("QueuedBytes = %d with three messages queued", client.Stats().QueuedBytes)
	}
	queued(client)
	must(t, "Flush A", client.Flush(ctx), nil)

	// Batch B: 400, one message: rejected.
	rec.FailNextStatus(1, 400, 0)
	must(t, "Enqueue", client.Enqueue(Track(5)), nil)
	must(t, "Flush B", client.Flush(ctx), analytics.ErrRejected)

	// Batch C: 503 three times: retries exhausted.
	rec.FailNextStatus(3, 503, 0)
	must(t, "Enqueue", client.Enqueue(Track(6)), nil)
	must(t, "Flush C", client.Flush(ctx), analytics.ErrRetriesExhausted)

	// Batch D: 413 splits it; both halves delivered.
	rec.FailNextStatus(1, 413, 0)
	must(t, "Enqueue", client.Enqueue(Track(7)), nil)
	must(t, "Enqueue", client.Enqueue(Track(8)), nil)
	must(t, "Flush D", client.Flush(ctx), nil)

	// Batch E: 503, then Close's deadline ends the wait for the retry.
	rec.FailNextStatus(1, 503, 0)
	must(t, "Enqueue", client.Enqueue(Track(9)), nil)
	closeCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	must(t, "Close", client.Close(closeCtx), analytics.ErrDeadline)
	cancel()
	must(t, "Enqueue after Close", client.Enqueue(Track(10)), analytics.ErrClosed)

	if s := client.Stats(); s != SequenceStats {
		t.Fatalf("Stats after the sequence:\n got %+v\nwant %+v", s, SequenceStats)
	}
	return client
}

// AfterClose runs a client given m's Option after m's Close: its one
// message is delivered in one batch (which m must no longer observe).
func AfterClose(t testing.TB, m Metrics) {
	t.Helper()
	ctx := context.Background()
	client, err := analytics.New(WriteKey, m.Option(), analytics.WithTransport(Scripted(analyticstest.NewRecorder())), analytics.WithLogger(nil))
	must(t, "New", err, nil)
	must(t, "Enqueue", client.Enqueue(Track(11)), nil)
	must(t, "Close", client.Close(ctx), nil)
	if n := client.Stats().Batches; n != 1 {
		t.Fatalf("Batches = %d, want 1", n)
	}
}

// SpoolDown is the first of two runs on the spool in dir: the endpoint is
// down, and Close runs out of time with two messages, which stay on disk
// (Spooled 2). The client is reported by m. Run it in a synctest bubble.
func SpoolDown(t testing.TB, dir string, m Metrics) {
	t.Helper()
	rec := analyticstest.NewRecorder()
	rec.FailNextStatus(100, 503, 0)
	client, err := analytics.New(WriteKey, m.Option(), analytics.WithTransport(Scripted(rec)),
		analytics.WithSpool(dir, 1<<20), analytics.WithBackoff(time.Second, time.Second), analytics.WithLogger(nil))
	must(t, "New", err, nil)
	must(t, "Register", m.Register(client), nil)
	must(t, "Enqueue", client.Enqueue(Track(1)), nil)
	must(t, "Enqueue", client.Enqueue(Track(2)), nil)
	closeCtx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := client.Close(closeCtx); err == nil {
		t.Fatal("Close with the endpoint down: no error")
	}
	if n := client.Stats().Spooled; n != 2 {
		t.Fatalf("Spooled = %d, want 2", n)
	}
}

// TearSpool appends half a record to every segment of the spool in dir.
func TearSpool(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, "ReadDir", err, nil)
	n := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "seg-") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_WRONLY|os.O_APPEND, 0) //nolint:gosec // G304: a spool segment of the test's own directory
		must(t, "OpenFile", err, nil)
		_, err = f.Write([]byte{0, 0, 1, 0, 'x'})
		must(t, "Write", err, nil)
		must(t, "Close", f.Close(), nil)
		n++
	}
	if n == 0 {
		t.Fatalf("no spool segment in %s", dir)
	}
}

// SpoolBack is the second run on the spool in dir, after SpoolDown and
// TearSpool: the endpoint is back, and the client, reported by m, recovers
// and delivers both messages. The torn tail is skipped (SpoolCorrupt 1);
// the bytes after the last record are reported as one record possibly
// lost (SpoolLost 1: the journal cannot tell them from a last record whose
// header was destroyed). Run it in a synctest bubble.
func SpoolBack(t testing.TB, dir string, m Metrics) {
	t.Helper()
	ctx := context.Background()
	client, err := analytics.New(WriteKey, m.Option(), analytics.WithTransport(Scripted(analyticstest.NewRecorder())),
		analytics.WithSpool(dir, 1<<20), analytics.WithLogger(nil))
	must(t, "New", err, nil)
	must(t, "Register", m.Register(client), nil)
	must(t, "Flush", client.Flush(ctx), nil)
	must(t, "Close", client.Close(ctx), nil)
	s := client.Stats()
	if s.Recovered != 2 || s.Delivered != 2 || s.SpoolCorrupt != 1 || s.SpoolLost != 1 {
		t.Fatalf("Stats of the second run: %+v; want 2 recovered and delivered, 1 corrupt segment, 1 lost", s)
	}
}

// FaultyServer runs the HTTP transport, on a client reported by m, against
// a fake Segment server that answers 503 twice, then 429 with Retry-After
// (1s), then delivers the batch of two messages, and then 400 for the
// next one.
func FaultyServer(t testing.TB, m Metrics) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := analyticstest.NewServer(WriteKey)
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Times(2), analyticstest.Status(429).RetryAfter(time.Second))
	client, err := analytics.New(WriteKey, m.Option(),
		analytics.WithEndpoint(srv.URL), analytics.WithHTTPClient(srv.Client()),
		analytics.WithBackoff(10*time.Millisecond, 10*time.Millisecond), analytics.WithLogger(nil))
	must(t, "New", err, nil)
	must(t, "Register", m.Register(client), nil)

	must(t, "Enqueue", client.Enqueue(Track(1)), nil)
	must(t, "Enqueue", client.Enqueue(Track(2)), nil)
	must(t, "Flush", client.Flush(ctx), nil)
	srv.Respond(analyticstest.Status(400))
	must(t, "Enqueue", client.Enqueue(Track(3)), nil)
	must(t, "Flush", client.Flush(ctx), analytics.ErrRejected)
	must(t, "Close", client.Close(ctx), nil)
	if n := srv.Len(); n != 2 {
		t.Fatalf("the server recorded %d messages, want 2", n)
	}
}

// SeveralClients runs two clients of one process, "shop" with two
// messages and "backoffice" with three, each reported by the Metrics that
// named returns for its name. Run it in a synctest bubble.
func SeveralClients(t testing.TB, named func(name string) Metrics) {
	t.Helper()
	for _, c := range []struct {
		name string
		n    int
	}{{"shop", 2}, {"backoffice", 3}} {
		m := named(c.name)
		client, err := analytics.New(WriteKey, m.Option(), analytics.WithTransport(Scripted(analyticstest.NewRecorder())))
		must(t, "New", err, nil)
		must(t, "Register", m.Register(client), nil)
		for i := range c.n {
			must(t, "Enqueue", client.Enqueue(Track(i)), nil)
		}
		must(t, "Close", client.Close(context.Background()), nil)
	}
}

// BenchmarkObserveUpload measures o.ObserveUpload of a delivered batch,
// the cost an observer adds to each upload attempt.
func BenchmarkObserveUpload(b *testing.B, o analytics.UploadObserver) {
	info := analytics.UploadInfo{Messages: 500, Bytes: 400_000, Attempt: 1, Duration: 30 * time.Millisecond, StatusCode: 200, Result: "delivered"}
	b.ReportAllocs()
	for b.Loop() {
		o.ObserveUpload(info)
	}
}

// DocTable reads the table of a package doc (the file doc): the lines
// "//\t" followed by a name with one of prefixes. It returns the name →
// the field of index col (0 is the name) of each.
func DocTable(t testing.TB, doc string, col int, prefixes ...string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(doc) //nolint:gosec // G304: the doc file of the package under test
	must(t, "ReadFile", err, nil)
	listed := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		row, ok := strings.CutPrefix(line, "//\t")
		f := strings.Fields(row)
		if !ok || len(f) <= col || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(row, p) }) {
			continue
		}
		listed[f[0]] = f[col]
	}
	if len(listed) == 0 {
		t.Fatalf("%s: no table rows starting with %q", doc, prefixes)
	}
	return listed
}

// must fails t when err is not want (nil: no error; else errors.Is).
func must(t testing.TB, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}
