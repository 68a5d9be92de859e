package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// strictServer accepts only well-formed batches and counts messageIds.
type strictServer struct {
	*httptest.Server
	mu       sync.Mutex
	seen     map[string]int
	problems []string
	script   []func(w http.ResponseWriter) bool // one per request; true: answered (failed)
	requests int
}

func newStrictServer(t *testing.T, key string) *strictServer {
	s := &strictServer{seen: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		var step func(http.ResponseWriter) bool
		if len(s.script) > 0 {
			step, s.script = s.script[0], s.script[1:]
		}
		s.mu.Unlock()
		if step != nil && step(w) {
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || user != key || pass != "" || r.URL.Path != "/v1/batch" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		var body struct {
			Batch  []json.RawMessage `json:"batch"`
			SentAt string            `json:"sentAt"`
		}
		if len(raw) > 500000 || json.Unmarshal(raw, &body) != nil || len(body.Batch) > 2500 || !isoMillis.MatchString(body.SentAt) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range body.Batch {
			var msg struct {
				Type      string `json:"type"`
				MessageID string `json:"messageId"`
				UserID    string `json:"userId"`
				Timestamp string `json:"timestamp"`
				Event     string `json:"event"`
				Context   struct {
					Library struct{ Name, Version string } `json:"library"`
				} `json:"context"`
			}
			if len(m) > 32000 || json.Unmarshal(m, &msg) != nil || msg.Type != "track" || msg.MessageID == "" ||
				msg.UserID == "" || msg.Event == "" || !isoMillis.MatchString(msg.Timestamp) || msg.Context.Library.Name == "" {
				s.problems = append(s.problems, string(m))
				continue
			}
			s.seen[msg.MessageID]++
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *strictServer) counts() (unique, dup int, problems []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.seen {
		unique++
		dup += n - 1
	}
	return unique, dup, append([]string(nil), s.problems...)
}

func status(code int, header ...string) func(http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		return true
	}
}

func TestE2ETenThousandTracksExactlyOnce(t *testing.T) {
	srv := newStrictServer(t, "wk")
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL))
	require.NoError(t, err)
	const n = 10000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Product Viewed", UserID: fmt.Sprint("u", i%97),
			Properties: analytics.Properties{"i": i, "name": "Monopoly", "price": 19.99}}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	unique, dup, problems := srv.counts()
	assert.Empty(t, problems)
	assert.Equal(t, n, unique)
	assert.Zero(t, dup)
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Zero(t, st.Failed)
}

func TestE2EOutageThenRateLimitWithinCloseBudget(t *testing.T) {
	srv := newStrictServer(t, "wk")
	srv.script = []func(http.ResponseWriter) bool{
		status(500), status(500), status(500), status(429, "Retry-After", "1"),
	}
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL), analytics.WithConcurrency(1))
	require.NoError(t, err)
	const n = 1000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, c.Close(ctx))
	assert.Less(t, time.Since(start), 10*time.Second)
	unique, dup, problems := srv.counts()
	assert.Empty(t, problems)
	assert.Equal(t, n, unique)
	assert.Zero(t, dup)
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Delivered)
	assert.Equal(t, uint64(1), st.RateLimited)
}

func TestE2EPermanentOutageCloseReportsEverything(t *testing.T) {
	srv := newStrictServer(t, "wk")
	for i := 0; i < 1000; i++ {
		srv.script = append(srv.script, status(503))
	}
	var mu sync.Mutex
	failed := 0
	c, err := analytics.New("wk", analytics.WithEndpoint(srv.URL), analytics.WithDeliveryCallback(func(r analytics.Report) {
		if r.Outcome == analytics.Failed {
			mu.Lock()
			failed += len(r.Messages)
			mu.Unlock()
		}
	}))
	require.NoError(t, err)
	const n = 5000
	for i := 0; i < n; i++ {
		require.NoError(t, c.Enqueue(analytics.Track{Event: "Order Completed", UserID: "u"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = c.Close(ctx)
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "Close returns by its deadline")
	var ue *analytics.UndeliveredError
	require.True(t, errors.As(err, &ue), "got %v", err)
	assert.Equal(t, n, ue.Count)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	mu.Lock()
	assert.Equal(t, n, failed)
	mu.Unlock()
	st := c.Stats()
	assert.Equal(t, uint64(n), st.Failed)
	assert.Equal(t, uint64(n), st.FailedDeadline)
	assert.Zero(t, st.Queued)
}
