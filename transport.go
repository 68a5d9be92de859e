package analytics

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Transport delivers one batch, once. The client owns batching, retries,
// backoff and accounting; a Transport makes exactly one attempt per call.
//
// Send must honour ctx (return promptly once it is done), must be safe for
// concurrent use, and must not retain or modify batch after it returns.
// A nil error means the batch was accepted. A panic in Send fails the batch
// (never retried, reported with ErrRejected) without stopping the client.
// To make the client classify a failure by status code (retry a 503, give up on a 400, pause on a 429 with
// its Retry-After), return an error that wraps an *HTTPError; any other error
// is treated as a transient network failure and retried.
type Transport interface {
	Send(ctx context.Context, batch *Batch) error
}

// TransportFunc adapts a function to the Transport interface.
type TransportFunc func(ctx context.Context, batch *Batch) error

// Send calls f(ctx, batch).
func (f TransportFunc) Send(ctx context.Context, batch *Batch) error { return f(ctx, batch) }

// Batch is one upload attempt.
type Batch struct {
	// Messages holds each message's JSON encoding, in enqueue order. Every
	// attempt of the same messages carries the same bytes (and so the same
	// messageId). Read-only, and valid only until Send returns: the client
	// reuses the memory afterwards, so copy what you keep.
	Messages []json.RawMessage
	// SentAt is the client's clock when this attempt started.
	SentAt time.Time
	// Attempt is 1 for the first attempt of these messages, 2 for the first retry, ...
	Attempt int
}

// AppendJSON appends the /v1/batch request body
// {"batch":[...],"sentAt":"...","writeKey":"..."} to dst and returns it.
// The writeKey member is left out when writeKey is empty.
func (b *Batch) AppendJSON(dst []byte, writeKey string) []byte {
	dst = append(dst, `{"batch":[`...)
	for i, m := range b.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	dst = append(dst, `],"sentAt":"`...)
	dst = jsonw.AppendTime(dst, b.SentAt)
	dst = append(dst, '"')
	if writeKey != "" {
		dst = append(dst, `,"writeKey":`...)
		dst = jsonw.AppendString(dst, writeKey)
	}
	return append(dst, '}')
}

// quotedKeyLen is the length of the write key as written in a batch body
// (0 when the key is empty, and so left out).
func quotedKeyLen(writeKey string) int {
	if writeKey == "" {
		return 0
	}
	return len(jsonw.AppendString(nil, writeKey))
}

// batchBodySize returns len(b.AppendJSON(nil, writeKey)) for a batch whose
// messages add up to msgBytes bytes, without building it; keyLen is
// quotedKeyLen(writeKey).
func batchBodySize(count, msgBytes, keyLen int) int {
	n := len(`{"batch":[`) + msgBytes + len(`],"sentAt":"2006-01-02T15:04:05.000Z"}`)
	if count > 1 {
		n += count - 1
	}
	if keyLen > 0 {
		n += len(`,"writeKey":`) + keyLen
	}
	return n
}

// HTTPError is a response other than 2xx, or a 2xx whose JSON body says
// "ok": false (Jitsu's way of refusing events). The client retries 5xx
// (except 501, 505 and 511), 408, 410, 429 and 460, splits a batch on 413
// and 400, and gives up on every other status.
type HTTPError struct {
	StatusCode int
	// RetryAfter is the delay the server asked for (Retry-After in seconds
	// or as an HTTP date, else X-RateLimit-Reset on a 429); 0 when absent.
	RetryAfter time.Duration
	// Body is the start of the response body (at most 1 KiB), with any
	// occurrence of the write key removed.
	Body string
}

func (e *HTTPError) Error() string {
	msg := "analytics: server answered " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	if e.RetryAfter > 0 {
		msg += " (retry after " + e.RetryAfter.String() + ")"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// retryable reports whether the status may succeed later.
func (e *HTTPError) retryable() bool {
	switch c := e.StatusCode; {
	case c == 408, c == 410, c == 429, c == 460:
		return true
	case c == 501, c == 505, c == 511: // 511: network authentication (OAuth), not supported
		return false
	case c >= 500:
		return true
	}
	return false
}

const (
	libraryName    = "tracklane-analytics-go"
	userAgent      = libraryName + "/" + Version
	maxErrorBody   = 1 << 10
	maxDrainedBody = 64 << 10
)

// httpTransport posts batches to {endpoint}/v1/batch.
type httpTransport struct {
	client   *http.Client
	url      string
	auth     string // "Basic base64(writeKey:)"
	writeKey string
	gzip     bool
	now      func() time.Time
	ownsHTTP bool // the client was made by New: close its idle connections on Close
	keyLen   int  // quotedKeyLen(writeKey)

	bufs bufferList // request bodies, reused (sync.Pool would drop them at every GC)
	gzws sync.Pool  // *gzip.Writer
}

func newHTTPTransport(c *config) *httpTransport {
	return &httpTransport{
		client:   c.httpClient,
		url:      batchURL(c.endpoint),
		auth:     "Basic " + base64.StdEncoding.EncodeToString([]byte(c.writeKey+":")),
		writeKey: c.writeKey,
		gzip:     c.gzip,
		now:      c.now,
		keyLen:   quotedKeyLen(c.writeKey),
	}
}

// batchURL returns {baseURL}/v1/batch. A base URL that already ends in /v1
// (as the EU host is often written) or /v1/batch is not doubled.
func batchURL(baseURL string) string {
	u := strings.TrimRight(baseURL, "/")
	u = strings.TrimSuffix(u, "/v1/batch")
	u = strings.TrimSuffix(u, "/v1")
	return u + "/v1/batch"
}

// closeIdle closes the keep-alive connections of a client New made, so no
// connection goroutine outlives Close. A client passed with WithHTTPClient
// is the caller's to manage.
func (t *httpTransport) closeIdle() {
	if t.ownsHTTP {
		t.client.CloseIdleConnections()
	}
}

// bufferList keeps a few request-body buffers for reuse: bodies are up to
// 500 KB, and allocating one per batch is most of the upload's cost.
type bufferList struct {
	mu   sync.Mutex
	free []*[]byte
}

const maxFreeBuffers = 4

// get returns an empty buffer with room for n bytes.
func (l *bufferList) get(n int) *[]byte {
	l.mu.Lock()
	var b *[]byte
	if k := len(l.free); k > 0 {
		b = l.free[k-1]
		l.free = l.free[:k-1]
	}
	l.mu.Unlock()
	if b == nil || cap(*b) < n {
		s := make([]byte, 0, max(n, 64<<10))
		return &s
	}
	*b = (*b)[:0]
	return b
}

func (l *bufferList) put(b *[]byte) {
	l.mu.Lock()
	if len(l.free) < maxFreeBuffers {
		l.free = append(l.free, b)
	}
	l.mu.Unlock()
}

// pooledBody is a request body whose buffer returns to the list once the
// HTTP client closes it (net/http may read a body after Do returns).
type pooledBody struct {
	bytes.Reader
	buf  *[]byte
	list *bufferList
	once sync.Once
}

func (p *pooledBody) Close() error {
	p.once.Do(func() { p.list.put(p.buf) })
	return nil
}

func (t *httpTransport) Send(ctx context.Context, batch *Batch) error {
	size := 0
	for _, m := range batch.Messages {
		size += len(m)
	}
	size = batchBodySize(len(batch.Messages), size, t.keyLen)
	buf := t.bufs.get(size)
	*buf = batch.AppendJSON(*buf, t.writeKey)
	var contentEncoding string
	if t.gzip {
		zbuf := t.bufs.get(len(*buf) / 4)
		*zbuf = t.compress(*zbuf, *buf)
		t.bufs.put(buf)
		buf = zbuf
		contentEncoding = "gzip"
	}
	body := &pooledBody{buf: buf, list: &t.bufs}
	body.Reset(*buf)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, body)
	if err != nil {
		_ = body.Close()
		return fmt.Errorf("analytics: building request: %w", err)
	}
	req.ContentLength = int64(len(*buf))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", t.auth)
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	if batch.Attempt > 1 {
		req.Header.Set("X-Retry-Count", strconv.Itoa(batch.Attempt-1))
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return t.redact(err)
	}
	defer func() { _ = resp.Body.Close() }() // the body was drained; nothing to learn from Close
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return t.accepted(resp)
	}
	he := &HTTPError{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header, t.now())}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	he.Body = t.redactString(strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD")))
	return he
}

// accepted reads a 2xx answer. Segment answers {"success":true}; Jitsu
// answers 200 with {"ok":false,...} when it refused events, without saying
// which: that batch is reported as refused (*HTTPError with the 2xx status,
// never retried) rather than counted as delivered.
func (t *httpTransport) accepted(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrainedBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"ok"`)) {
		return nil
	}
	var body struct {
		OK *bool `json:"ok"`
	}
	if json.Unmarshal(b, &body) != nil || body.OK == nil || *body.OK {
		return nil
	}
	return &HTTPError{StatusCode: resp.StatusCode,
		Body: t.redactString(strings.ToValidUTF8(string(b[:min(len(b), maxErrorBody)]), "\uFFFD"))}
}

func (t *httpTransport) compress(dst, src []byte) []byte {
	out := jsonBufferWriter{b: dst}
	zw, ok := t.gzws.Get().(*gzip.Writer)
	if ok {
		zw.Reset(&out)
	} else {
		zw = gzip.NewWriter(&out)
	}
	_, _ = zw.Write(src) // writes to memory cannot fail
	_ = zw.Close()
	t.gzws.Put(zw)
	return out.b
}

type jsonBufferWriter struct{ b []byte }

func (w *jsonBufferWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

// redact removes the write key from an error's text, should a transport or
// proxy ever echo it, keeping the error chain for errors.Is and errors.As.
func (t *httpTransport) redact(err error) error {
	if t.writeKey == "" || !strings.Contains(err.Error(), t.writeKey) {
		return err
	}
	return &redactedError{msg: t.redactString(err.Error()), err: err}
}

func (t *httpTransport) redactString(s string) string {
	if t.writeKey == "" {
		return s
	}
	return strings.ReplaceAll(s, t.writeKey, "[REDACTED]")
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// retryAfter reads Retry-After (delta-seconds or HTTP-date), falling back to
// X-RateLimit-Reset (seconds). Unparseable or past values give 0.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if d, ok := parseRetryAfter(h.Get("X-RateLimit-Reset"), now); ok {
		return d
	}
	return 0
}

// maxRetryAfterSeconds bounds the integer parse; the batcher caps the delay further.
const maxRetryAfterSeconds = 1 << 30

func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second, true
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < maxRetryAfterSeconds {
		return time.Duration(f * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// classify turns a Send error into a retry decision.
func classify(err error) (retry bool, after time.Duration, he *HTTPError) {
	var pe *panicError
	if errors.As(err, &pe) {
		return false, 0, nil
	}
	if errors.As(err, &he) {
		return he.retryable(), he.RetryAfter, he
	}
	return true, 0, nil
}
