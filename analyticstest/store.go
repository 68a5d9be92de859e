package analyticstest

import (
	"context"
	"fmt"
	"sync"
)

// store holds delivered messages and wakes waiters on every change. The
// zero value is ready to use.
type store struct {
	mu         sync.Mutex
	msgs       []Message
	violations []Violation
	changed    chan struct{} // closed and replaced on every change; nil until first needed
}

// notifyLocked wakes every WaitFor. Called with mu held.
func (s *store) notifyLocked() {
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

func (s *store) messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func (s *store) tracks(event string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.Type == "track" && (event == "" || m.Event == event) {
			out = append(out, m)
		}
	}
	return out
}

func (s *store) last() (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return Message{}, false
	}
	return s.msgs[len(s.msgs)-1], true
}

func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

func (s *store) violationList() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// waitFor blocks until at least n messages are recorded or ctx ends.
func (s *store) waitFor(ctx context.Context, n int) error {
	return s.waitUntil(ctx, func() int { return len(s.msgs) }, n, "messages")
}

// waitUntil blocks until count() (called with mu held) is at least n, or
// ctx ends. Every notifyLocked re-evaluates it.
func (s *store) waitUntil(ctx context.Context, count func() int, n int, what string) error {
	for {
		s.mu.Lock()
		have := count()
		if have >= n {
			s.mu.Unlock()
			return nil
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("analyticstest: waiting for %d %s, have %d: %w", n, what, have, ctx.Err())
		}
	}
}
