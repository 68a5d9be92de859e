package analytics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Spool errors.
var (
	// ErrSpoolLocked: another Client (in this or another process) uses the spool directory.
	ErrSpoolLocked = errors.New("analytics: spool directory is in use by another client")
	// ErrSpool: the spool could not be written; the message was refused.
	ErrSpool = errors.New("analytics: spool write failed")
	// ErrSpoolCorrupt: records at the end of a spool segment were torn or
	// corrupt (a crash during a write, a damaged disk) and were skipped.
	ErrSpoolCorrupt = errors.New("analytics: spool segment has a corrupt tail")
	// ErrSpooled: the message was not delivered in this run (its retry budget
	// or Close's context ran out) but is kept in the spool and is delivered
	// first by the next Client started with the same directory.
	ErrSpooled = errors.New("analytics: kept in the spool for the next start")
)

// Spool file layout: a directory holds a lock file and append-only segment
// files "seg-<16 digits>.log". A segment is a sequence of records:
//
//	[4 bytes little-endian payload length][4 bytes CRC-32C of payload][payload]
//
// where the payload is one encoded message, exactly the bytes sent. Beside
// each segment, "seg-<16 digits>.ack" lists (as 4-byte little-endian record
// indexes) the records that have a final outcome (delivered, or refused for
// good), so that a restart sends only the others.
const (
	spoolLockName   = "LOCK"
	spoolSegPrefix  = "seg-"
	spoolSegSuffix  = ".log"
	spoolAckSuffix  = ".ack"
	spoolHeaderSize = 8
	// DefaultSpoolSegmentBytes is the size at which a segment is closed and a new one begun.
	spoolSegmentBytes = 4 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// spool is the on-disk log of accepted messages. Its methods are called
// with the batcher's mutex held.
type spool struct {
	dir      string
	lock     *os.File
	active   *os.File
	activeID uint64
	activeSz int64
	maxBytes int64
	total    int64            // bytes of every segment on disk
	open     map[uint64]int   // records of each segment without a final outcome
	sizes    map[uint64]int64 // size of each segment on disk
	dirty    bool             // written since the last sync
	retired  []*os.File       // segments closed for writing, to fsync and close outside the lock
	dirSync  bool             // a segment was created: fsync the directory
	nextIdx  uint32           // index of the next record of the active segment
	hdr      [spoolHeaderSize]byte
	wbuf     []byte
	acks     map[uint64][]byte // acknowledgements not yet written, per segment
}

// recovered is a record read back at start-up.
type recovered struct {
	seg  uint64
	idx  uint32
	data []byte
}

// openSpool locks dir, reads back the records of earlier runs and starts a
// new segment. corrupt counts the segments whose tail was skipped.
func openSpool(dir string, maxBytes int64) (s *spool, recs []recovered, corrupt int, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, spoolLockName), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // G304: the spool directory is the caller's own configuration
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	if err := lockFile(lock); err != nil {
		_ = lock.Close()
		return nil, nil, 0, err
	}
	s = &spool{dir: dir, lock: lock, maxBytes: maxBytes, open: map[uint64]int{}, sizes: map[uint64]int64{}, acks: map[uint64][]byte{}}
	ids, err := s.segments()
	if err != nil {
		s.unlock()
		return nil, nil, 0, err
	}
	for _, id := range ids {
		r, size, bad, err := readSegment(s.segPath(id))
		if err != nil {
			s.unlock()
			return nil, nil, 0, err
		}
		if bad {
			corrupt++
		}
		acked := readAcks(s.ackPath(id))
		n := 0
		for i, data := range r {
			if !acked[uint32(i)] {
				recs = append(recs, recovered{seg: id, idx: uint32(i), data: data})
				n++
			}
		}
		s.sizes[id] = size
		s.total += size
		s.open[id] = n
		if n == 0 {
			s.remove(id)
		}
	}
	next := uint64(1)
	if len(ids) > 0 {
		next = ids[len(ids)-1] + 1
	}
	if err := s.rotate(next); err != nil {
		s.unlock()
		return nil, nil, 0, err
	}
	return s, recs, corrupt, nil
}

func (s *spool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%016d%s", spoolSegPrefix, id, spoolSegSuffix))
}

func (s *spool) ackPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%s%016d%s", spoolSegPrefix, id, spoolAckSuffix))
}

// readAcks returns the acknowledged record indexes of a segment (none when
// the file is missing; a torn last entry is ignored).
func readAcks(path string) map[uint32]bool {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a file of the caller's spool directory
	if err != nil {
		return nil
	}
	acked := make(map[uint32]bool, len(b)/4)
	for i := 0; i+4 <= len(b); i += 4 {
		acked[binary.LittleEndian.Uint32(b[i:])] = true
	}
	return acked
}

// segments lists the segment ids in the directory, oldest first.
func (s *spool) segments() ([]uint64, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	var ids []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, spoolSegPrefix) || !strings.HasSuffix(name, spoolSegSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, spoolSegPrefix), spoolSegSuffix), 10, 64)
		if err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// readSegment returns the valid records of a segment, its size, and whether
// a torn or corrupt tail was skipped.
func readSegment(path string) (recs [][]byte, size int64, bad bool, err error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a file of the caller's spool directory
	if err != nil {
		return nil, 0, false, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	off := 0
	for off < len(b) {
		if len(b)-off < spoolHeaderSize {
			return recs, int64(len(b)), true, nil
		}
		n := int(binary.LittleEndian.Uint32(b[off:]))
		sum := binary.LittleEndian.Uint32(b[off+4:])
		if n <= 0 || n > MaxMessageBytes || len(b)-off-spoolHeaderSize < n {
			return recs, int64(len(b)), true, nil
		}
		payload := b[off+spoolHeaderSize : off+spoolHeaderSize+n]
		if crc32.Checksum(payload, crcTable) != sum {
			return recs, int64(len(b)), true, nil
		}
		recs = append(recs, payload)
		off += spoolHeaderSize + n
	}
	return recs, int64(len(b)), false, nil
}

// fits reports whether a record of n payload bytes fits the disk bound.
func (s *spool) fits(n int) bool {
	return s.total+int64(spoolHeaderSize+n) <= s.maxBytes
}

// append writes one record with a single write call, so a crash of the
// process (not of the machine) after append returns cannot lose it. It
// returns the record's segment and index.
func (s *spool) append(data []byte) (uint64, uint32, error) {
	if s.activeSz >= spoolSegmentBytes {
		if err := s.rotate(s.activeID + 1); err != nil {
			return 0, 0, err
		}
	}
	binary.LittleEndian.PutUint32(s.hdr[:4], uint32(len(data))) //nolint:gosec // G115: len(data) <= MaxMessageBytes
	binary.LittleEndian.PutUint32(s.hdr[4:], crc32.Checksum(data, crcTable))
	s.wbuf = append(append(s.wbuf[:0], s.hdr[:]...), data...)
	n, err := s.active.Write(s.wbuf)
	if cap(s.wbuf) > 64<<10 {
		s.wbuf = nil
	}
	if err != nil {
		// Cut a partial record off so the segment stays readable.
		if n > 0 {
			_ = s.active.Truncate(s.activeSz)
			_, _ = s.active.Seek(s.activeSz, io.SeekStart)
		}
		return 0, 0, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	s.activeSz += int64(n)
	s.sizes[s.activeID] += int64(n)
	s.total += int64(n)
	s.open[s.activeID]++
	s.dirty = true
	idx := s.nextIdx
	s.nextIdx++
	return s.activeID, idx, nil
}

// rotate retires the active segment (fsynced and closed later by
// takeSync's caller, outside the batcher's lock, so Enqueue never waits for
// the disk) and starts segment id.
func (s *spool) rotate(id uint64) error {
	if s.active != nil {
		s.retired = append(s.retired, s.active)
		old := s.activeID
		s.active = nil
		if s.open[old] == 0 {
			s.remove(old)
		}
	}
	f, err := os.OpenFile(s.segPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	s.active, s.activeID, s.activeSz, s.nextIdx = f, id, 0, 0
	s.sizes[id] = 0
	s.dirSync = true
	return nil
}

// done records the final outcome of record idx of segment id (delivered or
// refused for good); a finished segment that is no longer written is
// removed, else the record is acknowledged by writeAcks.
func (s *spool) done(id uint64, idx uint32) {
	s.open[id]--
	if s.open[id] <= 0 && id != s.activeID {
		s.remove(id)
		return
	}
	s.acks[id] = binary.LittleEndian.AppendUint32(s.acks[id], idx)
}

// writeAcks appends the pending acknowledgements to their ack files, one
// write per segment. A lost acknowledgement only means a duplicate at the
// next start (deduplicated by messageId), so errors are ignored.
func (s *spool) writeAcks() {
	for id, b := range s.acks {
		delete(s.acks, id)
		if _, ok := s.sizes[id]; !ok {
			continue // removed meanwhile
		}
		f, err := os.OpenFile(s.ackPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			continue
		}
		_, _ = f.Write(b)
		_ = f.Close()
	}
}

func (s *spool) remove(id uint64) {
	_ = os.Remove(s.segPath(id))
	_ = os.Remove(s.ackPath(id))
	s.total -= s.sizes[id]
	delete(s.sizes, id)
	delete(s.open, id)
	delete(s.acks, id)
}

// pendingSync is the durability work owed: retired segments to fsync and
// close, the active segment if written, the directory if a segment was made.
type pendingSync struct {
	retired []*os.File
	active  *os.File
	dir     string
}

// takeSync hands over the durability work owed since the last call. Called
// with the batcher's lock held; run the result with do, without it.
func (s *spool) takeSync() pendingSync {
	p := pendingSync{retired: s.retired}
	s.retired = nil
	if s.dirty && s.active != nil {
		p.active = s.active
		s.dirty = false
	}
	if s.dirSync {
		p.dir = s.dir
		s.dirSync = false
	}
	return p
}

// do fsyncs what p lists. A segment closed meanwhile was synced by close.
func (p pendingSync) do() error {
	var errs []error
	for _, f := range p.retired {
		if err := f.Sync(); err != nil {
			errs = append(errs, err)
		}
		_ = f.Close()
	}
	if p.active != nil {
		if err := p.active.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if p.dir != "" {
		syncDir(p.dir)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return nil
}

// close syncs, removes the active segment if it holds nothing undelivered,
// and releases the lock.
func (s *spool) close() error {
	s.writeAcks()
	err := s.takeSync().do()
	if s.active != nil {
		_ = s.active.Close()
		s.active = nil
		if s.open[s.activeID] == 0 {
			s.remove(s.activeID)
		}
	}
	s.unlock()
	return err
}

func (s *spool) unlock() {
	unlockFile(s.lock)
	_ = s.lock.Close()
}

// syncDir makes a file creation or removal in dir durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil { //nolint:gosec // G304: the caller's spool directory
		_ = d.Sync()
		_ = d.Close()
	}
}
