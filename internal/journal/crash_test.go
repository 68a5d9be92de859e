package journal

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

const testDir = "/j"

func payload(id int) []byte {
	return fmt.Appendf(nil, `{"messageId":"m-%d","event":"Order Completed","pad":"%s"}`, id, strings.Repeat("x", id%40))
}

func parsePayload(b []byte) (int, error) {
	var id int
	if _, err := fmt.Sscanf(string(b), `{"messageId":"m-%d"`, &id); err != nil {
		return 0, fmt.Errorf("record %q is not a payload: %w", b, err)
	}
	if string(payload(id)) != string(b) {
		return 0, fmt.Errorf("record %d damaged: %q", id, b)
	}
	return id, nil
}

func payloadID(t testing.TB, b []byte) int {
	t.Helper()
	id, err := parsePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// tracker records what the journal's caller was told, by payload id.
type tracker struct {
	attempted map[int]bool // Append called
	returned  map[int]bool // Append returned nil
	ackCalled map[int]bool // Ack called with it
	durable   map[int]bool // returned before a Sync (or Close) that then returned nil
	seqOf     map[int]uint64
	maxSeq    uint64
}

func newTracker() *tracker {
	return &tracker{attempted: map[int]bool{}, returned: map[int]bool{}, ackCalled: map[int]bool{}, durable: map[int]bool{}, seqOf: map[int]uint64{}}
}

// script is one life of a journal's user: phases of appends, acks, syncs,
// rotations (small segments), removals, a clean close, a reopen with
// recovery, and more of the same. It stops at the first error (the crash).
func script(fsys FS, tr *tracker) error {
	o := Options{MaxBytes: MinBytes, SegmentBytes: 400, FS: fsys}
	l, rep, err := Open(testDir, o)
	if err != nil {
		return err
	}
	seqs := map[int]uint64{} // id -> seq in this life
	add := func(from, to int) error {
		for id := from; id < to; id++ {
			tr.attempted[id] = true
			seq, err := l.Append(payload(id))
			if err != nil {
				return err
			}
			tr.returned[id] = true
			tr.seqOf[id], seqs[id] = seq, seq
			tr.maxSeq = max(tr.maxSeq, seq)
		}
		return nil
	}
	ack := func(ids ...int) error {
		var s []uint64
		for _, id := range ids {
			tr.ackCalled[id] = true
			s = append(s, seqs[id])
		}
		return l.Ack(s...)
	}
	syncAll := func(f func() error) error {
		var snap []int
		for id := range tr.returned {
			snap = append(snap, id)
		}
		if err := f(); err != nil {
			return err
		}
		for _, id := range snap {
			tr.durable[id] = true
		}
		return nil
	}
	rng := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	for _, r := range rep.Records {
		return fmt.Errorf("first life replayed %d", r.Seq)
	}
	steps := []func() error{
		func() error { return add(0, 20) },
		func() error { return ack(0, 1, 2, 3, 4, 6, 7, 9) }, // 5 and 8 straggle
		func() error { return syncAll(l.Sync) },
		func() error { return ack(5) },
		func() error { return syncAll(l.Sync) },
		func() error { return add(20, 30) },
		func() error { return ack(append(rng(8, 15), 22, 24, 25, 26, 27, 28, 29)...) },
		func() error { return syncAll(l.Sync) }, // removes the first segments
		func() error { return add(30, 36) },
		func() error { return ack(rng(15, 20)...) },
		func() error { return syncAll(l.Close) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	// Second life: recovery, acks of what was replayed, more appends.
	l, rep, err = Open(testDir, o)
	if err != nil {
		return err
	}
	var replayed []int
	for _, r := range rep.Records {
		id, err := parsePayload(r.Data)
		if err != nil {
			return err
		}
		seqs[id] = r.Seq
		replayed = append(replayed, id)
	}
	steps = []func() error{
		func() error { return add(36, 44) },
		func() error { return ack(replayed[:len(replayed)/2]...) },
		func() error { return syncAll(l.Sync) },
		func() error { return ack(replayed[len(replayed)/2:]...) },
		func() error { return add(44, 48) },
		func() error { return ack(rng(36, 40)...) },
		func() error { return syncAll(l.Sync) },
		func() error { return add(48, 58) }, // new segments, no ack file: only their names need the directory's fsync
		func() error { return syncAll(l.Sync) },
		func() error { return add(58, 60) },
		func() error { return syncAll(l.Close) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// check reopens fs and proves every record the caller may count on is
// replayed: after a process crash, every Append that returned and was not
// acknowledged; after a machine crash, those that a successful Sync
// covered. Duplicates (records acknowledged but replayed) are counted.
func check(t *testing.T, fsys *memFS, tr *tracker, machine bool, what string) (dups int) {
	t.Helper()
	l, rep, err := Open(testDir, Options{MaxBytes: MinBytes, SegmentBytes: 400, FS: fsys})
	if err != nil {
		t.Fatalf("%s: reopen: %v", what, err)
	}
	got := map[int]bool{}
	for _, r := range rep.Records {
		id := payloadID(t, r.Data)
		if got[id] {
			t.Fatalf("%s: record %d replayed twice", what, id)
		}
		got[id] = true
		if !tr.attempted[id] {
			t.Fatalf("%s: record %d replayed but never appended", what, id)
		}
		if tr.ackCalled[id] {
			dups++
		}
	}
	for id := range tr.returned {
		want := !tr.ackCalled[id] && (!machine || tr.durable[id])
		if want && !got[id] {
			t.Fatalf("%s: record %d (seq %d) was accepted and never acknowledged but is not replayed; files: %s", what, id, tr.seqOf[id], fsys.names())
		}
	}
	for _, loss := range rep.Lost {
		if !errors.Is(loss.Err, ErrTorn) {
			t.Fatalf("%s: unexpected loss %+v", what, loss)
		}
		var id int
		if _, err := fmt.Sscanf(loss.MessageID, "m-%d", &id); err == nil && tr.returned[id] && !tr.ackCalled[id] {
			t.Fatalf("%s: accepted record %d reported torn", what, id)
		}
	}
	seq, err := l.Append(payload(9999))
	if err != nil {
		t.Fatalf("%s: append after recovery: %v", what, err)
	}
	if seq <= tr.maxSeq {
		t.Fatalf("%s: sequence number %d reused (max before: %d)", what, seq, tr.maxSeq)
	}
	var all []uint64
	for _, r := range rep.Records {
		all = append(all, r.Seq)
	}
	if err := l.Ack(append(all, seq)...); err != nil {
		t.Fatalf("%s: ack: %v", what, err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("%s: close: %v", what, err)
	}
	// Everything acknowledged and closed: nothing comes back, nothing is left.
	l, rep, err = Open(testDir, Options{MaxBytes: MinBytes, FS: fsys})
	if err != nil {
		t.Fatalf("%s: third open: %v", what, err)
	}
	if len(rep.Records) != 0 {
		t.Fatalf("%s: %d records replayed after every record was acknowledged", what, len(rep.Records))
	}
	if err := l.Close(); err != nil {
		t.Fatalf("%s: close: %v", what, err)
	}
	if n := fsys.names(); n != "LOCK(0)" {
		t.Fatalf("%s: files left after everything was acknowledged: %s", what, n)
	}
	return dups
}

// TestCrashAtEveryOperation crashes the journal at every file-system
// operation of a scripted life (appends, fsyncs, rotations, acks,
// removals, a clean close, a reopen with its recovery), as a process crash
// and as a machine crash, with the crashing write leaving nothing, half
// or all of its bytes; then reopens and checks what is replayed. It also
// crashes the recovery after each of those crashes at each of its own
// operations.
func TestCrashAtEveryOperation(t *testing.T) {
	dry, dryTr := newMemFS(), newTracker()
	if err := script(dry, dryTr); err != nil {
		t.Fatalf("the script fails without a crash: %v", err)
	}
	total := dry.ops
	check(t, dry, dryTr, false, "no crash")
	t.Logf("the scripted life performs %d file-system operations", total)
	runs, dups := 0, 0
	for k := 1; k <= total; k++ {
		for _, machine := range []bool{false, true} {
			for _, torn := range []tornMode{tornNone, tornHalf, tornAll} {
				what := fmt.Sprintf("crash at op %d (machine=%v torn=%d)", k, machine, torn)
				m := newMemFS()
				m.crashAt, m.torn = k, torn
				tr := newTracker()
				if err := script(m, tr); !errors.Is(err, errCrash) {
					t.Fatalf("%s: script returned %v, want the crash", what, err)
				}
				after := m.reboot(machine)
				// Crash the recovery itself at each of its operations.
				for j := 1; ; j++ {
					r := after.reboot(false)
					r.crashAt = j
					l, _, err := Open(testDir, Options{MaxBytes: MinBytes, SegmentBytes: 400, FS: r})
					if err == nil {
						err = l.Sync()
						if err == nil {
							err = l.Close()
						}
					}
					if err == nil {
						break
					}
					if !errors.Is(err, errCrash) {
						t.Fatalf("%s, recovery crash at %d: %v", what, j, err)
					}
					// The state left by a crashed recovery must still be whole.
					if j%3 == 0 || torn == tornNone {
						dups += check(t, r.reboot(false), tr, machine, fmt.Sprintf("%s, then recovery crash at %d", what, j))
						runs++
					}
				}
				dups += check(t, after, tr, machine, what)
				runs++
			}
		}
	}
	t.Logf("%d crash runs checked; records replayed although acknowledged (duplicates): %d", runs, dups)
}
