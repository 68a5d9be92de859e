// Package retry is the retry policy of the batcher: capped exponential
// backoff (cenkalti/backoff/v4) with injected jitter, a server-given delay
// as a floor, and a budget of attempts and total time.
package retry

import (
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Policy bounds the attempts of one batch.
type Policy struct {
	Initial  time.Duration  // first delay before jitter
	Max      time.Duration  // cap of every delay (a server-given floor may exceed it)
	Jitter   func() float64 // uniform in [0,1); each delay is scaled by 0.5+Jitter()
	Attempts int            // most attempts charged, the first included
	MaxTime  time.Duration  // most time from the first attempt to the start of the last
}

// State tracks the attempts of one batch.
type State struct {
	p        *Policy
	start    time.Time
	attempts int // attempts made
	charged  int // attempts counted against Policy.Attempts
	bo       backoff.ExponentialBackOff
}

// Start begins the attempts of one batch at now.
func (p *Policy) Start(now time.Time) *State {
	s := &State{p: p, start: now}
	s.bo = backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: 0, // jitter is applied below, from the injected source
		Multiplier:          2,
		MaxInterval:         p.Max,
		MaxElapsedTime:      0, // the budget is enforced here, not by backoff
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	s.bo.Reset()
	return s
}

// Begin records an attempt.
func (s *State) Begin() {
	s.attempts++
	s.charged++
}

// Deadline returns the end of the batch's time budget.
func (s *State) Deadline() time.Time { return s.start.Add(s.p.MaxTime) }

// Attempts returns the number of attempts made.
func (s *State) Attempts() int { return s.attempts }

// Refund stops the last attempt from counting against the budget (a 429 that
// said when to come back).
func (s *State) Refund() {
	if s.charged > 0 {
		s.charged--
	}
}

// Next returns the delay before the next attempt, at least floor, and false
// when the budget does not allow another attempt.
func (s *State) Next(now time.Time, floor time.Duration) (time.Duration, bool) {
	if s.charged >= s.p.Attempts {
		return 0, false
	}
	base := s.bo.NextBackOff()
	d := time.Duration(float64(base) * (0.5 + s.p.Jitter()))
	d = min(d, s.p.Max)
	d = max(d, floor)
	if now.Add(d).Sub(s.start) > s.p.MaxTime {
		return 0, false
	}
	return d, true
}
