package analyticstest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"github.com/tracklane/analytics/internal/ecomspec"
	"strings"
	"unicode/utf8"
)

// The fast path: one pass over a batch body or a message, without
// allocating a decoded tree, that proves it has nothing Validate or
// ValidateBatch would report. It answers ok only when it is sure; anything
// unusual (an escaped key, a null where a string goes, a member present
// twice, a failed rule, ...) answers not ok and the caller runs the full
// checks, which then say exactly what is wrong. So the rules applied are
// always those of validate.go: on the bodies the fast path accepts, the
// full checks find nothing (TestFastPathAgreesWithValidate and
// FuzzFastPath hold it to that), and every other body gets the full checks.
// The ecommerce property checks reuse validate.go's own schema and
// checkMembers.

// msgInfo is what the store keeps of a message besides its bytes, and
// where those are.
type msgInfo struct {
	typ, id, event string
	// off is the offset of the message in the request body it is a piece
	// of, as fastBatch finds it; -1 when it is not known to be one.
	off int
}

// fastBatch returns the messages of body (sub-slices of body) and the body's
// writeKey, when body is a /v1/batch body of at most limit bytes in which
// the full checks would find nothing wrong.
func fastBatch(body []byte, limit int) (raws []json.RawMessage, infos []msgInfo, writeKey *string, ok bool) {
	if len(body) > limit || !utf8.Valid(body) {
		return nil, nil, nil, false
	}
	s := scanner{b: body}
	s.ws()
	var sawBatch, sawSentAt bool
	ok = s.object(func(key []byte, start, end int, k byte) bool {
		switch string(key) {
		case "batch":
			if k != '[' {
				return false
			}
			sawBatch = true
			return true // elements are collected below
		case "sentAt":
			sv, isStr := s.str(start, end, k)
			sawSentAt = true
			return isStr && checkTime(sv)
		case "writeKey":
			sv, isStr := s.str(start, end, k)
			writeKey = &sv
			return isStr
		}
		// encoding/json matches members case-insensitively: leave such
		// spellings to the full checks.
		return !strings.EqualFold(string(key), "batch") && !strings.EqualFold(string(key), "sentAt") &&
			!strings.EqualFold(string(key), "writeKey")
	}, func(key []byte, k byte) (bool, bool) {
		if k != '[' || string(key) != "batch" {
			return false, false
		}
		return true, s.elementsWith(func() bool { // each message scanned once, in place
			start := s.i
			if start >= len(body) || body[start] != '{' {
				return false
			}
			info, good := s.message()
			if !good || len(raws) == MaxBatchMessages {
				return false
			}
			info.off = start
			raws, infos = append(raws, body[start:s.i:s.i]), append(infos, info)
			return true
		})
	})
	s.ws()
	if !ok || s.i != len(body) || !sawBatch || !sawSentAt || len(raws) == 0 {
		return nil, nil, nil, false
	}
	return raws, infos, writeKey, true
}

// fastMessage reports what msg is when it is a batch member in which
// Validate would find nothing wrong.
func fastMessage(msg []byte) (msgInfo, bool) {
	if len(msg) > MaxMessageBytes || !utf8.Valid(msg) {
		return msgInfo{}, false
	}
	s := scanner{b: msg}
	s.ws()
	info, ok := s.message()
	s.ws()
	return info, ok && s.i == len(msg)
}

// message scans the object at s.i (in a buffer known to be valid UTF-8) as
// one message, and reports what it is when Validate would find nothing
// wrong with exactly its bytes.
func (s *scanner) message() (msgInfo, bool) {
	var (
		info                                    msgInfo
		hasUser, hasAnon, hasPrevious, hasGroup bool // non-empty strings
		hasTS, libOK, propsChecked              bool
		propsStart, propsEnd                    = -1, -1
		msg                                     = s.b
		first                                   = s.i
	)
	ok := s.object(func(key []byte, start, end int, k byte) bool {
		var target *string // the members kept as strings
		var present *bool  // the members only checked to be non-empty strings
		switch string(key) {
		case "type":
			target = &info.typ
		case "messageId":
			target = &info.id
		case "event":
			target = &info.event
		case "userId":
			present = &hasUser
		case "anonymousId":
			present = &hasAnon
		case "previousId":
			present = &hasPrevious
		case "groupId":
			present = &hasGroup
		case "name", "category":
			var discard bool
			present = &discard
		case "timestamp":
			hasTS = true
			return s.isTime(start, end, k)
		case "sentAt":
			return s.isTime(start, end, k)
		case "properties":
			if k != '{' {
				return false
			}
			propsStart, propsEnd = start, end
			return true
		case "traits", "integrations":
			return k == '{'
		case "context":
			if k != '{' {
				return false
			}
			libOK = fastLibrary(msg, start)
			return true
		default:
			return true
		}
		if present != nil {
			nonEmpty, isStr := s.nonEmpty(start, end, k)
			*present = nonEmpty
			return isStr
		}
		sv, isStr := s.str(start, end, k)
		*target = sv
		return isStr
	}, func(key []byte, k byte) (bool, bool) {
		// The properties of an ecommerce track are checked as they are
		// scanned when type and event came first (as the client writes them).
		if k != '{' || info.typ != "track" || string(key) != "properties" {
			return false, false
		}
		ev, isEcommerce := ecomspec.Lookup(info.event)
		if !isEcommerce {
			return false, false
		}
		propsChecked = true
		return true, s.members(ev.Keys(), false)
	})
	if !ok || s.i-first > MaxMessageBytes || !libOK || !hasTS {
		return msgInfo{}, false
	}
	if info.id == "" || utf8.RuneCountInString(info.id) > MaxMessageIDLen {
		return msgInfo{}, false
	}
	switch info.typ {
	case "alias":
		if !hasUser || !hasPrevious {
			return msgInfo{}, false
		}
	case "track", "identify", "page", "screen", "group":
		if !hasUser && !hasAnon {
			return msgInfo{}, false
		}
	default:
		return msgInfo{}, false
	}
	switch info.typ {
	case "track":
		if info.event == "" {
			return msgInfo{}, false
		}
	case "group":
		if !hasGroup {
			return msgInfo{}, false
		}
	}
	if info.typ == "track" {
		if ev, isEcommerce := ecomspec.Lookup(info.event); isEcommerce && propsStart >= 0 && !propsChecked {
			p := scanner{b: msg[:propsEnd], i: propsStart}
			if !p.members(ev.Keys(), false) {
				return msgInfo{}, false
			}
		}
	} else {
		info.event = ""
	}
	return info, true
}

// fastLibrary reports whether the context object at start has a library
// object with non-empty string name and version.
func fastLibrary(msg []byte, start int) bool {
	s := scanner{b: msg, i: start}
	found := false
	s.object(func(key []byte, lstart, lend int, k byte) bool {
		if string(key) != "library" || k != '{' {
			return true
		}
		var name, version bool // non-empty strings
		l := scanner{b: msg, i: lstart}
		good := l.object(func(key []byte, vstart, vend int, k byte) bool {
			switch string(key) {
			case "name":
				name, _ = l.nonEmpty(vstart, vend, k)
			case "version":
				version, _ = l.nonEmpty(vstart, vend, k)
			}
			return true
		}, nil)
		found = good && name && version
		return true
	}, nil)
	return found
}

// members reports whether the object at s.i passes checkMembers against
// schema (or, with typeValues, the members of a filters or sorts element,
// as checkKind checks them): the same rules, on the raw bytes (the object
// is known to be valid JSON). A type it does not know fails.
func (s *scanner) members(schema ecomspec.Set, typeValues bool) bool {
	return s.object(func(key []byte, start, _ int, k byte) bool {
		var want ecomspec.Type
		if typeValues {
			if string(key) != "type" && string(key) != "value" {
				return true // custom members of an element are free
			}
			want = ecomspec.String
		} else {
			sk, ok := schema.Named(string(key))
			if !ok {
				if _, isV1 := ecomspec.V1Name(string(key)); isV1 {
					return false
				}
				_, camel := schema.Named(ecomspec.SnakeCase(string(key)))
				return !camel
			}
			want = sk.Type()
		}
		switch want {
		case ecomspec.String:
			return k == '"'
		case ecomspec.Number:
			return k == '-' || (k >= '0' && k <= '9')
		case ecomspec.StringOrObject:
			return k == '"' || k == '{'
		case ecomspec.Products, ecomspec.TypeValues:
			if k != '[' {
				return false
			}
			e := scanner{b: s.b, i: start}
			return e.elements(func(es, _ int) bool {
				o := scanner{b: s.b, i: es}
				return s.b[es] == '{' && o.members(ecomspec.ProductFields(), want == ecomspec.TypeValues)
			})
		}
		return false
	}, nil)
}

// scanner walks JSON text, checking its syntax and that no object has the
// same member twice.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// nonEmpty reports whether the value at b[start:end] (k is its first byte)
// is a string whose escapes decode (isStr), and whether that string is not
// empty; without escapes it allocates nothing.
func (s *scanner) nonEmpty(start, end int, k byte) (nonEmpty, isStr bool) {
	if k == '"' && bytes.IndexByte(s.b[start+1:end-1], '\\') < 0 {
		return end-start > 2, true
	}
	sv, isStr := s.str(start, end, k)
	return sv != "", isStr
}

// isTime reports whether the value at b[start:end] (k is its first byte) is
// a string checkTime accepts; without escapes it allocates nothing.
func (s *scanner) isTime(start, end int, k byte) bool {
	if k == '"' && bytes.IndexByte(s.b[start+1:end-1], '\\') < 0 {
		return checkTime(string(s.b[start+1 : end-1]))
	}
	sv, isStr := s.str(start, end, k)
	return isStr && checkTime(sv)
}

// str returns the string value at b[start:end] (k is its first byte);
// false when it is not a string or its escapes do not decode.
func (s *scanner) str(start, end int, k byte) (string, bool) {
	if k != '"' {
		return "", false
	}
	raw := s.b[start+1 : end-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), true
	}
	var v string
	if json.Unmarshal(s.b[start:end], &v) != nil {
		return "", false
	}
	return v, true
}

// object scans the object at s.i. member is called for each member with the
// key (unescaped keys only), the span of its value and the value's first
// byte, after the value has been scanned; it answers false to stop. scanAt,
// when not nil, is asked first for each member whether it scans the value
// itself (handled), and if so whether it was good.
func (s *scanner) object(member func(key []byte, start, end int, k byte) bool, scanAt func(key []byte, k byte) (handled, ok bool)) bool {
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	if s.enter('}') {
		return true
	}
	var keysBuf [16][]byte
	keys := keysBuf[:0]
	for {
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		ks := s.i
		if !s.skipString() {
			return false
		}
		key := s.b[ks+1 : s.i-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return false
			}
		}
		keys = append(keys, key)
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		start, k := s.i, s.b[s.i]
		handled, ok := false, false
		if scanAt != nil {
			handled, ok = scanAt(key, k)
		}
		if !handled {
			ok = s.value()
		}
		if !ok {
			return false
		}
		if member != nil && !member(key, start, s.i, k) {
			return false
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

// next consumes what follows a member or an element: more is true after a
// comma, false after end (the container's closing byte); ok is false on
// anything else.
func (s *scanner) next(end byte) (more, ok bool) {
	s.ws()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case end:
		s.i++
		return false, true
	}
	return false, false
}

// elements scans the array at s.i, handing each element's span to elem.
func (s *scanner) elements(elem func(start, end int) bool) bool {
	return s.elementsWith(func() bool {
		start := s.i
		return s.value() && elem(start, s.i)
	})
}

// enter consumes the opening byte of the object or array at s.i and the
// space after it, and reports whether the container is empty: then it
// consumes end, its closing byte, as well.
func (s *scanner) enter(end byte) (empty bool) {
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == end {
		s.i++
		return true
	}
	return false
}

// elementsWith scans the array at s.i; scan scans each element at s.i.
func (s *scanner) elementsWith(scan func() bool) bool {
	if s.enter(']') {
		return true
	}
	for {
		s.ws()
		if !scan() {
			return false
		}
		if more, ok := s.next(']'); !more {
			return ok
		}
	}
}

// value scans one JSON value at s.i.
func (s *scanner) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		inner := scanner{b: s.b, i: s.i}
		if !inner.object(nil, nil) {
			return false
		}
		s.i = inner.i
		return true
	case c == '[':
		return s.elements(func(int, int) bool { return true })
	case c == '"':
		return s.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	}
	return false
}

func (s *scanner) lit(w string) bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return false
	}
	s.i += len(w)
	return true
}

// skipString scans a string at s.i (the opening quote), checking escapes
// and that no control character appears unescaped.
func (s *scanner) skipString() bool {
	b, i := s.b, s.i+1
	for {
		for i+8 <= len(b) && !specialIn(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return true
		case c < 0x20:
			s.i = i
			return false
		}
		// c is a backslash: plain holds every other byte.
		i++
		if i >= len(b) {
			s.i = i
			return false
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+5 > len(b) {
				s.i = i
				return false
			}
			for _, h := range b[i+1 : i+5] {
				if !isHex(h) {
					s.i = i
					return false
				}
			}
			i += 5
		default:
			s.i = i
			return false
		}
	}
}

// specialIn reports whether one of the 8 bytes of v is not plain: a quote,
// a backslash or a control byte. Each test is exact for "some byte is" (the
// borrow of a subtraction can only come from a byte that is): x - 0x01...
// & ^x & 0x80... is not zero exactly when a byte of x is zero, and, for n
// at most 0x80, x - n*0x01... & ^x & 0x80... exactly when a byte is below n.
func specialIn(v uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := v^('"'*ones), v^('\\'*ones)
	return ((q-ones)&^q|(bs-ones)&^bs|(v-0x20*ones)&^v)&highs != 0
}

// plain marks the bytes a string may hold as they are.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number scans a JSON number at s.i.
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
