package analytics

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

type capturedRequest struct {
	method, path string
	header       http.Header
	body         []byte // decompressed
	rawLen       int
}

// captureServer answers with respond (nil: 200) and records every request.
func captureServer(t *testing.T, respond func(n int, w http.ResponseWriter)) (*httptest.Server, func() []capturedRequest) {
	t.Helper()
	var mu sync.Mutex
	var reqs []capturedRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		body := raw
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err == nil {
				body, _ = io.ReadAll(zr)
			}
		}
		mu.Lock()
		reqs = append(reqs, capturedRequest{r.Method, r.URL.Path, r.Header.Clone(), body, len(raw)})
		n := len(reqs)
		mu.Unlock()
		if respond != nil {
			respond(n, w)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []capturedRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]capturedRequest(nil), reqs...)
	}
}

type wireBody struct {
	Batch    []map[string]any `json:"batch"`
	SentAt   string           `json:"sentAt"`
	WriteKey string           `json:"writeKey"`
}

func TestHTTPRequestFormat(t *testing.T) {
	srv, reqs := captureServer(t, nil)
	clock := fixedTime
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	c, err := New("wk_123", WithEndpoint(srv.URL+"/"), WithClock(now))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(Track{Event: "Order Completed", UserID: "u1"}))
	mu.Lock()
	clock = clock.Add(2 * time.Second) // sentAt is stamped at send time
	mu.Unlock()
	require.NoError(t, c.Close(context.Background()))

	got := reqs()
	require.Len(t, got, 1)
	r := got[0]
	assert.Equal(t, http.MethodPost, r.method)
	assert.Equal(t, "/v1/batch", r.path)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("wk_123:")), r.header.Get("Authorization"))
	assert.Equal(t, "tracklane-analytics-go/"+Version, r.header.Get("User-Agent"))
	assert.Empty(t, r.header.Get("Content-Encoding"))
	assert.Empty(t, r.header.Get("X-Retry-Count"))
	var body wireBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	assert.Equal(t, "wk_123", body.WriteKey)
	assert.Equal(t, "2015-12-10T04:08:33.905Z", body.SentAt)
	require.Len(t, body.Batch, 1)
	assert.Equal(t, "2015-12-10T04:08:31.905Z", body.Batch[0]["timestamp"])
	assert.Equal(t, "Order Completed", body.Batch[0]["event"])
}

func TestHTTPEndpointWithPathPrefix(t *testing.T) {
	srv, reqs := captureServer(t, nil)
	c, err := New("test-write-key", WithEndpoint(srv.URL+"/collect"))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	require.NoError(t, c.Close(context.Background()))
	require.Len(t, reqs(), 1)
	assert.Equal(t, "/collect/v1/batch", reqs()[0].path)
}

func TestHTTPGzip(t *testing.T) {
	srv, reqs := captureServer(t, nil)
	c, err := New("test-write-key", WithEndpoint(srv.URL), WithGzip(true))
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		require.NoError(t, c.Enqueue(Track{Event: "Product Viewed", UserID: "u", Properties: Properties{"name": "Monopoly: 3rd Edition"}}))
	}
	require.NoError(t, c.Close(context.Background()))
	got := reqs()
	require.Len(t, got, 1)
	assert.Equal(t, "gzip", got[0].header.Get("Content-Encoding"))
	assert.Less(t, got[0].rawLen, len(got[0].body)/4, "compressed")
	var body wireBody
	require.NoError(t, json.Unmarshal(got[0].body, &body))
	assert.Len(t, body.Batch, 50)
}

func TestHTTPRetryHeaderAndRetryAfter(t *testing.T) {
	srv, reqs := captureServer(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c, err := New("test-write-key", WithEndpoint(srv.URL), WithBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	require.NoError(t, c.Close(context.Background()))
	got := reqs()
	require.Len(t, got, 2)
	assert.Equal(t, "1", got[1].header.Get("X-Retry-Count"))
	assert.Equal(t, got[0].body[:bytes.Index(got[0].body, []byte(`"sentAt"`))], got[1].body[:bytes.Index(got[1].body, []byte(`"sentAt"`))], "same messages")
}

func TestHTTPErrorDetails(t *testing.T) {
	const key = "sekret-write-key"
	srv, _ := captureServer(t, func(n int, w http.ResponseWriter) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"code":"invalid_write_key","message":"bad key `+key+`"}`+strings.Repeat(" pad", 1000))
	})
	tr := newHTTPTransport(&config{httpClient: srv.Client(), endpoint: srv.URL, writeKey: key, now: time.Now})
	err := tr.Send(context.Background(), &Batch{Messages: []json.RawMessage{json.RawMessage(`{}`)}, SentAt: fixedTime, Attempt: 1})
	var he *HTTPError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, 401, he.StatusCode)
	assert.Equal(t, 7*time.Second, he.RetryAfter)
	assert.LessOrEqual(t, len(he.Body), maxErrorBody)
	assert.Contains(t, he.Body, "invalid_write_key")
	assert.NotContains(t, he.Body, key)
	assert.NotContains(t, err.Error(), key)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 3 ", 3 * time.Second, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999", forever, true}, // too large for an int64: "wait the cap", not "absent"
		{"1e300", forever, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	a := attempt{status: 429, rateLimitReset: "4"}
	assert.Equal(t, 4*time.Second, serverDelay(a, now, true), "X-RateLimit-Reset is the fallback on a 429")
	assert.Zero(t, serverDelay(a, now, false), "X-RateLimit-Reset is read only on a 429")
	a.retryAfter = "2"
	assert.Equal(t, 2*time.Second, serverDelay(a, now, true), "Retry-After wins")
}

func TestHTTPKeepsConnectionsAlive(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-Fail") != "" {
			w.WriteHeader(500)
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 10000)) // a body the client must drain
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New("test-write-key", WithEndpoint(srv.URL), WithConcurrency(1), WithBatchSize(1))
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		require.NoError(t, c.Enqueue(track(i)))
		require.NoError(t, c.Flush(context.Background()))
	}
	require.NoError(t, c.Close(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 1, conns, "response bodies are drained and closed, so one connection serves every request")
}

func TestHTTPNetworkErrorIsRetriedAndKeyNeverLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a closed port: connection refused
	const key = "top-secret-key"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	c, err := New(key, WithEndpoint("http://"+addr), WithLogger(logger), WithRetry(3, time.Minute), WithBackoff(time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	err = c.Flush(context.Background())
	var ue *UndeliveredError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, uint64(1), c.Stats().FailedExhausted, "network errors are retried until the budget ends")
	require.NoError(t, c.Close(context.Background()))
	assert.Contains(t, logs.String(), "messages not delivered")
	assert.NotContains(t, logs.String(), key)
	assert.NotContains(t, err.Error(), key)
}

func TestCloseLeavesNoConnectionGoroutines(t *testing.T) {
	srv, _ := captureServer(t, nil)
	ignore := goleak.IgnoreCurrent()
	c, err := New("test-write-key", WithEndpoint(srv.URL))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	require.NoError(t, c.Close(context.Background()))
	goleak.VerifyNone(t, ignore)
}

func TestHTTPJitsuOKFalseIsRefused(t *testing.T) {
	for _, tc := range []struct {
		body      string
		delivered bool
	}{
		{`{"success":true}`, true},
		{`OK`, true},
		{``, true},
		{`{"ok":true,"receivedEvents":1,"okEvents":1}`, true},
		{`{"ok":false,"receivedEvents":1,"okEvents":0,"errors":["event too large"]}`, false},
	} {
		srv, _ := captureServer(t, func(n int, w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, tc.body)
		})
		rec := &recorder{}
		c, err := New("test-write-key", WithEndpoint(srv.URL), WithDeliveryCallback(rec.add))
		require.NoError(t, err)
		require.NoError(t, c.Enqueue(track(1)))
		_ = c.Close(context.Background())
		if tc.delivered {
			assert.Equal(t, uint64(1), c.Stats().Delivered, tc.body)
			continue
		}
		assert.Equal(t, uint64(1), c.Stats().FailedRejected, tc.body)
		errs := rec.errs(Failed)
		require.Len(t, errs, 1)
		var he *HTTPError
		require.ErrorAs(t, errs[0], &he)
		assert.Equal(t, 200, he.StatusCode)
		assert.Contains(t, he.Body, "event too large")
	}
}

func TestBatchURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.segment.io":                    "https://api.segment.io/v1/batch",
		"https://api.segment.io/":                   "https://api.segment.io/v1/batch",
		"https://events.eu1.segmentapis.com/v1":     "https://events.eu1.segmentapis.com/v1/batch",
		"https://events.eu1.segmentapis.com/v1/":    "https://events.eu1.segmentapis.com/v1/batch",
		"https://api.segment.io/v1/batch":           "https://api.segment.io/v1/batch",
		"http://127.0.0.1:8080/collect":             "http://127.0.0.1:8080/collect/v1/batch",
		"https://hosted.rudderlabs.com/proxy/v1api": "https://hosted.rudderlabs.com/proxy/v1api/v1/batch",
	} {
		assert.Equal(t, want, batchURL(in), in)
	}
}
