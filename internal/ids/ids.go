// Package ids generates random (version 4) UUID strings quickly: random
// bytes come from crypto/rand in blocks, kept in a pool, instead of one
// crypto/rand call per id.
package ids

import (
	"crypto/rand"
	"sync"
)

const block = 16 * 32 // 32 ids per crypto/rand read

type randBuf struct {
	b   [block]byte
	off int
}

var pool = sync.Pool{New: func() any { return &randBuf{off: block} }}

const hexDigits = "0123456789abcdef"

// NewV4 returns a random UUID in its canonical 36-character form.
func NewV4() string {
	var s [Len]byte
	return string(AppendV4(s[:0]))
}

// Len is the length of a UUID in its canonical form.
const Len = 36

// AppendV4 appends a random UUID in its canonical 36-character form to b.
func AppendV4(b []byte) []byte {
	r, ok := pool.Get().(*randBuf)
	if !ok {
		r = &randBuf{off: block}
	}
	if r.off+16 > block {
		_, _ = rand.Read(r.b[:]) // crypto/rand.Read never fails (Go 1.24+)
		r.off = 0
	}
	var u [16]byte
	copy(u[:], r.b[r.off:r.off+16])
	clear(r.b[r.off : r.off+16]) // used bytes are not kept
	r.off += 16
	pool.Put(r)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	n := len(b)
	b = append(b, "00000000-0000-0000-0000-000000000000"...)
	s := b[n : n+Len]
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			j++ // the dash
		}
		s[j], s[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return b
}
