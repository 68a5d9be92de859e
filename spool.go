package analytics

import (
	"errors"
	"fmt"

	"github.com/tracklane/analytics/internal/journal"
)

// Spool errors.
var (
	// ErrSpoolLocked means another Client (in this or another process) uses
	// the spool directory.
	ErrSpoolLocked = errors.New("analytics: spool directory is in use by another client")
	// ErrSpool means the spool could not be used: at New, it could not be
	// opened (the error names the file; the data stays on disk), or the
	// platform has no file locking; at Enqueue, the message could not be
	// written (a full disk, an I/O error) and was refused, and no message
	// accepted before is lost.
	ErrSpool = errors.New("analytics: spool write failed")
	// ErrSpoolCorrupt means a message in the spool was damaged on disk (a
	// crash of the machine during a write, a damaged disk) and could not be
	// delivered. Each such message is counted in Stats.SpoolLost and
	// reported to the delivery callback as Failed, with its messageId when
	// the damaged bytes still hold it.
	ErrSpoolCorrupt = errors.New("analytics: spool record is corrupt")
	// ErrSpooled means the message was not delivered in this run (its retry
	// budget or Close's context ran out) but is kept in the spool and is
	// delivered first by the next Client started with the same directory.
	ErrSpooled = errors.New("analytics: kept in the spool for the next start")
)

// fileJournal is the file spool (WithSpool): internal/journal behind the
// journal seam. The journal has its own lock and no goroutine; the
// dispatcher calls sync on every flush interval.
type fileJournal struct {
	log *journal.Log
	max int64
}

// openFileJournal opens dir as the spool and returns what an earlier run
// left there: the messages without an outcome, and those lost to
// corruption.
func openFileJournal(dir string, maxBytes int64) (*fileJournal, []replayed, []journal.Loss, error) {
	log, rep, err := journal.Open(dir, journal.Options{MaxBytes: maxBytes})
	switch {
	case errors.Is(err, journal.ErrLocked):
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrSpoolLocked, err)
	case errors.Is(err, journal.ErrInvalid):
		return nil, nil, nil, &ConfigError{Option: "WithSpool", Reason: err.Error()}
	case err != nil:
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrSpool, err)
	}
	recs := make([]replayed, len(rep.Records))
	for i, r := range rep.Records {
		recs[i] = replayed{seq: r.Seq, data: r.Data}
	}
	return &fileJournal{log: log, max: maxBytes}, recs, rep.Lost, nil
}

func (j *fileJournal) append(data []byte) (uint64, error) {
	seq, err := j.log.Append(data)
	switch {
	case err == nil:
		return seq, nil
	case errors.Is(err, journal.ErrFull):
		return 0, &QueueFullError{Bound: "spool bytes", Limit: j.max}
	}
	return 0, fmt.Errorf("%w: %w", ErrSpool, err)
}

func (j *fileJournal) ack(seqs []uint64) error {
	if err := j.log.Ack(seqs...); err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return nil
}

func (j *fileJournal) sync() error {
	if err := j.log.Sync(); err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return nil
}

func (j *fileJournal) close() error {
	if err := j.log.Close(); err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	return nil
}

// lossReports turns the records lost to corruption into one Failed report
// each, and counts the files with damage. A torn record at the end of a
// segment (ErrTorn) was being written when the process died: its Append
// never returned, so no accepted message is lost with it, and it is not
// reported.
func lossReports(lost []journal.Loss) (reps []Report, files int) {
	seen := map[string]bool{}
	for _, l := range lost {
		if !seen[l.File] {
			seen[l.File] = true
			files++
		}
		if errors.Is(l.Err, journal.ErrTorn) {
			continue
		}
		reps = append(reps, Report{
			Outcome:  Failed,
			Messages: []MessageInfo{{MessageID: l.MessageID}},
			Err:      fmt.Errorf("%w: %s at offset %d (%d bytes): %w", ErrSpoolCorrupt, l.File, l.Offset, l.Len, l.Err),
		})
	}
	return reps, files
}
