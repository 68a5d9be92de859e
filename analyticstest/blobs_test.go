package analyticstest

import (
	"bytes"
	"fmt"
	"testing"
)

// TestBlobLogReadsBackWhatWasPut puts pieces of every size (empty, small,
// one over blockSize) across many blocks, compresses the sealed ones, and
// reads every piece back from snapshots taken before and after: the same
// bytes, in memory the log does not share.
func TestBlobLogReadsBackWhatWasPut(t *testing.T) {
	var s store
	var pieces [][]byte
	var spans []span
	keep := func(p []byte) {
		s.mu.Lock()
		spans = append(spans, s.keepLocked(p))
		s.mu.Unlock()
		pieces = append(pieces, p)
	}
	for i := range 400 {
		switch {
		case i%50 == 7:
			keep(nil)
		case i == 123:
			keep(bytes.Repeat([]byte("big"), blockSize)) // a block of its own, over blockSize
		default:
			keep(fmt.Appendf(nil, `{"i":%d,"pad":%q}`, i, bytes.Repeat([]byte{byte('a' + i%26)}, 20_000+i)))
		}
	}
	s.mu.Lock()
	before := s.log.reader()
	s.mu.Unlock()
	s.compressSealed()

	s.mu.Lock()
	after, l := s.log.reader(), s.log
	s.mu.Unlock()
	if len(l.blocks) < 8 || len(l.toCompress) != 0 {
		t.Fatalf("%d blocks, %d not compressed; want 8 or more, 0", len(l.blocks), len(l.toCompress))
	}
	for i, b := range l.blocks[:len(l.blocks)-1] {
		if b.z == nil || b.raw != nil || b.n > blockSize && b.n != 3*blockSize {
			t.Errorf("block %d: compressed %v, raw kept %v, %d bytes", i, b.z != nil, b.raw != nil, b.n)
		}
	}
	if last := l.blocks[len(l.blocks)-1]; last.z != nil || last.raw == nil {
		t.Errorf("the open block is compressed (%v) or has no bytes", last.z != nil)
	}
	for _, r := range []*blobReader{before, after} {
		for i, sp := range spans {
			got := r.get(sp)
			if !bytes.Equal(got, pieces[i]) || got == nil || cap(got) != len(got) {
				t.Fatalf("piece %d: %d bytes (nil %v, cap %d), want %d", i, len(got), got == nil, cap(got), len(pieces[i]))
			}
		}
	}
	// What a reader returns is its own: writing to it changes nothing kept.
	open := spans[len(spans)-1]
	after.get(open)[0] = 'X'
	after.get(spans[0])[0] = 'X'
	r := l.reader()
	if !bytes.Equal(r.get(open), pieces[len(pieces)-1]) || !bytes.Equal(r.get(spans[0]), pieces[0]) {
		t.Error("a reader's result shares memory with the log")
	}
	if (&blobLog{}).reader().get(span{}) != nil || (*blobLog)(nil).reader().get(span{block: 3}) != nil {
		t.Error("a span the snapshot does not hold reads as not nil")
	}
}
