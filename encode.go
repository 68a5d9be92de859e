package analytics

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/tracklane/analytics/internal/ids"
	"github.com/tracklane/analytics/internal/jsonw"
)

// Version is this library's version, sent in context.library and User-Agent.
const Version = "0.1.0"

// libraryJSON is context.library, encoded once.
var libraryJSON = []byte(`{"name":"` + libraryName + `","version":"` + Version + `"}`)

const (
	// MaxMessageBytes is the largest encoded message the endpoint accepts.
	MaxMessageBytes = 32000
	// MaxBatchBytes is the largest uncompressed /v1/batch body.
	MaxBatchBytes = 500000
	// MaxBatchMessages is the most messages one batch may carry.
	MaxBatchMessages = 2500
	// maxMessageIDLen is the longest messageId Segment accepts (fewer than 100 characters
	// is documented; 100 is the field limit).
	maxMessageIDLen = 100
)

// envelope is the normalised view of a message for encoding.
type envelope struct {
	typ          string
	event        string
	userID       string
	anonymousID  string
	messageID    string
	timestamp    time.Time
	context      *Context
	integrations Integrations
}

// stamp fills what Enqueue assigns: messageId and timestamp.
type stamp struct {
	newID    func() string // nil: a random UUIDv4, appended into the encoding (see idIn)
	now      func() time.Time
	defCtx   *Context
	orderIDs bool // derive messageIds of once-per-order events from order_id
}

var writerPool = sync.Pool{New: func() any { return &jsonw.Writer{Buf: make([]byte, 0, 1024)} }}

// encodeMessage validates m, stamps it and returns its JSON encoding (a new
// slice, owned by the caller) and its messageId.
func encodeMessage(m Message, s *stamp) ([]byte, string, error) {
	w, id, err := encodeWriter(m, s)
	if err != nil {
		return nil, "", err
	}
	out := make([]byte, len(w.Buf))
	copy(out, w.Buf)
	putWriter(w)
	if id == "" {
		id = idIn(out)
	}
	return out, id, nil
}

// getWriter takes a writer from the pool; give it back with putWriter.
func getWriter() *jsonw.Writer {
	w, ok := writerPool.Get().(*jsonw.Writer)
	if !ok {
		w = &jsonw.Writer{}
	}
	return w
}

// putWriter returns a writer from encodeWriter to the pool.
func putWriter(w *jsonw.Writer) {
	if cap(w.Buf) > 64<<10 {
		w.Buf = make([]byte, 0, 1024) // do not pin huge buffers in the pool
	}
	writerPool.Put(w)
}

// encodeWriter is encodeMessage without the copy: the encoding is in the
// returned writer's Buf, which the caller must give back with putWriter.
func encodeWriter(m Message, s *stamp) (*jsonw.Writer, string, error) {
	w := getWriter()
	id, err := encodeTo(w, m, s)
	if err != nil {
		putWriter(w)
		return nil, "", err
	}
	return w, id, nil
}

// encodeTo validates m, stamps it and appends its encoding to w, reset
// first (the encoding is w.Buf; w holds garbage after an error).
// The id returned is "" when the encoder appended a random one itself
// (no WithMessageIDs): idIn reads it from the encoding.
func encodeTo(w *jsonw.Writer, m Message, s *stamp) (string, error) {
	var e envelope
	switch x := m.(type) {
	case nil:
		return "", ErrNilMessage
	case Track:
		return encodeTrack(w, &x, s)
	case *Track:
		if x == nil {
			return "", ErrNilMessage
		}
		return encodeTrack(w, x, s)
	case Identify:
		return encodeIdentify(w, &x, &e, s)
	case *Identify:
		if x == nil {
			return "", ErrNilMessage
		}
		return encodeIdentify(w, x, &e, s)
	case Page:
		return encodePage(w, &x, "page", &e, s)
	case *Page:
		if x == nil {
			return "", ErrNilMessage
		}
		return encodePage(w, x, "page", &e, s)
	case Screen:
		p := Page(x)
		return encodePage(w, &p, "screen", &e, s)
	case *Screen:
		if x == nil {
			return "", ErrNilMessage
		}
		p := Page(*x)
		return encodePage(w, &p, "screen", &e, s)
	case Group:
		return encodeGroup(w, &x, &e, s)
	case *Group:
		if x == nil {
			return "", ErrNilMessage
		}
		return encodeGroup(w, x, &e, s)
	case Alias:
		return encodeAlias(w, &x, &e, s)
	case *Alias:
		if x == nil {
			return "", ErrNilMessage
		}
		return encodeAlias(w, x, &e, s)
	}
	// reflect.TypeOf, not %T: m must not escape (Enqueue would allocate it).
	return "", fmt.Errorf("%w: unsupported message type %s", ErrInvalidValue, reflect.TypeOf(m))
}

func encodeTrack(w *jsonw.Writer, t *Track, s *stamp) (string, error) {
	e := envelope{typ: "track", event: t.Event, userID: t.UserID, anonymousID: t.AnonymousID,
		messageID: t.MessageID, timestamp: t.Timestamp, context: t.Context, integrations: t.Integrations}
	if t.Event == "" {
		return "", &ValidationError{Type: "track", Field: "event", Err: ErrMissingField}
	}
	if e.messageID == "" && s.orderIDs && t.typed != nil {
		if id := t.typed.orderID(); id != "" {
			e.messageID = orderMessageID(t.Event, id)
		}
	}
	if err := e.check(); err != nil {
		return "", err
	}
	if t.typed != nil {
		if err := t.typed.validate(); err != nil {
			return "", e.fieldError(err, "properties.")
		}
	}
	return e.encode(w, s, func(w *jsonw.Writer) {
		w.StringKey(&eventKey, t.Event)
		w.Field("properties")
		w.ObjectStart()
		if t.typed != nil {
			t.typed.encodeProperties(w)
			if len(t.Properties) > 0 {
				encodeExtra(w, t.Properties, t.typed.emits)
			}
		} else if len(t.Properties) > 0 {
			encodeExtra(w, t.Properties, nil)
		}
		w.ObjectEnd()
	})
}

func encodeIdentify(w *jsonw.Writer, m *Identify, e *envelope, s *stamp) (string, error) {
	*e = envelope{typ: "identify", userID: m.UserID, anonymousID: m.AnonymousID,
		messageID: m.MessageID, timestamp: m.Timestamp, context: m.Context, integrations: m.Integrations}
	if err := e.check(); err != nil {
		return "", err
	}
	typed := !m.User.isZero()
	if typed {
		if err := m.User.validate(); err != nil {
			return "", e.fieldError(err, "traits.")
		}
	}
	return e.encode(w, s, func(w *jsonw.Writer) {
		if typed {
			objectMember(w, "traits", m.User.encodeTraits, m.Traits, isUserTrait)
		} else {
			objectMember(w, "traits", nil, m.Traits, nil)
		}
	})
}

func encodePage(w *jsonw.Writer, m *Page, typ string, e *envelope, s *stamp) (string, error) {
	*e = envelope{typ: typ, userID: m.UserID, anonymousID: m.AnonymousID,
		messageID: m.MessageID, timestamp: m.Timestamp, context: m.Context, integrations: m.Integrations}
	if err := e.check(); err != nil {
		return "", err
	}
	var pg *PageInfo // a page call's properties default to its context.page
	if typ == "page" {
		pg = pageOf(s.defCtx, m.Context)
	}
	return e.encode(w, s, func(w *jsonw.Writer) {
		optString(w, `"name":`, m.Name)
		optString(w, `"category":`, m.Category)
		w.Key("properties")
		w.ObjectStart()
		encodePageDefaults(w, m, pg)
		encodeExtra(w, m.Properties, nil)
		w.ObjectEnd()
	})
}

func encodeGroup(w *jsonw.Writer, m *Group, e *envelope, s *stamp) (string, error) {
	*e = envelope{typ: "group", userID: m.UserID, anonymousID: m.AnonymousID,
		messageID: m.MessageID, timestamp: m.Timestamp, context: m.Context, integrations: m.Integrations}
	if m.GroupID == "" {
		return "", &ValidationError{Type: "group", Field: "groupId", Err: ErrMissingField}
	}
	if err := e.check(); err != nil {
		return "", err
	}
	typed := !m.Account.isZero()
	if typed {
		if err := m.Account.validate(); err != nil {
			return "", e.fieldError(err, "traits.")
		}
	}
	return e.encode(w, s, func(w *jsonw.Writer) {
		optString(w, `"groupId":`, m.GroupID)
		if typed {
			objectMember(w, "traits", m.Account.encodeTraits, m.Traits, isGroupTrait)
		} else {
			objectMember(w, "traits", nil, m.Traits, nil)
		}
	})
}

func encodeAlias(w *jsonw.Writer, m *Alias, e *envelope, s *stamp) (string, error) {
	*e = envelope{typ: "alias", userID: m.UserID, anonymousID: m.AnonymousID,
		messageID: m.MessageID, timestamp: m.Timestamp, context: m.Context, integrations: m.Integrations}
	if m.UserID == "" {
		return "", &ValidationError{Type: "alias", Field: "userId", Err: ErrMissingField}
	}
	if m.PreviousID == "" {
		return "", &ValidationError{Type: "alias", Field: "previousId", Err: ErrMissingField}
	}
	if err := e.check(); err != nil {
		return "", err
	}
	return e.encode(w, s, func(w *jsonw.Writer) { optString(w, `"previousId":`, m.PreviousID) })
}

// objectMember writes key:{...}: the members typed writes (when not nil),
// then m's, keys sorted; {} when there are none. A key of m for which
// reserved reports true is a conflict (ErrPropertyConflict).
func objectMember(w *jsonw.Writer, key string, typed func(*jsonw.Writer), m map[string]any, reserved func(string) bool) {
	w.Field(key)
	w.ObjectStart()
	if typed != nil {
		typed(w)
	}
	encodeExtra(w, m, reserved)
	w.ObjectEnd()
}

// encodeExtra writes m's members into the open object, keys sorted. A key for
// which reserved returns true is a conflict (ErrPropertyConflict).
func encodeExtra(w *jsonw.Writer, m map[string]any, reserved func(string) bool) {
	if len(m) > 0 {
		w.Members(m, reserved, ErrPropertyConflict)
	}
}

// check validates the common fields.
func (e *envelope) check() error {
	if e.userID == "" && e.anonymousID == "" && e.typ != "alias" {
		return &ValidationError{Type: e.typ, Event: e.event, Err: ErrMissingID}
	}
	if len(e.messageID) > maxMessageIDLen {
		return &ValidationError{Type: e.typ, Event: e.event, Field: "messageId", Err: ErrMessageIDTooLong}
	}
	for k, v := range e.integrations {
		switch v.(type) {
		case bool, map[string]any:
		default:
			return &ValidationError{Type: e.typ, Event: e.event, Field: "integrations." + k,
				Err: fmt.Errorf("%w: want true, false or an options object, got %T", ErrInvalidValue, v)}
		}
	}
	if !e.timestamp.IsZero() {
		if y := e.timestamp.UTC().Year(); y < 1 || y > 9999 {
			return &ValidationError{Type: e.typ, Event: e.event, Field: "timestamp",
				Err: fmt.Errorf("%w: year %d is outside 0001-9999", ErrInvalidValue, y)}
		}
	}
	for _, f := range [...]struct{ name, v string }{
		{"userId", e.userID}, {"anonymousId", e.anonymousID}, {"messageId", e.messageID}, {"event", e.event},
	} {
		if !utf8.ValidString(f.v) {
			return &ValidationError{Type: e.typ, Event: e.event, Field: f.name,
				Err: fmt.Errorf("%w: %w", ErrInvalidValue, jsonw.ErrInvalidUTF8)}
		}
	}
	return nil
}

// fieldError wraps an error from typed validation or the writer into a *ValidationError.
func (e *envelope) fieldError(err error, prefix string) error {
	ve := &ValidationError{Type: e.typ, Event: e.event, Err: err}
	var fe *fieldError
	var pe *jsonw.PathError
	switch {
	case errors.As(err, &fe):
		ve.Field, ve.Err = prefix+fe.Field, fe.Err
	case errors.As(err, &pe):
		ve.Field, ve.Err = pe.Path, pe.Err
	}
	if !errors.Is(ve.Err, ErrPropertyConflict) && !errors.Is(ve.Err, ErrInvalidValue) &&
		!errors.Is(ve.Err, ErrMissingField) {
		ve.Err = fmt.Errorf("%w: %w", ErrInvalidValue, ve.Err)
	}
	return ve
}

// encode writes the whole message; own writes the call's own members.
func (e *envelope) encode(w *jsonw.Writer, s *stamp, own func(w *jsonw.Writer)) (string, error) {
	w.Reset(w.Buf)

	if e.messageID == "" && s.newID != nil {
		id, err := e.generatedID(s.newID)
		if err != nil {
			return "", err
		}
		e.messageID = id
	}
	ts := e.timestamp
	if ts.IsZero() {
		t, err := e.clockTime(s.now)
		if err != nil {
			return "", err
		}
		ts = t
	}
	w.ObjectStart()
	w.Field("type")
	w.Raw(typeJSON(e.typ))
	if e.messageID == "" {
		// The default id is appended where it is sent, not made a string:
		// idIn reads it back when a report needs it. The type's value
		// was the last written: the writer's comma state stays right.
		w.Buf = append(w.Buf, messageIDKey...)
		w.Buf = append(ids.AppendV4(w.Buf), '"')
	} else {
		w.StringKey(&messageIDMember, e.messageID)
	}
	optString(w, `"userId":`, e.userID)
	optString(w, `"anonymousId":`, e.anonymousID)
	w.Field("timestamp")
	w.Time(ts)
	own(w)
	ctx := mergeContext(s.defCtx, e.context)
	encodeContext(w, ctx)
	if e.integrations != nil {
		w.Field("integrations")
		w.Any(e.integrations)
	}
	w.ObjectEnd()
	if err := w.Err(); err != nil {
		return "", e.fieldError(err, "")
	}
	if len(w.Buf) > MaxMessageBytes {
		return "", &TooLargeError{Size: len(w.Buf), Limit: MaxMessageBytes}
	}
	return e.messageID, nil
}

// The envelope's keys, for the writer.
var eventKey, messageIDMember = jsonw.NewKey("event"), jsonw.NewKey("messageId")

// messageIDKey is what precedes the messageId in every encoding.
const messageIDKey = `,"messageId":"`

// idIn returns the messageId of an encoding whose id was appended by the
// encoder (encodeWriter returned ""): the 36 bytes after messageIDKey.
func idIn(data []byte) string { return string(idBytes(data)) }

// idBytes is idIn without the copy.
func idBytes(data []byte) []byte {
	if i := bytes.Index(data, []byte(messageIDKey)); i >= 0 && len(data) >= i+len(messageIDKey)+ids.Len {
		i += len(messageIDKey)
		return data[i : i+ids.Len]
	}
	return nil
}

// generatedID calls the WithMessageIDs function and checks what it made as
// a MessageID set by hand is checked: a panic, an empty id, an id over 100
// characters or not valid UTF-8 refuse the message.
func (e *envelope) generatedID(newID func() string) (id string, err error) {
	defer func() {
		if v := recover(); v != nil {
			id, err = "", &ValidationError{Type: e.typ, Event: e.event, Field: "messageId",
				Err: fmt.Errorf("%w: the WithMessageIDs function panicked: %v", ErrInvalidValue, v)}
		}
	}()
	id = newID()
	switch {
	case id == "":
		err = fmt.Errorf("%w: the WithMessageIDs function returned an empty id", ErrInvalidValue)
	case len(id) > maxMessageIDLen:
		err = fmt.Errorf("%w (made by the WithMessageIDs function)", ErrMessageIDTooLong)
	case !utf8.ValidString(id):
		err = fmt.Errorf("%w: the WithMessageIDs function returned an id that is not valid UTF-8", ErrInvalidValue)
	}
	if err != nil {
		return "", &ValidationError{Type: e.typ, Event: e.event, Field: "messageId", Err: err}
	}
	return id, nil
}

// clockTime calls the WithClock function and checks its time as a
// Timestamp set by hand is checked: a panic, a zero time or a year outside
// 1-9999 refuse the message.
func (e *envelope) clockTime(now func() time.Time) (t time.Time, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ValidationError{Type: e.typ, Event: e.event, Field: "timestamp",
				Err: fmt.Errorf("%w: the WithClock function panicked: %v", ErrInvalidValue, v)}
		}
	}()
	t = now()
	if y := t.UTC().Year(); t.IsZero() || y < 1 || y > 9999 {
		return time.Time{}, &ValidationError{Type: e.typ, Event: e.event, Field: "timestamp",
			Err: fmt.Errorf("%w: the WithClock function returned %s, outside years 0001-9999", ErrInvalidValue, t.UTC().Format(time.RFC3339))}
	}
	return t, nil
}

func typeJSON(t string) []byte {
	switch t {
	case "track":
		return typeTrack
	case "identify":
		return typeIdentify
	case "page":
		return typePage
	case "screen":
		return typeScreen
	case "group":
		return typeGroup
	}
	return typeAlias
}

var (
	typeTrack    = []byte(`"track"`)
	typeIdentify = []byte(`"identify"`)
	typePage     = []byte(`"page"`)
	typeScreen   = []byte(`"screen"`)
	typeGroup    = []byte(`"group"`)
	typeAlias    = []byte(`"alias"`)
)

// orderNamespace is the UUIDv5 namespace of once-per-order message ids.
var orderNamespace = uuid.MustParse("6f2b3c1e-8d4a-5b7e-9c0f-1a2b3c4d5e6f")

// orderMessageID derives a stable messageId from the event name and order id
// (UUIDv5), so the same order event enqueued twice is deduplicated downstream.
func orderMessageID(event, orderID string) string {
	return uuid.NewSHA1(orderNamespace, []byte(event+"\x00"+orderID)).String()
}
