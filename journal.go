package analytics

import "sync"

// journal is the seam between the batcher and durable storage: a message
// is appended when it is accepted (before Enqueue returns), acknowledged
// when it has a final outcome, and replayed by the next client when it was
// not. Its methods are safe for concurrent use and are never called with a
// lock of the batcher held.
type journal interface {
	// append stores data and returns its sequence number, or refuses it:
	// a *QueueFullError when the journal is at its bound, else an error
	// wrapping ErrSpool.
	append(data []byte) (seq uint64, err error)
	// ack records the final outcome of seqs: they are not replayed.
	ack(seqs []uint64) error
	// sync makes what was appended and acknowledged durable.
	sync() error
	// close syncs and releases the journal.
	close() error
}

// replayed is a message read back from the journal at start-up.
type replayed struct {
	seq  uint64
	data []byte
}

// spoolJournal adapts the file spool to the journal seam: its own lock
// serialises the file operations, outside every lock of the batcher.
type spoolJournal struct {
	mu sync.Mutex
	s  *spool
}

func (j *spoolJournal) append(data []byte) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.s.fits(len(data)) {
		return 0, &QueueFullError{Bound: "spool bytes", Limit: j.s.maxBytes}
	}
	seg, rec, err := j.s.append(data)
	if err != nil {
		return 0, err
	}
	return seg<<32 | uint64(rec), nil
}

func (j *spoolJournal) ack(seqs []uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, q := range seqs {
		j.s.done(q>>32, uint32(q)) //nolint:gosec // G115: the low 32 bits are the record index
	}
	j.s.writeAcks()
	return nil
}

func (j *spoolJournal) sync() error {
	j.mu.Lock()
	p := j.s.takeSync()
	j.mu.Unlock()
	return p.do() // fsync outside the lock: appends go on meanwhile
}

func (j *spoolJournal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.s.close()
}

// openJournal opens the file spool as the journal.
func openJournal(dir string, maxBytes int64) (journal, []replayed, int, error) {
	sp, recs, corrupt, err := openSpool(dir, maxBytes)
	if err != nil {
		return nil, nil, 0, err
	}
	out := make([]replayed, len(recs))
	for i, r := range recs {
		out[i] = replayed{seq: r.seg<<32 | uint64(r.idx), data: r.data}
	}
	return &spoolJournal{s: sp}, out, corrupt, nil
}
