package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tracklane/analytics"
)

// importNamespace is the UUIDv5 namespace of the messageIds import derives
// for lines that have none.
var importNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/tracklane/analytics/cmd/tracklane#import"))

// errLine marks a line that cannot be turned into a message.
var errLine = errors.New("bad line")

// serverSet are members a collector sets (or the client sets at send
// time): dropped from input, since Segment and the client write them anew.
var serverSet = []string{"sentAt", "receivedAt", "originalTimestamp", "writeKey", "version", "projectId", "channel"}

// parseLine decodes one NDJSON line (a Segment message) with numbers kept
// exact.
func parseLine(line []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %w", errLine, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: not a JSON object", errLine)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the JSON object", errLine)
	}
	return m, nil
}

// deriveID returns the messageId of a line that has none: the UUIDv5 of
// its canonical encoding (members sorted, no spaces, numbers as written),
// so that the same line gets the same id on every run.
func deriveID(m map[string]any) (string, error) {
	canon, err := json.Marshal(m) // maps marshal with sorted keys
	if err != nil {
		return "", fmt.Errorf("%w: %w", errLine, err)
	}
	return uuid.NewSHA1(importNamespace, canon).String(), nil
}

// fields reads the members of one decoded message.
type fields struct {
	m      map[string]any
	used   map[string]bool
	err    error
	prefix string // of the members' names in errors: "" or "context."
}

func (f *fields) fail(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf("%w: "+format, append([]any{errLine}, args...)...)
	}
}

func (f *fields) str(key string) string {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		f.fail("%s%s: want a string, got %s", f.prefix, key, kindOf(v))
	}
	return s
}

func (f *fields) obj(key string) map[string]any {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return nil
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		f.fail("%s%s: want an object, got %s", f.prefix, key, kindOf(v))
	}
	return o
}

func kindOf(v any) string {
	switch v.(type) {
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
	return "null"
}

// toMessage maps a decoded Segment message onto the client's typed
// messages, keeping messageId, timestamp, context and integrations, so
// that Enqueue validates and stamps it as any other. A member the type
// does not have is an error, except those a collector sets (serverSet),
// which are dropped, and context.library, which the client writes itself.
func toMessage(m map[string]any) (analytics.Message, error) {
	f := &fields{m: m, used: map[string]bool{}}
	for _, k := range serverSet {
		f.used[k] = true
	}
	typ := f.str("type")
	userID, anonID, id := f.str("userId"), f.str("anonymousId"), f.str("messageId")
	var ts time.Time
	if s := f.str("timestamp"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			f.fail("timestamp: %q is not an RFC 3339 time", s)
		}
		ts = t
	}
	ctx := toContext(f, f.obj("context"))
	integ := f.obj("integrations")
	var msg analytics.Message
	switch typ {
	case "track":
		msg = analytics.Track{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			Event: f.str("event"), Properties: f.obj("properties")}
	case "identify":
		msg = analytics.Identify{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			Traits: f.obj("traits")}
	case "page":
		msg = analytics.Page{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			Name: f.str("name"), Category: f.str("category"), Properties: f.obj("properties")}
	case "screen":
		msg = analytics.Screen{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			Name: f.str("name"), Category: f.str("category"), Properties: f.obj("properties")}
	case "group":
		msg = analytics.Group{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			GroupID: f.str("groupId"), Traits: f.obj("traits")}
	case "alias":
		msg = analytics.Alias{UserID: userID, AnonymousID: anonID, MessageID: id, Timestamp: ts, Context: ctx, Integrations: integ,
			PreviousID: f.str("previousId")}
	case "":
		f.fail("type is required (track, identify, page, screen, group or alias)")
	default:
		f.fail("unknown type %q (want track, identify, page, screen, group or alias)", typ)
	}
	if f.err != nil {
		return nil, f.err
	}
	var extra []string
	for k := range m {
		if !f.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("%w: a %s call has no member %s", errLine, typ, strings.Join(extra, ", "))
	}
	return msg, nil
}

// typed decodes the member key of f strictly (an unknown member is an
// error) into a new T and sets *dst to it; absent or null leaves *dst nil.
func typed[T any](f *fields, key string, dst **T) {
	f.used[key] = true
	v, ok := f.m[key]
	if !ok || v == nil {
		return
	}
	raw, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var t T
	if err := dec.Decode(&t); err != nil {
		f.fail("%s%s: %v", f.prefix, key, err)
		return
	}
	*dst = &t
}

// toContext maps a context object onto analytics.Context: its typed
// members into their fields (an unknown member inside app, campaign, page,
// referrer, os or device is an error, so nothing is dropped silently), the
// others into Extra; library is dropped (the client writes its own).
func toContext(f *fields, c map[string]any) *analytics.Context {
	if c == nil {
		return nil
	}
	out := &analytics.Context{}
	sub := fields{m: c, used: map[string]bool{"library": true}, prefix: "context."}
	out.IP, out.UserAgent, out.Locale = sub.str("ip"), sub.str("userAgent"), sub.str("locale")
	out.Timezone, out.GroupID, out.Channel = sub.str("timezone"), sub.str("groupId"), sub.str("channel")
	for _, b := range []struct {
		key string
		dst **bool
	}{{"active", &out.Active}} {
		sub.used[b.key] = true
		switch v := c[b.key].(type) {
		case nil:
		case bool:
			*b.dst = &v
		default:
			sub.fail("context.%s: want a boolean, got %s", b.key, kindOf(v))
		}
	}
	sub.used["direct"] = true
	switch v := c["direct"].(type) {
	case nil:
	case bool:
		out.Direct = v
	default:
		sub.fail("context.direct: want a boolean, got %s", kindOf(v))
	}
	typed(&sub, "app", &out.App)
	typed(&sub, "campaign", &out.Campaign)
	typed(&sub, "page", &out.Page)
	typed(&sub, "referrer", &out.Referrer)
	typed(&sub, "os", &out.OS)
	typed(&sub, "device", &out.Device)
	out.Traits = sub.obj("traits")
	for k, v := range c {
		if !sub.used[k] {
			if out.Extra == nil {
				out.Extra = map[string]any{}
			}
			out.Extra[k] = v
		}
	}
	if sub.err != nil && f.err == nil {
		f.err = sub.err
	}
	return out
}
