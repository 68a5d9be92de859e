// Package journal is a crash-safe, append-only log of accepted records:
// the file spool's storage. Append writes a record before it returns, Ack
// records its final outcome, Sync makes both durable, and Open gives back
// every record not acknowledged, in append order, with every record lost
// to corruption listed one by one.
//
// # Guarantees
//
//   - A crash of the process (even SIGKILL) loses no record whose Append
//     returned: Append copies it into a shared memory mapping of the
//     segment file, that is into the kernel's page cache, which outlives
//     the process exactly as a write(2) does, without a system call.
//   - A crash of the machine loses at most the records appended since the
//     start of the last Sync that returned nil (and may replay records
//     acknowledged since then).
//   - Corruption costs only the damaged records: every record carries a
//     magic, its length and a CRC-32C, and reading resynchronises on the
//     next valid frame. Each damaged record is reported in Replay.Lost.
//   - Delivery is at-least-once: an acknowledgement that did not reach the
//     disk means the record is replayed again, never that another is lost.
//
// # Files
//
// The directory holds a lock file (LOCK) and segments. A segment is a log
// seg-<id>.log of data frames (preallocated to its full size, so that a
// full disk is an error at its creation, never a fault while mapped; the
// zeros after the last frame are free space) and, once a record in it is acknowledged, an
// ack file seg-<id>.ack of ack frames listing sequence numbers. A segment's
// id is the sequence number of its first record. Sequence numbers grow by
// one per record and start each run above every number on disk and above
// the clock in nanoseconds, so they never repeat, even when every file was
// removed. An ack file applies only to the log of the same id and an ack
// only to the record of the same sequence number, so a left-over ack can
// never skip another record. A segment is removed (log first, then acks)
// only when every record in it is acknowledged, and only by Sync or Close.
// Sync also preallocates the next segment (spare.tmp), so that the Append
// that begins a segment only renames it.
//
// There are no goroutines: the caller calls Sync (for example on every
// flush interval) and Close.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tracklane/analytics/internal/msgids"
)

// Errors. Every error the journal returns names the file it concerns.
var (
	// ErrLocked: another journal (in this or another process) has the directory open.
	ErrLocked = errors.New("journal: directory is locked")
	// ErrFull: MaxBytes of unacknowledged records wait; Append refused the record.
	ErrFull = errors.New("journal: full")
	// ErrIO: a file-system operation failed; the error names the file.
	ErrIO = errors.New("journal: I/O error")
	// ErrUnsupported: the platform has no file locking (flock); Open refuses to run unlocked.
	ErrUnsupported = errors.New("journal: unsupported platform")
	// ErrCorrupt: a record failed its checksum (in Replay.Lost).
	ErrCorrupt = errors.New("journal: corrupt record")
	// ErrTorn: a record was cut short at the end of a segment, by a crash
	// during its Append, which therefore never returned (in Replay.Lost).
	ErrTorn = errors.New("journal: torn record")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal: closed")
	// ErrTooLarge: the record can never fit (longer than MaxBytes or 64 MiB).
	ErrTooLarge = errors.New("journal: record too large")
	// ErrInvalid: Options out of range.
	ErrInvalid = errors.New("journal: invalid options")
)

// MinBytes is the smallest Options.MaxBytes.
const MinBytes = 1 << 20

// HeaderBytes is what each record costs beyond its data, on disk and
// against MaxBytes.
const HeaderBytes = headerSize

// Options configure a journal. The zero value of each field but MaxBytes
// is its default.
type Options struct {
	// MaxBytes bounds the bytes (data plus HeaderBytes each) of records
	// not yet acknowledged; Append refuses with ErrFull past it. At least
	// MinBytes, else Open fails with ErrInvalid. The files on disk may
	// hold more: acknowledged records stay until their whole segment is
	// acknowledged.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment is begun. Default
	// MaxBytes/8, within [64 KiB, 4 MiB]; negative is ErrInvalid.
	SegmentBytes int64
	// FS is the file system. Default (nil): the operating system's.
	FS FS
}

// Record is a record without an acknowledgement.
type Record struct {
	Seq  uint64 // unique: never repeats, across runs too
	Data []byte
}

// Loss is one record lost to corruption.
type Loss struct {
	File      string // path of the segment
	Offset    int64  // where the damaged bytes start
	Len       int    // how many bytes are damaged (the whole run, when it held several records)
	Seq       uint64 // the record's sequence number, when known (0 in a damaged tail)
	MessageID string // the "messageId" found in the damaged bytes, or ""
	Err       error  // wraps ErrCorrupt, or ErrTorn for a write cut short by a crash
}

// Replay is what Open recovered.
type Replay struct {
	// Records are the records without an acknowledgement, in append order.
	Records []Record
	// Lost lists every record lost to corruption, one entry per record. A
	// damaged segment is kept until Sync runs, so an Open after a crash
	// before that reports the same losses again.
	Lost []Loss
}

// Log is an open journal. Its methods are safe for concurrent use.
type Log struct {
	dir      string
	fs       FS
	maxBytes int64
	segBytes int64
	lock     io.Closer

	syncMu sync.Mutex // serialises Sync and Close

	mu       sync.Mutex
	segs     []*segment // segments with unacknowledged records (and the active one), by id
	active   *segment   // where Append writes; nil until the first Append and after a failure
	doomed   []*segment // every record acknowledged: to remove at the next Sync
	next     uint64     // the next sequence number
	unacked  int64      // bytes of records without an acknowledgement
	waiting  int        // records without an acknowledgement
	dirDirty bool       // a file was created since the last Sync
	closed   bool
	buf      []byte
	spare    Segment // a preallocated segment made by Sync, renamed by rotate
}

type segment struct {
	id       uint64
	log      Segment // write mapping of the active segment, until Sync closes it
	capacity int64   // its size on disk (preallocated)
	ack      File    // ack file, opened at the first acknowledgement
	size     int64
	seqs     []uint64 // records in this segment, ascending
	sizes    []uint32 // their frame sizes
	acked    []bool
	live     int  // records without an acknowledgement
	logDirty bool // written since the last fsync
	ackDirty bool
	broken   bool // a failed write could not be cut off: write no more here
}

const (
	lockName  = "LOCK"
	spareName = "spare.tmp"
	segPrefix = "seg-"
	logSuffix = ".log"
	ackSuffix = ".ack"
)

func (l *Log) logPath(id uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%s%020d%s", segPrefix, id, logSuffix))
}

func (l *Log) ackPath(id uint64) string {
	return filepath.Join(l.dir, fmt.Sprintf("%s%020d%s", segPrefix, id, ackSuffix))
}

// parseName returns the id and suffix of a segment file name.
func parseName(name string) (uint64, string, bool) {
	for _, suf := range []string{logSuffix, ackSuffix} {
		digits, ok := strings.CutSuffix(name, suf)
		if !ok {
			continue
		}
		digits, ok = strings.CutPrefix(digits, segPrefix)
		if !ok || len(digits) != 20 {
			return 0, "", false
		}
		id, err := strconv.ParseUint(digits, 10, 64)
		return id, suf, err == nil
	}
	return 0, "", false
}

func ioErr(op, name string, err error) error {
	return fmt.Errorf("%w: %s %s: %w", ErrIO, op, name, err)
}

// Open locks dir (creating it), reads back what earlier runs left and
// returns the journal and what it recovered. It fails with ErrLocked when
// another journal has dir open, ErrUnsupported on platforms without flock
// (every non-unix GOOS, with the default FS), ErrInvalid for bad Options,
// and ErrIO, naming the file, when a file cannot be read (a segment that
// is a directory, a file without read permission): then nothing on disk is
// changed. Open never removes anything; Sync removes what is finished.
func Open(dir string, o Options) (*Log, Replay, error) {
	if o.MaxBytes < MinBytes {
		return nil, Replay{}, fmt.Errorf("%w: MaxBytes %d is below the minimum %d", ErrInvalid, o.MaxBytes, MinBytes)
	}
	if o.SegmentBytes < 0 {
		return nil, Replay{}, fmt.Errorf("%w: SegmentBytes %d is negative", ErrInvalid, o.SegmentBytes)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 64<<10), 4<<20)
	}
	if o.FS == nil {
		o.FS = osFS{}
	}
	l := &Log{dir: dir, fs: o.FS, maxBytes: o.MaxBytes, segBytes: o.SegmentBytes}
	if err := l.fs.MkdirAll(dir, 0o700); err != nil {
		return nil, Replay{}, ioErr("create directory", dir, err)
	}
	lockPath := filepath.Join(dir, lockName)
	lock, err := l.fs.Lock(lockPath)
	if err != nil {
		if errors.Is(err, ErrLocked) || errors.Is(err, ErrUnsupported) {
			return nil, Replay{}, err
		}
		return nil, Replay{}, ioErr("lock", lockPath, err)
	}
	l.lock = lock
	rep, err := l.recover()
	if err != nil {
		_ = lock.Close()
		return nil, Replay{}, err
	}
	return l, rep, nil
}

// recover reads every segment; it changes nothing on disk.
func (l *Log) recover() (Replay, error) {
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return Replay{}, ioErr("read directory", l.dir, err)
	}
	logs, acks := map[uint64]bool{}, map[uint64]bool{}
	var ids []uint64
	for _, name := range names {
		id, suf, ok := parseName(name)
		switch {
		case !ok:
		case suf == logSuffix:
			logs[id] = true
			ids = append(ids, id)
		default:
			acks[id] = true
		}
	}
	slices.Sort(ids)
	var rep Replay
	maxSeen := uint64(0)
	for i, id := range ids {
		limit := ^uint64(0)
		if i+1 < len(ids) {
			limit = ids[i+1]
		}
		seg, last, err := l.recoverSegment(id, limit, acks[id], &rep)
		if err != nil {
			return Replay{}, err
		}
		maxSeen = max(maxSeen, id, last)
		if seg.live == 0 {
			l.doomed = append(l.doomed, seg)
		} else {
			l.segs = append(l.segs, seg)
		}
	}
	for id := range acks {
		maxSeen = max(maxSeen, id)
		if !logs[id] {
			// The log was removed and a crash came before its ack file
			// was: the ack file applies to nothing; remove it too.
			l.doomed = append(l.doomed, &segment{id: id})
		}
	}
	l.next = max(maxSeen+1, uint64(time.Now().UnixNano()))
	return rep, nil
}

// recoverSegment reads segment id, whose records must have sequence
// numbers in [id, limit). It returns the segment and the largest sequence
// number in it.
func (l *Log) recoverSegment(id, limit uint64, hasAcks bool, rep *Replay) (*segment, uint64, error) {
	path := l.logPath(id)
	b, err := l.fs.ReadFile(path)
	if err != nil {
		return nil, 0, ioErr("read", path, err)
	}
	acked := map[uint64]bool{}
	if hasAcks {
		ap := l.ackPath(id)
		ab, err := l.fs.ReadFile(ap)
		if err != nil {
			return nil, 0, ioErr("read", ap, err)
		}
		frames, _ := scan(ab) // a damaged ack only means a duplicate
		for _, f := range frames {
			if f.kind != kindAck {
				continue
			}
			for j := 0; j+8 <= len(f.body); j += 8 {
				acked[leUint64(f.body[j:])] = true
			}
		}
	}
	seg := &segment{id: id, size: int64(len(b))}
	frames, bad := scan(b)
	lost := lossFinder{path: path, b: b, acked: acked, prev: id - 1, rep: rep}
	last := uint64(0)
	for _, f := range frames {
		for len(bad) > 0 && bad[0].off < f.off {
			lost.pending = append(lost.pending, bad[0])
			bad = bad[1:]
		}
		if f.kind != kindData || f.seq < id || f.seq >= limit || (last != 0 && f.seq <= last) {
			// Valid bytes out of place (not written by this journal):
			// count them as a damaged record.
			lost.pending = append(lost.pending, damage{off: f.off, n: headerSize + len(f.body)})
			continue
		}
		lost.report(f.seq, true)
		last, lost.prev = f.seq, f.seq
		if acked[f.seq] {
			continue
		}
		size := headerSize + len(f.body)
		seg.seqs = append(seg.seqs, f.seq)
		seg.sizes = append(seg.sizes, uint32(size)) //nolint:gosec // G115: size <= maxBody+headerSize
		seg.acked = append(seg.acked, false)
		seg.live++
		l.waiting++
		l.unacked += int64(size)
		rep.Records = append(rep.Records, Record{Seq: f.seq, Data: f.body})
	}
	lost.pending = append(lost.pending, bad...)
	lost.report(0, false)
	return seg, last, nil
}

// lossFinder reports the records lost in the damaged runs of a segment.
type lossFinder struct {
	path    string
	b       []byte
	acked   map[uint64]bool
	prev    uint64   // sequence number of the last valid record (the segment id - 1 before the first)
	pending []damage // damaged pieces since that record
	rep     *Replay
}

// report reports the pending damage, found before the valid record next
// (known) or at the end of the segment (!known). Sequence numbers grow by
// one per record within a segment, so the records lost between two valid
// ones are exactly the numbers between them that have no acknowledgement;
// at the end, each damaged piece (split at every magic and every
// messageId) counts as one record.
func (f *lossFinder) report(next uint64, known bool) {
	pending := f.pending
	f.pending = nil
	if len(pending) == 0 && (!known || next == f.prev+1) {
		return
	}
	off := int64(len(f.b))
	end := off
	if len(pending) > 0 {
		off = int64(pending[0].off)
		last := pending[len(pending)-1]
		end = int64(last.off + last.n)
	}
	var ids []string
	for _, d := range pending {
		ids = append(ids, msgids.Scan(f.b[d.off:d.off+d.n])...)
	}
	if known && next > f.prev && next-f.prev-1 <= uint64(end-off)/headerSize+1 { //nolint:gosec // G115: end >= off
		var missing []uint64
		for s := f.prev + 1; s < next; s++ {
			if !f.acked[s] {
				missing = append(missing, s)
			}
		}
		// One damaged piece per lost record: each is reported with its own
		// place and messageId; else the whole run is, with the ids when
		// they pair up one to one.
		perPiece := len(pending) == len(missing)
		for i, s := range missing {
			loss := Loss{File: f.path, Offset: off, Len: int(end - off), Seq: s}
			if perPiece {
				loss.Offset, loss.Len = int64(pending[i].off), pending[i].n
				if mids := msgids.Scan(f.b[pending[i].off : pending[i].off+pending[i].n]); len(mids) == 1 {
					loss.MessageID = mids[0]
				}
			} else if len(ids) == len(missing) {
				loss.MessageID = ids[i]
			}
			loss.Err = fmt.Errorf("%w: %s offset %d: %d damaged bytes hold record %d", ErrCorrupt, f.path, loss.Offset, loss.Len, s)
			f.rep.Lost = append(f.rep.Lost, loss)
		}
		return
	}
	for _, d := range pending {
		if d.hasSeq && f.acked[d.seq] {
			continue // a delivered record: nothing is lost
		}
		err := fmt.Errorf("%w: %s offset %d: %d bytes fail their checksum", ErrCorrupt, f.path, d.off, d.n)
		if d.torn {
			err = fmt.Errorf("%w: %s offset %d: the last %d bytes are an incomplete record", ErrTorn, f.path, d.off, d.n)
		}
		loss := Loss{File: f.path, Offset: int64(d.off), Len: d.n, Err: err}
		mids := msgids.Scan(f.b[d.off : d.off+d.n])
		if len(mids) == 0 {
			f.rep.Lost = append(f.rep.Lost, loss)
		}
		for _, m := range mids {
			loss.MessageID = m
			f.rep.Lost = append(f.rep.Lost, loss)
		}
	}
}

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// Append writes data as a new record into the segment's shared memory
// mapping (the kernel's page cache: a crash of the process cannot lose it)
// before it returns, and returns its sequence number. It fails with ErrFull (saying
// the bound) when the record would take the bytes waiting for an
// acknowledgement past MaxBytes, ErrTooLarge when it never could,
// ErrClosed after Close, and ErrIO, naming the file, when the write fails
// (the record is then not in the journal). Append never waits for the
// disk beyond that write.
func (l *Log) Append(data []byte) (uint64, error) {
	size := int64(headerSize + len(data))
	if len(data) > maxBody || size > l.maxBytes {
		return 0, fmt.Errorf("%w: %d bytes, the journal in %s holds at most %d (MaxBytes, with %d bytes of header)", ErrTooLarge, len(data), l.dir, min(l.maxBytes, maxBody), headerSize)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("%w: %s", ErrClosed, l.dir)
	}
	if l.unacked+size > l.maxBytes {
		return 0, fmt.Errorf("%w: %d bytes in %s wait for an acknowledgement, MaxBytes is %d", ErrFull, l.unacked, l.dir, l.maxBytes)
	}
	if a := l.active; a == nil || a.broken || a.size+size > a.capacity {
		if err := l.rotate(size); err != nil {
			return 0, err
		}
	}
	a := l.active
	seq := l.next
	l.buf = appendFrame(l.buf[:0], kindData, seq, data)
	err := a.log.WriteAt(l.buf, a.size)
	if cap(l.buf) > 1<<20 {
		l.buf = nil
	}
	if err != nil {
		// What was written of the frame cannot be trusted to be cut off:
		// the next Append begins a new segment, and recovery reports these
		// bytes as a torn record (this Append did not return it).
		a.broken = true
		a.logDirty = true
		return 0, ioErr("write", l.logPath(a.id), err)
	}
	l.next++
	a.size += size
	a.seqs = append(a.seqs, seq)
	a.sizes = append(a.sizes, uint32(size)) //nolint:gosec // G115: size <= maxBody+headerSize
	a.acked = append(a.acked, false)
	a.live++
	a.logDirty = true
	l.waiting++
	l.unacked += size
	return seq, nil
}

// Waiting returns how many records have no acknowledgement, and their
// bytes as counted against MaxBytes (data plus HeaderBytes each).
func (l *Log) Waiting() (records int, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting, l.unacked
}

// rotate begins a new segment with room for at least need bytes; the old
// one keeps its mapping until Sync has synced it. Called with l.mu held.
func (l *Log) rotate(need int64) error {
	if old := l.active; old != nil {
		l.active = nil
		if old.live == 0 {
			l.doom(old)
		}
	}
	id := l.next
	path := l.logPath(id)
	capacity := max(l.segBytes, need)
	var f Segment
	if sp := l.spare; sp != nil && need <= l.segBytes {
		l.spare = nil
		if err := l.fs.Rename(filepath.Join(l.dir, spareName), path); err == nil {
			f = sp
		} else {
			_ = sp.Close() // made again by the next Sync
		}
	}
	if f == nil {
		var err error
		f, err = l.fs.CreateSegment(path, capacity)
		if err != nil {
			l.next++ // never reuse a name, whatever holds it
			return ioErr("create", path, err)
		}
	}
	seg := &segment{id: id, log: f, capacity: capacity}
	l.segs = append(l.segs, seg)
	l.active = seg
	l.dirDirty = true
	return nil
}

// doom moves a segment whose records are all acknowledged to the removal
// list. Called with l.mu held.
func (l *Log) doom(s *segment) {
	if i := slices.Index(l.segs, s); i >= 0 {
		l.segs = slices.Delete(l.segs, i, i+1)
	}
	l.doomed = append(l.doomed, s)
}

// find returns the segment and index of record seq, or nil.
func (l *Log) find(seq uint64) (*segment, int) {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].id > seq }) - 1
	if i < 0 {
		return nil, 0
	}
	s := l.segs[i]
	j, ok := slices.BinarySearch(s.seqs, seq)
	if !ok {
		return nil, 0
	}
	return s, j
}

// Ack records the final outcome of records: their bytes no longer count
// against MaxBytes, at once, and they are not replayed by a later Open.
// The acknowledgement is written (one write per segment) before Ack
// returns, and made durable by Sync. Sequence numbers unknown or already
// acknowledged are ignored. An error (ErrIO, naming the ack file, or
// ErrClosed) means an acknowledgement may not have reached the disk: the
// record may be replayed, never lost.
func (l *Log) Ack(seqs ...uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("%w: %s", ErrClosed, l.dir)
	}
	var errs []error
	var cur *segment
	body := l.buf[:0]
	flush := func() {
		if cur != nil && len(body) > 0 {
			if err := l.writeAck(cur, body); err != nil {
				errs = append(errs, err)
			}
		}
		body = body[:0]
	}
	for _, seq := range seqs {
		s, j := l.find(seq)
		if s == nil || s.acked[j] {
			continue
		}
		if s != cur || len(body) >= maxBody/2 {
			flush()
			cur = s
		}
		s.acked[j] = true
		s.live--
		l.waiting--
		l.unacked -= int64(s.sizes[j])
		body = appendUint64(body, seq)
	}
	flush()
	l.buf = body[:0]
	return errors.Join(errs...)
}

func appendUint64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// writeAck writes one ack frame for the sequence numbers in body to s's
// ack file, and dooms s when nothing in it waits any more. The frame is
// written even then, so that a crash before Sync removes the segment
// replays nothing. Called with l.mu held.
func (l *Log) writeAck(s *segment, body []byte) error {
	if s.live == 0 && s != l.active {
		defer l.doom(s)
	}
	if s.ack == nil {
		path := l.ackPath(s.id)
		f, err := l.fs.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return ioErr("open", path, err)
		}
		s.ack = f
		l.dirDirty = true
	}
	frame := appendFrame(make([]byte, 0, headerSize+len(body)), kindAck, 0, body)
	s.ackDirty = true
	if _, err := s.ack.Write(frame); err != nil {
		return ioErr("write", l.ackPath(s.id), err) // a torn ack frame is skipped when read
	}
	return nil
}

// Sync makes every Append and Ack that returned before it durable (fsync
// of the files written and of the directory), then removes the segments
// whose records are all acknowledged (log first, then ack file). It does
// not hold up Append or Ack while the disk works. Errors wrap ErrIO and
// name the file; a removal that failed is tried again by the next Sync.
func (l *Log) Sync() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: %s", ErrClosed, l.dir)
	}
	return l.sync()
}

type syncJob struct {
	f    interface{ Sync() error }
	path string
}

// sync is Sync with l.syncMu held.
func (l *Log) sync() error {
	l.mu.Lock()
	var jobs []syncJob
	for _, s := range l.segs {
		if s.log != nil && s.logDirty {
			jobs = append(jobs, syncJob{s.log, l.logPath(s.id)})
			s.logDirty = false
		}
		if s.ack != nil && s.ackDirty {
			jobs = append(jobs, syncJob{s.ack, l.ackPath(s.id)})
			s.ackDirty = false
		}
	}
	dirDirty := l.dirDirty
	l.dirDirty = false
	doomed := l.doomed
	l.doomed = nil
	l.mu.Unlock()

	var errs []error
	for _, j := range jobs {
		if err := j.f.Sync(); err != nil {
			errs = append(errs, ioErr("fsync", j.path, err))
		}
	}
	if dirDirty {
		if err := l.fs.SyncDir(l.dir); err != nil {
			errs = append(errs, ioErr("fsync directory", l.dir, err))
			l.mu.Lock()
			l.dirDirty = true
			l.mu.Unlock()
		}
	}
	// Segments no longer written keep no write handle once synced.
	l.mu.Lock()
	for _, s := range l.segs {
		if s != l.active && s.log != nil && !s.logDirty {
			if err := s.log.Close(); err != nil {
				errs = append(errs, ioErr("close", l.logPath(s.id), err))
			}
			s.log = nil
		}
	}
	l.mu.Unlock()

	if err := l.makeSpare(); err != nil {
		errs = append(errs, err)
	}
	var failed []*segment
	for _, s := range doomed {
		if err := l.remove(s); err != nil {
			errs = append(errs, err)
			failed = append(failed, s)
		}
	}
	if len(failed) > 0 {
		l.mu.Lock()
		l.doomed = append(failed, l.doomed...)
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// makeSpare preallocates the next segment, outside l.mu, so that the
// Append that begins a segment only renames it. Called with l.syncMu held.
func (l *Log) makeSpare() error {
	l.mu.Lock()
	need := l.spare == nil && !l.closed
	l.mu.Unlock()
	if !need {
		return nil
	}
	path := filepath.Join(l.dir, spareName)
	if err := l.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ioErr("remove", path, err)
	}
	sp, err := l.fs.CreateSegment(path, l.segBytes)
	if err != nil {
		return ioErr("create", path, err)
	}
	l.mu.Lock()
	l.spare = sp
	l.mu.Unlock()
	return nil
}

// remove closes and removes a finished segment: the log first, so that a
// crash in between leaves only an ack file, which applies to nothing.
func (l *Log) remove(s *segment) error {
	var errs []error
	if s.log != nil {
		_ = s.log.Close() // finished: its content no longer matters
		s.log = nil
	}
	if s.ack != nil {
		_ = s.ack.Close()
		s.ack = nil
	}
	if err := l.fs.Remove(l.logPath(s.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ioErr("remove", l.logPath(s.id), err)
	}
	if err := l.fs.Remove(l.ackPath(s.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, ioErr("remove", l.ackPath(s.id), err))
	}
	return errors.Join(errs...)
}

// Close syncs, removes the active segment when everything in it is
// acknowledged, closes the files and releases the lock. Later calls of
// any method return ErrClosed; a second Close returns nil.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	if a := l.active; a != nil && a.live == 0 {
		l.active = nil
		l.doom(a)
	}
	l.mu.Unlock()
	errs := []error{l.sync()}
	l.mu.Lock()
	for _, s := range l.segs {
		if s.log != nil {
			if err := s.log.Close(); err != nil {
				errs = append(errs, ioErr("close", l.logPath(s.id), err))
			}
		}
		if s.ack != nil {
			if err := s.ack.Close(); err != nil {
				errs = append(errs, ioErr("close", l.ackPath(s.id), err))
			}
		}
		s.log, s.ack = nil, nil
	}
	l.active = nil
	sp := l.spare
	l.spare = nil
	l.mu.Unlock()
	path := filepath.Join(l.dir, spareName)
	if sp != nil {
		if err := sp.Close(); err != nil {
			errs = append(errs, ioErr("close", path, err))
		}
	}
	// This run's spare, or one a crash left.
	if err := l.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, ioErr("remove", path, err))
	}
	if err := l.lock.Close(); err != nil {
		errs = append(errs, ioErr("unlock", filepath.Join(l.dir, lockName), err))
	}
	return errors.Join(errs...)
}
