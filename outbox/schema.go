package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// schemaTemplate is the DDL of one outbox; {table}, {dead} and {dead_index}
// are replaced by validated, quoted names. schema.sql is this text for
// DefaultTable (a test keeps them equal).
const schemaTemplate = `-- The outbox: one row per message written by Enqueue, removed once delivered.
-- A queue table: small when healthy, every row inserted, updated once per
-- claim (a HOT update: no indexed column changes, and fillfactor leaves the
-- room on the page) and deleted. Autovacuum is made eager for it.
CREATE TABLE IF NOT EXISTS {table} (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text        NOT NULL,
    type          text        NOT NULL,
    event         text        NOT NULL DEFAULT '',
    data          bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    claimed_until timestamptz,
    claimed_by    text,
    last_error    text
) WITH (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 50000
);

-- Messages that failed for good: refused by the endpoint, or out of relay
-- attempts. Kept for inspection and replay; purge them by failed_at.
CREATE TABLE IF NOT EXISTS {dead} (
    id          bigint      PRIMARY KEY,
    message_id  text        NOT NULL,
    type        text        NOT NULL,
    event       text        NOT NULL DEFAULT '',
    data        bytea       NOT NULL,
    created_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL,
    reason      text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {dead_index} ON {dead} (failed_at);
`

// Schema returns the SQL that creates the outbox table named table and its
// dead-letter table (CREATE TABLE IF NOT EXISTS, so it can run at every
// start), or an error wrapping ErrInvalidTable when table is not a valid
// name (see WithTable). Run it with a role that may create tables; the
// Enqueue needs INSERT on the outbox; relays need SELECT, UPDATE and
// DELETE on it, and SELECT and INSERT on the dead-letter table. The file schema.sql is its text for
// DefaultTable.
func Schema(table string) (string, error) {
	n, err := parseNames(table)
	if err != nil {
		return "", err
	}
	return n.schema(), nil
}

// Schema returns the SQL that creates this outbox's tables (see the
// package function Schema).
func (o *Outbox) Schema() string { return o.names.schema() }

// CreateSchema runs Schema's SQL on db, in one transaction (under an
// advisory lock, so that instances starting together do not race).
func (o *Outbox) CreateSchema(ctx context.Context, db *sql.DB) error {
	if db == nil {
		return ErrNilDB
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("outbox: creating the schema: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Serialise concurrent starts: CREATE ... IF NOT EXISTS races otherwise.
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext($1::text))", "tracklane-outbox:"+o.names.plain); err != nil {
		return fmt.Errorf("outbox: creating the schema: %w", err)
	}
	for _, stmt := range strings.Split(o.Schema(), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("outbox: creating the schema: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("outbox: creating the schema: %w", err)
	}
	return nil
}

func (n names) schema() string {
	return strings.NewReplacer("{table}", n.table, "{dead}", n.dead, "{dead_index}", n.deadIndex).Replace(schemaTemplate)
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
