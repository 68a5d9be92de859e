// Command tracklane sends Segment calls from the command line, backfills
// historical NDJSON with no loss, and validates files offline, with the
// tracklane/analytics client.
//
//	tracklane send track --user-id u1 --event "Signed Up" --properties '{"plan":"pro"}'
//	echo '{"type":"identify","userId":"u1","traits":{"email":"a@b.c"}}' | tracklane send
//	tracklane import --checkpoint orders.ckpt orders.ndjson
//	tracklane validate orders.ndjson
//
// Run "tracklane help" for the commands and their flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// Exit codes.
const (
	exitOK     = 0 // everything delivered (or valid)
	exitFailed = 1 // something failed, was refused, or is invalid
	exitUsage  = 2 // bad command line, unreadable input, bad configuration
)

const usage = `tracklane: send Segment calls, backfill NDJSON, validate offline.

Usage:
  tracklane send [TYPE] [flags]      one call from flags (TYPE: track, identify, page,
                                     screen, group, alias), or one JSON message on stdin
  tracklane import [flags] FILE|-    backfill NDJSON, one Segment message per line
  tracklane validate [flags] FILE|-  check NDJSON offline with the strict collector's rules
  tracklane help [COMMAND]

The write key comes from --write-key or SEGMENT_WRITE_KEY (prefer the
variable: command lines are visible to other users). It is never printed.
--dry-run sends to a strict collector embedded in the process instead
(analyticstest.Server): nothing leaves the machine, and what it finds
wrong is reported.

Exit status: 0 all delivered (or valid), 1 anything failed, was refused or
is invalid, 2 usage or input errors.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs one command and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	switch args[0] {
	case "send":
		return cmdSend(ctx, env, args[1:])
	case "import":
		return cmdImport(ctx, env, args[1:])
	case "validate":
		return cmdValidate(ctx, env, args[1:])
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdin, stdout, stderr, getenv)
		}
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "tracklane: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// environment is what a command reads and writes.
type environment struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func (e *environment) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "tracklane: "+format+"\n", args...)
}

// dest is where messages go: the flags every sending command shares.
type dest struct {
	endpoint string
	writeKey string
	dryRun   bool
	gzip     bool
}

func (d *dest) register(fs *flag.FlagSet) {
	fs.StringVar(&d.endpoint, "endpoint", analytics.DefaultEndpoint, "base URL of the Segment-compatible API (batches go to ENDPOINT/v1/batch)")
	fs.StringVar(&d.writeKey, "write-key", "", "Segment write key (default: $SEGMENT_WRITE_KEY); never printed")
	fs.BoolVar(&d.dryRun, "dry-run", false, "send to an embedded strict collector instead of ENDPOINT; report what it finds")
	fs.BoolVar(&d.gzip, "gzip", true, "gzip request bodies")
}

// collector is where a command's client sends: the real endpoint, or the
// embedded one of --dry-run.
type collector struct {
	srv *analyticstest.Server // nil unless --dry-run
}

// newClient returns a client for d with opts added, and the dry-run
// collector if any. Errors never contain the write key.
func (d *dest) newClient(env *environment, opts ...analytics.Option) (*analytics.Client, *collector, error) {
	key := d.writeKey
	if key == "" {
		key = env.getenv("SEGMENT_WRITE_KEY")
	}
	col := &collector{}
	endpoint := d.endpoint
	if d.dryRun {
		if key == "" {
			key = "dry-run"
		}
		col.srv = analyticstest.NewServer(key, analyticstest.WithCountsOnly())
		endpoint = col.srv.URL
	} else if key == "" {
		return nil, nil, errors.New("no write key: set SEGMENT_WRITE_KEY or --write-key (or use --dry-run)")
	}
	all := append([]analytics.Option{
		analytics.WithEndpoint(endpoint),
		analytics.WithGzip(d.gzip),
		analytics.WithLogger(slog.New(slog.DiscardHandler)), // outcomes are reported through the callback
	}, opts...)
	c, err := analytics.New(key, all...)
	if err != nil {
		col.close()
		return nil, nil, err
	}
	return c, col, nil
}

func (c *collector) close() {
	if c != nil && c.srv != nil {
		c.srv.Close()
	}
}

// report prints what the dry-run collector found and returns the number
// of violations.
func (c *collector) report(w io.Writer) int {
	if c == nil || c.srv == nil {
		return 0
	}
	vs := c.srv.Violations()
	fmt.Fprintf(w, "dry run: the embedded collector accepted %d message(s), %d duplicate(s), %d violation(s)\n",
		c.srv.Len(), c.srv.Duplicates(), len(vs))
	for i, v := range vs {
		if i == 20 {
			fmt.Fprintf(w, "  ... and %d more\n", len(vs)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", v)
	}
	return len(vs)
}

// newFlagSet returns a FlagSet that reports to env.stderr.
func newFlagSet(env *environment, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprint(env.stderr, synopsis)
		fmt.Fprintln(env.stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageCode is the exit status of a flag parse error (0 for -h).
func usageCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}
