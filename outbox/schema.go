package outbox

import (
	"context"
	"database/sql"
	_ "embed" // schema.sql
	"fmt"
	"strings"
)

// schemaSQL is the DDL of the outbox named DefaultTable: the file
// schema.sql, which users may also run themselves.
//
//go:embed schema.sql
var schemaSQL string

// schemaTemplate is schemaSQL with the default names as {table}, {dead}
// and {dead_index}, which schema replaces by validated, quoted names.
var schemaTemplate = func() string {
	d, err := parseNames(DefaultTable)
	if err != nil {
		panic(err) // unreachable: DefaultTable is a valid name (TestTableNames)
	}
	return strings.NewReplacer(d.deadIndex, "{dead_index}", d.dead, "{dead}", d.table, "{table}").Replace(schemaSQL)
}()

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
