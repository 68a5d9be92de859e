// Package contender wraps each SDK behind one small interface for the
// end-to-end program: build the workload event the way that SDK's users
// would, enqueue it, close, and count what the SDK reported.
package contender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"sort"
	"sync/atomic"

	posthog "github.com/posthog/posthog-go"
	segment "github.com/segmentio/analytics-go/v3"
	"github.com/tracklane/analytics"

	"github.com/tracklane/analytics/benchmarks/internal/workload"
)

// Names of the contenders, analytics-go first: it is the baseline.
const (
	AnalyticsGo   = "analytics-go"
	PostHogGo     = "posthog-go"
	Tracklane     = "tracklane"
	TracklaneGzip = "tracklane-gzip"
	// TracklaneWait enqueues with EnqueueContext, which waits for room
	// instead of refusing with ErrQueueFull: the blocking producer of a
	// backfill, against analytics-go's blocking Enqueue.
	TracklaneWait = "tracklane-enqueuectx"
)

// Names lists every contender of the default runs, baseline first
// (TracklaneWait runs when named with -sdks).
var Names = []string{AnalyticsGo, PostHogGo, Tracklane, TracklaneGzip}

// Counters is what an SDK told us through its callback.
type Counters struct {
	Delivered atomic.Int64 // success callbacks
	Failed    atomic.Int64 // failure callbacks for accepted events
	Refused   atomic.Int64 // refusal callbacks (tracklane only; Enqueue also returns the error)
}

// Client is one SDK's client sending the workload.
type Client interface {
	// Send builds one workload event and enqueues it. When the SDK refuses
	// it because its queue is full and wait is true, Send waits for the SDK
	// to report an outcome (space freed) and tries again; waits counts those.
	Send(wait bool) (waits int, err error)
	// Close closes the client. Only tracklane honours ctx.
	Close(ctx context.Context) error
	// Stats returns the SDK's own counters, when it has any.
	Stats() map[string]uint64
}

// New returns the named contender's client posting to baseURL (its batch
// path appended by the SDK), with every option at its default except the
// endpoint, the callback, a silent logger and, for TracklaneGzip, gzip.
func New(name, baseURL string, c *Counters) (Client, error) {
	switch name {
	case Tracklane, TracklaneGzip:
		return newTracklane(baseURL, name == TracklaneGzip, c)
	case TracklaneWait:
		t, err := newTracklane(baseURL, false, c)
		if err != nil {
			return nil, err
		}
		return &tracklaneWait{t}, nil
	case AnalyticsGo:
		cl, err := segment.NewWithConfig("write-key", segment.Config{
			Endpoint: baseURL,
			Callback: segmentCallback{c},
			Logger:   segment.StdLogger(log.New(io.Discard, "", 0)),
		})
		if err != nil {
			return nil, err
		}
		return &segmentClient{cl}, nil
	case PostHogGo:
		cl, err := posthog.NewWithConfig("phc_key", posthog.Config{
			Endpoint: baseURL,
			Callback: posthogCallback{c},
			Logger:   posthog.StdLogger(log.New(io.Discard, "", 0)),
		})
		if err != nil {
			return nil, err
		}
		return &posthogClient{cl}, nil
	}
	return nil, fmt.Errorf("unknown contender %q", name)
}

type tracklaneClient struct {
	c     *analytics.Client
	space chan struct{} // size 1: an accepted event got an outcome
}

func newTracklane(baseURL string, gzip bool, c *Counters) (*tracklaneClient, error) {
	t := &tracklaneClient{space: make(chan struct{}, 1)}
	cl, err := analytics.New("write-key",
		analytics.WithEndpoint(baseURL),
		analytics.WithGzip(gzip),
		analytics.WithLogger(slog.New(slog.DiscardHandler)),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			n := int64(len(r.Messages))
			switch r.Outcome {
			case analytics.Delivered:
				c.Delivered.Add(n)
			case analytics.Failed:
				c.Failed.Add(n)
			case analytics.Refused:
				c.Refused.Add(n)
				return
			}
			select {
			case t.space <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		return nil, err
	}
	t.c = cl
	return t, nil
}

func (t *tracklaneClient) Send(wait bool) (int, error) {
	waits := 0
	for {
		err := t.c.Enqueue(workload.Tracklane())
		if !wait || !errors.Is(err, analytics.ErrQueueFull) {
			return waits, err
		}
		waits++
		<-t.space
	}
}

func (t *tracklaneClient) Close(ctx context.Context) error { return t.c.Close(ctx) }

// tracklaneWait sends with EnqueueContext: it waits inside the client when
// the queue is full, as analytics-go's Enqueue blocks (waits counts none).
type tracklaneWait struct{ *tracklaneClient }

func (t *tracklaneWait) Send(wait bool) (int, error) {
	if !wait {
		return t.tracklaneClient.Send(false)
	}
	return 0, t.c.EnqueueContext(context.Background(), workload.Tracklane())
}

func (t *tracklaneClient) Stats() map[string]uint64 {
	s := t.c.Stats()
	return map[string]uint64{
		"enqueued": s.Enqueued, "delivered": s.Delivered, "failed": s.Failed, "refused": s.Refused,
		"failed_deadline": s.FailedDeadline, "failed_exhausted": s.FailedExhausted,
		"refused_queue_full": s.RefusedQueueFull, "batches": s.Batches, "retries": s.Retries,
	}
}

type segmentClient struct{ c segment.Client }

func (s *segmentClient) Send(bool) (int, error)      { return 0, s.c.Enqueue(workload.Segment()) }
func (s *segmentClient) Close(context.Context) error { return s.c.Close() }
func (s *segmentClient) Stats() map[string]uint64    { return nil }

type segmentCallback struct{ c *Counters }

func (cb segmentCallback) Success(segment.Message)        { cb.c.Delivered.Add(1) }
func (cb segmentCallback) Failure(segment.Message, error) { cb.c.Failed.Add(1) }

type posthogClient struct{ c posthog.Client }

func (p *posthogClient) Send(bool) (int, error)      { return 0, p.c.Enqueue(workload.PostHog()) }
func (p *posthogClient) Close(context.Context) error { return p.c.Close() }
func (p *posthogClient) Stats() map[string]uint64    { return nil }

type posthogCallback struct{ c *Counters }

func (cb posthogCallback) Success(posthog.APIMessage)        { cb.c.Delivered.Add(1) }
func (cb posthogCallback) Failure(posthog.APIMessage, error) { cb.c.Failed.Add(1) }

// SortedKeys returns m's keys in order (for stable output).
func SortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
