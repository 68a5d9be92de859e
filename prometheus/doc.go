// Package promanalytics is a Prometheus collector over a
// [analytics.Client]'s own figures: the ledger of Client.Stats, read at each
// scrape, and a histogram of upload attempt durations, fed by an
// analytics.UploadObserver. It is a module of its own, so that
// client_golang stays out of the import graph of programs that do not use
// it.
//
// Three lines add it to a client:
//
//	m, err := promanalytics.New(prometheus.DefaultRegisterer, promanalytics.ClientName("shop"))
//	client, err := analytics.New(writeKey, m.Option())
//	err = m.Register(client) // and defer m.Close()
//
// The Option comes first because the upload observer must be given to
// analytics.New, while the Stats need the Client New returns. A Metrics is
// also a prometheus.Collector, for registries you manage yourself (give New
// a nil Registerer).
//
// # Metrics
//
// Every series has the const label client="<name>" when ClientName is
// given. Counters are totals since the client started.
//
//	Name                                              Type       Labels        Stats field
//	tracklane_analytics_messages_enqueued_total       counter                  Enqueued (recovered included)
//	tracklane_analytics_messages_delivered_total      counter                  Delivered
//	tracklane_analytics_messages_failed_total         counter    reason        FailedRejected, FailedExhausted, FailedDeadline
//	tracklane_analytics_messages_spooled_total        counter                  Spooled
//	tracklane_analytics_messages_refused_total        counter    reason        RefusedInvalid, RefusedTooLarge, RefusedQueueFull, RefusedClosed, RefusedSpool
//	tracklane_analytics_messages_recovered_total      counter                  Recovered
//	tracklane_analytics_messages_lost_total           counter                  SpoolLost
//	tracklane_analytics_spool_corrupt_segments_total  counter                  SpoolCorrupt
//	tracklane_analytics_queue_messages                gauge                    Queued
//	tracklane_analytics_queue_bytes                   gauge                    QueuedBytes
//	tracklane_analytics_queue_capacity_messages       gauge                    MaxQueued
//	tracklane_analytics_queue_capacity_bytes          gauge                    MaxQueuedBytes
//	tracklane_analytics_batches_total                 counter                  Batches (delivered)
//	tracklane_analytics_retries_total                 counter                  Retries
//	tracklane_analytics_rate_limited_total            counter                  RateLimited (429 answers)
//	tracklane_analytics_split_requests_total          counter                  SplitRequests
//	tracklane_analytics_upload_duration_seconds       histogram  result, code  one observation per upload attempt
//
// reason on messages_failed_total is rejected, retries_exhausted or
// deadline; on messages_refused_total it is invalid, too_large,
// queue_full, already_shutdown or spool (the values of error.type in the
// OpenTelemetry module). On upload_duration_seconds, result is the
// outcome of the attempt (delivered, retried, paused for a 429, exhausted, split,
// rejected) and code the HTTP status answered, or "none" when there was no
// answer (a network error or a timeout). Its buckets are 5 ms to 10 s (the
// ones OpenTelemetry's messaging conventions recommend).
//
// Queued messages are accepted messages without an outcome yet (queued, in
// flight, or waiting to retry); at every scrape enqueued == delivered +
// failed + spooled + queue_messages.
package promanalytics
