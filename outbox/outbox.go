package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/tracklane/analytics"
)

// DefaultTable is the outbox table's name when WithTable is not given. The
// dead-letter table is named after it with the suffix "_dead".
const DefaultTable = "analytics_outbox"

// Sentinel errors; test with errors.Is.
var (
	// ErrNilTx: Enqueue was given a nil transaction.
	ErrNilTx = errors.New("outbox: transaction is nil")
	// ErrNilClient: New was given a nil *analytics.Client.
	ErrNilClient = errors.New("outbox: client is nil")
	// ErrInvalidTable: WithTable was given a name that is not a plain
	// PostgreSQL identifier (see WithTable).
	ErrInvalidTable = errors.New("outbox: invalid table name")
	// ErrWrite: the database refused the outbox row. It wraps the driver's
	// error (sql.ErrTxDone for a committed or rolled-back transaction). In
	// PostgreSQL a failed statement aborts the transaction: roll it back.
	ErrWrite = errors.New("outbox: writing the message failed")
	// ErrRelayRunning: Run was called on a Relay that runs or has run.
	ErrRelayRunning = errors.New("outbox: relay already started")
	// ErrNilDB: NewRelay was given a nil *sql.DB.
	ErrNilDB = errors.New("outbox: database is nil")
)

// Outbox writes messages into an outbox table inside the caller's
// transactions, encoded by an *analytics.Client exactly as Client.Enqueue
// encodes them, and makes relays that deliver the committed rows. Create it
// with New; it is safe for concurrent use and holds no resources (nothing to
// close).
type Outbox struct {
	client *analytics.Client
	names  names
	notify bool
	insert string
}

// Option configures New.
type Option interface {
	apply(*Outbox) error
}

type optionFunc func(*Outbox) error

func (f optionFunc) apply(o *Outbox) error { return f(o) }

// identRE is a plain, unquoted PostgreSQL identifier of at most 57 bytes
// (so that the "_dead" suffix and index names stay within PostgreSQL's
// 63-byte limit).
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,56}$`)

// WithTable sets the outbox table: a lower-case PostgreSQL identifier
// ([a-z_][a-z0-9_]*, at most 57 bytes), optionally qualified by a schema
// ("shop.analytics_outbox"). The dead-letter table is the same name with
// "_dead" appended, and the LISTEN/NOTIFY channel is the (qualified) name.
// Default DefaultTable in the search_path's first schema. Any other name
// makes New fail with an error wrapping ErrInvalidTable: names are checked,
// never quoted from user input, so no SQL can be injected through them.
func WithTable(name string) Option {
	return optionFunc(func(o *Outbox) error {
		n, err := parseNames(name)
		if err != nil {
			return err
		}
		o.names = n
		return nil
	})
}

// WithNotify chooses whether Enqueue also calls pg_notify on the table's
// channel, so that relays listening (see Listener) wake at the commit
// instead of at their next poll. Default true. PostgreSQL folds identical
// notifications of one transaction into one, but committing a transaction
// that notified takes a cluster-wide lock briefly; at thousands of
// committing transactions per second turn it off and let relays poll
// (WithPollInterval).
func WithNotify(enabled bool) Option {
	return optionFunc(func(o *Outbox) error {
		o.notify = enabled
		return nil
	})
}

// New returns an Outbox that encodes with client (its clock, messageId
// function, default context and size limit) and writes to the table set by
// WithTable. It fails with ErrNilClient for a nil client, and with the
// option's error for an invalid option (ErrInvalidTable). The tables are not
// created: run Schema's SQL, or CreateSchema, first.
func New(client *analytics.Client, opts ...Option) (*Outbox, error) {
	if client == nil {
		return nil, ErrNilClient
	}
	n, err := parseNames(DefaultTable)
	if err != nil {
		return nil, err
	}
	o := &Outbox{client: client, names: n, notify: true}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("outbox: nil Option")
		}
		if err := opt.apply(o); err != nil {
			return nil, err
		}
	}
	o.insert = "INSERT INTO " + o.names.table + " (message_id, type, event, data) VALUES ($1::text, $2::text, $3::text, $4::bytea)"
	if o.notify {
		// One round trip: a data-modifying WITH runs whatever the outer
		// query reads, and the notification is delivered at commit.
		o.insert = "WITH i AS (" + o.insert + ") SELECT pg_notify($5::text, '')"
	}
	return o, nil
}

// Table returns the outbox table's name, as given to WithTable.
func (o *Outbox) Table() string { return o.names.plain }

// Channel returns the LISTEN/NOTIFY channel Enqueue notifies (the table's
// name, as given to WithTable).
func (o *Outbox) Channel() string { return o.names.plain }

// Statement is the SQL that writes one message into the outbox, for drivers
// outside database/sql (pgxoutbox uses it with pgx.Tx): execute SQL with
// Args in the caller's transaction. Enqueue does exactly this.
type Statement struct {
	SQL  string
	Args []any
	// Info identifies the message (its MessageID is the one every delivery carries).
	Info analytics.MessageInfo
}

// Statement validates, stamps and encodes msg as Client.Enqueue does (same
// errors: *analytics.ValidationError, *analytics.TooLargeError,
// analytics.ErrNilMessage, ...) and returns the statement that stores it.
func (o *Outbox) Statement(msg analytics.Message) (Statement, error) {
	e, err := o.client.Encode(msg)
	if err != nil {
		return Statement{}, err
	}
	args := []any{e.Info.MessageID, e.Info.Type, e.Info.Event, e.Data}
	if o.notify {
		args = append(args, o.names.plain)
	}
	return Statement{SQL: o.insert, Args: args, Info: e.Info}, nil
}

// Enqueue validates, stamps and encodes msg exactly as Client.Enqueue does
// and writes it into the outbox inside tx, so that the message exists if and
// only if tx commits; a relay delivers it after the commit, with the
// messageId stamped here on every attempt.
//
// Errors: ErrNilTx for a nil tx; the client's own refusal
// (*analytics.ValidationError, *analytics.TooLargeError,
// analytics.ErrNilMessage), returned before tx is touched; an error
// wrapping ErrWrite and the driver's error when the database refuses the row
// (sql.ErrTxDone when tx is already committed or rolled back). In every case
// tx is left for the caller to roll back (after a database error PostgreSQL
// accepts nothing else in it). A nil ctx is treated as context.Background().
func (o *Outbox) Enqueue(ctx context.Context, tx *sql.Tx, msg analytics.Message) error {
	if tx == nil {
		return ErrNilTx
	}
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := o.Statement(msg)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	return nil
}

// names are the validated, quoted SQL names of one outbox.
type names struct {
	plain     string // as given: "analytics_outbox" or "shop.analytics_outbox"
	table     string // quoted: "analytics_outbox"
	dead      string // quoted dead-letter table
	deadIndex string // quoted name of the dead-letter table's failed_at index (unqualified)
}

func parseNames(name string) (names, error) {
	schema, table, qualified := strings.Cut(name, ".")
	if !qualified {
		schema, table = "", name
	}
	if !identRE.MatchString(table) || (qualified && !identRE.MatchString(schema)) {
		return names{}, fmt.Errorf("%w: %q: want a lower-case identifier [a-z_][a-z0-9_]* of at most 57 bytes, optionally schema-qualified", ErrInvalidTable, name)
	}
	prefix := ""
	if qualified {
		prefix = `"` + schema + `".`
	}
	return names{
		plain:     name,
		table:     prefix + `"` + table + `"`,
		dead:      prefix + `"` + table + `_dead"`,
		deadIndex: `"` + table + `_dead_failed_at"`,
	}, nil
}
