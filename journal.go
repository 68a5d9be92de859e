package analytics

// journaler is the seam between the batcher and durable storage: a message
// is appended when it is accepted (before Enqueue returns), acknowledged
// when it has a final outcome, and replayed by the next client when it was
// not. Its methods are safe for concurrent use and are never called with a
// lock of the batcher held.
type journaler interface {
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
