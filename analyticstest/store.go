package analyticstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"sync"
)

// store holds delivered messages and wakes waiters on every change. The
// zero value is ready to use. Messages are kept as their bytes and decoded
// when read; with countsOnly only their number is kept.
type store struct {
	mu         sync.Mutex
	countsOnly bool
	msgs       []stored // nil when countsOnly
	n          int      // messages recorded
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

// stored is one recorded message: its bytes (owned by the store, possibly
// shared with other messages of the same request) and what queries filter on.
type stored struct {
	raw        []byte
	typ, event string
}

// addLocked records one message. Called with mu held.
func (s *store) addLocked(raw []byte, info msgInfo) {
	s.n++
	if !s.countsOnly {
		s.msgs = append(s.msgs, stored{raw: raw, typ: info.typ, event: info.event})
	}
}

// resetLocked forgets the messages and violations. Called with mu held.
func (s *store) resetLocked() {
	s.msgs, s.violations, s.n = nil, nil, 0
}

// decode returns the Message of m.
func (m stored) decode() Message {
	d, err := DecodeMessage(m.raw)
	if err != nil {
		d = Message{Raw: bytes.Clone(m.raw)}
	}
	if d.Type == "" {
		d.Type = m.typ
	}
	return d
}

// infoOf returns what the store keeps of a message checked by the full
// checks; impliedType is the call type of a single-call endpoint.
func infoOf(raw []byte, impliedType string) msgInfo {
	var w struct {
		Type      string `json:"type"`
		MessageID string `json:"messageId"`
		Event     string `json:"event"`
	}
	_ = json.Unmarshal(raw, &w) // a message that does not decode keeps what did
	if w.Type == "" {
		w.Type = impliedType
	}
	if w.Type != "track" {
		w.Event = ""
	}
	return msgInfo{typ: w.Type, id: w.MessageID, event: w.Event}
}

func (s *store) messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.msgs == nil {
		return nil
	}
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.decode()
	}
	return out
}

func (s *store) tracks(event string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.typ == "track" && (event == "" || m.event == event) {
			out = append(out, m.decode())
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
	return s.msgs[len(s.msgs)-1].decode(), true
}

func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *store) violationList() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// waitFor blocks until at least n messages are recorded or ctx ends.
func (s *store) waitFor(ctx context.Context, n int) error {
	return s.waitUntil(ctx, func() int { return s.n }, n, "messages")
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

// idSet is a set of messageIds, each kept as a 128-bit hash (16 bytes
// whatever the id's length) under seeds of its own, so that a million ids
// take tens of MB rather than hundreds. Two distinct ids share a hash with
// probability about n²/2¹²⁹: never, in practice.
type idSet struct {
	seeds [2]maphash.Seed
	m     map[[2]uint64]struct{}
}

func newIDSet() idSet {
	return idSet{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, m: map[[2]uint64]struct{}{}}
}

// add adds id and reports whether it was new.
func (s idSet) add(id string) bool {
	k := [2]uint64{maphash.String(s.seeds[0], id), maphash.String(s.seeds[1], id)}
	if _, dup := s.m[k]; dup {
		return false
	}
	s.m[k] = struct{}{}
	return true
}
