// Package outbox is a transactional outbox on PostgreSQL for the analytics
// client: a checkout handler writes its order and the order's event in one
// database transaction, so that the event exists if and only if the order
// commits, and relays deliver the committed events.
//
// It needs only database/sql: it works with any PostgreSQL driver (pgx's
// stdlib driver, lib/pq). The module github.com/tracklane/analytics/outbox/pgxoutbox
// adds pgx v5's native pgx.Tx, a LISTEN/NOTIFY Listener and a relay on a
// *pgxpool.Pool.
//
// # Writing
//
//	ob, err := outbox.New(client)                      // outbox.WithTable("shop.analytics_outbox")
//	err = ob.CreateSchema(ctx, db)                     // or run ob.Schema() / schema.sql in a migration
//
//	tx, err := db.BeginTx(ctx, nil)
//	_, err = tx.ExecContext(ctx, "INSERT INTO orders ...")
//	err = ob.Enqueue(ctx, tx, analytics.OrderCompleted(order))
//	err = tx.Commit()                                  // the order and its event, together
//
// Enqueue validates, stamps (messageId, timestamp, the client's default
// context) and encodes the message exactly as Client.Enqueue does, with the
// same errors, and stores the encoded bytes: every delivery attempt sends
// those bytes, so the same messageId, and Segment deduplicates on it. It
// also notifies the table's channel (pg_notify, delivered at commit;
// WithNotify(false) turns it off).
//
// # Relaying
//
//	relay, err := ob.NewRelay(db)                      // pgxoutbox.NewRelay(ob, pool) listens too
//	go relay.Run(ctx)
//	...
//	relay.Shutdown(ctx)                                // before client.Close(ctx)
//
// A relay claims up to 1,000 rows at a time (WithClaimBatch) in one short
// statement (UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)),
// which leases them to it for 30 s (WithLease, renewed while they are in
// flight), and hands them to the client with EnqueueEncoded. Any number of
// relays, in any number of processes, share one table; in normal running
// no row is sent twice. The client reports each message's final outcome,
// and the relay writes it back in batches (WHERE id = ANY($1)):
//
//   - delivered: the row is deleted;
//   - refused for good by the endpoint (analytics.ErrRejected, e.g. a 400
//     for that message): the row moves to the dead-letter table (the table's
//     name + "_dead") with the reason;
//   - not delivered this time (analytics.ErrRetriesExhausted: the client's
//     retries ran out; analytics.ErrDeadline): the row is given back with
//     its error in last_error, waits for the retry delay (WithRetryDelay,
//     doubling) and is claimed again, by any relay; after WithMaxAttempts
//     attempts (default 10) it moves to the dead letters.
//
// Memory is bounded: a relay holds at most WithMaxInFlight rows (default
// 2,000). When the client's queue stays full for a third of the lease (its
// endpoint is down and the queue is shared with the app's own events), the
// relay gives back the rows it could not hand over, for other relays, and
// claims again once the client reports outcomes (or after a backoff). A relay that dies leaves its rows leased; another relay claims
// them once the lease has passed. Database errors (a PostgreSQL restart, a
// failover) are retried with backoff: database/sql reconnects, and so does
// pgxoutbox.Listener. The relay wakes on notifications when it has a
// Listener, and polls every second (WithPollInterval) in any case, which
// also finds rows whose lease lapsed. Its own figures are in Stats:
// claimed, delivered, dead-lettered, retried, released, in flight, database
// errors, and the lag (the age of the oldest row).
//
// For a busy outbox give the relay's client more concurrent uploads
// (analytics.WithConcurrency(4)): the relay waits for outcomes before it
// claims more.
//
// Delivery is at least once. A message is sent again, with the same bytes,
// when a relay dies (or loses the database) after the endpoint accepted it
// and before the row was deleted; when its lease ends while it is still in
// the client (a database outage longer than the lease); or when Shutdown's
// context ends with rows in flight. Give the relay's client no spool
// (analytics.WithSpool): the table is the durable copy, and a Spooled
// outcome is treated as not delivered.
//
// # The tables, for the DBA
//
// Schema returns the DDL (schema.sql is the same for the default name):
// the outbox table, with id (identity, the primary key, the only index),
// message_id, type, event, data (the encoded message, bytea), created_at,
// attempts, claimed_until, claimed_by and last_error; and the dead-letter
// table, with the same columns plus reason and failed_at (indexed). Enqueue
// needs INSERT on the outbox (and nothing else); relays need SELECT,
// UPDATE and DELETE on it and SELECT and INSERT on the dead letters.
//
// The outbox is a queue table: small when healthy, with every row inserted,
// updated once per claim and deleted. What keeps it fast:
//
//   - fillfactor = 50: a claim changes no indexed column, so with room on
//     the page the update is HOT (no index writes, pruned on the page).
//   - Eager autovacuum on this table only (autovacuum_vacuum_scale_factor =
//     0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay =
//     0): dead tuples are removed every naptime (autovacuum_naptime, 1 min)
//     instead of at 20% of the table. ALTER TABLE ... SET (...) to change
//     them. Analyze thresholds are fixed too, so that statistics taken while
//     the table is empty do not stick.
//   - Watch for long transactions (idle in transaction, long reports on a
//     replica with hot_standby_feedback, forgotten replication slots): they
//     hold back the xmin horizon, vacuum cannot remove the deleted rows, and
//     each claim walks through them. Set idle_in_transaction_session_timeout
//     for the application's role. Monitor n_dead_tup in pg_stat_user_tables
//     and the relays' Lag.
//   - A backlog (an endpoint outage) is fine: claims use the primary key
//     from the oldest row. After a large backlog has drained, VACUUM (or
//     pg_repack) returns the space; VACUUM FULL locks the table, so do it
//     when no relay and no checkout runs.
//
// The dead-letter table only grows: purge it on a schedule, e.g.
//
//	DELETE FROM analytics_outbox_dead WHERE failed_at < now() - interval '30 days';
//
// and replay a dead letter (after fixing its cause) by inserting it back:
//
//	WITH d AS (DELETE FROM analytics_outbox_dead WHERE id = $1 RETURNING message_id, type, event, data, created_at)
//	INSERT INTO analytics_outbox (message_id, type, event, data, created_at) SELECT * FROM d;
//
// Table names are checked (lower-case identifiers, optionally
// schema-qualified; see WithTable), never interpolated from anything else,
// so no SQL can be injected through them.
package outbox
