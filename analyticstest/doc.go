// Package analyticstest provides test doubles for code that uses
// github.com/tracklane/analytics, in the manner of net/http/httptest.
//
// # Recorder: no network
//
// A Recorder is an in-memory analytics.Transport. Give it to the client and
// assert on what was sent:
//
//	rec := analyticstest.NewRecorder()
//	client, _ := analytics.New("test-key", analytics.WithTransport(rec))
//	defer client.Close(ctx)
//
//	handler(client)             // the code under test
//	client.Flush(ctx)           // or rec.WaitFor(ctx, 1) when the client flushes on its own
//
//	orders := rec.Tracks("Order Completed")
//	if len(orders) != 1 || orders[0].Properties["order_id"] != "50314b8e" {
//		t.Fatalf("sent %v", rec.Messages())
//	}
//
// Messages are decoded into Message values: the common fields typed,
// properties, traits and context as maps (numbers as float64), Products
// and DecodeProperties for typed access. Every delivered message is also
// checked with Validate; Violations lists what is wrong with the wire
// format. FailNext and FailNextStatus script failures of the next sends
// (a 503, a 429 with Retry-After, a network error) to exercise retries and
// the caller's error handling; Attempts shows every send, failed or not.
//
// # Server: over HTTP
//
// A Server is a fake Segment-compatible endpoint on a loopback port:
//
//	srv := analyticstest.NewServer("test-key")
//	defer srv.Close()
//	client, _ := analytics.New("test-key", analytics.WithEndpoint(srv.URL))
//
// It checks requests as a strict collector would (see Server for the
// list), answers 400 or 401 as Segment does, records accepted messages once
// per messageId, counts redeliveries (Duplicates) and keeps every request
// (Requests) and failed check (Violations). WithRejectViolations(false)
// accepts invalid messages and only records what is wrong with them;
// WithBodyLimit changes the body limit and its status (413 for
// RudderStack-like servers).
//
// Faults are queued with Respond, one per request, and compose:
//
//	srv.Respond(
//		analyticstest.Status(500).Times(2),                    // two 500s
//		analyticstest.Status(429).RetryAfter(2*time.Second),   // rate limited (RetryAt for the HTTP-date form)
//		analyticstest.Hang(),                                  // until the client gives up or Close
//		analyticstest.Disconnect(),                            // connection closed, no answer
//		analyticstest.ProcessThenDisconnect(),                 // recorded, then the answer is lost
//		analyticstest.Process().Delay(100*time.Millisecond),   // slow but fine
//	)
//
// Status(503).Always() answers every request from then on (an outage),
// until ClearFaults or Reset.
//
// Messages of a request that failed are never counted as delivered.
// WaitFor waits for delivered messages and WaitRequests for arriving
// requests, without sleeping; Close blocks until every request has
// finished and ends hung ones.
//
// # Bulk runs
//
// A load test or a backfill of hundreds of thousands of messages needs no
// option: a body in which the checks find nothing is proven so in one pass
// over its bytes, and messages and request bodies are kept as their bytes,
// compressed many requests to a block (repetitive JSON shrinks 30-60
// times), and decoded when read: 300,000 Order Completed of 1.3 KB, 392 MB
// on the wire, keep about 7 MB of compressed bytes and 20 MB of index.
// To keep memory in the tens of MB, NewServer(key, WithCountsOnly()) and
// NewRecorder(RecorderCountsOnly()) keep only counts, duplicates (as
// 16-byte hashes of the messageIds) and violations; every check is still
// made.
//
// # Validation alone
//
// Validate (one message) and ValidateBatch (a /v1/batch body) run the same
// checks as the Server and return []Violation, each naming the message, the
// JSON path of the field and the Rule it breaks.
//
// All types are safe for concurrent use. The package keeps no global state.
package analyticstest
