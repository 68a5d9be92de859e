// Package otelanalytics reports a [analytics.Client]'s own figures (the
// ledger of Client.Stats and the duration of every upload attempt) as
// OpenTelemetry metrics. It is a module of its own, so that OpenTelemetry
// stays out of the import graph of programs that do not use it.
//
// Three lines add it to a client:
//
//	m, err := otelanalytics.New(meterProvider, otelanalytics.ClientName("shop"))
//	client, err := analytics.New(writeKey, m.Option())
//	err = m.Register(client) // and defer m.Close()
//
// The Option comes first because the upload observer must be given to
// analytics.New, while the Stats callback needs the Client New returns.
//
// # Metrics
//
// Every measurement has tracklane.analytics.client.name when ClientName is
// given. Counters are cumulative totals since the client started; the
// queue figures are observed at each collection.
//
//	Name                                     Instrument               Unit        Attributes
//	messaging.client.sent.messages           ObservableCounter        {message}   messaging.system=segment, messaging.operation.name=send, error.type (failed only)
//	messaging.client.operation.duration      Histogram                s           messaging.system, messaging.operation.name, tracklane.analytics.upload.result, http.response.status_code (when answered), error.type (failed attempts)
//	tracklane.analytics.processed            ObservableCounter        {message}   tracklane.analytics.outcome, error.type (failed and refused)
//	tracklane.analytics.enqueued             ObservableCounter        {message}
//	tracklane.analytics.recovered            ObservableCounter        {message}
//	tracklane.analytics.spool.corrupt        ObservableCounter        {segment}
//	tracklane.analytics.spool.lost           ObservableCounter        {message}
//	tracklane.analytics.batches              ObservableCounter        {batch}
//	tracklane.analytics.retries              ObservableCounter        {attempt}
//	tracklane.analytics.rate_limited         ObservableCounter        {response}
//	tracklane.analytics.split_requests       ObservableCounter        {request}
//	tracklane.analytics.queue.size           ObservableUpDownCounter  {message}
//	tracklane.analytics.queue.capacity       ObservableUpDownCounter  {message}
//	tracklane.analytics.queue.data.size      ObservableUpDownCounter  By
//	tracklane.analytics.queue.data.capacity  ObservableUpDownCounter  By
//
// What each one counts, from the Stats field it reads:
//
//   - messaging.client.sent.messages: Delivered (no error.type), and
//     FailedRejected, FailedExhausted, FailedDeadline (error.type rejected,
//     retries_exhausted, deadline): messages whose sending ended.
//   - messaging.client.operation.duration: one measurement per upload
//     attempt, the time the Transport took. tracklane.analytics.upload.result
//     is what became of the attempt: delivered, retried, paused (a 429), exhausted (the retry budget ran out),
//     split or rejected. error.type is the status code ("503") when the
//     endpoint answered, "timeout" when the attempt's deadline ended it,
//     "_OTHER" for another error without an answer. Buckets: the ones the
//     messaging conventions recommend, 5 ms to 10 s.
//   - tracklane.analytics.processed: every message's outcome.
//     tracklane.analytics.outcome=delivered (Delivered), spooled (Spooled),
//     failed with error.type rejected, retries_exhausted or deadline (the
//     Failed* fields), refused with error.type invalid, too_large,
//     queue_full, already_shutdown or spool (the Refused* fields).
//   - tracklane.analytics.enqueued: Enqueued (recovered messages included);
//     recovered: Recovered; spool.corrupt: SpoolCorrupt; spool.lost:
//     SpoolLost.
//   - tracklane.analytics.batches: Batches (delivered); retries: Retries;
//     rate_limited: RateLimited (429 answers); split_requests: SplitRequests.
//   - tracklane.analytics.queue.size and queue.data.size: Queued and
//     QueuedBytes (accepted messages without an outcome yet, queued, in
//     flight or waiting to retry); queue.capacity and queue.data.capacity:
//     MaxQueued and MaxQueuedBytes (the WithMaxQueue bounds).
//
// At every collection, the tracklane.analytics.processed sums obey the
// ledger's invariant: enqueued == delivered + failed + spooled + queue.size.
//
// # Names
//
// Where OpenTelemetry's semantic conventions define a metric for what is
// measured, it is used: the messaging client conventions for sent
// messages and the duration of a send. The queue and outcome figures
// follow the shape of the SDK's own self-observability metrics
// (otel.sdk.processor.*.queue.size, .queue.capacity and .processed with
// error.type, and the same error.type values queue_full and
// already_shutdown), under this library's namespace: the otel.* namespace
// and otel.component.* attributes are reserved for OpenTelemetry's own
// components. These conventions are still in development; the names here
// are this package's API and change only with a major version.
//
// Exported through Prometheus, OpenTelemetry's names become, for example,
// tracklane_analytics_processed_total and
// messaging_client_operation_duration_seconds; the prometheus module of
// this repository offers native Prometheus names instead.
package otelanalytics
