package benchmarks

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tracklane/analytics/benchmarks/internal/contender"
	"github.com/tracklane/analytics/benchmarks/internal/sink"
)

// TestContendersDeliverExactly is a small, in-process version of cmd/e2e:
// every contender delivers exactly what it was given to the counting sink,
// and reports every event lost against the dead endpoint.
func TestContendersDeliverExactly(t *testing.T) {
	const n = 600
	for _, name := range append(contender.Names[:len(contender.Names):len(contender.Names)], contender.TracklaneWait) {
		t.Run(name, func(t *testing.T) {
			h := &sink.Handler{}
			srv := httptest.NewServer(h)
			defer srv.Close()

			var live contender.Counters
			c, err := contender.New(name, srv.URL, &live)
			if err != nil {
				t.Fatal(err)
			}
			for range n {
				if _, err := c.Send(true); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := c.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}

			var dead contender.Counters
			d, err := contender.New(name, srv.URL+"/dead", &dead)
			if err != nil {
				t.Fatal(err)
			}
			refused := 0
			for range n {
				if _, err := d.Send(false); err != nil {
					refused++
				}
			}
			dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer dcancel()
			_ = d.Close(dctx) // an error is expected: nothing was delivered

			st := h.Snapshot()
			if st.Live.Messages != n || live.Delivered.Load() != n || st.Live.Malformed != 0 {
				t.Errorf("live: sink counted %d messages (%d malformed), callback %d delivered; want %d",
					st.Live.Messages, st.Live.Malformed, live.Delivered.Load(), n)
			}
			if got := int64(refused) + dead.Failed.Load(); got != n {
				t.Errorf("dead: %d refused + %d failed reported; want %d reported", refused, dead.Failed.Load(), n)
			}
		})
	}
}
