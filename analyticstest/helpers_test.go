package analyticstest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

const key = "test-write-key"

// msg returns a valid message of type typ with the given members changed
// (a nil value deletes the member).
func msg(t testing.TB, typ string, changes map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"type":      typ,
		"messageId": "m-" + typ,
		"userId":    "u1",
		"timestamp": "2015-12-10T04:08:31.905Z",
		"context":   map[string]any{"library": map[string]any{"name": "tracklane-analytics-go", "version": "0.1.0"}},
	}
	switch typ {
	case "track":
		m["event"] = "Signed Up"
		m["properties"] = map[string]any{}
	case "group":
		m["groupId"] = "g1"
	case "alias":
		m["previousId"] = "anon-1"
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// batchBody wraps messages in a /v1/batch body.
func batchBody(msgs ...[]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"batch":[`)
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(m)
	}
	b.WriteString(`],"sentAt":"2015-12-10T04:08:32.001Z","writeKey":"` + key + `"}`)
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// post sends body to srv's path with the headers a good client sends,
// changed by edit (may be nil), and returns the status and body.
func post(t testing.TB, srv *analyticstest.Server, path string, body []byte, edit func(*http.Request)) (int, string) {
	t.Helper()
	resp, err := do(srv, path, body, edit)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postDropped posts body to /v1/batch and fails unless the connection is
// closed without an answer.
func postDropped(t testing.TB, srv *analyticstest.Server, body []byte) {
	t.Helper()
	if resp, err := do(srv, "/v1/batch", body, nil); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("answered %d, want the connection closed", resp.StatusCode)
	}
}

func do(srv *analyticstest.Server, path string, body []byte, edit func(*http.Request)) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(key+":")))
	if edit != nil {
		edit(req)
	}
	return srv.Client().Do(req)
}

// rules returns the rules of vs, for compact comparisons.
func rules(vs []analyticstest.Violation) []analyticstest.Rule {
	var out []analyticstest.Rule
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

func hasRule(vs []analyticstest.Violation, r analyticstest.Rule, field string) bool {
	for _, v := range vs {
		if v.Rule == r && (field == "" || v.Field == field) {
			return true
		}
	}
	return false
}

// newClient returns a root client sending to srv with fast retries; it is
// closed at the end of the test.
func newClient(t testing.TB, srv *analyticstest.Server, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	return testClient(t, analytics.WithEndpoint(srv.URL), opts...)
}

// testClient returns a root client going to dest with fast retries and no
// interval flushes; it is closed at the end of the test.
func testClient(t testing.TB, dest analytics.Option, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	opts = append([]analytics.Option{
		dest,
		analytics.WithBackoff(time.Millisecond, 5*time.Millisecond),
		analytics.WithFlushInterval(time.Hour),
		analytics.WithLogger(nil),
	}, opts...)
	c, err := analytics.New(key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
