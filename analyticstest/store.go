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
// zero value is ready to use. Messages are kept as their bytes, compressed
// (blobs.go), and decoded when read; with countsOnly only their number is
// kept.
type store struct {
	mu         sync.Mutex
	countsOnly bool
	log        *blobLog          // the kept bytes; nil until some are kept
	msgs       []stored          // nil when countsOnly; append-only until reset
	names      map[string]string // the types and events of msgs, each kept once
	n          int               // messages recorded
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

// stored is one recorded message: where its bytes are in the log (possibly
// within the body of its request) and what queries filter on.
type stored struct {
	at         span
	typ, event string
}

// keepLocked appends b to the log and returns where it is. Called with mu
// held; the caller calls compressSealed once it has let go of mu.
func (s *store) keepLocked(b []byte) span {
	s.reserveLocked(len(b))
	return s.log.put(b)
}

// reserveLocked makes room for n bytes in the log's open block (see
// blobLog.reserve). Called with mu held; the caller calls compressSealed
// once it has let go of mu.
func (s *store) reserveLocked(n int) {
	if s.log == nil {
		s.log = &blobLog{}
	}
	s.log.reserve(n)
}

// compressSealed compresses the blocks sealed and not yet compressed.
// Called without mu: it compresses outside the lock, taking it to find a
// block and to install the result. The raw bytes stay readable meanwhile.
func (s *store) compressSealed() {
	for {
		s.mu.Lock()
		l := s.log
		if l == nil || len(l.toCompress) == 0 {
			s.mu.Unlock()
			return
		}
		i := l.toCompress[0]
		l.toCompress = l.toCompress[1:]
		raw := l.blocks[i].raw
		s.mu.Unlock()
		z := deflate(raw)
		s.mu.Lock()
		l.blocks[i].z, l.blocks[i].raw = z, nil // l may have been Reset away: then no one reads it
		s.mu.Unlock()
	}
}

// addLocked records one message, kept at at. Called with mu held.
func (s *store) addLocked(at span, info msgInfo) {
	s.n++
	if !s.countsOnly {
		s.msgs = append(s.msgs, stored{at: at, typ: s.nameLocked(info.typ), event: s.nameLocked(info.event)})
	}
}

// nameLocked returns the string equal to name that the store keeps, so that
// a million messages of one event share one copy. Called with mu held.
func (s *store) nameLocked(name string) string {
	if kept, ok := s.names[name]; ok {
		return kept
	}
	if s.names == nil {
		s.names = map[string]string{}
	}
	s.names[name] = name
	return name
}

// resetLocked forgets the messages and violations. Called with mu held.
func (s *store) resetLocked() {
	s.msgs, s.names, s.violations, s.n, s.log = nil, nil, nil, 0, nil
}

// decode returns the Message of m, whose bytes r holds.
func (m stored) decode(r *blobReader) Message {
	raw := r.get(m.at)
	d, err := DecodeMessage(raw)
	if err != nil {
		d = Message{Raw: bytes.Clone(raw)}
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
	return msgInfo{typ: w.Type, id: w.MessageID, event: w.Event, off: -1}
}

// snapshot returns the recorded messages and a reader of their bytes. The
// elements of s.msgs are never written once appended, so the caller may
// read the returned slice without mu.
func (s *store) snapshot() ([]stored, *blobReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[:len(s.msgs):len(s.msgs)], s.log.reader()
}

func (s *store) messages() []Message {
	msgs, r := s.snapshot()
	if msgs == nil {
		return nil
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = m.decode(r)
	}
	return out
}

func (s *store) tracks(event string) []Message {
	msgs, r := s.snapshot()
	var out []Message
	for _, m := range msgs {
		if m.typ == "track" && (event == "" || m.event == event) {
			out = append(out, m.decode(r))
		}
	}
	return out
}

func (s *store) last() (Message, bool) {
	msgs, r := s.snapshot()
	if len(msgs) == 0 {
		return Message{}, false
	}
	return msgs[len(msgs)-1].decode(r), true
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
