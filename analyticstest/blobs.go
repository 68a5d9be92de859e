package analyticstest

import (
	"bytes"
	"compress/flate"
	"io"
	"slices"
	"sync"
)

// What Server and Recorder keep of messages and request bodies is stored
// compressed, in a blobLog: bytes are appended to an open block of at most
// blockSize bytes (or one larger piece), which is sealed and compressed
// whole (flate) when the next piece does not fit, so that many requests
// share one compressed frame and the repetitive JSON of a bulk run
// compresses well (392 MB of the benchmarks' Order Completed to 7 MB, at
// about 1 GB/s). Readers take a snapshot of the blocks under the store's
// lock and decompress what they need outside it, into memory of their own:
// nothing a reader returns is shared with the log.

const (
	blockSize = 1 << 20
	// blockLevel is the flate level of sealed blocks. On this JSON, level 2
	// compresses both faster and smaller than flate.BestSpeed (level 1 is
	// a different, single-pass algorithm).
	blockLevel = 2
)

// span locates n bytes at offset off of block block of a blobLog.
type span struct {
	block, off, n int
}

// sub returns the n bytes at offset off within sp.
func (sp span) sub(off, n int) span { return span{block: sp.block, off: sp.off + off, n: n} }

// block is one block of a blobLog: the last is open, the others sealed.
// While a block is open its raw bytes are only ever appended to, and once
// sealed they are never written again: a snapshot may keep reading the raw
// bytes it saw.
type block struct {
	raw []byte // the bytes, until z is set
	z   []byte // the bytes compressed with flate, once sealed and compressed
	n   int    // len of the bytes, once sealed
}

// blobLog is an append-only store of byte strings, guarded by the lock of
// the store that holds it.
type blobLog struct {
	blocks []block
	// toCompress lists the sealed blocks not yet compressed; whoever
	// sealed them compresses them without the lock (store.compressSealed).
	toCompress []int
}

// reserve makes room for n bytes in the open block: when that would take
// a block that is not empty over blockSize, it seals the block, for
// compressSealed to compress, and opens another. Puts of at most n bytes
// in all that follow it land in one block, one after the other.
func (l *blobLog) reserve(n int) {
	if len(l.blocks) > 0 {
		b := &l.blocks[len(l.blocks)-1]
		if len(b.raw) == 0 || len(b.raw)+n <= blockSize {
			return
		}
		b.n = len(b.raw)
		l.toCompress = append(l.toCompress, len(l.blocks)-1)
		// A log that filled a block is a bulk one: give the next its
		// whole size at once rather than growing it.
		l.blocks = append(l.blocks, block{raw: make([]byte, 0, max(n, blockSize))})
		return
	}
	l.blocks = append(l.blocks, block{})
}

// put appends p to the open block, after reserve, and returns where it is.
func (l *blobLog) put(p []byte) span {
	if len(l.blocks) == 0 {
		l.blocks = append(l.blocks, block{})
	}
	i := len(l.blocks) - 1
	b := &l.blocks[i]
	sp := span{block: i, off: len(b.raw), n: len(p)}
	b.raw = append(b.raw, p...)
	return sp
}

// reader returns a reader of what l holds now; nil l holds nothing.
func (l *blobLog) reader() *blobReader {
	if l == nil {
		return &blobReader{cur: -1}
	}
	return &blobReader{blocks: slices.Clone(l.blocks), cur: -1}
}

// blobReader reads the spans of a snapshot of a blobLog, without the lock.
// It keeps the last block it decoded, so that spans read in order decode
// each block once.
type blobReader struct {
	blocks []block
	cur    int
	data   []byte
}

// get returns the bytes at sp, in memory the log does not share (the
// results of one reader may share an array, never overlapping, each capped
// at its length); a span the snapshot does not hold reads as nil.
func (r *blobReader) get(sp span) []byte {
	if sp.block < 0 || sp.block >= len(r.blocks) {
		return nil
	}
	if r.cur != sp.block {
		r.cur, r.data = sp.block, r.blocks[sp.block].bytes()
	}
	end := sp.off + sp.n
	if sp.off < 0 || sp.n < 0 || end > len(r.data) {
		return nil
	}
	return r.data[sp.off:end:end]
}

// bytes returns a copy of b's bytes, never nil.
func (b block) bytes() []byte {
	if b.z == nil {
		return append([]byte{}, b.raw...)
	}
	out := make([]byte, b.n)
	zr := inflater(b.z)
	// z is what deflate made of exactly b.n bytes in memory: reading it
	// back does not fail.
	_, _ = io.ReadFull(zr, out)
	flateReaders.Put(zr)
	return out
}

// flateWriters and flateReaders hold the (de)compressors, whose state is
// large next to a block's compressed bytes.
var flateWriters, flateReaders sync.Pool

// inflater returns a reader of the flate stream z.
func inflater(z []byte) io.ReadCloser {
	if zr, ok := flateReaders.Get().(io.ReadCloser); ok {
		if rs, ok := zr.(flate.Resetter); ok && rs.Reset(bytes.NewReader(z), nil) == nil {
			return zr
		}
	}
	return flate.NewReader(bytes.NewReader(z))
}

// deflate returns raw compressed with flate at blockLevel.
func deflate(raw []byte) []byte {
	var out bytes.Buffer
	w, ok := flateWriters.Get().(*flate.Writer)
	if ok {
		w.Reset(&out)
	} else {
		w, _ = flate.NewWriter(&out, blockLevel) // a valid level: no error
	}
	_, _ = w.Write(raw) // writes to a bytes.Buffer do not fail
	_ = w.Close()
	flateWriters.Put(w)
	return bytes.Clone(out.Bytes())
}
