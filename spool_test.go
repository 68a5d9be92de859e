package analytics_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

	// The next start delivers them first, with the same messageIds.
	up := analyticstest.NewRecorder()
	c2, err := analytics.New("test-write-key", analytics.WithTransport(up), analytics.WithSpool(dir, spoolBytes))
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
func writeRecord(buf []byte, payload string) []byte {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum([]byte(payload), crc32.MakeTable(crc32.Castagnoli)))
	return append(append(buf, hdr[:]...), payload...)
}

func TestSpoolCorruptTailIsSkippedAndReported(t *testing.T) {
	dir := t.TempDir()
	msg := func(id string) string {
		return `{"type":"track","messageId":"` + id + `","userId":"u","timestamp":"2015-12-10T04:08:31.905Z","event":"E","properties":{},"context":{"library":{"name":"tracklane-analytics-go","version":"` + analytics.Version + `"}}}`
	}
	var seg []byte
	seg = writeRecord(seg, msg("a"))
	seg = writeRecord(seg, msg("b"))
	bad := writeRecord(nil, msg("c"))
	bad[10] ^= 0xff // a flipped byte: checksum mismatch
	seg = append(seg, bad...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seg-0000000000000001.log"), seg, 0o600))
	torn := writeRecord(nil, msg("d"))
	torn = append(writeRecord(nil, msg("e")), torn[:len(torn)-5]...) // a write cut short by a crash
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seg-0000000000000002.log"), torn, 0o600))

	rec := analyticstest.NewRecorder()
	var corrupt []error
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, spoolBytes),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			if errors.Is(r.Err, analytics.ErrSpoolCorrupt) {
				corrupt = append(corrupt, r.Err)
			}
		}))
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
	var ids []string
	for _, m := range rec.Messages() {
		ids = append(ids, m.MessageID)
	}
	assert.Equal(t, []string{"a", "b", "e"}, ids)
	st := c.Stats()
	assert.Equal(t, uint64(2), st.SpoolCorrupt)
	assert.Equal(t, uint64(3), st.Recovered)
	require.Len(t, corrupt, 1)
	assert.Empty(t, segments(t, dir))
}

func TestSpoolDiskBound(t *testing.T) {
	dir := t.TempDir()
	rec := analyticstest.NewRecorder()
	rec.FailNextStatus(1<<30, 503, 0)
	c, err := analytics.New("test-write-key", analytics.WithTransport(rec), analytics.WithSpool(dir, 1<<20),
		analytics.WithDeliveryCallback(func(analytics.Report) {}))
	require.NoError(t, err)
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
	assert.LessOrEqual(t, total, int64(1<<20))
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
	down := analyticstest.NewRecorder()
	down.FailNextStatus(1<<30, 503, 0)
	c, err := analytics.New("test-write-key", analytics.WithTransport(down), analytics.WithSpool(dir, spoolBytes),
		analytics.WithDeliveryCallback(func(analytics.Report) {}))
	require.NoError(t, err)
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
