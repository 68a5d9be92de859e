package analyticstest_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func TestServerFaultAlways(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Always(), analyticstest.Status(400))
	if srv.Pending() != 1 {
		t.Errorf("pending %d, want 1 (the Always fault; what follows it is never reached)", srv.Pending())
	}
	b := batchBody(msg(t, "track", nil))
	for i := range 50 {
		if st, _ := post(t, srv, "/v1/batch", b, nil); st != 503 {
			t.Fatalf("request %d: %d, want 503", i, st)
		}
	}
	if srv.Len() != 0 || srv.Pending() != 1 {
		t.Fatalf("len %d pending %d", srv.Len(), srv.Pending())
	}
	srv.ClearFaults()
	if st, _ := post(t, srv, "/v1/batch", b, nil); st != 200 || srv.Len() != 1 || srv.Pending() != 0 {
		t.Errorf("after ClearFaults: %d, len %d, pending %d", st, srv.Len(), srv.Pending())
	}
	srv.Respond(analyticstest.Status(500).Times(3).Always())
	srv.Reset()
	if st, _ := post(t, srv, "/v1/batch", b, nil); st != 200 {
		t.Errorf("after Reset: %d", st)
	}
}

func TestServerFaultAlwaysWithClient(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	srv.Respond(analyticstest.Status(503).Always())
	c := newClient(t, srv, analytics.WithRetry(3, time.Minute))
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err == nil {
		t.Error("Flush: nil error, want the message reported not delivered")
	}
	if st := c.Stats(); st.Failed != 1 || srv.Len() != 0 || len(srv.Requests()) != 3 {
		t.Errorf("failed %d, delivered %d, %d requests; want 1, 0, 3", st.Failed, srv.Len(), len(srv.Requests()))
	}
}

func TestServerCountsOnly(t *testing.T) {
	srv := analyticstest.NewServer(key, analyticstest.WithCountsOnly(), analyticstest.WithRejectViolations(false))
	defer srv.Close()
	good := msg(t, "track", nil)
	bad := msg(t, "track", map[string]any{"messageId": "m-bad", "timestamp": "yesterday"})
	for range 2 {
		if st, _ := post(t, srv, "/v1/batch", batchBody(good, bad), nil); st != 200 {
			t.Fatal(st)
		}
	}
	if srv.Len() != 2 || srv.Duplicates() != 2 {
		t.Errorf("len %d dups %d, want 2 2", srv.Len(), srv.Duplicates())
	}
	if vs := srv.Violations(); len(vs) != 2 || !hasRule(vs, analyticstest.RuleTimestamp, "timestamp") {
		t.Errorf("violations %v", vs)
	}
	if ms, last := srv.Messages(), srv.Tracks(""); ms != nil || last != nil {
		t.Errorf("counts only kept messages: %v %v", ms, last)
	}
	if _, ok := srv.Last(); ok {
		t.Error("Last found a message")
	}
	if rs := srv.Requests(); len(rs) != 2 || rs[0].Body != nil || rs[0].Accepted != 2 {
		t.Errorf("requests %+v", rs)
	}
	if err := srv.WaitFor(ctxT(t), 2); err != nil {
		t.Error(err)
	}
}

// TestServerBulkThroughClient sends a few thousand messages through the
// fast path, with and without counts only: all delivered, none twice, and
// what the default Server keeps decodes exactly as sent.
func TestServerBulkThroughClient(t *testing.T) {
	const n = 3000
	for _, countsOnly := range []bool{false, true} {
		t.Run(fmt.Sprint("countsOnly=", countsOnly), func(t *testing.T) {
			var opts []analyticstest.ServerOption
			if countsOnly {
				opts = append(opts, analyticstest.WithCountsOnly())
			}
			srv := analyticstest.NewServer(key, opts...)
			defer srv.Close()
			c := newClient(t, srv)
			for i := range n {
				ev := order()
				ev.MessageID = fmt.Sprintf("id-%d", i)
				if err := c.EnqueueContext(ctxT(t), ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			if srv.Len() != n || srv.Duplicates() != 0 || srv.Violations() != nil {
				t.Fatalf("len %d dups %d violations %v", srv.Len(), srv.Duplicates(), srv.Violations())
			}
			if countsOnly {
				return
			}
			ms := srv.Tracks("Order Completed")
			ids := map[string]bool{}
			for _, m := range ms {
				ids[m.MessageID] = m.Properties["order_id"] == "50314b8e"
			}
			if len(ms) != n || len(ids) != n || !ids["id-0"] || !ids[fmt.Sprintf("id-%d", n-1)] {
				t.Errorf("%d tracks, %d distinct ids", len(ms), len(ids))
			}
		})
	}
}

func TestRecorderCountsOnly(t *testing.T) {
	rec := analyticstest.NewRecorder(analyticstest.RecorderCountsOnly(), nil)
	c := newRecorderClient(t, rec)
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if rec.Len() != 1 || rec.Messages() != nil || rec.Batches() != nil {
		t.Errorf("len %d, messages %v, batches %v", rec.Len(), rec.Messages(), rec.Batches())
	}
	if as := rec.Attempts(); len(as) != 1 || as[0].Batch.Messages != nil {
		t.Errorf("attempts %+v", as)
	}
	bad := msg(t, "track", map[string]any{"timestamp": nil})
	if err := rec.Send(ctxT(t), &analytics.Batch{Messages: []json.RawMessage{bad}}); err != nil {
		t.Fatal(err)
	}
	if vs := rec.Violations(); rec.Len() != 2 || len(vs) != 1 || vs[0].Rule != analyticstest.RuleRequired {
		t.Errorf("len %d, violations %v", rec.Len(), vs)
	}
}
