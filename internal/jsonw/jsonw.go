// Package jsonw is a small, allocation-free JSON writer used on the SDK's hot path.
//
// A Writer appends to a byte slice. Keys and values separate themselves: the
// writer remembers whether the next token needs a comma, so callers write
// ObjectStart, Key, String, ..., ObjectEnd without tracking commas.
//
// The first error (a NaN or infinite number, a string that is not valid
// UTF-8, a value that cannot be encoded) is kept and every later call is a
// no-op; Err returns it. Errors name the path of the offending value.
package jsonw

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxDepth bounds recursion through nested custom values.
const maxDepth = 64

// PathError says which value could not be written.
type PathError struct {
	Path string // for example "properties.products[1].price"
	Err  error
}

func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *PathError) Unwrap() error { return e.Err }

// Sentinel errors a Writer reports, wrapped in a *PathError: a float that
// is NaN or ±Inf; a string or key that is not valid UTF-8 (never silently
// replaced); a value JSON cannot hold (a channel, a map with non-string
// keys, an invalid json.Number or json.RawMessage); a custom value nested
// more than 64 levels deep.
var (
	ErrNaN         = errors.New("number is NaN or infinite")
	ErrInvalidUTF8 = errors.New("string is not valid UTF-8")
	ErrUnsupported = errors.New("value cannot be encoded as JSON")
	ErrTooDeep     = errors.New("value is nested too deeply")
)

// frame is an open object or array. The path of the value being written is
// the frames' open keys and indexes: a key opens a member and the end of its
// value closes it, ObjectStart/ArrayStart push a frame and ObjectEnd/ArrayEnd
// pop it, so no caller pairs path pushes and pops by hand.
type frame struct {
	at, n int // object: the key of the member being written, as it is in Buf; n == 0 between members
	index int // array: the element being written; -1 before the first
	array bool
}

// Writer appends JSON to Buf.
type Writer struct {
	Buf   []byte
	comma bool
	err   error
	open  []frame // the open objects and arrays, outermost first
}

// Reset empties the writer, keeping Buf's capacity.
func (w *Writer) Reset(buf []byte) {
	w.Buf = buf[:0]
	w.comma = false
	w.err = nil
	w.open = w.open[:0]
}

// Err returns the first error met, or nil.
func (w *Writer) Err() error { return w.err }

// Fail records err (wrapped with the current path) unless an error is already recorded.
func (w *Writer) Fail(err error) { w.fail(err, "") }

// fail is Fail; a non-empty badKey (not valid UTF-8) names the innermost
// member, quoted, instead of its replacement in Buf.
func (w *Writer) fail(err error, badKey string) {
	if w.err == nil {
		w.err = &PathError{Path: w.pathString(badKey), Err: err}
	}
}

func (w *Writer) pathString(badKey string) string {
	var b strings.Builder
	for i, f := range w.open {
		switch {
		case f.array && f.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(f.index))
			b.WriteByte(']')
		case !f.array && f.n > 0:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			k := string(w.Buf[f.at : f.at+f.n])
			if u, err := strconv.Unquote(`"` + k + `"`); err == nil {
				k = u // the key as given, not as escaped
			}
			if i == len(w.open)-1 && badKey != "" {
				k = strconv.Quote(badKey)
			}
			b.WriteString(k)
		}
	}
	return b.String()
}

// setKey opens the member whose key is Buf[at:at+n] in the innermost
// object (offsets, not a string: no pointer store per key).
func (w *Writer) setKey(at, n int) {
	if i := len(w.open); i > 0 {
		w.open[i-1].at, w.open[i-1].n = at, n
	}
}

// sep writes the comma before a value or key, and counts array elements.
func (w *Writer) sep() {
	if w.comma {
		w.Buf = append(w.Buf, ',')
	}
	if n := len(w.open); n > 0 && w.open[n-1].array {
		w.open[n-1].index++
	}
}

// done ends a value: the next token needs a comma, and the member is closed.
func (w *Writer) done() {
	w.comma = true
	if n := len(w.open); n > 0 {
		w.open[n-1].n = 0
	}
}

// Field writes a constant object key and the colon, without escaping: k
// must be printable ASCII without '"' or '\\' (a property name of the
// spec). The key opens the member: an error in the value written next
// names k in its path.
func (w *Writer) Field(k string) {
	w.sep()
	w.Buf = append(w.Buf, '"')
	w.setKey(len(w.Buf), len(k))
	w.Buf = append(w.Buf, k...)
	w.Buf = append(w.Buf, '"', ':')
	w.comma = false
}

// StringMember writes a member "key":"v" in one step. qk is the key
// pre-quoted with its colon (`"product_id":`), printable ASCII without
// escapes; v is escaped and checked like String. It is Field(key) then
// String(v), faster for the short values of the spec's properties.
func (w *Writer) StringMember(qk, v string) {
	b := w.Buf
	if w.comma {
		b = append(b, ',')
	}
	b = append(b, qk...)
	if plainPrefix(v) == len(v) {
		b = append(b, '"')
		b = append(b, v...)
		w.Buf = append(b, '"')
		w.comma = true
		return
	}
	w.Buf = b
	w.comma = false
	w.setKey(len(b)-len(qk)+1, len(qk)-3) // the error of invalid UTF-8 names the key
	w.String(v)
}

// grow makes room for n more bytes.
func (w *Writer) grow(n int) { w.Buf = slices.Grow(w.Buf, n) }

// A Key is a constant object key made ready for StringKey, FloatKey and
// IntKey: the bytes `,"name":"` held as three words, so that a member's
// key is written by three stores instead of a copy, and the comma needs no
// branch but a choice of words. The zero Key is not valid: use NewKey.
type Key struct {
	comma, first [3]uint64 // `,"name":"` and `"name":"`, little-endian, zero padded to 24 bytes
	n            int       // len(`,"name":"`)
}

// keyRoom is the room a Key's stores take, whatever its length.
const keyRoom = 24

// NewKey returns the Key of name, which must be printable ASCII without
// '"' or '\\' (a property name of the spec) and at most 19 bytes long;
// NewKey panics otherwise (keys are made once, at init).
func NewKey(name string) Key {
	if len(name)+5 > keyRoom || plainPrefix(name) != len(name) {
		panic("jsonw: NewKey(" + strconv.Quote(name) + "): not a short plain name")
	}
	var b [keyRoom + 1]byte
	k := Key{n: copy(b[:], `,"`+name+`":"`)}
	for i := range 3 {
		k.comma[i] = binary.LittleEndian.Uint64(b[8*i:])
		k.first[i] = binary.LittleEndian.Uint64(b[8*i+1:])
	}
	return k
}

// String returns the key as written after a member: `,"name":`.
func (k *Key) String() string {
	var b [keyRoom]byte
	for i, v := range k.comma {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return string(b[:k.n-1])
}

// key writes k and the comma before it if one is needed, reserving room
// for n more bytes, and returns where the value starts (after the opening
// quote of a string: a number starts one byte before, over it).
func (w *Writer) key(k *Key, n int) int {
	at := len(w.Buf)
	if cap(w.Buf)-at < keyRoom+n {
		w.grow(keyRoom + n)
	}
	return at + k.put(w.Buf[at:at+keyRoom], w.comma)
}

// put writes k's words into b, with the comma or not, and returns the
// length of what they hold (24 bytes are written, whatever it is).
func (k *Key) put(b []byte, comma bool) int {
	ws, n := &k.comma, k.n
	if !comma {
		ws, n = &k.first, n-1
	}
	b = b[:keyRoom]
	binary.LittleEndian.PutUint64(b[0:8], ws[0])
	binary.LittleEndian.PutUint64(b[8:16], ws[1])
	binary.LittleEndian.PutUint64(b[16:24], ws[2])
	return n
}

// StringKey is StringMember(k.String()[1:], v) (or with the comma), in
// one capacity check and no copy but v's: v is checked as it is copied,
// 16 bytes at a time, the last ones overlapping the ones before; a string
// of 8 to 15 bytes is two overlapping words, one of 4 to 7 bytes two
// overlapping halves of a word, a shorter one is copied byte by byte. A v
// that needs escaping or is not valid UTF-8 is written by String.
func (w *Writer) StringKey(k *Key, v string) {
	at, n := len(w.Buf), len(v)
	if cap(w.Buf)-at < keyRoom+n+1 {
		w.grow(keyRoom + n + 1)
	}
	b := w.Buf[at:cap(w.Buf)]
	kn := k.put(b, w.comma)
	d := b[kn : kn+n+1]
	switch {
	case n >= 16:
		for i := 0; ; {
			t := v[i : i+16]
			x, y := word(t[:8]), word(t[8:])
			if !plainWords(x, y) {
				w.escapedKey(at+kn-1, k, v)
				return
			}
			binary.LittleEndian.PutUint64(d[i:i+8], x)
			binary.LittleEndian.PutUint64(d[i+8:i+16], y)
			if i += 16; i == n {
				break
			}
			if i+16 > n {
				i = n - 16
			}
		}
	case n >= 8:
		x, y := word(v[:8]), word(v[n-8:])
		if !plainWords(x, y) {
			w.escapedKey(at+kn-1, k, v)
			return
		}
		binary.LittleEndian.PutUint64(d[:8], x)
		binary.LittleEndian.PutUint64(d[n-8:n], y)
	default:
		if !copyShort(d[:n], v) {
			w.escapedKey(at+kn-1, k, v)
			return
		}
	}
	d[n] = '"'
	w.Buf = w.Buf[:at+kn+n+1]
	w.comma = true
}

// escapedKey ends StringKey for a v that needs escaping or is not valid
// UTF-8: the key is written up to Buf[:at].
func (w *Writer) escapedKey(at int, k *Key, v string) {
	qk := k.String()[1:]
	w.Buf = w.Buf[:at]
	w.comma = false
	w.setKey(at-len(qk)+1, len(qk)-3) // the error of invalid UTF-8 names the key
	w.String(v)
}

// FloatKey is FloatMember for a Key.
func (w *Writer) FloatKey(k *Key, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.badFloatKey(k, f)
		return
	}
	w.Buf = AppendFloat(w.Buf[:w.key(k, 25)-1], f)
	w.comma = true
}

// badFloatKey is FloatKey's error (the path names the key).
func (w *Writer) badFloatKey(k *Key, f float64) { w.FloatMember(k.String()[1:], f) }

// IntKey is IntMember for a Key.
func (w *Writer) IntKey(k *Key, i int64) {
	b := w.Buf[:w.key(k, 20)-1]
	if i >= 0 {
		w.Buf = appendUint(b, uint64(i))
	} else {
		w.Buf = strconv.AppendInt(b, i, 10)
	}
	w.comma = true
}

// FloatMember writes "key":f (qk as for StringMember); NaN and ±Inf are errors.
func (w *Writer) FloatMember(qk string, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.Field(qk[1 : len(qk)-2]) // the error names the key
		w.Float(f)
		return
	}
	b := w.Buf
	if w.comma {
		b = append(b, ',')
	}
	b = append(b, qk...)
	w.Buf = AppendFloat(b, f)
	w.comma = true
}

// IntMember writes "key":i (qk as for StringMember).
func (w *Writer) IntMember(qk string, i int64) {
	b := w.Buf
	if w.comma {
		b = append(b, ',')
	}
	b = append(b, qk...)
	switch {
	case 0 <= i && i < 10: // quantities and positions: no strconv call
		b = append(b, byte('0'+i))
	case 10 <= i && i < 100:
		b = append(b, byte('0'+i/10), byte('0'+i%10))
	default:
		b = strconv.AppendInt(b, i, 10)
	}
	w.Buf = b
	w.comma = true
}

// ObjectStart writes '{' and opens an object frame.
func (w *Writer) ObjectStart() {
	w.sep()
	w.Buf = append(w.Buf, '{')
	w.open = append(w.open, frame{})
	w.comma = false
}

// ObjectEnd writes '}', closing the object and the member that holds it.
func (w *Writer) ObjectEnd() {
	w.Buf = append(w.Buf, '}')
	w.pop()
}

// ArrayStart writes '[' and opens an array frame.
func (w *Writer) ArrayStart() {
	w.sep()
	w.Buf = append(w.Buf, '[')
	w.open = append(w.open, frame{index: -1, array: true})
	w.comma = false
}

// ArrayEnd writes ']', closing the array and the member that holds it.
func (w *Writer) ArrayEnd() {
	w.Buf = append(w.Buf, ']')
	w.pop()
}

func (w *Writer) pop() {
	if n := len(w.open); n > 0 {
		w.open = w.open[:n-1]
	}
	w.done()
}

// Key writes an object key and the colon, escaped like a string, and opens
// the member (errors in its value name k). Invalid UTF-8 is an error.
func (w *Writer) Key(k string) {
	w.sep()
	start := len(w.Buf)
	var ok bool
	w.Buf, ok = appendString(w.Buf, k)
	w.setKey(start+1, len(w.Buf)-start-2)
	if !ok {
		w.fail(ErrInvalidUTF8, k)
	}
	w.Buf = append(w.Buf, ':')
	w.comma = false
}

// String writes a JSON string. Invalid UTF-8 is an error (never silently replaced).
func (w *Writer) String(s string) {
	w.sep()
	var ok bool
	w.Buf, ok = appendString(w.Buf, s)
	if !ok {
		w.Fail(ErrInvalidUTF8)
	}
	w.done()
}

// Float writes a number the way encoding/json does. NaN and ±Inf are errors.
func (w *Writer) Float(f float64) {
	w.sep()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.Fail(ErrNaN)
		w.Buf = append(w.Buf, '0')
	} else {
		w.Buf = AppendFloat(w.Buf, f)
	}
	w.done()
}

// Int writes an integer.
func (w *Writer) Int(i int64) {
	w.sep()
	w.Buf = strconv.AppendInt(w.Buf, i, 10)
	w.done()
}

// Uint writes an unsigned integer.
func (w *Writer) Uint(i uint64) {
	w.sep()
	w.Buf = strconv.AppendUint(w.Buf, i, 10)
	w.done()
}

// Bool writes true or false.
func (w *Writer) Bool(b bool) {
	w.sep()
	w.Buf = strconv.AppendBool(w.Buf, b)
	w.done()
}

// Null writes null.
func (w *Writer) Null() {
	w.sep()
	w.Buf = append(w.Buf, "null"...)
	w.done()
}

// Time writes t as a UTC ISO-8601 string with milliseconds, e.g. "2015-12-10T04:08:31.905Z".
func (w *Writer) Time(t time.Time) {
	w.sep()
	w.Buf = append(w.Buf, '"')
	w.Buf = AppendTime(w.Buf, t)
	w.Buf = append(w.Buf, '"')
	w.done()
}

// Raw writes an already-encoded JSON value as it is.
func (w *Writer) Raw(b []byte) {
	w.sep()
	w.Buf = append(w.Buf, b...)
	w.done()
}

// AppendTime appends t in UTC with millisecond precision and a Z suffix,
// e.g. 2015-12-10T04:08:31.905Z. Years outside 0..9999 use time's own format.
func AppendTime(b []byte, t time.Time) []byte {
	const d = "0123456789"
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		d[year/1000], d[year/100%10], d[year/10%10], d[year%10], '-',
		d[month/10], d[month%10], '-',
		d[day/10], d[day%10], 'T',
		d[hour/10], d[hour%10], ':',
		d[minute/10], d[minute%10], ':',
		d[sec/10], d[sec%10], '.',
		d[ms/100], d[ms/10%10], d[ms%10], 'Z')
}

// appendUint appends u in decimal, below 1000 without strconv.
func appendUint(b []byte, u uint64) []byte {
	switch {
	case u < 10:
		return append(b, byte('0'+u))
	case u < 100:
		return append(b, byte('0'+u/10), byte('0'+u%10))
	case u < 1000:
		return append(b, byte('0'+u/100), byte('0'+u/10%10), byte('0'+u%10))
	}
	return strconv.AppendUint(b, u, 10)
}

// AppendFloat appends f formatted exactly as encoding/json formats a float64.
func AppendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	// Fast path for money-like values with at most two decimals: the
	// shortest representation of f is then the decimal c/100 itself (below
	// 1e13 two such decimals are always different floats).
	if abs < 1e13 && f != 0 {
		if c := math.Round(f * 100); c/100 == f {
			if c < 0 {
				b = append(b, '-')
				c = -c
			}
			ci := uint64(c) // below 1e15: exact
			b = appendUint(b, ci/100)
			if frac := ci % 100; frac != 0 {
				b = append(b, '.', byte('0'+frac/10))
				if frac%10 != 0 {
					b = append(b, byte('0'+frac%10))
				}
			}
			return b
		}
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hex = "0123456789abcdef"

// plain[c] is true when byte c needs no escaping inside a JSON string and
// is ASCII (so it is valid UTF-8 on its own).
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// safe[c] is true when ASCII byte c needs no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string. Invalid UTF-8 bytes become
// U+FFFD (callers that must refuse them check utf8.ValidString first).
func AppendString(b []byte, s string) []byte {
	b, _ = appendString(b, s)
	return b
}

// appendString is AppendString that also reports whether s was valid UTF-8.
func appendString(b []byte, s string) ([]byte, bool) {
	valid := true
	b = append(b, '"')
	start := 0
	i := plainPrefix(s)
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			valid = false
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), valid
}

// copyShort is StringKey's copy of a v shorter than 8 bytes into d (as
// long): it reports whether v is plain (if not, d holds garbage). A v of 4
// to 7 bytes is two overlapping halves of a word.
func copyShort(d []byte, v string) bool {
	n := len(v)
	if n < 4 {
		for i := range d {
			if !plain[v[i]] {
				return false
			}
			d[i] = v[i]
		}
		return true
	}
	lo, hi := half(v), half(v[n-4:])
	binary.LittleEndian.PutUint32(d[:4], lo)
	binary.LittleEndian.PutUint32(d[n-4:n], hi)
	x := uint64(lo) | uint64(hi)<<32
	return plainWords(x, x)
}

// half returns the first 4 bytes of s, little-endian (one load).
func half(s string) uint32 {
	s = s[:4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// word returns the first 8 bytes of s, little-endian (one load).
func word(s string) uint64 {
	s = s[:8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainWords reports whether each of the 16 bytes of v and u is plain
// (see plain). With every byte below 0x80 (v&highs == 0) no sum carries
// into the next byte: a byte's high bit is set in v+0x60 when it is at
// least 0x20, and in (v^'"')+0x7f when it is not '"' (likewise '\\').
func plainWords(v, u uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	f := func(v uint64) uint64 {
		return (v + ones*0x60) & ((v ^ ones*'"') + ones*0x7f) & ((v ^ ones*'\\') + ones*0x7f) &^ v
	}
	return f(v)&f(u)&highs == highs
}

// plainPrefix returns the length of the longest prefix of s made of
// printable ASCII other than '"' and '\\', which needs no escaping. It
// looks at 8 bytes at a time, the last ones too (a word overlapping the
// checked ones), so that only strings shorter than 8 bytes, and the bytes
// of the word holding one that needs escaping, are looked at one by one.
func plainPrefix(s string) int {
	i := 0
	for i+8 <= len(s) {
		if v := word(s[i:]); !plainWords(v, v) {
			break
		}
		if i += 8; i == len(s) {
			return i
		}
		if i+8 > len(s) {
			i = len(s) - 8 // the last word, overlapping plain bytes
		}
	}
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// Any writes a custom value: nil, bool, string, all Go integer and float
// types (int, int64, uint64 and float64 directly, the others through
// reflection), time.Time, json.Number, json.RawMessage (checked), json.Marshaler,
// maps with string keys (keys sorted, as encoding/json does), slices and
// arrays, and, through encoding/json, structs. Values that cannot be encoded
// record an error naming their path.
func (w *Writer) Any(v any) { w.any(v, 0) }

func (w *Writer) any(v any, depth int) {
	if w.err != nil {
		return
	}
	if depth > maxDepth {
		w.Fail(ErrTooDeep)
		return
	}
	switch x := v.(type) {
	case nil:
		w.Null()
	case string:
		w.String(x)
	case bool:
		w.Bool(x)
	case int:
		w.Int(int64(x))
	case int64:
		w.Int(x)
	case uint64:
		w.Uint(x)
	case float64:
		w.Float(x)
	case float32:
		w.float32(x)
	case time.Time:
		w.Time(x)
	case *time.Time:
		if x == nil {
			w.Null()
		} else {
			w.Time(*x)
		}
	case map[string]any:
		w.stringMap(x, depth)
	case []any:
		array(w, x, func(e any) { w.any(e, depth+1) })
	case []string:
		array(w, x, w.String)
	case []float64:
		array(w, x, w.Float)
	case []int:
		array(w, x, func(e int) { w.Int(int64(e)) })
	case json.Number:
		if !isNumber(string(x)) {
			w.Fail(fmt.Errorf("%w: invalid json.Number %q", ErrUnsupported, string(x)))
			return
		}
		w.sep()
		w.Buf = append(w.Buf, x...)
		w.done()
	case json.RawMessage:
		if !json.Valid(x) {
			w.Fail(fmt.Errorf("%w: invalid json.RawMessage", ErrUnsupported))
			return
		}
		w.compact(x)
	case json.Marshaler:
		w.marshaler(v)
	default:
		w.reflectValue(v, depth)
	}
}

// array writes es as an array, each element with write.
func array[E any](w *Writer, es []E, write func(E)) {
	w.ArrayStart()
	for _, e := range es {
		write(e)
	}
	w.ArrayEnd()
}

func (w *Writer) float32(f float32) {
	w.sep()
	f64 := float64(f)
	if math.IsNaN(f64) || math.IsInf(f64, 0) {
		w.Fail(ErrNaN)
		w.Buf = append(w.Buf, '0')
		w.done()
		return
	}
	abs := math.Abs(f64)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	w.Buf = strconv.AppendFloat(w.Buf, f64, format, -1, 32)
	w.done()
}

func (w *Writer) stringMap(m map[string]any, depth int) {
	if m == nil {
		w.Null()
		return
	}
	w.ObjectStart()
	w.members(m, depth, nil, nil)
	w.ObjectEnd()
}

// Members writes m's members into the open object, keys sorted (as
// encoding/json does). A key for which reserved reports true records
// errReserved, naming the key, instead of being written; reserved may be nil.
func (w *Writer) Members(m map[string]any, reserved func(string) bool, errReserved error) {
	w.members(m, 0, reserved, errReserved)
}

func (w *Writer) members(m map[string]any, depth int, reserved func(string) bool, errReserved error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.Key(k)
		if reserved != nil && reserved(k) {
			w.Fail(errReserved)
		}
		w.any(m[k], depth+1)
		if w.err != nil {
			return
		}
	}
}

// marshaler and reflectValue fall back to encoding/json, then check the result.
func (w *Writer) marshaler(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Fail(fmt.Errorf("%w: %w", ErrUnsupported, err))
		return
	}
	w.compact(b)
}

func (w *Writer) compact(b []byte) {
	w.sep()
	// Re-encode through the checker: the fallback may contain NaN-free but invalid UTF-8 strings
	// (encoding/json replaces them), which is acceptable as encoding/json made them valid.
	n := len(w.Buf)
	var err error
	w.Buf, err = appendCompact(w.Buf, b)
	if err != nil {
		w.Buf = w.Buf[:n]
		w.Fail(fmt.Errorf("%w: %w", ErrUnsupported, err))
	}
	w.done()
}

func appendCompact(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	err := json.Compact(buf, src)
	return buf.Bytes(), err
}

func (w *Writer) reflectValue(v any, depth int) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			w.Null()
			return
		}
		w.any(rv.Elem().Interface(), depth+1)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			w.Fail(fmt.Errorf("%w: map key type %s", ErrUnsupported, rv.Type().Key()))
			return
		}
		if rv.IsNil() {
			w.Null()
			return
		}
		w.ObjectStart()
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			w.Key(k.String())
			w.any(rv.MapIndex(k).Interface(), depth+1)
			if w.err != nil {
				break
			}
		}
		w.ObjectEnd()
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			w.Null()
			return
		}
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			w.marshaler(v) // []byte: base64, as encoding/json does
			return
		}
		w.ArrayStart()
		for i := range rv.Len() {
			w.any(rv.Index(i).Interface(), depth+1)
			if w.err != nil {
				break
			}
		}
		w.ArrayEnd()
	case reflect.String:
		w.String(rv.String())
	case reflect.Bool:
		w.Bool(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.Int(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.Uint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		w.Float(rv.Float())
	case reflect.Struct:
		w.marshaler(v)
	default:
		w.Fail(fmt.Errorf("%w: %s", ErrUnsupported, rv.Type()))
	}
}

// isNumber reports whether s is a valid JSON number.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
