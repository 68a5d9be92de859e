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
// context.library, encodes it to JSON once and queues it. A dispatcher
// goroutine cuts batches by count (WithBatchSize), by bytes (500,000 bytes
// at most) and by time (WithFlushInterval), and uploader goroutines
// (WithConcurrency) post them to {endpoint}/v1/batch. One delivery policy
// decides what each answer means (the table is in the README and in the
// HTTPError doc): network errors, 5xx (not 501/505/511), 408, 410 and 460
// are retried with jittered exponential backoff; a 429 pauses every upload
// for its Retry-After; a 413 or a 400 splits the batch (a 400 within
// 2·(k+1)·⌈log₂ n⌉ + 2 extra requests for k refused messages, so that a
// poison message costs only itself). Flush delivers everything enqueued
// before it; Close stops intake and delivers the rest. EnqueueContext is
// Enqueue that waits for room, for backfills and batch jobs.
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
//
// By default messages live in memory only: a process that crashes loses
// what is queued. With WithSpool, Enqueue writes each message to an
// append-only log on disk before it returns; what was not delivered when
// the process stopped (even by SIGKILL), or when its retries ran out, is
// delivered first by the next Client started on the same directory
// (outcome Spooled in this run).
//
// # Ecommerce events
//
// The 28 events of the Ecommerce v2 spec have typed constructors named
// after them (ProductViewed, ProductAdded, CheckoutStarted,
// CheckoutStepCompleted, OrderCompleted, ...). They return a Track whose
// properties are encoded with the spec's snake_case names and JSON types;
// see Product for the rules on zero values, and Amount to convert minor
// units.
//
// # net/http
//
// Middleware records each request; in a handler, RequestContext(r.Context())
// returns the message context (ip, userAgent, locale, page, campaign) to set
// on an event: one extra line. Forwarding headers are believed only from the
// proxies given to TrustProxies. ContextFromRequest does the same without
// the middleware.
//
// # Concurrency and contexts
//
// Every method of Client is safe for concurrent use. Enqueue, the hot path,
// takes no context and never waits: a full queue refuses with a
// *QueueFullError (errors.Is(err, ErrQueueFull)). Every method that may
// wait (EnqueueContext, EnqueueEncoded, Flush, Close, Transport.Send) takes
// a context.Context and returns when it ends; a nil context is
// context.Background(). No goroutine of the client outlives Close (but for
// a delivery callback or a Transport that does not return).
//
// # Stats and expvar
//
// Stats returns every counter from one ledger; to publish them with
// expvar:
//
//	expvar.Publish("analytics", expvar.Func(func() any { return client.Stats() }))
//
// # Testing
//
// Package analyticstest provides a Recorder transport and a fake
// Segment-compatible Server, so tests can assert on what was sent.
package analytics
