package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file is the delivery policy: one function, decide, takes the facts
// of one upload attempt and returns what to do with the batch. Transports
// report facts (attempt); the batcher carries out decisions. The status
// table in README.md ("What each answer does") and the HTTPError doc are
// checked against decide by TestPolicyTableMatchesREADME.

// attempt is what one upload attempt produced: either a transport error
// (no response) or a response.
type attempt struct {
	err error // the transport's error: network failure, *HTTPError from a custom transport, panic

	// The response, when status != 0.
	status         int
	retryAfter     string        // raw Retry-After header
	rateLimitReset string        // raw X-RateLimit-Reset header
	after          time.Duration // a delay already parsed by a custom transport (HTTPError.RetryAfter)
	contentType    string
	raw            []byte // the start of the body as received, for the policy's look (never reported)
	body           string // the start of the body for reports: write key removed, then cut
	url            string // the URL posted to (never holds the write key)
}

// verdict is the kind of decision.
type verdict uint8

const (
	deliver verdict = iota + 1 // the batch was accepted
	resend                     // send the same bytes again after delay
	split                      // send each half on its own
	reject                     // fail the batch with reason, never retried
	pause                      // stop every upload of the client until delay has passed, then retry
)

func (v verdict) String() string {
	switch v {
	case deliver:
		return "delivered"
	case resend:
		return "retried"
	case split:
		return "split"
	case reject:
		return "rejected"
	case pause:
		return "paused"
	}
	return "unknown"
}

// decision is what decide says to do with a batch after one attempt.
type decision struct {
	verdict verdict
	// delay: for retry, the least wait the server asked for (a floor on the
	// backoff); for pause, how long every upload waits. 0 when the server said nothing.
	delay time.Duration
	// refund: the attempt does not use up one of the batch's attempts (a
	// 429 that said when to come back).
	refund bool
	// reason: for reject, the error reported (wraps ErrRejected); for retry
	// and pause, the attempt's error, kept as the last reason.
	reason error
}

// batchFacts is what decide needs to know of the batch itself.
type batchFacts struct {
	size        int  // messages in the batch
	canBisect   bool // a 400 may still be bisected within the batch's budget
	maxDelay    time.Duration
	nowForDates time.Time
}

// decide is the delivery policy.
func decide(a attempt, b batchFacts) decision {
	if a.status == 0 {
		var pe *panicError
		if errors.As(a.err, &pe) {
			return decision{verdict: reject, reason: fmt.Errorf("%w: %w", ErrRejected, a.err)}
		}
		if a.err == nil {
			return decision{verdict: deliver}
		}
		return decision{verdict: resend, reason: a.err} // a network error: may succeed later
	}
	he := a.httpError()
	c := a.status
	if he.RetryAfter == 0 {
		he.RetryAfter = min(serverDelay(a, b.nowForDates, c == 429), b.maxDelay)
	}
	switch {
	case c >= 200 && c <= 299:
		if reason := refused2xx(a); reason != "" {
			he.Problem = reason
			return decision{verdict: reject, reason: fmt.Errorf("%w: %w", ErrRejected, he)}
		}
		return decision{verdict: deliver}
	case c == 413:
		if b.size > 1 {
			return decision{verdict: split, reason: he}
		}
	case c == 400:
		if b.size > 1 && b.canBisect {
			return decision{verdict: split, reason: he}
		}
		if b.size > 1 {
			he.Problem = "bisection budget spent: the rest of the batch fails with it"
		}
	case c == 429:
		d := min(serverDelay(a, b.nowForDates, true), b.maxDelay)
		return decision{verdict: pause, delay: d, refund: d > 0, reason: he}
	case c == 408, c == 410, c == 460:
		return decision{verdict: resend, delay: min(serverDelay(a, b.nowForDates, false), b.maxDelay), reason: he}
	case c == 501, c == 505, c == 511:
		// Not implemented, HTTP version not supported, network
		// authentication required (a captive portal or OAuth proxy):
		// sending again cannot help.
	case c >= 500 && c <= 599:
		return decision{verdict: resend, delay: min(serverDelay(a, b.nowForDates, false), b.maxDelay), reason: he}
	case c >= 300 && c <= 399, c == 404, c == 405:
		he.Problem = "not a Segment-compatible endpoint: it answers POST /v1/batch with 200 and a JSON body"
	case c < 200:
		he.Problem = "an informational status is not an answer"
	case c > 599:
		he.Problem = "not an HTTP status"
	}
	return decision{verdict: reject, reason: fmt.Errorf("%w: %w", ErrRejected, he)}
}

// httpError is the *HTTPError that reports the response.
func (a attempt) httpError() *HTTPError {
	var he *HTTPError
	if errors.As(a.err, &he) {
		cp := *he // never modify the transport's error
		return &cp
	}
	return &HTTPError{StatusCode: a.status, RetryAfter: a.after, Body: a.body, URL: a.url}
}

// refused2xx says why a 2xx answer is not a delivery, or "" when it is one.
// Segment answers {"success":true}, RudderStack "OK"; Jitsu answers 200 with
// {"ok":false,...} when it refused the events; an HTML page (a proxy's
// sign-in page, a web site at the wrong URL) is never a collector's answer.
func refused2xx(a attempt) string {
	if a.contentType != "" {
		mt, _, err := mime.ParseMediaType(a.contentType)
		if err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
			return "answered with an HTML page, not a Segment-compatible response ({\"success\":true}): is the endpoint right?"
		}
	}
	b := a.raw
	if len(b) == 0 || b[0] != '{' || !bytes.Contains(b, []byte(`"ok"`)) {
		return ""
	}
	var body struct {
		OK *bool `json:"ok"`
	}
	if json.Unmarshal(b, &body) != nil || body.OK == nil || *body.OK {
		return ""
	}
	return `the collector answered {"ok":false}: it refused the events`
}

// serverDelay is the delay the server asked for: Retry-After (seconds, or
// an HTTP date), else on a 429 X-RateLimit-Reset (a delay in seconds, or a
// Unix time in seconds or milliseconds), else a delay a custom transport
// parsed; 0 when none. A value too large to represent means "as long as you
// allow": the caller caps it.
func serverDelay(a attempt, now time.Time, rateLimited bool) time.Duration {
	if d, ok := parseRetryAfter(a.retryAfter, now); ok {
		return d
	}
	if rateLimited {
		if d, ok := parseRateLimitReset(a.rateLimitReset, now); ok {
			return d
		}
	}
	return max(a.after, 0)
}

// forever stands for a delay too long to represent; callers cap it.
const forever = time.Duration(1<<63 - 1)

// parseRetryAfter reads Retry-After: delta-seconds or an HTTP date. Negative,
// unparseable or absent values are not a delay (ok false); a date in the
// past is 0.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, ok := parseSeconds(v); ok {
		return d, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// parseSeconds reads a non-negative number of seconds (integer or decimal).
// Digits too many for an int64 mean forever.
func parseSeconds(v string) (time.Duration, bool) {
	if v == "" || v[0] == '-' || v[0] == '+' {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(forever/time.Second) {
			return forever, true
		}
		return time.Duration(secs) * time.Second, true
	} else if errors.Is(err, strconv.ErrRange) {
		return forever, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f != f { // NaN
		return 0, false
	}
	if f >= float64(forever/time.Second) {
		return forever, true
	}
	return time.Duration(f * float64(time.Second)), true
}

// unixThreshold tells a Unix time from a delay in X-RateLimit-Reset: no
// server asks to wait 31 years, and no reset time is before 2001.
const unixThreshold = 1_000_000_000

// parseRateLimitReset reads X-RateLimit-Reset, which servers write either
// as a delay in seconds or as the Unix time of the reset (in seconds, or in
// milliseconds).
func parseRateLimitReset(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs < 0 || secs != secs {
		return 0, false
	}
	switch {
	case secs >= 1000*unixThreshold: // Unix milliseconds
		return max(time.UnixMilli(int64(secs)).Sub(now), 0), true
	case secs >= unixThreshold: // Unix seconds
		return max(time.Unix(int64(secs), 0).Sub(now), 0), true
	}
	return parseSeconds(v)
}

// bisection bounds the extra requests spent splitting a batch refused with
// 400 to isolate the messages a strict endpoint refuses. Finding each
// refused message costs at most two requests per halving (2·⌈log₂ n⌉), so
// the allowance grows by that much with every refused message isolated:
// with k refused messages in a batch of n, every other message is
// delivered within 2·(k+1)·⌈log₂ n⌉ + 2 extra requests. After maxIsolated
// refused messages the allowance stops growing, so a batch the endpoint
// refuses whole costs a bounded number of requests.
type bisection struct {
	depth    int  // ⌈log₂ n⌉ of the batch first sent
	isolated int  // refused messages isolated so far
	spent    int  // extra requests spent
	active   bool // a 400 split the batch: a lone refused message was isolated
}

// maxIsolated is the most refused messages one batch's bisection isolates.
const maxIsolated = 16

func newBisection(n int) *bisection {
	return &bisection{depth: bits.Len(uint(max(n-1, 1)))}
}

// allowance is the extra requests the batch may spend now.
func (s *bisection) allowance() int {
	return 2*s.depth*(min(s.isolated, maxIsolated)+1) + 2
}

// canSplit reports whether splitting once more (two requests) is allowed.
func (s *bisection) canSplit() bool { return s.spent+2 <= s.allowance() }
