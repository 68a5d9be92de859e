// Package analytics is a Go client for the Segment Ecommerce Events (v2)
// spec and the Segment HTTP Tracking API, and for any Segment-compatible
// collector (RudderStack, Jitsu, your own).
//
// # Lifecycle
//
// Create one *Client at start-up with New, share it between goroutines, and
// Close it on shutdown:
//
//	client, err := analytics.New(os.Getenv("SEGMENT_WRITE_KEY"))
//	if err != nil { ... }                        // *ConfigError: an invalid option
//	defer client.Close(shutdownCtx)              // delivers what is queued, until the ctx ends
//
//	ev := analytics.OrderCompleted(order)        // typed, spec-exact ecommerce events
//	ev.UserID = user.ID
//	if err := client.Enqueue(ev); err != nil { } // never blocks; the error says why it was refused
//
// Enqueue validates the message, stamps messageId, timestamp and
// context.library, encodes it to JSON once and queues it. A batcher
// goroutine cuts batches by count (WithBatchSize), by bytes (500,000 bytes
// at most) and by time (WithFlushInterval), and uploader goroutines
// (WithConcurrency) post them to {endpoint}/v1/batch, retrying network
// errors, 5xx (not 501/505), 408, 410, 429 and 460 with jittered
// exponential backoff; a 429's Retry-After pauses every upload; a 413
// splits the batch. Flush delivers everything enqueued before it; Close
// stops intake and delivers the rest.
//
// # Delivery guarantees
//
// Every message Enqueue accepts ends in exactly one outcome, counted in
// Stats and reported to the delivery callback (WithDeliveryCallback;
// without one, failures are logged):
//   - Delivered: the endpoint answered 2xx for its batch.
//   - Failed: the endpoint refused it with a status never retried
//     (ErrRejected), its retry budget ran out (ErrRetriesExhausted), or
//     Close's context ended first (ErrDeadline).
//
// A message Enqueue refuses (invalid, too large, queue full, closed) is
// reported as Refused and counted too; the caller also gets the error.
// Delivery is at-least-once: a batch whose answer was lost is sent again
// with the same messageIds, and Segment deduplicates on messageId.
// Messages live in memory only: a process that crashes loses what is
// queued.
//
// # Concurrency and contexts
//
// Every method of Client is safe for concurrent use. Enqueue, the hot path,
// takes no context and never waits: a full queue refuses with ErrQueueFull.
// Every method that may wait (Flush, Close, Transport.Send) takes a
// context.Context and returns when it ends. No goroutine of the client
// outlives Close.
//
// # Testing
//
// Package analyticstest provides a Recorder transport and a fake
// Segment-compatible Server, so tests can assert on what was sent.
package analytics
