//go:build unix

package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func open(t *testing.T, dir string, o Options) (*Log, Replay) {
	t.Helper()
	if o.MaxBytes == 0 {
		o.MaxBytes = MinBytes
	}
	l, rep, err := Open(dir, o)
	require.NoError(t, err)
	return l, rep
}

func replayIDs(t *testing.T, rep Replay) []int {
	t.Helper()
	var ids []int
	for _, r := range rep.Records {
		ids = append(ids, payloadID(t, r.Data))
	}
	return ids
}

// appendN appends payload(0) to payload(n-1) and returns their sequence
// numbers.
func appendN(t *testing.T, l *Log, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for i := range n {
		seq, err := l.Append(payload(i))
		require.NoError(t, err)
		seqs = append(seqs, seq)
	}
	return seqs
}

// replays opens dir again and checks that it replays the records of
// payloads want, in order; then it closes the journal.
func replays(t *testing.T, dir string, want []int, msgAndArgs ...any) {
	t.Helper()
	l, rep := open(t, dir, Options{})
	assert.Equal(t, want, replayIDs(t, rep), msgAndArgs...)
	require.NoError(t, l.Close())
}

func seqRange(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		n += info.Size()
	}
	return n
}

// The old spool counted every byte written to its current segment against
// maxBytes, and freed nothing before the 4 MiB segment rotated: a 1 MiB
// spool refused every message after about 1,646 although each was
// delivered at once. Here 30,000 records of ~600 bytes (18 MB, 18 times
// MaxBytes) pass through a journal of the minimum size, each acknowledged
// as the consumer would; every Append must succeed, and the files on disk
// stay bounded.
func TestNoWedgeWhenTheConsumerKeepsUp(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{MaxBytes: MinBytes})
	data := []byte(`{"messageId":"m","pad":"` + strings.Repeat("x", 560) + `"}`)
	var inflight []uint64
	maxDisk := int64(0)
	for i := range 30_000 {
		seq, err := l.Append(data)
		require.NoError(t, err, "append %d refused while every earlier record but %d was acknowledged", i, len(inflight))
		inflight = append(inflight, seq)
		if len(inflight) == 500 { // a batch delivered
			require.NoError(t, l.Ack(inflight...))
			inflight = inflight[:0]
		}
		if i%2000 == 0 { // the flush interval
			require.NoError(t, l.Sync())
			maxDisk = max(maxDisk, dirBytes(t, dir))
		}
	}
	assert.LessOrEqual(t, maxDisk, int64(MinBytes), "acknowledged segments are removed")
	require.NoError(t, l.Close())
}

// ErrFull is about what waits: MaxBytes of unacknowledged records refuse
// the next, an Ack makes room at once, and the error says the bound.
func TestFullCountsWhatWaitsAndAckMakesRoom(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{MaxBytes: MinBytes})
	data := make([]byte, 1000)
	var seqs []uint64
	for {
		seq, err := l.Append(data)
		if err != nil {
			require.ErrorIs(t, err, ErrFull)
			assert.Contains(t, err.Error(), fmt.Sprintf("MaxBytes is %d", MinBytes))
			break
		}
		seqs = append(seqs, seq)
	}
	assert.Equal(t, MinBytes/(1000+HeaderBytes), len(seqs))
	n, bytes := l.Waiting()
	assert.Equal(t, len(seqs), n)
	assert.Equal(t, int64(len(seqs)*(1000+HeaderBytes)), bytes)
	require.NoError(t, l.Ack(seqs[0]))
	n, _ = l.Waiting()
	assert.Equal(t, len(seqs)-1, n)
	_, err := l.Append(data)
	require.NoError(t, err, "the acknowledged record's room is free")
	_, err = l.Append(data)
	require.ErrorIs(t, err, ErrFull)
	_, err = l.Append(make([]byte, MinBytes))
	require.ErrorIs(t, err, ErrTooLarge)
	require.NoError(t, l.Close())
}

func TestReplayInAppendOrderWithoutAcked(t *testing.T) {
	dir := t.TempDir()
	l, rep := open(t, dir, Options{SegmentBytes: 1000})
	require.Empty(t, rep.Records)
	seqs := map[int]uint64{}
	for i := range 100 {
		seq, err := l.Append(payload(i))
		require.NoError(t, err)
		seqs[i] = seq
	}
	var acks []uint64
	for i := range 100 {
		if i%3 == 0 {
			acks = append(acks, seqs[i])
		}
	}
	require.NoError(t, l.Ack(acks...))
	require.NoError(t, l.Ack(acks...), "acknowledging twice is harmless")
	require.NoError(t, l.Close())
	require.Greater(t, len(segFiles(t, dir, ".log")), 5, "several segments")

	l, rep = open(t, dir, Options{SegmentBytes: 1000})
	n, _ := l.Waiting()
	assert.Equal(t, len(rep.Records), n, "replayed records wait")
	var want []int
	for i := range 100 {
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	assert.Equal(t, want, replayIDs(t, rep))
	assert.Empty(t, rep.Lost)
	for _, r := range rep.Records {
		assert.Equal(t, seqs[payloadID(t, r.Data)], r.Seq, "a record keeps its sequence number")
	}
	require.NoError(t, l.Close())
}

func segFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*"+suffix))
	require.NoError(t, err)
	return m
}

// The old spool removed a finished segment's log, then its ack file; a
// crash in between left the ack file, segment numbers restarted at 1 when
// no log was left, and the next run's segment 1 inherited the stale acks:
// its 100 messages were skipped as delivered. Here the same crash point is
// reproduced on disk: the ack file of a fully acknowledged segment
// survives its log. The next run's 100 records must all be replayed.
func TestStaleAckFileCannotSkipANewRecord(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	seqs := appendN(t, l, 100)
	require.NoError(t, l.Ack(seqs...)) // the active segment: acks are written
	require.NoError(t, l.Sync())
	logs, acks := segFiles(t, dir, ".log"), segFiles(t, dir, ".ack")
	require.Len(t, logs, 1)
	require.Len(t, acks, 1)
	// The process dies after removing the log, before removing the acks.
	require.NoError(t, os.Remove(logs[0]))
	crash(t, l)

	l, rep := open(t, dir, Options{})
	require.Empty(t, rep.Records)
	var seqs2 []uint64
	for i := 100; i < 200; i++ {
		seq, err := l.Append(payload(i))
		require.NoError(t, err)
		seqs2 = append(seqs2, seq)
	}
	assert.Greater(t, seqs2[0], seqs[99], "sequence numbers never repeat")
	crash(t, l)
	assert.NotContains(t, segFiles(t, dir, ".log"), logs[0], "a segment name is never reused")

	l, rep = open(t, dir, Options{})
	assert.Equal(t, seqRange(100, 200), replayIDs(t, rep), "every record of the new run is replayed")
	require.NoError(t, l.Sync())
	assert.NoFileExists(t, acks[0], "the orphan ack file is removed")
	require.NoError(t, l.Close())
}

// Even an ack file planted under the name of the next run's segment
// cannot skip a record: acks name sequence numbers, which never repeat.
func TestAckFileUnderAReusedNameSkipsNothing(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	old := appendN(t, l, 10)
	require.NoError(t, l.Ack(old...))
	require.NoError(t, l.Close())
	assert.Empty(t, segFiles(t, dir, ".ack"), "closed with everything acknowledged: nothing left")
	assert.Empty(t, segFiles(t, dir, ".log"))

	l, _ = open(t, dir, Options{})
	for i := 10; i < 20; i++ {
		_, err := l.Append(payload(i))
		require.NoError(t, err)
	}
	crash(t, l)
	// Plant acks of the old run's sequence numbers, and of the indexes 0..9
	// the old spool used, beside the new segment.
	logs := segFiles(t, dir, ".log")
	require.Len(t, logs, 1)
	var body []byte
	for i, s := range old {
		body = appendUint64(body, s)
		body = appendUint64(body, uint64(i))
	}
	require.NoError(t, os.WriteFile(strings.TrimSuffix(logs[0], ".log")+".ack", appendFrame(nil, kindAck, 0, body), 0o600))
	replays(t, dir, seqRange(10, 20))
}

// Sequence numbers keep growing even when every file was removed.
func TestSeqNeverRepeatsAfterEveryFileIsRemoved(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	first, err := l.Append(payload(1))
	require.NoError(t, err)
	crash(t, l)
	require.NoError(t, os.RemoveAll(dir))
	l, _ = open(t, dir, Options{})
	second, err := l.Append(payload(2))
	require.NoError(t, err)
	assert.Greater(t, second, first)
	require.NoError(t, l.Close())
}

// crash abandons a journal as a dead process would: its files are left as
// written (no Sync, no removal) and its lock is released.
func crash(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for _, s := range slices.Concat(l.segs, l.doomed) {
		if s.log != nil {
			_ = s.log.Close()
		}
		if s.ack != nil {
			_ = s.ack.Close()
		}
	}
	require.NoError(t, l.lock.Close())
}

// writeRecords writes n payload records into a fresh journal and returns
// its only segment's path and each record's offset.
func writeRecords(t *testing.T, dir string, n int) (string, []int) {
	t.Helper()
	l, _ := open(t, dir, Options{})
	offs := []int{0}
	for i := range n {
		_, err := l.Append(payload(i))
		require.NoError(t, err)
		offs = append(offs, offs[i]+HeaderBytes+len(payload(i)))
	}
	require.NoError(t, l.Close())
	logs := segFiles(t, dir, ".log")
	require.Len(t, logs, 1)
	return logs[0], offs[:n]
}

func flip(t *testing.T, path string, off int, f func(b []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f(b[off:])
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// The old spool stopped reading a segment at its first bad record: one
// flipped byte in record 10 of 100 lost the 90 after it, and a zeroed
// first header lost all 20, counted once per segment. Here only the
// damaged record is lost, and it is reported with its messageId.
func TestCorruptionCostsOnlyTheDamagedRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, bad int
		damage func(b []byte)
	}{
		{"flipped data byte in record 10 of 100", 100, 10, func(b []byte) { b[HeaderBytes+30] ^= 0x40 }},
		{"flipped length byte in record 10 of 100", 100, 10, func(b []byte) { b[8] ^= 0x01 }},
		{"flipped magic in record 10 of 100", 100, 10, func(b []byte) { b[0] ^= 0xff }},
		{"huge length in record 50 of 100", 100, 50, func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 1<<30) }},
		{"zeroed header of record 0 of 20", 20, 0, func(b []byte) { clear(b[:HeaderBytes]) }},
		{"last record of 20", 20, 19, func(b []byte) { b[HeaderBytes+40] ^= 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, offs := writeRecords(t, dir, tc.n)
			flip(t, path, offs[tc.bad], tc.damage)
			l, rep := open(t, dir, Options{})
			want := slices.DeleteFunc(seqRange(0, tc.n), func(i int) bool { return i == tc.bad })
			assert.Equal(t, want, replayIDs(t, rep))
			require.Len(t, rep.Lost, 1)
			loss := rep.Lost[0]
			assert.Equal(t, path, loss.File)
			assert.Equal(t, int64(offs[tc.bad]), loss.Offset)
			assert.Equal(t, HeaderBytes+len(payload(tc.bad)), loss.Len)
			if !strings.Contains(tc.name, "data byte") { // the flip may hit the id
				assert.Equal(t, fmt.Sprintf("m-%d", tc.bad), loss.MessageID)
			}
			require.ErrorIs(t, loss.Err, ErrCorrupt)
			assert.Contains(t, loss.Err.Error(), path)
			require.NoError(t, l.Close())
		})
	}
}

// Damage across several records reports each of them, one by one, and the
// records around it survive.
func TestCorruptionAcrossRecordsReportsEach(t *testing.T) {
	dir := t.TempDir()
	path, offs := writeRecords(t, dir, 30)
	// Flip one byte in each of records 5, 6 and 7, and zero the middle of 20..22.
	for _, i := range []int{5, 6, 7} {
		flip(t, path, offs[i], func(b []byte) { b[HeaderBytes+40] ^= 0x20 })
	}
	flip(t, path, offs[20]+10, func(b []byte) { clear(b[:offs[22]-offs[20]]) })
	l, rep := open(t, dir, Options{})
	lost := []int{5, 6, 7, 20, 21, 22}
	want := slices.DeleteFunc(seqRange(0, 30), func(i int) bool { return slices.Contains(lost, i) })
	assert.Equal(t, want, replayIDs(t, rep))
	require.Len(t, rep.Lost, len(lost), "one loss per record: %+v", rep.Lost)
	seqs := map[uint64]bool{}
	for i, loss := range rep.Lost {
		require.ErrorIs(t, loss.Err, ErrCorrupt)
		assert.NotZero(t, loss.Seq)
		seqs[loss.Seq] = true
		if i < 3 { // each damaged on its own: its own place and id
			assert.Equal(t, fmt.Sprintf("m-%d", lost[i]), loss.MessageID)
			assert.Equal(t, int64(offs[lost[i]]), loss.Offset)
		}
	}
	assert.Len(t, seqs, len(lost), "each lost record has its own sequence number")
	require.NoError(t, l.Close())
}

// A record whose damaged bytes were already acknowledged is not a loss.
func TestCorruptAcknowledgedRecordIsNotALoss(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	seqs := appendN(t, l, 10)
	require.NoError(t, l.Ack(seqs[3]))
	crash(t, l)
	path := segFiles(t, dir, ".log")[0]
	off := 0
	for i := range 3 {
		off += HeaderBytes + len(payload(i))
	}
	flip(t, path, off, func(b []byte) { b[HeaderBytes+1] ^= 1 })
	l, rep := open(t, dir, Options{})
	assert.Equal(t, []int{0, 1, 2, 4, 5, 6, 7, 8, 9}, replayIDs(t, rep))
	assert.Empty(t, rep.Lost)
	require.NoError(t, l.Close())
}

// A write cut short by a crash is reported as torn (that Append never
// returned), and the records before it are whole.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	path, offs := writeRecords(t, dir, 10)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b[:offs[9]+30], 0o600))
	l, rep := open(t, dir, Options{})
	assert.Equal(t, seqRange(0, 9), replayIDs(t, rep))
	require.Len(t, rep.Lost, 1)
	require.ErrorIs(t, rep.Lost[0].Err, ErrTorn)
	require.NoError(t, l.Close())
}

// Random damage anywhere: every undamaged record is replayed, every
// damaged one is lost, the count of losses is at least the damaged
// records', and nothing panics.
func TestRandomCorruption(t *testing.T) {
	for trial := range 200 {
		fsys := newMemFS()
		l, _, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
		require.NoError(t, err)
		offs := []int{0}
		for i := range 40 {
			_, err := l.Append(payload(i))
			require.NoError(t, err)
			offs = append(offs, offs[i]+HeaderBytes+len(payload(i)))
		}
		require.NoError(t, l.Close())
		var ino *inode
		for name, f := range fsys.files {
			if strings.HasSuffix(name, ".log") {
				ino = f
			}
		}
		damaged := map[int]bool{}
		x := uint64(trial)*0x9E3779B97F4A7C15 + 1
		for range 1 + trial%4 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			pos := int(x % uint64(len(ino.data)))
			ino.data[pos] ^= byte(x>>32) | 1
			i, _ := slices.BinarySearch(offs, pos+1)
			damaged[i-1] = true
		}
		l, rep, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
		require.NoError(t, err)
		got := map[int]bool{}
		for _, r := range rep.Records {
			id, err := parsePayload(r.Data)
			require.NoError(t, err, "trial %d", trial)
			got[id] = true
		}
		for i := range 40 {
			assert.Equal(t, !damaged[i], got[i], "trial %d record %d", trial, i)
		}
		assert.GreaterOrEqual(t, len(rep.Lost), len(damaged), "trial %d", trial)
		if !damaged[39] { // the count is exact before the last valid record
			assert.Len(t, rep.Lost, len(damaged), "trial %d", trial)
		}
		for _, loss := range rep.Lost {
			if loss.Seq != 0 { // the segment's id is its first record's number
				first, _, ok := parseName(filepath.Base(loss.File))
				require.True(t, ok)
				assert.True(t, damaged[int(loss.Seq-first)], "trial %d: undamaged %d reported lost", trial, loss.Seq-first)
			}
		}
		require.NoError(t, l.Close())
	}
}

// A full disk: the segment cannot be allocated, or a write fails. Append
// refuses with an error wrapping ErrIO and ENOSPC and naming the file, and
// every record accepted before (or after space came back) is replayed,
// none reported lost.
func TestNoSpace(t *testing.T) {
	fsys := newMemFS()
	l, _, err := Open(testDir, Options{MaxBytes: MinBytes, SegmentBytes: 1000, FS: fsys})
	require.NoError(t, err)
	full := false
	fsys.fail = func(op, _ string) error {
		if full && (op == "create" || op == "write") {
			return syscall.ENOSPC
		}
		return nil
	}
	var accepted []int
	for i := range 60 {
		full = i >= 20 && i < 40
		_, err := l.Append(payload(i))
		if full {
			require.ErrorIs(t, err, ErrIO)
			require.ErrorIs(t, err, syscall.ENOSPC)
			assert.Contains(t, err.Error(), testDir+"/seg-")
			continue
		}
		require.NoError(t, err)
		accepted = append(accepted, i)
	}
	require.NoError(t, l.Close())
	l, rep, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
	require.NoError(t, err)
	assert.Equal(t, accepted, replayIDs(t, rep))
	assert.Empty(t, rep.Lost)
	require.NoError(t, l.Close())
}

// A write that fails after storing part of the record: the journal moves
// to a new segment; the partial bytes are reported as torn, not as an
// accepted record lost.
func TestFailedWriteMovesToANewSegment(t *testing.T) {
	fsys := newMemFS()
	l, _, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
	require.NoError(t, err)
	_, err = l.Append(payload(0))
	require.NoError(t, err)
	fsys.fail = func(op, _ string) error {
		if op == "write" {
			return &partialError{n: 30, err: syscall.EIO}
		}
		return nil
	}
	_, err = l.Append(payload(1))
	require.ErrorIs(t, err, syscall.EIO)
	fsys.fail = nil
	_, err = l.Append(payload(2))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	l, rep, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2}, replayIDs(t, rep))
	require.Len(t, rep.Lost, 1)
	require.ErrorIs(t, rep.Lost[0].Err, ErrTorn)
	require.NoError(t, l.Close())
}

// File-system errors of Ack, Sync and removal are returned, name the file,
// and lose nothing; a removal that failed is retried.
func TestErrorsAreReported(t *testing.T) {
	fsys := newMemFS()
	l, _, err := Open(testDir, Options{MaxBytes: MinBytes, SegmentBytes: 200, FS: fsys})
	require.NoError(t, err)
	seqs := appendN(t, l, 10)
	fsys.fail = func(op, _ string) error {
		if op == "fsync" || op == "remove" {
			return syscall.EIO
		}
		return nil
	}
	err = l.Sync()
	require.ErrorIs(t, err, ErrIO)
	require.ErrorIs(t, err, syscall.EIO)
	assert.Contains(t, err.Error(), "fsync "+testDir+"/seg-")
	require.NoError(t, l.Ack(seqs[:5]...))
	err = l.Sync()
	require.ErrorIs(t, err, ErrIO)
	assert.Contains(t, err.Error(), "remove "+testDir+"/seg-")
	fsys.fail = func(op, name string) error {
		if op == "open" && strings.HasSuffix(name, ".ack") {
			return syscall.EACCES
		}
		return nil
	}
	err = l.Ack(seqs[8])
	require.ErrorIs(t, err, ErrIO)
	assert.Contains(t, err.Error(), ".ack")
	fsys.fail = nil
	require.NoError(t, l.Sync(), "the failed removals are retried")
	require.NoError(t, l.Close())
	l, rep, err := Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
	require.NoError(t, err)
	assert.Equal(t, seqRange(5, 10), replayIDs(t, rep), "an ack that failed to be written only means a duplicate")
	require.NoError(t, l.Close())
}

func TestInvalidOptions(t *testing.T) {
	_, _, err := Open(t.TempDir(), Options{MaxBytes: MinBytes - 1})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "1048575")
	_, _, err = Open(t.TempDir(), Options{MaxBytes: MinBytes, SegmentBytes: -1})
	require.ErrorIs(t, err, ErrInvalid)
}

func TestClosed(t *testing.T) {
	l, _ := open(t, t.TempDir(), Options{})
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close is idempotent")
	_, err := l.Append(nil)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, l.Ack(1), ErrClosed)
	require.ErrorIs(t, l.Sync(), ErrClosed)
}

// An empty record is a record.
func TestEmptyRecord(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	_, err := l.Append(nil)
	require.NoError(t, err)
	crash(t, l)
	l, rep := open(t, dir, Options{})
	require.Len(t, rep.Records, 1)
	assert.Empty(t, rep.Records[0].Data)
	require.NoError(t, l.Close())
}

// On this platform the default FS locks; ErrUnsupported is what the
// non-unix build returns (lock_other.go).
func TestUnsupportedIsASentinel(t *testing.T) {
	assert.False(t, errors.Is(ErrUnsupported, ErrIO))
}

// A record larger than a segment gets a segment of its own size.
func TestRecordLargerThanASegment(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{SegmentBytes: 64 << 10})
	big := []byte(`{"messageId":"big","pad":"` + strings.Repeat("y", 200<<10) + `"}`)
	_, err := l.Append(payload(1))
	require.NoError(t, err)
	_, err = l.Append(big)
	require.NoError(t, err)
	_, err = l.Append(payload(2))
	require.NoError(t, err)
	crash(t, l)
	l, rep := open(t, dir, Options{SegmentBytes: 64 << 10})
	require.Len(t, rep.Records, 3)
	assert.Equal(t, big, rep.Records[1].Data)
	assert.Empty(t, rep.Lost)
	require.NoError(t, l.Close())
}
