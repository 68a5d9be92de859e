package analyticstest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a fake Segment-compatible HTTP endpoint on a loopback address,
// modelled on httptest.Server. It serves POST /v1/batch and the single-call
// endpoints /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group and
// /v1/alias, checks each request as a strict collector would, and records
// the messages of the requests it accepts.
//
// Every request is checked for: Basic auth with the write key (else 401);
// Content-Type application/json and a body that is plain or gzip
// (Content-Encoding: gzip), at most 500,000 bytes uncompressed for a batch
// and 32,000 for a single call (else 400, or the status set with
// WithBodyLimit); valid JSON; and each message as Validate checks it, plus
// the batch rules of ValidateBatch. Failures of the first group always
// reject the request; message and batch violations reject it with 400
// unless WithRejectViolations(false) is given, in which case they are only
// recorded and the request is accepted. Every failed check is kept in
// Violations. An accepted request answers 200 {"success":true}.
//
// Messages are counted as delivered only from accepted requests, once per
// messageId: a message whose messageId was already delivered is counted by
// Duplicates, not recorded again (Segment deduplicates on messageId).
//
// Scripted faults (Respond) change how the next requests are answered.
//
// A Server is safe for concurrent use. Close it when done.
type Server struct {
	// URL is the base URL, http://127.0.0.1:port, with no trailing slash:
	// give it to analytics.WithEndpoint.
	URL string

	store
	writeKey string
	cfg      serverConfig
	srv      *httptest.Server

	faults   []Fault // queued, one per request
	requests []request
	gen      int   // incremented by Reset
	seen     idSet // delivered messageIds
	dups     int

	closing   chan struct{}
	closeOnce sync.Once
	handlers  sync.WaitGroup
}

// Request is one request the Server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Body is the uncompressed body as read: at most the body limit plus one
	// byte; nil when it could not be read.
	Body []byte
	// Status is the status answered, 0 when the connection was closed
	// without an answer (Hang, Disconnect, ProcessThenDisconnect, a client
	// that gave up during a Delay).
	Status int
	// Accepted is the number of messages accepted from this request,
	// redeliveries included.
	Accepted int
	// Done is false while the Server is still handling the request; the
	// fields above are final once it is true.
	Done bool
}

// request is what the Server keeps of a Request: all but its Body, which
// is in the store's log when kept.
type request struct {
	Request      // Body nil
	body    span // where Body is, when kept
	kept    bool // Body was not nil and is kept
}

// keptBody says where process kept a request's body: at, in log.
type keptBody struct {
	log *blobLog
	at  span
}

// keepBodyLocked keeps body in the log unless k says it is kept there
// already (in the log of before a Reset, it is kept again), and returns
// where it is. Called with mu held.
func (s *Server) keepBodyLocked(body []byte, k *keptBody) span {
	if k.log == nil || k.log != s.log {
		k.at = s.keepLocked(body)
		k.log = s.log
	}
	return k.at
}

type serverConfig struct {
	reject       bool
	bodyLimit    int
	tooBigStatus int
	countsOnly   bool
}

// ServerOption configures NewServer.
type ServerOption func(*serverConfig)

// WithRejectViolations chooses whether a request with message or batch
// violations (missing fields, bad timestamps, ecommerce property types,
// over 2,500 messages, ...) is answered 400 (true, the default) or accepted
// with its violations only recorded (false, as Segment answers 200 and
// drops the bad events). Request-level failures (auth, Content-Type,
// encoding, body size, invalid JSON, messages over 32,000 bytes) are
// rejected either way.
func WithRejectViolations(reject bool) ServerOption {
	return func(c *serverConfig) { c.reject = reject }
}

// WithBodyLimit sets the largest uncompressed /v1/batch body and the status
// answered above it. Default 500,000 bytes and 400, as Segment; RudderStack
// answers 413 above 4,000,000 bytes (WithBodyLimit(4_000_000, 413)), which
// makes the client split the batch. The 32,000-byte limit of single calls
// answers the same status. A limit below 1 keeps the default; a status
// outside 400..599 means 400.
func WithBodyLimit(maxBytes, status int) ServerOption {
	return func(c *serverConfig) {
		if maxBytes >= 1 {
			c.bodyLimit = maxBytes
		}
		if status < 400 || status > 599 {
			status = 400
		}
		c.tooBigStatus = status
	}
}

// WithCountsOnly makes the Server keep, of the requests it accepts, only
// counts and violations, for bulk runs (backfills, load tests): every check
// is still made, Len, WaitFor, Duplicates and Violations work as usual, and
// duplicates are still detected (each delivered messageId is kept as a
// 16-byte hash), but Messages, Tracks and Last find nothing and the Body of
// Requests is nil. Memory then stays in the tens of MB for millions of
// messages. Default: off (every message and request body kept, compressed).
func WithCountsOnly() ServerOption {
	return func(c *serverConfig) { c.countsOnly = true }
}

// NewServer starts and returns a Server that accepts writeKey, listening on
// a loopback port. An empty writeKey turns the auth check off. Options that
// are nil are ignored. Like httptest.NewServer, it panics if it cannot
// listen.
func NewServer(writeKey string, opts ...ServerOption) *Server {
	s := &Server{
		writeKey: writeKey,
		cfg:      serverConfig{reject: true, bodyLimit: MaxBatchBytes, tooBigStatus: 400},
		seen:     newIDSet(),
		closing:  make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o(&s.cfg)
		}
	}
	s.countsOnly = s.cfg.countsOnly
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Client returns an *http.Client that talks to the Server; its idle
// connections are closed by Close.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down and blocks until every request it received
// has finished. Hung requests (Hang) and pending delays end at once, their
// connections closed without an answer. The recorded data stays readable.
// Close is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
		s.handlers.Wait()
	})
}

// Respond queues faults for the next requests, after those already
// queued: each request takes one (a Fault with Times(n) serves n, one
// made Always serves every request from its turn on). Requests that find
// the queue empty are processed normally.
func (s *Server) Respond(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		f.times = max(f.times, 1)
		s.faults = append(s.faults, f) // Times(n) stays one entry, used n times
	}
}

// Pending returns the number of queued faults not yet used; a Fault made
// Always counts as 1, and those queued after it are not counted.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		if f.always {
			return n + 1
		}
		n += f.times
	}
	return n
}

// ClearFaults drops every queued fault, Always ones included: the next
// requests are processed normally. What was recorded stays.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Messages returns the delivered messages, decoded, in the order received,
// each messageId once.
func (s *Server) Messages() []Message { return s.messages() }

// Tracks returns the delivered track messages whose event is event, or all
// track messages when event is "".
func (s *Server) Tracks(event string) []Message { return s.tracks(event) }

// Last returns the last delivered message, and false when there is none.
func (s *Server) Last() (Message, bool) { return s.last() }

// Len returns the number of delivered messages (each messageId once).
func (s *Server) Len() int { return s.len() }

// Violations returns every failed check of every processed request, in the
// order found; nil when none.
func (s *Server) Violations() []Violation { return s.violationList() }

// Duplicates returns how many messages arrived again, in accepted requests,
// after their messageId had been delivered (as a client does when an answer
// is lost).
func (s *Server) Duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dups
}

// Requests returns every request received since the last Reset, in order
// of arrival, including those still being handled (Done false).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	recs, r := slices.Clone(s.requests), s.log.reader()
	s.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	out := make([]Request, len(recs))
	for i, rec := range recs {
		out[i] = rec.Request
		if rec.kept {
			out[i].Body = r.get(rec.body)
		}
	}
	return out
}

// WaitRequests blocks until at least n requests have arrived (counting
// since the last Reset; each has taken its Fault, if any, and may still be
// in progress) or ctx ends, when it returns an error wrapping ctx.Err().
// Use it to act while a request hangs or is delayed.
func (s *Server) WaitRequests(ctx context.Context, n int) error {
	return s.waitUntil(ctx, func() int { return len(s.requests) }, n, "requests")
}

// WaitFor blocks until at least n messages have been delivered (counting
// since the last Reset) or ctx ends, when it returns an error wrapping
// ctx.Err(). It never sleeps: every accepted request wakes it.
func (s *Server) WaitFor(ctx context.Context, n int) error { return s.waitFor(ctx, n) }

// Reset forgets the recorded messages, violations, requests, duplicates and
// delivered messageIds, and drops the queued faults.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
	s.requests, s.faults = nil, nil
	s.seen, s.dups = newIDSet(), 0
	s.gen++
	s.notifyLocked()
}

// endpoints maps paths to the call type they imply ("" for batch).
var endpoints = map[string]string{
	"/v1/batch": "", "/v1/track": "track", "/v1/identify": "identify", "/v1/page": "page",
	"/v1/screen": "screen", "/v1/group": "group", "/v1/alias": "alias",
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	typ, known := endpoints[r.URL.Path]

	// Arrival: take the next fault and log the request as in progress.
	var f Fault
	s.mu.Lock()
	if known && r.Method == http.MethodPost && len(s.faults) > 0 {
		f = s.faults[0]
		if !f.always { // an Always fault stays at the head of the queue
			if s.faults[0].times--; s.faults[0].times == 0 {
				s.faults = s.faults[1:]
			}
		}
	}
	idx, gen := len(s.requests), s.gen
	s.requests = append(s.requests, request{Request: req})
	s.notifyLocked()
	s.mu.Unlock()
	var body []byte // kept, as Body, when not nil and not countsOnly
	var kept keptBody
	buf, ok := bodyBuffers.Get().(*bytes.Buffer)
	if !ok {
		buf = new(bytes.Buffer)
	}
	defer func() {
		req.Done = true
		s.mu.Lock()
		if s.gen == gen {
			rec := request{Request: req}
			if body != nil && !s.cfg.countsOnly {
				rec.body, rec.kept = s.keepBodyLocked(body, &kept), true
			}
			s.requests[idx] = rec
		}
		s.notifyLocked()
		s.mu.Unlock()
		s.compressSealed()
		// Nothing refers to body any more: it is kept in the log, or dropped.
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodyBuffers.Put(buf)
		}
	}()

	if !known {
		req.Status = http.StatusNotFound
		writeError(w, req.Status, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		s.addViolations(Violation{Index: -1, Rule: RuleMethod, Reason: r.Method + " is not allowed; use POST"})
		w.Header().Set("Allow", http.MethodPost)
		req.Status = http.StatusMethodNotAllowed
		writeError(w, req.Status, "method_not_allowed", "use POST")
		return
	}

	limit := s.cfg.bodyLimit
	if typ != "" {
		limit = MaxMessageBytes
	}
	body, readErr := readBody(r, limit, buf)
	if f.action == actHang || f.delay > 0 {
		// Read to the end, so that net/http notices a client that gives up.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.closing:
			t.Stop()
			abort(w)
			return
		}
	}
	switch f.action {
	case actHang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		abort(w)
		return
	case actDisconnect:
		abort(w)
		return
	case actStatus:
		for _, h := range f.headers {
			w.Header().Set(h[0], h[1])
		}
		req.Status = f.status
		writeError(w, f.status, "scripted", "scripted fault: "+strconv.Itoa(f.status)+" "+http.StatusText(f.status))
		return
	}

	status, code, msg, accepted := s.process(r, typ, limit, body, readErr, &kept)
	req.Accepted = accepted
	if f.action == actDrop {
		abort(w)
		return
	}
	for _, h := range f.headers {
		w.Header().Set(h[0], h[1])
	}
	req.Status = status
	if status == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"success":true}`)
		return
	}
	writeError(w, status, code, msg)
}

// errTooLarge marks a body over the limit.
type errTooLarge struct{ limit int }

func (e errTooLarge) Error() string {
	return "body is over the " + strconv.Itoa(e.limit) + "-byte limit"
}

// bodyBuffers holds the buffers of readBody (*bytes.Buffer), reused once a
// request is done; those over maxPooledBody are dropped instead.
var bodyBuffers sync.Pool

const maxPooledBody = 8 << 20

// readBody reads at most limit+1 uncompressed bytes of r's body into buf,
// which is empty, and returns them.
func readBody(r *http.Request, limit int, buf *bytes.Buffer) ([]byte, error) {
	var src io.Reader = r.Body
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer func() { _ = zr.Close() }() // a gzip reader's Close only reports an earlier read error
		src = zr
	default:
		return nil, fmt.Errorf("unsupported Content-Encoding %q", ce)
	}
	// A plain body of known length is read into a buffer of that size, with
	// room to notice a longer one.
	if src == r.Body && r.ContentLength > 0 && r.ContentLength <= int64(limit) {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // ReadFrom wants MinRead free bytes
	}
	_, err := buf.ReadFrom(io.LimitReader(src, int64(limit)+1))
	b := buf.Bytes()
	if err != nil {
		return b, fmt.Errorf("reading body: %w", err)
	}
	if len(b) > limit {
		return b, errTooLarge{limit}
	}
	return b, nil
}

// process checks a request and records its messages when it is accepted,
// then keeps the body with them and says where in kept.
func (s *Server) process(r *http.Request, typ string, limit int, body []byte, readErr error, kept *keptBody) (status int, code, msg string, accepted int) {
	hard := func(status int, code string, v Violation) (int, string, string, int) {
		v.Index = -1
		s.addViolations(v)
		return status, code, v.Reason, 0
	}
	if s.writeKey != "" {
		user, _, ok := r.BasicAuth()
		switch {
		case !ok:
			return hard(http.StatusUnauthorized, "unauthorized", Violation{Field: "Authorization", Rule: RuleAuth,
				Reason: "Basic auth with the write key is required"})
		case user != s.writeKey:
			return hard(http.StatusUnauthorized, "unauthorized", Violation{Field: "Authorization", Rule: RuleAuth,
				Reason: "invalid write key"})
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return hard(http.StatusBadRequest, "invalid_request", Violation{Field: "Content-Type", Rule: RuleContentType,
			Reason: fmt.Sprintf("Content-Type %q is not application/json", r.Header.Get("Content-Type"))})
	}
	if readErr != nil {
		var tl errTooLarge
		if errors.As(readErr, &tl) {
			return hard(s.cfg.tooBigStatus, "payload_too_large", Violation{Rule: RuleBodySize,
				Reason: readErr.Error()})
		}
		return hard(http.StatusBadRequest, "invalid_request", Violation{Field: "Content-Encoding", Rule: RuleEncoding,
			Reason: readErr.Error()})
	}

	var vs []Violation
	var raws []json.RawMessage
	var infos []msgInfo
	var writeKey *string
	fast := false
	if typ == "" {
		raws, infos, writeKey, fast = fastBatch(body, limit)
	}
	switch {
	case fast:
		// Nothing to report (see fastpath.go); raws share body.
	case typ == "":
		var bb *batchBody
		vs, bb = validateBatch(body, limit)
		if bb == nil {
			s.addViolations(vs...)
			return http.StatusBadRequest, "invalid_json", vs[0].Reason, 0
		}
		raws, writeKey = bb.Batch, bb.WriteKey
	default:
		if !json.Valid(body) {
			return hard(http.StatusBadRequest, "invalid_json", Violation{Rule: RuleJSON, Reason: "body is not valid JSON"})
		}
		vs = validateMessage(body, 0, typ)
		var k struct {
			WriteKey *string `json:"writeKey"`
		}
		_ = json.Unmarshal(body, &k)
		raws, writeKey = []json.RawMessage{body}, k.WriteKey
		infos = []msgInfo{infoOf(body, typ)}
		infos[0].off = 0
	}
	if writeKey != nil && s.writeKey != "" && *writeKey != s.writeKey {
		vs = append(vs, Violation{Index: -1, Field: "writeKey", Rule: RuleAuth, Reason: "writeKey in the body is not the write key"})
	}
	rejectHard, rejectSoft := false, false
	for _, v := range vs {
		switch v.Rule {
		case RuleMessageSize, RuleJSON:
			if v.Index < 0 || v.Rule == RuleMessageSize {
				rejectHard = true
				continue
			}
		}
		rejectSoft = true
	}
	if rejectHard || (rejectSoft && s.cfg.reject) {
		s.addViolations(vs...)
		return http.StatusBadRequest, "invalid_request", vs[0].String(), 0
	}

	if infos == nil { // the full checks of a batch: raws are copies
		infos = make([]msgInfo, len(raws))
		for i, raw := range raws {
			infos[i] = infoOf(raw, typ)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, vs...)
	var bodyAt span
	if !s.countsOnly {
		bodyAt = s.keepBodyLocked(body, kept)
	}
	for i, raw := range raws {
		if id := infos[i].id; id != "" && !s.seen.add(id) {
			s.dups++
			continue
		}
		var at span
		switch {
		case s.countsOnly:
		case infos[i].off >= 0:
			at = bodyAt.sub(infos[i].off, len(raw))
		default:
			at = s.keepLocked(raw)
		}
		s.addLocked(at, infos[i])
	}
	s.notifyLocked()
	return http.StatusOK, "", "", len(raws)
}

func (s *Server) addViolations(vs ...Violation) {
	if len(vs) == 0 {
		return
	}
	s.mu.Lock()
	s.violations = append(s.violations, vs...)
	s.mu.Unlock()
}

// writeError answers status with a Segment-style JSON error body.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// abort closes the request's connection without an answer.
func abort(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
