package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics/internal/jsonw"
)

var fixedTime = time.Date(2015, 12, 10, 4, 8, 31, 905_000_000, time.UTC)

func testStamp() *stamp {
	return &stamp{newID: func() string { return "id-1" }, now: func() time.Time { return fixedTime }}
}

func encodeString(t *testing.T, m Message) string {
	t.Helper()
	b, id, err := encodeMessage(m, testStamp())
	require.NoError(t, err)
	require.True(t, json.Valid(b), "invalid JSON: %s", b)
	var probe struct {
		MessageID string `json:"messageId"`
	}
	require.NoError(t, json.Unmarshal(b, &probe))
	require.Equal(t, probe.MessageID, id, "returned id must be the encoded messageId")
	return string(b)
}

const lib = `"context":{"library":{"name":"tracklane-analytics-go","version":"` + Version + `"}}`

func TestEncodeWireFormat(t *testing.T) {
	local := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"track", Track{Event: "Signed Up", UserID: "u1", Properties: Properties{"plan": "pro", "seats": 3, "ok": true, "n": nil}},
			`{"type":"track","messageId":"id-1","userId":"u1","timestamp":"2015-12-10T04:08:31.905Z","event":"Signed Up","properties":{"n":null,"ok":true,"plan":"pro","seats":3},` + lib + `}`},
		{"track pointer, no properties", &Track{Event: "E", AnonymousID: "a1"},
			`{"type":"track","messageId":"id-1","anonymousId":"a1","timestamp":"2015-12-10T04:08:31.905Z","event":"E","properties":{},` + lib + `}`},
		{"track with own id and local timestamp", Track{Event: "E", UserID: "u", MessageID: "m-9", Timestamp: time.Date(2020, 1, 2, 4, 5, 6, 7_891_000, local)},
			`{"type":"track","messageId":"m-9","userId":"u","timestamp":"2020-01-02T03:05:06.007Z","event":"E","properties":{},` + lib + `}`},
		{"identify", Identify{UserID: "u1", Traits: Traits{"email": "a@b.c"}},
			`{"type":"identify","messageId":"id-1","userId":"u1","timestamp":"2015-12-10T04:08:31.905Z","traits":{"email":"a@b.c"},` + lib + `}`},
		{"identify no traits", &Identify{AnonymousID: "a"},
			`{"type":"identify","messageId":"id-1","anonymousId":"a","timestamp":"2015-12-10T04:08:31.905Z","traits":{},` + lib + `}`},
		{"page", Page{UserID: "u", Name: "Home", Category: "Docs", Properties: Properties{"url": "https://x.test/"}},
			`{"type":"page","messageId":"id-1","userId":"u","timestamp":"2015-12-10T04:08:31.905Z","name":"Home","category":"Docs","properties":{"name":"Home","category":"Docs","url":"https://x.test/"},` + lib + `}`},
		{"screen", &Screen{UserID: "u", Name: "Cart"},
			`{"type":"screen","messageId":"id-1","userId":"u","timestamp":"2015-12-10T04:08:31.905Z","name":"Cart","properties":{"name":"Cart"},` + lib + `}`},
		{"group", Group{UserID: "u", GroupID: "g1", Traits: Traits{"name": "Acme"}},
			`{"type":"group","messageId":"id-1","userId":"u","timestamp":"2015-12-10T04:08:31.905Z","groupId":"g1","traits":{"name":"Acme"},` + lib + `}`},
		{"alias", Alias{UserID: "new", PreviousID: "old"},
			`{"type":"alias","messageId":"id-1","userId":"new","timestamp":"2015-12-10T04:08:31.905Z","previousId":"old",` + lib + `}`},
		{"integrations", Track{Event: "E", UserID: "u", Integrations: Integrations{"All": false, "Mixpanel": true}},
			`{"type":"track","messageId":"id-1","userId":"u","timestamp":"2015-12-10T04:08:31.905Z","event":"E","properties":{},` + lib + `,"integrations":{"All":false,"Mixpanel":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, encodeString(t, tt.msg))
		})
	}
}

func TestEncodeContext(t *testing.T) {
	active := false
	def := &Context{Channel: "server", App: &AppInfo{Name: "shop", Version: "1.2"}, Traits: Traits{"plan": "free", "x": 1}, Extra: map[string]any{"screen": map[string]any{"width": 1}}}
	msg := &Context{IP: "203.0.113.7", UserAgent: "Mozilla/5.0", Locale: "en-US", Active: &active,
		Page: &PageInfo{Path: "/p", URL: "https://x.test/p?q=1", Search: "?q=1"}, Campaign: &CampaignInfo{Source: "news", Medium: "email"},
		Traits: Traits{"plan": "pro"}}
	s := testStamp()
	s.defCtx = def
	b, _, err := encodeMessage(Track{Event: "E", UserID: "u", Context: msg}, s)
	require.NoError(t, err)
	var got struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, map[string]any{
		"library":   map[string]any{"name": "tracklane-analytics-go", "version": Version},
		"ip":        "203.0.113.7",
		"userAgent": "Mozilla/5.0",
		"locale":    "en-US",
		"channel":   "server",
		"active":    false,
		"app":       map[string]any{"name": "shop", "version": "1.2"},
		"page":      map[string]any{"path": "/p", "url": "https://x.test/p?q=1", "search": "?q=1"},
		"campaign":  map[string]any{"source": "news", "medium": "email"},
		"traits":    map[string]any{"plan": "pro", "x": float64(1)},
		"screen":    map[string]any{"width": float64(1)},
	}, got.Context)
	// The default context is not modified by merging.
	assert.Equal(t, Traits{"plan": "free", "x": 1}, def.Traits)
	assert.Empty(t, def.IP)
}

func TestEncodeNumbersLikeEncodingJSON(t *testing.T) {
	vals := []any{0.1, 19.99, 1e21, 1e-7, math.Copysign(0, -1), 123456789.0, float32(0.1), int64(math.MaxInt64), uint64(math.MaxUint64), 3, int8(-4)}
	for _, v := range vals {
		want, err := json.Marshal(map[string]any{"v": v})
		require.NoError(t, err)
		got := encodeString(t, Track{Event: "E", UserID: "u", Properties: Properties{"v": v}})
		assert.Contains(t, got, `"properties":`+string(want), "value %v (%T)", v, v)
	}
}

func TestEncodeStringsLikeEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ back`, "tab\t nl\n cr\r", "\x00\x1f", "é ✓ 🎉", "\u2028\u2029", "<html>&"} {
		want, _ := json.Marshal(s)
		got := encodeString(t, Track{Event: "E", UserID: "u", Properties: Properties{"s": s}})
		var back struct {
			Properties map[string]string `json:"properties"`
		}
		require.NoError(t, json.Unmarshal([]byte(got), &back))
		assert.Equal(t, s, back.Properties["s"], "round trip of %q (encoding/json: %s)", s, want)
	}
}

func TestEncodeCustomValues(t *testing.T) {
	type custom struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	got := encodeString(t, Track{Event: "E", UserID: "u", Properties: Properties{
		"when":   time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		"list":   []any{1, "a", map[string]any{"k": []string{"x"}}},
		"struct": custom{A: 1},
		"ptr":    &custom{B: "b"},
		"num":    json.Number("12.5"),
		"raw":    json.RawMessage(`{ "r" : [1, 2] }`),
		"ints":   map[string]int{"z": 1, "a": 2},
	}})
	assert.Contains(t, got, `"properties":{"ints":{"a":2,"z":1},"list":[1,"a",{"k":["x"]}],"num":12.5,"ptr":{"a":0,"b":"b"},"raw":{"r":[1,2]},"struct":{"a":1},"when":"2020-01-01T00:00:00.000Z"}`)
}

func TestEnqueueValidation(t *testing.T) {
	var nilTrack *Track
	var nilAlias *Alias
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name  string
		msg   Message
		is    error
		field string
	}{
		{"nil", nil, ErrNilMessage, ""},
		{"typed nil track", nilTrack, ErrNilMessage, ""},
		{"typed nil alias", nilAlias, ErrNilMessage, ""},
		{"no ids", Track{Event: "E"}, ErrMissingID, ""},
		{"identify no ids", Identify{}, ErrMissingID, ""},
		{"no event", Track{UserID: "u"}, ErrMissingField, "event"},
		{"group no id", Group{UserID: "u"}, ErrMissingField, "groupId"},
		{"alias no user", Alias{PreviousID: "p"}, ErrMissingField, "userId"},
		{"alias no previous", Alias{UserID: "u"}, ErrMissingField, "previousId"},
		{"NaN", Track{Event: "E", UserID: "u", Properties: Properties{"price": math.NaN()}}, ErrInvalidValue, "properties.price"},
		{"Inf nested", Track{Event: "E", UserID: "u", Properties: Properties{"a": []any{1, map[string]any{"b": math.Inf(-1)}}}}, ErrInvalidValue, "properties.a[1].b"},
		{"float32 Inf", Identify{UserID: "u", Traits: Traits{"x": float32(math.Inf(1))}}, ErrInvalidValue, "traits.x"},
		{"invalid utf8 value", Track{Event: "E", UserID: "u", Properties: Properties{"s": "\xff"}}, ErrInvalidValue, "properties.s"},
		{"invalid utf8 key", Track{Event: "E", UserID: "u", Properties: Properties{"\xfe": 1}}, ErrInvalidValue, "properties.\"\\xfe\""},
		{"invalid utf8 user id", Track{Event: "E", UserID: "\xff"}, ErrInvalidValue, "userId"},
		{"invalid utf8 event", Track{Event: "\xff", UserID: "u"}, ErrInvalidValue, "event"},
		{"unsupported value", Track{Event: "E", UserID: "u", Properties: Properties{"f": func() {}}}, ErrInvalidValue, "properties.f"},
		{"channel value", Track{Event: "E", UserID: "u", Properties: Properties{"c": make(chan int)}}, ErrInvalidValue, "properties.c"},
		{"cyclic", Track{Event: "E", UserID: "u", Properties: Properties{"c": cyclic}}, ErrInvalidValue, ""},
		{"bad json.Number", Track{Event: "E", UserID: "u", Properties: Properties{"n": json.Number("1x")}}, ErrInvalidValue, "properties.n"},
		{"bad RawMessage", Track{Event: "E", UserID: "u", Properties: Properties{"r": json.RawMessage(`{`)}}, ErrInvalidValue, "properties.r"},
		{"context library", Track{Event: "E", UserID: "u", Context: &Context{Extra: map[string]any{"library": "x"}}}, ErrPropertyConflict, "context.library"},
		{"context typed key", Track{Event: "E", UserID: "u", Context: &Context{Extra: map[string]any{"ip": "x"}}}, ErrPropertyConflict, "context.ip"},
		{"integrations NaN", Track{Event: "E", UserID: "u", Integrations: Integrations{"x": map[string]any{"n": math.NaN()}}}, ErrInvalidValue, "integrations.x.n"},
		{"integrations not a bool", Track{Event: "E", UserID: "u", Integrations: Integrations{"Mixpanel": "yes"}}, ErrInvalidValue, "integrations.Mixpanel"},
		{"message id too long", Track{Event: "E", UserID: "u", MessageID: strings.Repeat("m", 101)}, ErrMessageIDTooLong, "messageId"},
		{"timestamp out of range", Track{Event: "E", UserID: "u", Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, ErrInvalidValue, "timestamp"},
		{"timestamp before year 1", Identify{UserID: "u", Timestamp: time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)}, ErrInvalidValue, "timestamp"},
		{"too large", Track{Event: "E", UserID: "u", Properties: Properties{"big": strings.Repeat("x", 32000)}}, ErrMessageTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reports []Report
			c, err := New("test-write-key", WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })),
				WithDeliveryCallback(func(r Report) { reports = append(reports, r) }))
			require.NoError(t, err)
			defer c.Close(context.Background())
			err = c.Enqueue(tt.msg)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			if tt.field != "" {
				var ve *ValidationError
				require.ErrorAs(t, err, &ve)
				assert.Equal(t, tt.field, ve.Field)
			}
			st := c.Stats()
			assert.Equal(t, uint64(1), st.Refused)
			assert.Equal(t, uint64(0), st.Enqueued)
			require.Len(t, reports, 1)
			assert.Equal(t, Refused, reports[0].Outcome)
			assert.Equal(t, err, reports[0].Err)
			// The client still accepts a valid message afterwards.
			require.NoError(t, c.Enqueue(Track{Event: "ok", UserID: "u"}))
		})
	}
}

func TestTooLargeCountsExactBytes(t *testing.T) {
	base := encodeString(t, Track{Event: "E", UserID: "u", Properties: Properties{"p": ""}})
	pad := MaxMessageBytes - len(base)
	_, _, err := encodeMessage(Track{Event: "E", UserID: "u", Properties: Properties{"p": strings.Repeat("x", pad)}}, testStamp())
	require.NoError(t, err, "exactly 32000 bytes is allowed")
	_, _, err = encodeMessage(Track{Event: "E", UserID: "u", Properties: Properties{"p": strings.Repeat("x", pad+1)}}, testStamp())
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, MaxMessageBytes+1, tl.Size)
}

func TestEncodeDoesNotModifyInput(t *testing.T) {
	m := Track{Event: "E", UserID: "u", Properties: Properties{"a": 1}}
	_, _, err := encodeMessage(&m, testStamp())
	require.NoError(t, err)
	assert.Empty(t, m.MessageID)
	assert.True(t, m.Timestamp.IsZero())
}

func TestPathErrorMapping(t *testing.T) {
	w := &jsonw.Writer{}
	w.ObjectStart()
	w.Field("properties")
	w.ObjectStart()
	w.Field("x")
	w.Float(math.NaN())
	var pe *jsonw.PathError
	require.True(t, errors.As(w.Err(), &pe))
	assert.Equal(t, "properties.x", pe.Path)
}

// The default messageId is appended into the encoding, not made a string
// on the caller's path: the reports still carry it, the same as on the
// wire, whether the message was delivered or refused after encoding.
func TestDefaultMessageIDReported(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	var mu sync.Mutex
	var reports []Report
	var sent []string
	c, err := New("k", WithDeliveryCallback(func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, r)
	}), WithTransport(TransportFunc(func(_ context.Context, b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range b.Messages {
			var v struct{ MessageID string }
			require.NoError(t, json.Unmarshal(m, &v))
			sent = append(sent, v.MessageID)
		}
		return nil
	})))
	require.NoError(t, err)
	ev := fullOrder()
	require.NoError(t, c.Enqueue(&ev))
	require.NoError(t, c.Enqueue(Identify{UserID: "u"}))
	require.NoError(t, c.Flush(t.Context()))
	require.NoError(t, c.Close(t.Context()))
	// Refused by the queue after encoding (EnqueueContext encodes first).
	require.ErrorIs(t, c.EnqueueContext(t.Context(), Track{Event: "E", UserID: "u"}), ErrClosed)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, sent, 2)
	var delivered []string
	var refused []MessageInfo
	for _, r := range reports {
		for _, m := range r.Messages {
			if r.Outcome == Delivered {
				delivered = append(delivered, m.MessageID)
			} else {
				refused = append(refused, m)
			}
		}
	}
	require.ElementsMatch(t, sent, delivered)
	require.Len(t, refused, 1)
	require.Equal(t, MessageInfo{MessageID: refused[0].MessageID, Type: "track", Event: "E"}, refused[0])
	for _, id := range append(delivered, refused[0].MessageID) {
		require.Regexp(t, v4, id)
	}
	require.NotEqual(t, sent[0], sent[1])

	enc, err := c.Encode(Track{Event: "E", UserID: "u"})
	require.NoError(t, err)
	require.Regexp(t, v4, enc.Info.MessageID)
	require.Contains(t, string(enc.Data), `"messageId":"`+enc.Info.MessageID+`"`)
}

// Enqueue encodes into the free end of a slab, and push takes the
// encoding without a copy; an encoding that outgrows the slab is copied
// into the queue's slab instead. Both reach the transport intact.
func TestEncoderSlab(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // messageId -> properties.pad
	c, err := New("k", WithTransport(TransportFunc(func(_ context.Context, b *Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range b.Messages {
			var v struct {
				MessageID  string
				Properties struct{ Pad string }
			}
			require.NoError(t, json.Unmarshal(m, &v))
			got[v.MessageID] = v.Properties.Pad
		}
		return nil
	})))
	require.NoError(t, err)
	q := c.b.q
	enqueue := func(e *encoder, id, pad string) {
		t.Helper()
		_, err := encodeTo(&e.w, Track{Event: "E", UserID: "u", MessageID: id, Properties: Properties{"pad": pad}}, &c.stamp)
		require.NoError(t, err)
		var in *slab
		if e.inSlab() {
			in = e.s
		}
		require.NoError(t, c.b.accept(t.Context(), e.w.Buf, in, MessageInfo{MessageID: id, Type: "track", Event: "E"}, nil, false))
		if in != nil {
			e.used()
		}
	}

	e := q.getEncoder()
	small := strings.Repeat("s", 100)
	enqueue(e, "small", small)
	q.mu.Lock()
	require.Equal(t, 1, e.s.refs, "push counted the encoder's slab")
	require.Nil(t, q.slab, "nothing copied")
	q.mu.Unlock()
	require.Equal(t, len(e.w.Buf), e.off)

	// The slab's last encoderRoom bytes: a larger encoding outgrows them.
	e.off = cap(e.s.buf) - encoderRoom
	e.w.Reset(e.s.buf[e.off:e.off:cap(e.s.buf)])
	big := strings.Repeat("b", 2*encoderRoom)
	enqueue(e, "big", big)
	require.False(t, e.inSlab())
	q.mu.Lock()
	require.NotNil(t, q.slab, "copied into the queue's slab")
	q.mu.Unlock()
	q.putEncoder(e)
	require.Nil(t, e.w.Buf, "the outgrown buffer is not kept")

	require.NoError(t, c.Close(t.Context()))
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]string{"small": small, "big": big}, got)
	q.mu.Lock()
	defer q.mu.Unlock()
	require.Zero(t, e.s.refs, "released")
}
