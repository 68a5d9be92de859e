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

// HTTPError reports an answer that was not a delivery: a status other than
// 2xx, or a 2xx that is not a collector's acceptance (an HTML page, Jitsu's
// {"ok":false}). What the client does with each status (README.md has the
// same table, with the details; a test checks both against the policy):
//
//	100-199        rejected
//	200-299        delivered (unless an HTML page or {"ok":false}: rejected)
//	300-399        rejected (the error names the URL posted to)
//	400            split, to isolate the refused messages; a lone message is rejected
//	401-499        rejected
//	404, 405       rejected (the error names the URL posted to)
//	408, 410, 460  retried
//	413            split; a lone message is rejected
//	429            paused: every upload waits for Retry-After or X-RateLimit-Reset, then retried
//	500-599        retried, Retry-After as a floor
//	501, 505, 511  rejected
//
// A custom Transport returns an *HTTPError (possibly wrapped) to have the
// client treat a failure by its status.
type HTTPError struct {
	StatusCode int
	// RetryAfter is the delay the server asked for (Retry-After in seconds
	// or as an HTTP date, else on a 429 X-RateLimit-Reset as a delay or a
	// Unix time); 0 when absent. Set by the HTTP transport; a custom
	// transport may set it.
	RetryAfter time.Duration
	// Body is the start of the response body (at most 1 KiB), with every
	// form of the write key removed before it was cut.
	Body string
	// URL is the URL the batch was posted to (set by the HTTP transport).
	URL string
	// Problem says, when the status alone does not, why the answer is not
	// a delivery (an HTML page, a wrong endpoint); "" otherwise.
	Problem string
}

func (e *HTTPError) Error() string {
	msg := "analytics: server answered " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	if e.URL != "" {
		msg += " to POST " + e.URL
	}
	if e.RetryAfter > 0 {
		msg += " (retry after " + e.RetryAfter.String() + ")"
	}
	if e.Problem != "" {
		msg += ": " + e.Problem
	}
	if e.Body != "" {
		msg += ": " + oneLine(e.Body)
	}
	return msg
}

// oneLine folds line breaks, so that an error is one line of a log.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

const (
	libraryName    = "tracklane-analytics-go"
	userAgent      = libraryName + "/" + Version
	maxErrorBody   = 1 << 10
	maxDrainedBody = 64 << 10
)

// httpTransport posts batches to {endpoint}/v1/batch. It reports the facts
// of each attempt (attempt); the delivery policy (decide) judges them.
type httpTransport struct {
	client   *http.Client
	url      string
	auth     string // "Basic base64(writeKey:)"
	writeKey string
	gzip     bool
	now      func() time.Time
	ownsHTTP bool // the client was made by New: close its idle connections on Close
	keyLen   int  // quotedKeyLen(writeKey)
	red      redactor

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
		red:      newRedactor(c.writeKey),
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

// Close closes the keep-alive connections of a client New made, so no
// connection goroutine outlives Client.Close (TransportCloser). A client
// passed with WithHTTPClient is the caller's to manage.
func (t *httpTransport) Close() error {
	if t.ownsHTTP {
		t.client.CloseIdleConnections()
	}
	return nil
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

// Send makes one attempt and returns the policy's judgement of it as an
// error: nil when the batch was delivered, else an *HTTPError or the
// network error. The client itself uses attempt.
func (t *httpTransport) Send(ctx context.Context, batch *Batch) error {
	a := t.attempt(ctx, batch)
	d := decide(a, batchFacts{size: len(batch.Messages), maxDelay: MaxRetryAfter, nowForDates: t.now()})
	if d.verdict == deliver {
		return nil
	}
	if a.status == 0 {
		return a.err
	}
	var he *HTTPError
	if errors.As(d.reason, &he) {
		return he
	}
	return a.httpError()
}

// attempt posts batch once and reports what happened.
func (t *httpTransport) attempt(ctx context.Context, batch *Batch) attempt {
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
		var err error
		*zbuf, err = t.compress(ctx, *zbuf, *buf)
		t.bufs.put(buf)
		if err != nil {
			t.bufs.put(zbuf)
			return attempt{err: err}
		}
		buf = zbuf
		contentEncoding = "gzip"
	}
	body := &pooledBody{buf: buf, list: &t.bufs}
	body.Reset(*buf)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, body)
	if err != nil {
		_ = body.Close()
		return attempt{err: t.red.error(fmt.Errorf("analytics: building request: %w", err))}
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
		return attempt{err: t.red.error(err)}
	}
	defer func() { _ = resp.Body.Close() }() // the body was drained; nothing to learn from Close
	a := attempt{
		status:         resp.StatusCode,
		retryAfter:     resp.Header.Get("Retry-After"),
		rateLimitReset: resp.Header.Get("X-RateLimit-Reset"),
		contentType:    resp.Header.Get("Content-Type"),
		url:            t.red.string(t.url),
	}
	// Read enough to redact a key that straddles the cut, then cut.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxDrainedBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainedBody))
	if a.status >= 200 && a.status <= 299 && !mayRefuse(a.contentType, b) {
		return a // the common case: nothing to keep
	}
	a.raw = b
	text := strings.TrimSpace(t.red.string(strings.ToValidUTF8(string(b), "\uFFFD")))
	if len(text) > maxErrorBody {
		text = strings.ToValidUTF8(text[:maxErrorBody], "")
	}
	a.body = text
	return a
}

// mayRefuse reports whether a 2xx answer needs the policy's look: an HTML
// page, or a JSON object with an "ok" member.
func mayRefuse(contentType string, b []byte) bool {
	return strings.Contains(contentType, "html") || len(b) > 0 && b[0] == '{' && bytes.Contains(b, []byte(`"ok"`))
}

// compress gzips src into dst, in chunks, so that an attempt whose ctx
// ends (Close's deadline) stops compressing at once: it returns ctx's
// error then.
func (t *httpTransport) compress(ctx context.Context, dst, src []byte) ([]byte, error) {
	out := jsonBufferWriter{b: dst}
	zw, ok := t.gzws.Get().(*gzip.Writer)
	if ok {
		zw.Reset(&out)
	} else {
		zw = gzip.NewWriter(&out)
	}
	defer t.gzws.Put(zw)
	const chunk = 32 << 10
	for len(src) > 0 {
		if err := ctx.Err(); err != nil {
			return out.b, err
		}
		n := min(chunk, len(src))
		_, _ = zw.Write(src[:n]) // writes to memory cannot fail
		src = src[n:]
	}
	_ = zw.Close()
	return out.b, nil
}

type jsonBufferWriter struct{ b []byte }

func (w *jsonBufferWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
