package analyticstest

import (
	"net/http"
	"strconv"
	"time"
)

// Fault scripts how a Server answers one request. Queue faults with
// Server.Respond; each request takes the next one, and a request that finds
// the queue empty is processed normally. Build a Fault with Status,
// Process, Hang, Disconnect or ProcessThenDisconnect, and refine it with its
// methods, which return a modified copy:
//
//	srv.Respond(
//		analyticstest.Status(500).Times(2),
//		analyticstest.Status(429).RetryAfter(time.Second),
//		analyticstest.Process().Delay(50*time.Millisecond),
//	)
//
// A Fault made Always serves every request from then on, until
// Server.ClearFaults or Server.Reset:
//
//	srv.Respond(analyticstest.Status(503).Always()) // an outage
//	...
//	srv.ClearFaults() // the outage ends
//
// The zero Fault is Process().
type Fault struct {
	action  action
	status  int
	headers [][2]string
	delay   time.Duration
	times   int
	always  bool
}

type action uint8

const (
	actProcess    action = iota // check and record as usual
	actStatus                   // answer status, record nothing
	actHang                     // answer nothing until the client gives up or the server closes
	actDisconnect               // close the connection without an answer, record nothing
	actDrop                     // check and record as usual, then close the connection without an answer
)

// Status answers the request with code and a JSON error body, without
// checking or recording its messages (so they are not delivered, even when
// code is 200). A code outside 100..599 means 500.
func Status(code int) Fault {
	if code < 100 || code > 599 {
		code = 500
	}
	return Fault{action: actStatus, status: code}
}

// Process checks and records the request as usual. Use it to place a normal
// answer in a sequence, or with Delay for a slow but successful server.
func Process() Fault { return Fault{} }

// Hang answers nothing: the request stays open until the client gives up
// (its context or timeout ends) or the Server is closed, and then the
// connection is closed. Its messages are not recorded.
func Hang() Fault { return Fault{action: actHang} }

// Disconnect closes the connection without an answer, as a crashed server
// or a proxy would. The client sees a network error. Its messages are not
// recorded.
func Disconnect() Fault { return Fault{action: actDisconnect} }

// ProcessThenDisconnect checks and records the request as usual (a valid
// batch counts as delivered), then closes the connection instead of
// answering, so the client retries what was in fact delivered. The
// redelivered messageIds are counted by Server.Duplicates.
func ProcessThenDisconnect() Fault { return Fault{action: actDrop} }

// Header returns f that also sets header key to value on its answer (only
// answers with a status carry headers).
func (f Fault) Header(key, value string) Fault {
	f.headers = append(f.headers[:len(f.headers):len(f.headers)], [2]string{key, value})
	return f
}

// RetryAfter returns f with a Retry-After header of d in whole seconds
// (rounded up; negative counts as 0), as Segment sends on a 429.
func (f Fault) RetryAfter(d time.Duration) Fault {
	secs := max(0, (d+time.Second-1)/time.Second)
	return f.Header("Retry-After", strconv.FormatInt(int64(secs), 10))
}

// RetryAt returns f with a Retry-After header in the HTTP-date form.
func (f Fault) RetryAt(t time.Time) Fault {
	return f.Header("Retry-After", t.UTC().Format(http.TimeFormat))
}

// Delay returns f that first waits d (latency). The wait ends early, with
// no answer, when the client gives up or the Server closes. Zero or
// negative: no delay.
func (f Fault) Delay(d time.Duration) Fault {
	f.delay = max(d, 0)
	return f
}

// Times returns f that applies to the next n requests instead of one.
// n below 1 counts as 1.
func (f Fault) Times(n int) Fault {
	f.times = max(n, 1)
	return f
}

// Always returns f that applies to every request from its turn on,
// instead of one: an outage or a permanently slow server. Faults queued
// after it are never reached; Server.ClearFaults or Server.Reset removes it.
// Always overrides Times.
func (f Fault) Always() Fault {
	f.always = true
	return f
}
