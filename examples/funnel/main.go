// Command funnel simulates shoppers going through an ecommerce funnel
// (Product Viewed, Product Added, Checkout Started, Checkout Step Completed,
// Order Completed, with coupons and refunds), sends their events through an
// analytics.Client, and prints a funnel table computed from what the
// endpoint received, with the client's Stats.
//
// By default it sends to a Segment-compatible collector embedded in the
// process (analyticstest.Server, which checks every message as a strict
// collector would), so it needs no account and no network:
//
//	go run ./examples/funnel
//	go run ./examples/funnel -shoppers 100000 -seed 7
//
// With -endpoint it sends to a real one; the write key comes from -write-key
// or SEGMENT_WRITE_KEY, and the table from what the client reports
// delivered:
//
//	SEGMENT_WRITE_KEY=... go run ./examples/funnel -endpoint https://api.segment.io -shoppers 50
//
// The exit status is 0 when every message sent was delivered (and, with the
// embedded collector, received exactly once and without a violation), 1 when
// anything was lost, and 2 for bad flags.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

type config struct {
	shoppers int
	seed     uint64
	endpoint string // "": the embedded collector
	writeKey string
	timeout  time.Duration // for the final Flush and Close

	// Set by tests only.
	clientOpts []analytics.Option
	collector  *analyticstest.Server // the embedded collector; nil: a new one
	progress   time.Duration         // how often to report progress; 0: every second
}

// run parses args and runs the simulation; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("funnel", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.IntVar(&cfg.shoppers, "shoppers", 1000, "number of simulated shoppers")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed: the same seed simulates the same shoppers")
	fs.StringVar(&cfg.endpoint, "endpoint", "", "base URL of a real Segment-compatible endpoint, e.g. https://api.segment.io (default: an embedded collector)")
	fs.StringVar(&cfg.writeKey, "write-key", "", "write key for -endpoint (default $SEGMENT_WRITE_KEY)")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "how long the final flush and close may take")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: funnel [flags]\n\nSimulates an ecommerce funnel and prints what the endpoint received.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "funnel: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.writeKey == "" && cfg.endpoint != "" {
		cfg.writeKey = getenv("SEGMENT_WRITE_KEY")
	}
	switch {
	case cfg.shoppers < 0:
		fmt.Fprintln(stderr, "funnel: -shoppers must be 0 or more")
		return 2
	case cfg.timeout <= 0:
		fmt.Fprintln(stderr, "funnel: -timeout must be positive")
		return 2
	case cfg.endpoint != "" && cfg.writeKey == "":
		fmt.Fprintln(stderr, "funnel: -endpoint needs a write key: -write-key or SEGMENT_WRITE_KEY")
		return 2
	}
	return simulate(ctx, cfg, stdout, stderr)
}

// Back-pressure: the simulation produces events faster than any network
// takes them, so it queues them with EnqueueContext, which waits for room
// when the queue is at its bound (Enqueue, for request handlers, never
// waits and refuses with ErrQueueFull instead).
const (
	// The embedded collector keeps every request and message in memory; every
	// drainEvery messages the run flushes, counts what it received and resets
	// it, so long runs stay bounded. (Reset also drops scripted faults.)
	drainEvery = 50_000
)

// delivered collects what the client reports delivered, by messageId.
type delivered struct {
	mu      sync.Mutex
	sent    map[string]record // every message enqueued
	tally   *tally            // those delivered
	failed  int
	reasons map[string]int
}

func (d *delivered) report(rep analytics.Report) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range rep.Messages {
		switch rep.Outcome {
		case analytics.Delivered:
			if r, ok := d.sent[m.MessageID]; ok {
				d.tally.add(r)
			}
		case analytics.Failed:
			d.failed++
			d.reasons[fmt.Sprint(rep.Err)]++
		case analytics.Refused:
			continue // EnqueueContext returned it too; the loop counts it
		}
		delete(d.sent, m.MessageID) // it has its outcome: keep memory bounded
	}
}

func simulate(ctx context.Context, cfg config, stdout, stderr io.Writer) int {
	start := time.Now()
	dest := cfg.endpoint
	srv := cfg.collector
	if dest == "" {
		cfg.writeKey = "funnel-demo-write-key"
		if srv == nil {
			srv = analyticstest.NewServer(cfg.writeKey)
			defer srv.Close()
		}
		dest = srv.URL
	}

	d := &delivered{sent: make(map[string]record), tally: newTally(), reasons: make(map[string]int)}
	opts := append([]analytics.Option{
		analytics.WithEndpoint(dest),
		analytics.WithDeliveryCallback(d.report),
		analytics.WithDefaultContext(&analytics.Context{Channel: "server"}),
	}, cfg.clientOpts...)
	client, err := analytics.New(cfg.writeKey, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "funnel:", err)
		return 2
	}
	closed := false
	closeClient := func() error {
		if closed {
			return nil
		}
		closed = true
		cctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		return client.Close(cctx)
	}
	defer func() { _ = closeClient() }() // on the error paths; the normal path checks it below

	// What the embedded collector received, drained as the run goes.
	received := newTally()
	var violations, duplicates int
	drain := func() {
		if srv == nil {
			return
		}
		for _, m := range srv.Messages() {
			received.add(recordOf(m))
		}
		violations += len(srv.Violations())
		duplicates += srv.Duplicates()
		srv.Reset()
	}
	flush := func() {
		fctx, cancel := context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
		if err := client.Flush(fctx); err != nil {
			fmt.Fprintln(stderr, "funnel: flush:", err)
		}
	}

	expected := newTally()
	rng := mrand.New(mrand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	every := cfg.progress
	if every <= 0 {
		every = time.Second
	}
	lastReport, reported := start, false
	enqueued, drained, refused := 0, 0, 0
shoppers:
	for n := range cfg.shoppers {
		for _, s := range shopper(rng, n) {
			s.ev.MessageID = newMessageID()
			d.mu.Lock()
			d.sent[s.ev.MessageID] = s.rec
			d.mu.Unlock()
			if srv != nil && enqueued-drained >= drainEvery {
				// Flush returns when every message enqueued so far has its
				// outcome: no request is in flight while the collector is reset.
				flush()
				drain()
				drained = enqueued
			}
			if err := client.EnqueueContext(ctx, s.ev); err != nil {
				refused++
				d.mu.Lock()
				delete(d.sent, s.ev.MessageID)
				d.mu.Unlock()
				fmt.Fprintln(stderr, "funnel: enqueue:", err)
				if ctx.Err() != nil {
					break shoppers // interrupted: stop producing, then close with what was queued
				}
				continue
			}
			expected.add(s.rec)
			enqueued++
		}
		if now := time.Now(); now.Sub(lastReport) >= every {
			st := client.Stats()
			fmt.Fprintf(stderr, "funnel: %d/%d shoppers, %d events enqueued, %d delivered\n", n+1, cfg.shoppers, st.Enqueued, st.Delivered)
			lastReport, reported = now, true
		}
	}
	closeErr := closeClient()
	if closeErr != nil {
		fmt.Fprintln(stderr, "funnel: close:", closeErr)
	}
	st := client.Stats()
	if reported {
		fmt.Fprintf(stderr, "funnel: done: %d events in %s\n", st.Enqueued, time.Since(start).Round(time.Millisecond))
	}

	// The table: what the collector received, or, for a real endpoint,
	// what the client reports delivered.
	var got summary
	var nReceived int
	if srv != nil {
		drain()
		got, nReceived = received.summary(), received.messages()
		fmt.Fprintf(stdout, "funnel: %d shoppers (seed %d) -> embedded Segment-compatible collector (analyticstest.Server)\n\n", cfg.shoppers, cfg.seed)
	} else {
		d.mu.Lock()
		got, nReceived = d.tally.summary(), d.tally.messages()
		d.mu.Unlock()
		fmt.Fprintf(stdout, "funnel: %d shoppers (seed %d) -> %s (delivered as reported by the client)\n\n", cfg.shoppers, cfg.seed, cfg.endpoint)
	}
	got.print(stdout)
	fmt.Fprintln(stdout)
	if srv != nil {
		fmt.Fprintf(stdout, "collector: %d messages received, %d violations, %d duplicates\n", nReceived, violations, duplicates)
	} else {
		fmt.Fprintf(stdout, "endpoint: %d messages delivered\n", nReceived)
	}
	fmt.Fprintf(stdout, "client:    enqueued %d, delivered %d, failed %d, refused %d, queued %d\n",
		st.Enqueued, st.Delivered, st.Failed, st.Refused, st.Queued)
	fmt.Fprintf(stdout, "           batches %d, retries %d, rate-limited %d\n", st.Batches, st.Retries, st.RateLimited)

	var lost []string
	if st.Failed > 0 || refused > 0 {
		lost = append(lost, fmt.Sprintf("%d failed and %d refused by the client", st.Failed, refused))
	}
	if nReceived != enqueued {
		lost = append(lost, fmt.Sprintf("%d sent but %d received", enqueued, nReceived))
	} else if got != expected.summary() {
		lost = append(lost, "the received table differs from the one sent")
	}
	if violations > 0 {
		lost = append(lost, fmt.Sprintf("%d violations", violations))
	}
	d.mu.Lock()
	for reason, n := range d.reasons {
		fmt.Fprintf(stderr, "funnel: %d message(s) not delivered: %s\n", n, reason)
	}
	d.mu.Unlock()
	if len(lost) > 0 {
		fmt.Fprintf(stdout, "result:    LOST: %s\n", joinSemi(lost))
		return 1
	}
	fmt.Fprintf(stdout, "result:    OK: all %d messages sent were received\n", enqueued)
	return 0
}

func joinSemi(s []string) string {
	out := s[0]
	for _, x := range s[1:] {
		out += "; " + x
	}
	return out
}

// newMessageID returns a random UUIDv4. The simulation is deterministic for
// a seed; message ids are not, so that a real endpoint never deduplicates
// two runs.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
