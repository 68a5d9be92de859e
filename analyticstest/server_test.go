package analyticstest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tracklane/analytics/analyticstest"
)

func TestServerAcceptsValidRequests(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	if st, body := post(t, srv, "/v1/batch", batchBody(msg(t, "track", nil), msg(t, "identify", nil)), nil); st != 200 || body != `{"success":true}` {
		t.Fatalf("batch: %d %s", st, body)
	}
	// gzip body.
	gz := batchBody(msg(t, "page", nil))
	if st, _ := post(t, srv, "/v1/batch", gzipped(gz), func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }); st != 200 {
		t.Fatalf("gzip: %d", st)
	}
	// Content-Type with parameters.
	if st, _ := post(t, srv, "/v1/batch", batchBody(msg(t, "screen", nil)), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
	}); st != 200 {
		t.Fatalf("charset: %d", st)
	}
	// Single calls; the type is implied by the path.
	for _, typ := range []string{"track", "identify", "page", "screen", "group", "alias"} {
		m := msg(t, typ, map[string]any{"type": nil, "messageId": "single-" + typ})
		if st, body := post(t, srv, "/v1/"+typ, m, nil); st != 200 {
			t.Fatalf("/v1/%s: %d %s", typ, st, body)
		}
	}
	if vs := srv.Violations(); vs != nil {
		t.Fatalf("violations: %v", vs)
	}
	msgs := srv.Messages()
	if len(msgs) != 10 || srv.Len() != 10 {
		t.Fatalf("%d messages", len(msgs))
	}
	if msgs[0].Type != "track" || msgs[0].Event != "Signed Up" || msgs[0].UserID != "u1" ||
		msgs[0].Timestamp != time.Date(2015, 12, 10, 4, 8, 31, 905e6, time.UTC) {
		t.Errorf("decoded: %+v", msgs[0])
	}
	if last, ok := srv.Last(); !ok || last.Type != "alias" || last.PreviousID != "anon-1" {
		t.Errorf("last: %+v", last)
	}
	if got := srv.Tracks(""); len(got) != 2 {
		t.Errorf("tracks: %d", len(got))
	}
	reqs := srv.Requests()
	if len(reqs) != 9 || reqs[1].Header.Get("Content-Encoding") != "gzip" || string(reqs[1].Body) != string(gz) || reqs[0].Accepted != 2 {
		t.Errorf("requests: %d, %+v", len(reqs), reqs[1])
	}
}

func TestServerRequestChecks(t *testing.T) {
	good := batchBody(msg(t, "track", nil))
	basic := func(user string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, "") }
	}
	tests := []struct {
		name   string
		path   string
		body   []byte
		edit   func(*http.Request)
		opts   []analyticstest.ServerOption
		status int
		rule   analyticstest.Rule
	}{
		{"no auth", "/v1/batch", good, func(r *http.Request) { r.Header.Del("Authorization") }, nil, 401, analyticstest.RuleAuth},
		{"wrong key", "/v1/batch", good, basic("other"), nil, 401, analyticstest.RuleAuth},
		{"bearer", "/v1/batch", good, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }, nil, 401, analyticstest.RuleAuth},
		{"body writeKey differs", "/v1/batch", []byte(strings.Replace(string(good), `"writeKey":"`+key, `"writeKey":"other`, 1)), nil, nil, 400, analyticstest.RuleAuth},
		{"no content type", "/v1/batch", good, func(r *http.Request) { r.Header.Del("Content-Type") }, nil, 400, analyticstest.RuleContentType},
		{"text/plain", "/v1/batch", good, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, nil, 400, analyticstest.RuleContentType},
		{"gzip header, plain body", "/v1/batch", good, func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }, nil, 400, analyticstest.RuleEncoding},
		{"brotli", "/v1/batch", good, func(r *http.Request) { r.Header.Set("Content-Encoding", "br") }, nil, 400, analyticstest.RuleEncoding},
		{"invalid JSON", "/v1/batch", []byte(`{"batch":[`), nil, nil, 400, analyticstest.RuleJSON},
		{"single invalid JSON", "/v1/track", []byte(`{`), nil, nil, 400, analyticstest.RuleJSON},
		{"batch too large", "/v1/batch", batchBody(msg(t, "track", map[string]any{"properties": map[string]any{"p": strings.Repeat("x", 600000)}})), nil, nil, 400, analyticstest.RuleBodySize},
		{"batch too large, 413 mode", "/v1/batch", batchBody(msg(t, "track", map[string]any{"properties": map[string]any{"p": strings.Repeat("x", 2000)}})), nil,
			[]analyticstest.ServerOption{analyticstest.WithBodyLimit(1000, 413)}, 413, analyticstest.RuleBodySize},
		{"single too large", "/v1/track", msg(t, "track", map[string]any{"properties": map[string]any{"p": strings.Repeat("x", 32000)}}), nil, nil, 400, analyticstest.RuleBodySize},
		{"message too large, lenient", "/v1/batch", batchBody(msg(t, "track", map[string]any{"properties": map[string]any{"p": strings.Repeat("x", 32000)}})), nil,
			[]analyticstest.ServerOption{analyticstest.WithRejectViolations(false)}, 400, analyticstest.RuleMessageSize},
		{"missing userId", "/v1/batch", batchBody(msg(t, "track", map[string]any{"userId": nil})), nil, nil, 400, analyticstest.RuleRequired},
		{"type mismatch", "/v1/track", msg(t, "identify", nil), nil, nil, 400, analyticstest.RuleType},
		{"ecommerce type", "/v1/batch", batchBody(msg(t, "track", map[string]any{"event": "Order Completed", "properties": map[string]any{"total": "1"}})), nil, nil, 400, analyticstest.RuleEcommerce},
		{"empty batch", "/v1/batch", batchBody(), nil, nil, 400, analyticstest.RuleBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := analyticstest.NewServer(key, tt.opts...)
			defer srv.Close()
			st, body := post(t, srv, tt.path, tt.body, tt.edit)
			if st != tt.status {
				t.Errorf("status %d (%s), want %d", st, body, tt.status)
			}
			if !strings.Contains(body, `"code":`) || !strings.Contains(body, `"message":`) {
				t.Errorf("error body %s", body)
			}
			if vs := srv.Violations(); !hasRule(vs, tt.rule, "") {
				t.Errorf("violations %v, want %s", vs, tt.rule)
			}
			if srv.Len() != 0 {
				t.Errorf("rejected request recorded %d messages", srv.Len())
			}
		})
	}
}

func TestServerMethodAndPath(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/v1/batch")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || !hasRule(srv.Violations(), analyticstest.RuleMethod, "") {
		t.Errorf("GET: %d %v", resp.StatusCode, srv.Violations())
	}
	if st, _ := post(t, srv, "/v1/import", batchBody(msg(t, "track", nil)), nil); st != 404 {
		t.Errorf("unknown path: %d", st)
	}
}

func TestServerEmptyWriteKeyAcceptsAnyAuth(t *testing.T) {
	srv := analyticstest.NewServer("")
	defer srv.Close()
	if st, _ := post(t, srv, "/v1/batch", batchBody(msg(t, "track", nil)), func(r *http.Request) { r.Header.Del("Authorization") }); st != 200 {
		t.Fatalf("status %d", st)
	}
}

func TestServerRecordViolationsMode(t *testing.T) {
	srv := analyticstest.NewServer(key, analyticstest.WithRejectViolations(false))
	defer srv.Close()
	bad := msg(t, "track", map[string]any{"event": "Order Completed", "messageId": "bad", "properties": map[string]any{"orderId": "o1"}})
	if st, _ := post(t, srv, "/v1/batch", batchBody(msg(t, "track", nil), bad), nil); st != 200 {
		t.Fatalf("status %d", st)
	}
	vs := srv.Violations()
	if len(vs) != 1 || vs[0].Index != 1 || vs[0].MessageID != "bad" || vs[0].Field != "properties.orderId" {
		t.Errorf("violations %v", vs)
	}
	if srv.Len() != 2 {
		t.Errorf("%d messages recorded", srv.Len())
	}
}

func TestServerOverBatchLimitWithBodyLimit(t *testing.T) {
	// A bigger body limit (RudderStack: 4 MB) lets a 600 KB batch through.
	srv := analyticstest.NewServer(key, analyticstest.WithBodyLimit(4_000_000, 413))
	defer srv.Close()
	var msgs [][]byte
	for i := range 20 {
		msgs = append(msgs, msg(t, "track", map[string]any{"messageId": string(rune('a' + i)), "properties": map[string]any{"p": strings.Repeat("x", 30000)}}))
	}
	if st, body := post(t, srv, "/v1/batch", batchBody(msgs...), nil); st != 200 {
		t.Fatalf("status %d %s", st, body)
	}
}

func TestServerDuplicates(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	b := batchBody(msg(t, "track", nil))
	for range 3 {
		if st, _ := post(t, srv, "/v1/batch", b, nil); st != 200 {
			t.Fatal(st)
		}
	}
	if srv.Len() != 1 || srv.Duplicates() != 2 {
		t.Errorf("len %d dups %d", srv.Len(), srv.Duplicates())
	}
	srv.Reset()
	if st, _ := post(t, srv, "/v1/batch", b, nil); st != 200 || srv.Len() != 1 || srv.Duplicates() != 0 || len(srv.Requests()) != 1 {
		t.Errorf("after reset: len %d dups %d", srv.Len(), srv.Duplicates())
	}
}

func TestServerFaultStatusSequence(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	srv.Respond(
		analyticstest.Status(500).Times(2),
		analyticstest.Status(429).RetryAfter(1500*time.Millisecond),
		analyticstest.Status(429).RetryAt(at),
		analyticstest.Status(503).Header("X-Test", "1"),
	)
	if srv.Pending() != 5 {
		t.Fatalf("pending %d", srv.Pending())
	}
	b := batchBody(msg(t, "track", nil))
	want := []struct {
		status int
		header string
		value  string
	}{
		{500, "", ""}, {500, "", ""}, {429, "Retry-After", "2"}, {429, "Retry-After", "Wed, 02 Jan 2030 03:04:05 GMT"},
		{503, "X-Test", "1"}, {200, "", ""},
	}
	for i, w := range want {
		resp, err := do(srv, "/v1/batch", b, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != w.status || (w.header != "" && resp.Header.Get(w.header) != w.value) {
			t.Errorf("request %d: %d %v, want %d %s=%s", i, resp.StatusCode, resp.Header, w.status, w.header, w.value)
		}
		if i < 5 && srv.Len() != 0 {
			t.Errorf("request %d: a failed request was recorded", i)
		}
	}
	if srv.Len() != 1 || srv.Pending() != 0 {
		t.Errorf("len %d pending %d", srv.Len(), srv.Pending())
	}
	// Status faults skip the checks: even a bad request gets the scripted answer.
	srv.Respond(analyticstest.Status(502))
	if st, _ := post(t, srv, "/v1/batch", []byte("junk"), nil); st != 502 || srv.Violations() != nil {
		t.Errorf("status %d, violations %v", st, srv.Violations())
	}
	srv.Respond(analyticstest.Status(42))
	if st, _ := post(t, srv, "/v1/batch", b, nil); st != 500 {
		t.Errorf("invalid code answered %d, want 500", st)
	}
}

// TestServerFaultDrops: Disconnect closes the connection before the checks,
// ProcessThenDisconnect after them; either way the request has no status,
// and the next request is answered (after ProcessThenDisconnect it is a
// redelivery, counted as a duplicate).
func TestServerFaultDrops(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     analyticstest.Fault
		processed int // messages recorded from the dropped request
	}{
		{"Disconnect", analyticstest.Disconnect(), 0},
		{"ProcessThenDisconnect", analyticstest.ProcessThenDisconnect(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := analyticstest.NewServer(key)
			defer srv.Close()
			srv.Respond(tc.fault)
			b := batchBody(msg(t, "track", nil))
			postDropped(t, srv, b)
			if srv.Len() != tc.processed || srv.Requests()[0].Status != 0 {
				t.Fatalf("dropped request: len %d, status %d", srv.Len(), srv.Requests()[0].Status)
			}
			// Not firing: the next request is answered.
			if st, _ := post(t, srv, "/v1/batch", b, nil); st != 200 || srv.Len() != 1 || srv.Duplicates() != tc.processed {
				t.Errorf("next request: %d len %d dups %d", st, srv.Len(), srv.Duplicates())
			}
			if tc.processed == 0 {
				return
			}
			// An invalid batch is not recorded even when processed.
			srv.Respond(tc.fault)
			postDropped(t, srv, batchBody(msg(t, "track", map[string]any{"event": nil, "messageId": "x"})))
			if srv.Len() != 1 || len(srv.Violations()) != 1 {
				t.Errorf("invalid processed batch: len %d %v", srv.Len(), srv.Violations())
			}
		})
	}
}

func TestServerFaultHangUntilClientGivesUp(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	srv.Respond(analyticstest.Hang())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		resp, err := do(srv, "/v1/batch", batchBody(msg(t, "track", nil)), func(r *http.Request) { *r = *r.WithContext(ctx) })
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Wait until the request has reached the server (it hangs there), then give up.
	if err := srv.WaitRequests(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if srv.Requests()[0].Done {
		t.Fatal("hung request finished")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
	srv.Close() // waits for the handler
	if r := srv.Requests()[0]; r.Status != 0 || !r.Done || srv.Len() != 0 {
		t.Errorf("hung request: %+v", r)
	}
}

func TestServerCloseUnblocksHungRequests(t *testing.T) {
	srv := analyticstest.NewServer(key)
	srv.Respond(analyticstest.Hang(), analyticstest.Process().Delay(time.Hour))
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := do(srv, "/v1/batch", batchBody(msg(t, "track", nil)), nil)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		}()
	}
	if err := srv.WaitRequests(ctxT(t), 2); err != nil { // both requests have taken their fault
		t.Fatal(err)
	}
	srv.Close() // must return although both hang
	for range 2 {
		if err := <-errs; err == nil {
			t.Error("hung request answered")
		}
	}
	if n := len(srv.Requests()); n != 2 || srv.Len() != 0 {
		t.Errorf("requests %d, len %d", n, srv.Len())
	}
	srv.Close() // idempotent
}

func TestServerFaultDelay(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	// Firing: a client with a short timeout gives up during a long delay.
	srv.Respond(analyticstest.Process().Delay(time.Hour))
	hc := srv.Client()
	hc.Timeout = 50 * time.Millisecond
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/batch", strings.NewReader(string(batchBody(msg(t, "track", nil)))))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(key, "")
	if resp, err := hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("no timeout")
	}
	srv.Close()
	if srv.Len() != 0 || srv.Requests()[0].Status != 0 {
		t.Error("delayed request abandoned by the client was recorded")
	}
	// Not firing: a short delay then a normal answer.
	srv = analyticstest.NewServer(key)
	defer srv.Close()
	srv.Respond(analyticstest.Process().Delay(time.Millisecond))
	if st, _ := post(t, srv, "/v1/batch", batchBody(msg(t, "track", nil)), nil); st != 200 || srv.Len() != 1 {
		t.Errorf("delayed: %d", st)
	}
}
