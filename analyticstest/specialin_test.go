package analyticstest

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// slowSpecialIn is specialIn byte by byte, through the plain table.
func slowSpecialIn(v uint64) bool {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	for _, c := range b {
		if !plain[c] {
			return true
		}
	}
	return false
}

// TestSpecialIn holds the 8-byte test of skipString to the plain table:
// every byte value at every position among plain bytes (ASCII and not),
// and a million random words, many with several special bytes.
func TestSpecialIn(t *testing.T) {
	for _, fill := range []byte{'a', ' ', 0x7f, 0x80, 0xa2, 0xdc, 0xff, '!', '#', '[', ']'} {
		for pos := range 8 {
			for c := range 256 {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[pos] = byte(c)
				v := binary.LittleEndian.Uint64(b[:])
				if got, want := specialIn(v), slowSpecialIn(v); got != want {
					t.Fatalf("specialIn(% x) = %v, want %v", b, got, want)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	special := []byte{'"', '\\', 0, 0x1f, 0x0a, 0x20, 0x21, 0x5b, 0x5d, 0x5c, 0x22, 0x23}
	for range 1_000_000 {
		var b [8]byte
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = special[r.IntN(len(special))]
			} else {
				b[i] = byte(r.Uint32())
			}
		}
		v := binary.LittleEndian.Uint64(b[:])
		if got, want := specialIn(v), slowSpecialIn(v); got != want {
			t.Fatalf("specialIn(% x) = %v, want %v", b, got, want)
		}
	}
}
