package journal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// Frame layout (little endian), the same in segment logs and ack files:
//
//	offset 0  magic   4 bytes  "TLJ1"
//	offset 4  kind    1 byte   kindData or kindAck
//	offset 5  zero    3 bytes
//	offset 8  length  4 bytes  body length
//	offset 12 seq     8 bytes  the record's sequence number (0 in ack frames)
//	offset 20 crc     4 bytes  CRC-32C of bytes 4..20 and of the body
//	offset 24 body    length bytes: the record's data, or 8-byte sequence
//	                  numbers acknowledged
//
// The checksum covers the header, so a damaged length or sequence number
// is caught too; the magic lets a reader find the next frame after a
// damaged one.
const (
	headerSize = 24
	kindData   = 1
	kindAck    = 2
	// maxBody bounds a frame's body (and so Append's data).
	maxBody = 64 << 20
)

var (
	magic    = []byte("TLJ1")
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

// appendFrame appends one frame to dst.
func appendFrame(dst []byte, kind byte, seq uint64, body []byte) []byte {
	start := len(dst)
	dst = append(dst, magic...)
	dst = append(dst, kind, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body))) //nolint:gosec // G115: len(body) <= maxBody, checked by the callers
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	sum := crc32.Update(0, crcTable, dst[start+4:start+20])
	sum = crc32.Update(sum, crcTable, body)
	dst = binary.LittleEndian.AppendUint32(dst, sum)
	return append(dst, body...)
}

// frame is one valid frame found in a file.
type frame struct {
	off  int
	kind byte
	seq  uint64
	body []byte
}

// parseAt checks for a valid frame at b[off:]. It returns the frame and
// whether it is valid.
func parseAt(b []byte, off int) (frame, bool) {
	if len(b)-off < headerSize || !bytes.Equal(b[off:off+4], magic) {
		return frame{}, false
	}
	h := b[off : off+headerSize]
	kind := h[4]
	if (kind != kindData && kind != kindAck) || h[5] != 0 || h[6] != 0 || h[7] != 0 {
		return frame{}, false
	}
	n := binary.LittleEndian.Uint32(h[8:])
	if n > maxBody || int64(len(b)-off-headerSize) < int64(n) {
		return frame{}, false
	}
	body := b[off+headerSize : off+headerSize+int(n)]
	sum := crc32.Update(0, crcTable, h[4:20])
	sum = crc32.Update(sum, crcTable, body)
	if sum != binary.LittleEndian.Uint32(h[20:]) {
		return frame{}, false
	}
	return frame{off: off, kind: kind, seq: binary.LittleEndian.Uint64(h[12:]), body: body}, true
}

// damage is a run of bytes between valid frames: one damaged record (or a
// torn write at the end of the file).
type damage struct {
	off, n int
	torn   bool // a frame cut short by the end of the file
	seq    uint64
	hasSeq bool // the header names a data record (unverified)
}

// scan returns the valid frames of b and the damaged runs between them.
// After a damaged frame it resynchronises on the next magic that starts a
// valid frame; each magic inside a damaged run starts a damage entry of its
// own, so a run spanning several records reports each of them.
func scan(b []byte) (frames []frame, bad []damage) {
	// Segments are preallocated: the zeros after the last frame are free
	// space, not damage.
	tail := len(bytes.TrimRight(b, "\x00"))
	off := 0
	for off < tail {
		if f, ok := parseAt(b, off); ok {
			frames = append(frames, f)
			off += headerSize + len(f.body)
			continue
		}
		// Find the next valid frame; note the candidate starts on the way.
		starts := []int{off}
		next := tail
		for p := off + 1; p < tail; {
			i := bytes.Index(b[p:tail], magic)
			if i < 0 {
				break
			}
			p += i
			if _, ok := parseAt(b, p); ok {
				next = p
				break
			}
			starts = append(starts, p)
			p++
		}
		for i, s := range starts {
			end := next
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			bad = append(bad, classify(b, s, end, end == tail))
		}
		off = next
	}
	return frames, bad
}

// classify describes the damaged run b[s:end]; atTail: nothing but zeros
// follows it.
func classify(b []byte, s, end int, atTail bool) damage {
	d := damage{off: s, n: end - s}
	h := b[s:end]
	hasMagic := len(h) >= 4 && bytes.Equal(h[:4], magic)
	if hasMagic && len(h) >= 20 && h[4] == kindData {
		d.seq, d.hasSeq = binary.LittleEndian.Uint64(h[12:]), true
	}
	if atTail {
		// A frame cut short by a crash during its write: its header is
		// incomplete, or its length reaches past the last byte written.
		d.torn = len(h) < headerSize || (hasMagic && int64(binary.LittleEndian.Uint32(h[8:]))+headerSize > int64(len(h)))
	}
	return d
}
