package analytics_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

const spoolBytes = 64 << 20

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	require.NoError(t, err)
	return m
}

// downClient is a client spooling to dir (at most limit bytes) whose
// endpoint answers 503 to every upload: what it accepts stays on disk.
// Its reports go to a callback that drops them (not to the log).
func downClient(t *testing.T, dir string, limit int64) *analytics.Client {
	t.Helper()
	down := analyticstest.NewRecorder()
	down.FailNextStatus(1<<30, 503, 0)
	c, err := analytics.New("test-write-key", analytics.WithTransport(down), analytics.WithSpool(dir, limit),
		analytics.WithDeliveryCallback(func(analytics.Report) {}))
	require.NoError(t, err)
	return c
}

func spoolTrack(i int) analytics.Track {
	return analytics.Track{Event: "Order Completed", UserID: "u", MessageID: fmt.Sprint("msg-", i),
		Properties: analytics.Properties{"order_id": fmt.Sprint("o", i)}}
}

func TestSpoolDeliveredMessagesLeaveNothingOnDisk(t *testing.T) {
	dir := t.TempDir()
	rec := analyticstest.NewRecorder()
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes))
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		require.NoError(t, c.Enqueue(spoolTrack(i)))
	}
	require.NotEmpty(t, segments(t, dir), "accepted messages are on disk")
	require.NoError(t, c.Close(context.Background()))
	assert.Equal(t, 50, rec.Len())
	assert.Empty(t, segments(t, dir), "delivered messages are removed")
}

func TestSpoolKeepsUndeliveredForNextStart(t *testing.T) {
	dir := t.TempDir()
	down := analyticstest.NewRecorder()
	down.FailNextStatus(1<<30, 503, 0)
	o := newOutcomes()
	spooledReports := 0
	c, err := analytics.New("test-write-key", analytics.WithTransport(down), analytics.WithSpool(dir, spoolBytes),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			if r.Outcome == analytics.Spooled {
				spooledReports += len(r.Messages)
				assert.ErrorIs(t, r.Err, analytics.ErrSpooled)
				assert.ErrorIs(t, r.Err, analytics.ErrDeadline)
			}
			o.callback(r)
		}))
	require.NoError(t, err)
	for i := 0; i < 30; i++ {
		require.NoError(t, c.Enqueue(spoolTrack(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = c.Close(ctx)
	var ue *analytics.UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, 30, ue.Count)
	assert.Equal(t, 30, ue.Spooled)
	assert.ErrorIs(t, err, analytics.ErrSpooled)
	st := c.Stats()
	assert.Equal(t, uint64(30), st.Spooled)
	assert.Zero(t, st.Failed)
	assert.Equal(t, 30, spooledReports)
	require.NotEmpty(t, segments(t, dir))

	// The next start delivers them first, with the same messageIds: they
	// are queued ahead of new messages. (With one upload at a time: with
	// two, the batch of the new message may reach the endpoint first.)
	up := analyticstest.NewRecorder()
	c2, err := analytics.New("test-write-key", analytics.WithTransport(up), analytics.WithSpool(dir, spoolBytes), analytics.WithConcurrency(1))
	require.NoError(t, err)
	require.NoError(t, c2.Enqueue(spoolTrack(1000)))
	require.NoError(t, c2.Close(context.Background()))
	msgs := up.Messages()
	require.Len(t, msgs, 31)
	for i := 0; i < 30; i++ {
		assert.Equal(t, fmt.Sprint("msg-", i), msgs[i].MessageID, "spooled messages first, in order")
	}
	assert.Equal(t, "msg-1000", msgs[30].MessageID)
	st2 := c2.Stats()
	assert.Equal(t, uint64(30), st2.Recovered)
	assert.Equal(t, uint64(31), st2.Delivered)
	assert.Empty(t, segments(t, dir))
}

func TestSpoolRetriesExhaustedStayOnDiskRejectedDoNot(t *testing.T) {
	dir := t.TempDir()
	rec := analyticstest.NewRecorder()
	rec.FailNextStatus(1, 400, 0) // the first batch is refused for good
	rec.FailNextStatus(1000, 500, 0)
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes),
		analytics.WithRetry(2, time.Minute), analytics.WithBackoff(time.Millisecond, time.Millisecond),
		analytics.WithDeliveryCallback(func(analytics.Report) {}))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(spoolTrack(1)))
	_ = c.Flush(context.Background())
	require.NoError(t, c.Enqueue(spoolTrack(2)))
	_ = c.Flush(context.Background())
	st := c.Stats()
	assert.Equal(t, uint64(1), st.FailedRejected)
	assert.Equal(t, uint64(1), st.Spooled)
	require.NoError(t, c.Close(context.Background()))

	up := analyticstest.NewRecorder()
	c2, err := analytics.New("test-write-key", analytics.WithTransport(up), analytics.WithSpool(dir, spoolBytes))
	require.NoError(t, err)
	require.NoError(t, c2.Close(context.Background()))
	msgs := up.Messages()
	require.Len(t, msgs, 1, "a rejected message is not sent again; an exhausted one is")
	assert.Equal(t, "msg-2", msgs[0].MessageID)
}

func TestSpoolLock(t *testing.T) {
	dir := t.TempDir()
	rec := analyticstest.NewRecorder()
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes))
	require.NoError(t, err)
	_, err = analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes))
	assert.ErrorIs(t, err, analytics.ErrSpoolLocked)
	require.NoError(t, c.Close(context.Background()))
	c2, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes))
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, c2.Close(context.Background()))
}

// writeRecord appends one spool record as the SDK writes it.
// A damaged record costs only itself: the others of its segment are
// delivered, and the lost message is counted and reported with its
// messageId (defect: reading stopped at the first bad record).
func TestSpoolCorruptRecordCostsOnlyItself(t *testing.T) {
	dir := t.TempDir()
	c := downClient(t, dir, spoolBytes)
	for i := range 100 {
		require.NoError(t, c.Enqueue(spoolTrack(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx) // all 100 stay in the spool

	// Flip one byte inside record 10's payload, on disk.
	segs := segments(t, dir)
	require.NotEmpty(t, segs)
	damaged := false
	for _, path := range segs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		if i := bytes.Index(b, []byte(`"order_id":"o10"`)); i >= 0 {
			b[i+3] ^= 0xff
			require.NoError(t, os.WriteFile(path, b, 0o600))
			damaged = true
		}
	}
	require.True(t, damaged)

	rec := analyticstest.NewRecorder()
	var lost []analytics.Report
	var mu sync.Mutex
	c2, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			if errors.Is(r.Err, analytics.ErrSpoolCorrupt) {
				mu.Lock()
				lost = append(lost, r)
				mu.Unlock()
			}
		}))
	require.NoError(t, err)
	require.NoError(t, c2.Close(context.Background()))
	assert.Equal(t, 99, rec.Len(), "the 90 records after the damaged one are delivered too")
	st := c2.Stats()
	assert.Equal(t, uint64(99), st.Recovered)
	assert.Equal(t, uint64(1), st.SpoolLost)
	assert.Equal(t, uint64(1), st.SpoolCorrupt)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lost, 1, "reported one by one")
	assert.Equal(t, "msg-10", lost[0].Messages[0].MessageID)
	assert.Equal(t, analytics.Failed, lost[0].Outcome)
	assert.Contains(t, lost[0].Err.Error(), dir, "names the file")
}

// A spool of the minimum size keeps accepting for as long as the endpoint
// keeps up (defect: the bound counted bytes written, not bytes waiting, and
// a 1 MiB spool refused everything after about 1,646 messages).
func TestSpoolMinimumSizeDoesNotWedge(t *testing.T) {
	dir := t.TempDir()
	rec := analyticstest.NewRecorder(analyticstest.RecorderCountsOnly())
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, 1<<20),
		analytics.WithBatchSize(100))
	require.NoError(t, err)
	const n = 20000
	for i := range n {
		require.NoError(t, c.EnqueueContext(context.Background(), spoolTrack(i)), "message %d", i)
	}
	require.NoError(t, c.Close(context.Background()))
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Zero(t, st.RefusedQueueFull)
}

// EnqueueContext waits for room in a full spool, and gets it once the
// endpoint comes back.
func TestEnqueueContextWaitsForSpoolRoom(t *testing.T) {
	dir := t.TempDir()
	gate := make(chan struct{})
	var once sync.Once
	tr := analytics.TransportFunc(func(ctx context.Context, b *analytics.Batch) error {
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	c, err := analytics.New("test-write-key", analytics.WithTransport(tr), analytics.WithSpool(dir, 1<<20),
		analytics.WithMaxQueue(1_000_000, 1<<30), analytics.WithBatchSize(10))
	require.NoError(t, err)
	pad := strings.Repeat("x", 10000)
	big := func(i int) analytics.Track {
		return analytics.Track{Event: "E", UserID: "u", MessageID: fmt.Sprint("big-", i), Properties: analytics.Properties{"p": pad}}
	}
	i := 0
	for ; ; i++ {
		err := c.Enqueue(big(i))
		if err != nil {
			var qf *analytics.QueueFullError
			require.ErrorAs(t, err, &qf)
			assert.Equal(t, "spool bytes", qf.Bound)
			break
		}
	}
	done := make(chan error, 1)
	go func() { done <- c.EnqueueContext(context.Background(), big(i)) }()
	once.Do(func() { close(gate) }) // the endpoint is back: deliveries free the spool
	require.NoError(t, <-done)
	require.NoError(t, c.Close(context.Background()))
	assert.Equal(t, uint64(i+1), c.Stats().Delivered)
}

func TestSpoolDiskBound(t *testing.T) {
	dir := t.TempDir()
	c := downClient(t, dir, 1<<20)
	pad := strings.Repeat("x", 10000)
	accepted := 0
	for i := 0; i < 200; i++ {
		err := c.Enqueue(analytics.Track{Event: "E", UserID: "u", Properties: analytics.Properties{"p": pad}})
		if errors.Is(err, analytics.ErrQueueFull) {
			break
		}
		require.NoError(t, err)
		accepted++
	}
	assert.InDelta(t, 100, accepted, 5, "about 1 MiB of 10 KB messages")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = c.Close(ctx)
	var total int64
	for _, s := range segments(t, dir) {
		fi, err := os.Stat(s)
		require.NoError(t, err)
		total += fi.Size()
	}
	// What waits is bounded by maxBytes; the files hold at most one
	// preallocated, partly filled segment more (maxBytes/8 here).
	assert.LessOrEqual(t, total, int64(1<<20+1<<17))
}

func TestWithSpoolInvalid(t *testing.T) {
	var ce *analytics.ConfigError
	_, err := analytics.New("test-write-key", analytics.WithSpool("", 1<<30))
	assert.ErrorAs(t, err, &ce)
	_, err = analytics.New("test-write-key", analytics.WithSpool(t.TempDir(), 10))
	assert.ErrorAs(t, err, &ce)
}

// TestSpoolSurvivesSIGKILL runs a child process that enqueues into a spool
// and prints each messageId once Enqueue accepted it; the child is killed
// with SIGKILL mid-stream, and a new client on the same directory must
// deliver every message the child had accepted.
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("SPOOL_CHILD_DIR") != "" {
		spoolChild()
		return
	}
	dir := t.TempDir()
	srv := analyticstest.NewServer("test-write-key")
	defer srv.Close()
	// Slow the collector down so that much is in flight at the kill.
	srv.Respond(analyticstest.Process().Delay(20 * time.Millisecond).Times(1 << 30))

	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "SPOOL_CHILD_DIR="+dir, "SPOOL_CHILD_URL="+srv.URL)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	accepted := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "msg-") {
			accepted[line] = true
		}
		if len(accepted) == 3000 {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL: no cleanup, no Close
			break
		}
	}
	_ = cmd.Wait()
	require.Len(t, accepted, 3000)
	before := srv.Len()

	c, err := analytics.New("test-write-key", analytics.WithEndpoint(srv.URL), analytics.WithSpool(dir, spoolBytes))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	got := map[string]bool{}
	for _, m := range srv.Messages() {
		got[m.MessageID] = true
	}
	missing := 0
	for id := range accepted {
		if !got[id] {
			missing++
		}
	}
	assert.Zero(t, missing, "every message the child accepted arrives")
	t.Logf("delivered before the kill: %d; recovered after: %d; duplicates absorbed: %d", before, c.Stats().Recovered, srv.Duplicates())
	assert.Empty(t, srv.Violations())
}

func spoolChild() {
	c, err := analytics.New("test-write-key", analytics.WithEndpoint(os.Getenv("SPOOL_CHILD_URL")),
		analytics.WithSpool(os.Getenv("SPOOL_CHILD_DIR"), spoolBytes),
		analytics.WithBatchSize(50), analytics.WithFlushInterval(5*time.Millisecond))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		if err := c.Enqueue(spoolTrack(i)); err == nil {
			fmt.Printf("msg-%d\n", i)
		}
	}
}

func TestSpoolRotatesSegmentsAndRecoversThemInOrder(t *testing.T) {
	dir := t.TempDir()
	c := downClient(t, dir, spoolBytes)
	pad := strings.Repeat("x", 10000)
	const n = 500 // about 5 MB: two 4 MiB segments
	for i := 0; i < n; i++ {
		m := spoolTrack(i)
		m.Properties["pad"] = pad
		require.NoError(t, c.Enqueue(m))
	}
	assert.GreaterOrEqual(t, len(segments(t, dir)), 2, "the spool rotated its segments")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var ue *analytics.UndeliveredError
	require.ErrorAs(t, c.Close(ctx), &ue)
	assert.Equal(t, n, ue.Spooled)

	up := analyticstest.NewRecorder()
	c2, err := analytics.New("test-write-key", analytics.WithTransport(up), analytics.WithSpool(dir, spoolBytes),
		analytics.WithConcurrency(1)) // one upload at a time, so arrival order is send order
	require.NoError(t, err)
	require.NoError(t, c2.Close(context.Background()))
	msgs := up.Messages()
	require.Len(t, msgs, n)
	for i, m := range msgs {
		require.Equal(t, fmt.Sprint("msg-", i), m.MessageID, "oldest segment first, records in order")
	}
	assert.Empty(t, segments(t, dir), "every segment removed once delivered")
}
