package analyticstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tracklane/analytics/internal/ecomspec"
)

// Limits the checks enforce, as the Segment HTTP Tracking API documents them.
const (
	MaxMessageBytes  = 32000  // one message, and one single-call request body
	MaxBatchBytes    = 500000 // one uncompressed /v1/batch request body
	MaxBatchMessages = 2500   // messages in one batch
	MaxMessageIDLen  = 100    // characters of a messageId
)

// Rule names the check a Violation failed. Compare with the Rule* constants.
type Rule string

// The rules the checks apply.
const (
	RuleMethod       Rule = "method"        // not a POST
	RuleAuth         Rule = "auth"          // Basic auth missing or not the write key; body writeKey differs
	RuleContentType  Rule = "content-type"  // Content-Type is not application/json
	RuleEncoding     Rule = "encoding"      // Content-Encoding other than gzip, or a corrupt gzip body
	RuleBodySize     Rule = "body-size"     // request body over the limit
	RuleJSON         Rule = "json"          // not valid JSON, or a member has the wrong JSON type
	RuleDuplicateKey Rule = "duplicate-key" // the same member twice in one JSON object
	RuleBatch        Rule = "batch"         // batch missing, empty or over 2,500 messages
	RuleMessageSize  Rule = "message-size"  // one message over 32,000 bytes
	RuleRequired     Rule = "required"      // a required field is missing or empty
	RuleMessageID    Rule = "message-id"    // messageId over 100 characters
	RuleTimestamp    Rule = "timestamp"     // timestamp or sentAt not UTC ISO-8601 with milliseconds
	RuleLibrary      Rule = "library"       // context.library missing or incomplete
	RuleType         Rule = "type"          // unknown call type, or a type that does not match the endpoint
	RuleEcommerce    Rule = "ecommerce"     // an ecommerce property with the wrong JSON type or a v1/camelCase name
)

// Violation is one failed check. Index is the message's position in the
// batch (0 for a single call), or -1 for a check of the whole request.
type Violation struct {
	Index     int
	MessageID string // the message's messageId, if it has one
	Type      string // the message's type, if known
	Event     string // the track event name, if any
	Field     string // JSON path of the offending member, e.g. "properties.products[0].price"; "" for the whole message or request
	Rule      Rule
	Reason    string // what is wrong, for people
}

// String formats v for test failures.
func (v Violation) String() string {
	var b strings.Builder
	if v.Index >= 0 {
		fmt.Fprintf(&b, "message %d", v.Index)
		if v.Type != "" {
			b.WriteString(" (" + v.Type)
			if v.Event != "" {
				b.WriteString(" " + strconv.Quote(v.Event))
			}
			b.WriteString(")")
		}
	} else {
		b.WriteString("request")
	}
	if v.Field != "" {
		b.WriteString(": " + v.Field)
	}
	b.WriteString(": " + string(v.Rule) + ": " + v.Reason)
	return b.String()
}

// timeLayout is the only timestamp form accepted: UTC, milliseconds, "Z".
const timeLayout = "2006-01-02T15:04:05.000Z"

// checkTime reports whether s is a UTC ISO-8601 time with milliseconds, in
// exactly the form of timeLayout: what time.Parse accepts with that layout
// and Format gives back unchanged (TestCheckTimeAgreesWithParse and
// FuzzCheckTime hold it to that), checked without either, since the fast
// path checks a timestamp in every message.
func checkTime(s string) bool {
	if len(s) != len(timeLayout) {
		return false
	}
	for i := range len(s) {
		if isDigit(s[i]) != isDigit(timeLayout[i]) || !isDigit(s[i]) && s[i] != timeLayout[i] {
			return false
		}
	}
	num := func(i, j int) int {
		n := 0
		for _, c := range []byte(s[i:j]) {
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year) &&
		num(11, 13) < 24 && num(14, 16) < 60 && num(17, 19) < 60
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// daysIn returns the number of days of month (1 to 12) in year, Gregorian.
func daysIn(month, year int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + (month+month/8)%2 // 31 for January, March, May, July, August, October, December
}

// Validate checks one message as sent on the wire (a member of a batch, or
// a single-call body) and returns what is wrong with it, nil when nothing
// is. It checks: a JSON object of at most 32,000 bytes without duplicate
// members; type one of the six calls; messageId present and at most 100
// characters; userId or anonymousId (alias: userId and previousId; track:
// event; group: groupId); timestamp present, UTC ISO-8601 with
// milliseconds; a per-message sentAt, if any, likewise; context.library
// with name and version; properties, traits, context and integrations
// objects; and, for the Ecommerce v2 events, the JSON type of every spec
// property and the absence of v1 or camelCase spellings (id, orderId, sky,
// ...). Custom properties are free. Violations have Index 0.
func Validate(msg []byte) []Violation {
	return validateMessage(msg, 0, "")
}

// validateMessage validates msg at position index; impliedType is the call
// type of a single-call endpoint ("" in a batch).
func validateMessage(msg []byte, index int, impliedType string) []Violation {
	var vs []Violation
	add := func(field string, rule Rule, format string, args ...any) {
		vs = append(vs, Violation{Index: index, Field: field, Rule: rule, Reason: fmt.Sprintf(format, args...)})
	}
	if len(msg) > MaxMessageBytes {
		add("", RuleMessageSize, "message is %d bytes, over the %d-byte limit", len(msg), MaxMessageBytes)
	}
	if !utf8.Valid(msg) {
		add("", RuleJSON, "message is not valid UTF-8")
		return vs
	}
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		add("", RuleJSON, "not a JSON object")
		return vs
	}
	if _, err := dec.Token(); err != io.EOF {
		add("", RuleJSON, "data after the JSON object")
	}
	for _, p := range duplicateKeys(msg) {
		add(p, RuleDuplicateKey, "member appears more than once")
	}

	str := func(key string) (string, bool) {
		v, ok := m[key]
		if !ok {
			return "", false
		}
		s, isStr := v.(string)
		if !isStr {
			add(key, RuleJSON, "want a string, got %s", jsonKind(v))
			return "", true
		}
		return s, true
	}
	typ, hasType := str("type")
	switch {
	case !hasType && impliedType != "":
		typ = impliedType
	case !hasType || typ == "":
		if hasType || impliedType == "" {
			add("type", RuleRequired, "type is required")
		}
	case impliedType != "" && typ != impliedType:
		add("type", RuleType, "type %q sent to the %s endpoint", typ, impliedType)
	}
	switch typ {
	case "", "track", "identify", "page", "screen", "group", "alias":
	default:
		add("type", RuleType, "unknown call type %q", typ)
	}

	id, hasID := str("messageId")
	switch {
	case !hasID || id == "":
		add("messageId", RuleRequired, "messageId is required")
	case utf8.RuneCountInString(id) > MaxMessageIDLen:
		add("messageId", RuleMessageID, "messageId is %d characters, over %d", utf8.RuneCountInString(id), MaxMessageIDLen)
	}
	userID, _ := str("userId")
	anonID, _ := str("anonymousId")
	event, _ := str("event")
	switch typ {
	case "alias":
		if userID == "" {
			add("userId", RuleRequired, "alias needs userId")
		}
		if prev, _ := str("previousId"); prev == "" {
			add("previousId", RuleRequired, "alias needs previousId")
		}
	default:
		if userID == "" && anonID == "" {
			add("userId", RuleRequired, "userId or anonymousId is required")
		}
	}
	switch typ {
	case "track":
		if event == "" {
			add("event", RuleRequired, "track needs event")
		}
	case "group":
		if g, _ := str("groupId"); g == "" {
			add("groupId", RuleRequired, "group needs groupId")
		}
	}
	for _, k := range [...]string{"name", "category"} {
		str(k)
	}

	for _, k := range [...]string{"timestamp", "sentAt"} {
		v, present := m[k]
		switch s, isStr := v.(string); {
		case !present && k == "timestamp":
			add(k, RuleRequired, "timestamp is required")
		case !present:
		case !isStr:
			add(k, RuleTimestamp, "want a string, got %s", jsonKind(v))
		case !checkTime(s):
			add(k, RuleTimestamp, "%q is not UTC ISO-8601 with milliseconds (2006-01-02T15:04:05.000Z)", s)
		}
	}

	obj := func(key string) map[string]any {
		v, ok := m[key]
		if !ok {
			return nil
		}
		o, isObj := v.(map[string]any)
		if !isObj {
			add(key, RuleJSON, "want an object, got %s", jsonKind(v))
		}
		return o
	}
	props := obj("properties")
	obj("traits")
	obj("integrations")
	ctx := obj("context")
	if lib, ok := ctx["library"].(map[string]any); !ok {
		add("context.library", RuleLibrary, "context.library is required (an object with name and version)")
	} else {
		for _, k := range [...]string{"name", "version"} {
			if s, _ := lib[k].(string); s == "" {
				add("context.library."+k, RuleLibrary, "context.library.%s is required (a non-empty string)", k)
			}
		}
	}

	if typ == "track" {
		if ev, ok := ecomspec.Lookup(event); ok {
			checkMembers("properties", ev.Keys(), props, func(field, format string, args ...any) {
				add(field, RuleEcommerce, format, args...)
			})
		}
	}
	for i := range vs {
		vs[i].MessageID, vs[i].Type = id, typ
		if typ == "track" {
			vs[i].Event = event
		}
	}
	return vs
}

// jsonKind names the JSON type of a value decoded with UseNumber.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// duplicateKeys returns the JSON paths of members that appear twice in the
// same object. data must be valid JSON.
func duplicateKeys(data []byte) []string {
	type frame struct {
		obj  bool
		keys map[string]bool
		path string
		idx  int
		key  string // the pending key, in an object
	}
	var dups []string
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []*frame
	child := func() string { // path of the value about to be read
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.obj {
			if f.path == "" {
				return f.key
			}
			return f.path + "." + f.key
		}
		p := f.path + "[" + strconv.Itoa(f.idx) + "]"
		f.idx++
		return p
	}
	expectKey := func() bool {
		if len(stack) == 0 {
			return false
		}
		f := stack[len(stack)-1]
		return f.obj && f.key == ""
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return dups
		}
		if expectKey() {
			f := stack[len(stack)-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].key = ""
				}
				continue
			}
			k, _ := tok.(string)
			if f.keys[k] {
				p := k
				if f.path != "" {
					p = f.path + "." + k
				}
				dups = append(dups, p)
			}
			f.keys[k] = true
			f.key = k
			if k == "" {
				f.key = "\x00" // empty key: still a pending value
			}
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{obj: true, keys: map[string]bool{}, path: child()})
			continue
		case '[':
			stack = append(stack, &frame{path: child()})
			continue
		case ']':
			stack = stack[:len(stack)-1]
		default:
			child()
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].key = ""
		}
	}
}

// The spec data (event names, the keys of each event, their JSON types, the
// v1 spellings) comes from internal/ecomspec, the table the encoder uses too:
// the validator keeps no copy of it. A copy would only agree or disagree with
// the table, and the disagreements worth catching are caught elsewhere: a
// wrong or missing row by the golden files of testdata/ecommerce, written
// from the Segment pages' examples; a table type that the encoder's Go field
// does not write, by this validator itself, since it reads what was sent
// (with encoding/json, not the encoder's writer) and checks it against the
// declared type. What the validator does keep independent is that reading.

// EcommerceEvents returns the names of the Ecommerce v2 events whose
// properties Validate checks (the 28 of the spec), sorted.
func EcommerceEvents() []string {
	var names []string
	for _, e := range ecomspec.Events() {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// checkMembers checks the members of obj whose keys are in schema (sorted,
// for a stable order); other keys are custom and free, but for v1 and
// camelCase spellings of the schema's keys.
func checkMembers(path string, schema ecomspec.Set, obj map[string]any, add func(field, format string, args ...any)) {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		field := path + "." + k
		if key, ok := schema.Named(k); ok {
			checkKind(field, key.Type(), obj[k], add)
		} else if alt, isV1 := ecomspec.V1Name(k); isV1 {
			add(field, "%q is a v1 name; the v2 spec names it %s", k, alt)
		} else if _, ok := schema.Named(ecomspec.SnakeCase(k)); ok {
			add(field, "%q is not snake_case; the spec names it %q", k, ecomspec.SnakeCase(k))
		}
	}
}

// typeValueKinds are the members of a filters or sorts element.
var typeValueKinds = map[string]ecomspec.Type{"type": ecomspec.String, "value": ecomspec.String}

// checkKind checks one value against its spec type.
func checkKind(field string, want ecomspec.Type, v any, add func(field, format string, args ...any)) {
	bad := func() { add(field, "want %s, got %s", want, jsonKind(v)) }
	switch want {
	case ecomspec.String:
		if _, ok := v.(string); !ok {
			bad()
		}
	case ecomspec.Number:
		if _, ok := v.(json.Number); !ok {
			bad()
		}
	case ecomspec.StringOrObject:
		switch v.(type) {
		case string, map[string]any:
		default:
			bad()
		}
	case ecomspec.Products, ecomspec.TypeValues:
		arr, ok := v.([]any)
		if !ok {
			bad()
			return
		}
		for i, e := range arr {
			ef := field + "[" + strconv.Itoa(i) + "]"
			o, ok := e.(map[string]any)
			if !ok {
				add(ef, "want an object, got %s", jsonKind(e))
				continue
			}
			if want == ecomspec.Products {
				checkMembers(ef, ecomspec.ProductFields(), o, add)
				continue
			}
			for _, k := range slices.Sorted(maps.Keys(o)) {
				if t, ok := typeValueKinds[k]; ok {
					checkKind(ef+"."+k, t, o[k], add)
				}
			}
		}
	}
}

// ValidateBatch checks a whole uncompressed /v1/batch body: at most 500,000
// bytes; a JSON object whose batch is a non-empty array of at most 2,500
// messages; sentAt present, UTC ISO-8601 with milliseconds; and every
// message as Validate does (with its Index in the batch). Body-level
// violations have Index -1. It returns nil for a valid body. It does not
// check writeKey (the Server does, against its key).
func ValidateBatch(body []byte) []Violation {
	vs, _ := validateBatch(body, MaxBatchBytes)
	return vs
}

// batchBody is the envelope of /v1/batch.
type batchBody struct {
	Batch    []json.RawMessage `json:"batch"`
	SentAt   *string           `json:"sentAt"`
	WriteKey *string           `json:"writeKey"`
}

// validateBatch validates body and returns its messages (nil when the body
// cannot be read as a batch at all).
func validateBatch(body []byte, limit int) ([]Violation, *batchBody) {
	var vs []Violation
	req := func(field string, rule Rule, format string, args ...any) {
		vs = append(vs, Violation{Index: -1, Field: field, Rule: rule, Reason: fmt.Sprintf(format, args...)})
	}
	if len(body) > limit {
		req("", RuleBodySize, "body is %d bytes, over the %d-byte limit", len(body), limit)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		req("", RuleJSON, "body is not a JSON object")
		return vs, nil
	}
	var bb batchBody
	if err := json.Unmarshal(body, &bb); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			req(te.Field, RuleJSON, "want %s, got a JSON %s", te.Type, te.Value)
		} else {
			req("", RuleJSON, "%v", err)
		}
		return vs, nil
	}
	switch {
	case bb.Batch == nil:
		req("batch", RuleBatch, "batch is required (an array of messages)")
	case len(bb.Batch) == 0:
		req("batch", RuleBatch, "batch is empty")
	case len(bb.Batch) > MaxBatchMessages:
		req("batch", RuleBatch, "batch has %d messages, over %d", len(bb.Batch), MaxBatchMessages)
	}
	if bb.SentAt == nil {
		req("sentAt", RuleRequired, "sentAt is required")
	} else if !checkTime(*bb.SentAt) {
		req("sentAt", RuleTimestamp, "%q is not UTC ISO-8601 with milliseconds (2006-01-02T15:04:05.000Z)", *bb.SentAt)
	}
	for i, m := range bb.Batch {
		vs = append(vs, validateMessage(m, i, "")...)
	}
	return vs, &bb
}
