package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tracklane/analytics"
)

// countingServer counts the requests it gets; nothing should reach it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func closeClient(t *testing.T, c *analytics.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestWithoutWriteKeyLogsAndSendsNothing(t *testing.T) {
	srv, requests := countingServer(t)
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	var delivered atomic.Int64
	c, err := analytics.New("", analytics.WithoutWriteKey(l), analytics.WithEndpoint(srv.URL),
		analytics.WithDeliveryCallback(func(r analytics.Report) {
			if r.Outcome == analytics.Delivered {
				delivered.Add(int64(len(r.Messages)))
			}
		}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ev := analytics.Track{Event: "Signed Up", UserID: "u1", MessageID: "m-1"}
	if err := c.Enqueue(ev); err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(analytics.Identify{UserID: "u1", MessageID: "m-2"}); err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	if st := c.Stats(); st.Enqueued != 2 || st.Delivered != 2 || delivered.Load() != 2 {
		t.Errorf("stats %+v, callback delivered %d; want 2 delivered", st, delivered.Load())
	}
	if requests.Load() != 0 {
		t.Errorf("%d requests reached the network", requests.Load())
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 || recs[0]["level"] != "WARN" || !strings.Contains(recs[0]["msg"].(string), "no write key") {
		t.Fatalf("logs: %s", logs.String())
	}
	if recs[1]["level"] != "INFO" || recs[1]["type"] != "track" || recs[1]["event"] != "Signed Up" || recs[1]["messageId"] != "m-1" {
		t.Errorf("first message logged as %v", recs[1])
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(recs[2]["message"].(string)), &sent); err != nil || sent["type"] != "identify" || sent["context"] == nil {
		t.Errorf("second message logged as %v (%v)", recs[2], err)
	}
}

// TestWithoutWriteKeyValidatesAsUsual: the same invalid message is refused
// with the same error by a client without a key and one with a key.
func TestWithoutWriteKeyValidatesAsUsual(t *testing.T) {
	srv, _ := countingServer(t)
	dev, err := analytics.New("", analytics.WithoutWriteKey(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, dev)
	prod, err := analytics.New("key", analytics.WithoutWriteKey(nil), analytics.WithEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer closeClient(t, prod)
	for _, m := range []analytics.Message{
		analytics.Track{UserID: "u1"},
		analytics.Track{Event: "x"},
		analytics.Track{Event: "x", UserID: "u1", Properties: map[string]any{"big": strings.Repeat("a", 40000)}},
	} {
		e1, e2 := dev.Enqueue(m), prod.Enqueue(m)
		if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
			t.Errorf("without key: %v; with key: %v", e1, e2)
		}
	}
	if st := dev.Stats(); st.Refused != 3 {
		t.Errorf("refused %d, want 3", st.Refused)
	}
}

func TestWithoutWriteKeyNilDiscards(t *testing.T) {
	c, err := analytics.New("", analytics.WithoutWriteKey(nil))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := c.Enqueue(analytics.Track{Event: "E", AnonymousID: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	closeClient(t, c)
	if st := c.Stats(); st.Delivered != 10 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
}

// With a write key the option does nothing: messages go to the endpoint.
func TestWithoutWriteKeyWithAKeySends(t *testing.T) {
	srv, requests := countingServer(t)
	var logs bytes.Buffer
	c, err := analytics.New("key", analytics.WithoutWriteKey(slog.New(slog.NewTextHandler(&logs, nil))), analytics.WithEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(analytics.Track{Event: "E", UserID: "u"}); err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	if requests.Load() != 1 || logs.Len() != 0 {
		t.Errorf("%d requests, logs %q", requests.Load(), logs.String())
	}
}

func TestWithoutWriteKeyTransportWins(t *testing.T) {
	for _, before := range []bool{true, false} {
		var sent atomic.Int64
		tr := analytics.WithTransport(analytics.TransportFunc(func(_ context.Context, b *analytics.Batch) error {
			sent.Add(int64(len(b.Messages)))
			return nil
		}))
		opts := []analytics.Option{analytics.WithoutWriteKey(nil), tr}
		if before {
			opts = []analytics.Option{tr, analytics.WithoutWriteKey(nil)}
		}
		c, err := analytics.New("", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Enqueue(analytics.Track{Event: "E", UserID: "u"}); err != nil {
			t.Fatal(err)
		}
		closeClient(t, c)
		if sent.Load() != 1 {
			t.Errorf("transport first=%v: the explicit transport got %d messages", before, sent.Load())
		}
	}
	if _, err := analytics.New(""); err == nil {
		t.Error(`New("") without WithoutWriteKey succeeded`)
	}
}

func ExampleWithoutWriteKey() {
	// In production SEGMENT_WRITE_KEY is set and messages go to Segment; in
	// development it is not, and the same code logs them instead.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "message" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	client, err := analytics.New(os.Getenv("EXAMPLE_UNSET_WRITE_KEY"), analytics.WithoutWriteKey(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.Enqueue(analytics.Track{Event: "Signed Up", UserID: "u-1", MessageID: "m-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = client.Close(ctx)
	fmt.Println("delivered:", client.Stats().Delivered)
	// Output:
	// level=WARN msg="analytics: no write key; messages are validated and logged, not sent"
	// level=INFO msg="analytics: not sent (no write key)" type=track event="Signed Up" messageId=m-1
	// delivered: 1
}
