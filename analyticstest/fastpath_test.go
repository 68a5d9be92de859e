package analyticstest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tracklane/analytics"
)

// validBase returns valid messages of every type, the last an Order
// Completed with products as the client encodes it.
func validBase(t testing.TB) [][]byte {
	t.Helper()
	lib := map[string]any{"library": map[string]any{"name": "tracklane-analytics-go", "version": "0.1.0"}}
	var out [][]byte
	for _, typ := range []string{"track", "identify", "page", "screen", "group", "alias"} {
		m := map[string]any{
			"type": typ, "messageId": "m-" + typ, "userId": "u1", "timestamp": "2015-12-10T04:08:31.905Z",
			"context": lib, "integrations": map[string]any{"All": true}, "name": "n", "category": "c",
		}
		switch typ {
		case "track":
			m["event"], m["properties"] = "Signed Up", map[string]any{"plan": "pro", "n": 1.5, "tags": []any{"a", nil, true}}
		case "identify":
			m["traits"] = map[string]any{"email": "a@b.c"}
		case "group":
			m["groupId"], m["traits"] = "g1", map[string]any{}
		case "alias":
			m["previousId"] = "anon-1"
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	c, err := analytics.New("k", analytics.WithTransport(analytics.TransportFunc(func(context.Context, *analytics.Batch) error { return nil })))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close(t.Context()) }()
	ev := analytics.OrderCompleted(analytics.Order{OrderID: "o1", Total: 27.5, Revenue: 25, Currency: "USD", Coupon: "x",
		Products: []analytics.Product{{ProductID: "p1", SKU: "s-1", Name: "Uno", Price: 3, Quantity: 2, Position: 1, URL: "https://e/x", ImageURL: "https://e/x.jpg"}}})
	ev.UserID = "u1"
	ev.Timestamp = time.Date(2015, 12, 10, 4, 8, 31, 905e6, time.UTC)
	enc, err := c.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, enc.Data)
}

// agree fails when the fast path accepts msg although Validate finds
// something wrong with it.
func agree(t *testing.T, msg []byte) bool {
	t.Helper()
	if _, ok := fastMessage(msg); ok {
		if vs := Validate(msg); vs != nil {
			t.Errorf("fast path accepted %s\nbut Validate found %v", msg, vs)
			return false
		}
	}
	return true
}

func TestFastPathTakesValidMessages(t *testing.T) {
	for _, m := range validBase(t) {
		if vs := Validate(m); vs != nil {
			t.Fatalf("base message invalid: %s: %v", m, vs)
		}
		info, ok := fastMessage(m)
		if !ok {
			t.Errorf("fast path refused a valid message: %s", m)
		}
		var w struct{ Type, MessageID, Event string }
		_ = json.Unmarshal(m, &w)
		if w.Type != "track" {
			w.Event = ""
		}
		if info != (msgInfo{typ: w.Type, id: w.MessageID, event: w.Event}) {
			t.Errorf("info %+v, want %+v", info, w)
		}
	}
}

// TestFastPathAgreesWithValidate mutates valid messages byte by byte and
// member by member: whatever the fast path accepts, Validate accepts.
func TestFastPathAgreesWithValidate(t *testing.T) {
	repl := []byte{'"', '1', 'x', '{', '}', '[', ']', ',', ':', '\\', ' ', 0, 0xff, 'Z', '-', '.', 'e'}
	for _, base := range validBase(t) {
		for i := range base {
			del := append(append([]byte(nil), base[:i]...), base[i+1:]...)
			if !agree(t, del) {
				return
			}
			for _, c := range repl {
				m := append([]byte(nil), base...)
				m[i] = c
				if !agree(t, m) {
					return
				}
				ins := append(append(append([]byte(nil), base[:i]...), c), base[i:]...)
				if !agree(t, ins) {
					return
				}
			}
		}
		var m map[string]any
		if err := json.Unmarshal(base, &m); err != nil {
			t.Fatal(err)
		}
		values := []any{nil, "", "x", 1, json.Number("1e400"), true, map[string]any{}, []any{}, strings.Repeat("y", 101),
			"2015-12-10T04:08:31Z", "2015-12-10T04:08:31.905+01:00", map[string]any{"name": "", "version": "1"}}
		keys := []string{"type", "messageId", "userId", "anonymousId", "event", "previousId", "groupId", "name", "category",
			"timestamp", "sentAt", "properties", "traits", "integrations", "context", "Type", "library"}
		for _, k := range keys {
			for _, v := range values {
				mm := map[string]any{}
				for kk, vv := range m {
					mm[kk] = vv
				}
				if v == nil {
					delete(mm, k)
				} else {
					mm[k] = v
				}
				b, err := json.Marshal(mm)
				if err != nil {
					continue
				}
				if !agree(t, b) {
					return
				}
			}
		}
		// A member twice, at the top and inside context.
		dup := strings.Replace(string(base), `{`, `{"userId":"u2",`, 1)
		dup2 := strings.Replace(string(base), `"library":{`, `"library":{"name":"a",`, 1)
		for _, d := range []string{dup, dup2, string(base) + " ", string(base) + "{}", " " + string(base)} {
			agree(t, []byte(d))
		}
	}
}

// TestFastPathAgreesOnEcommerce changes each property of an Order
// Completed and of its product: other JSON types, v1 and camelCase names.
func TestFastPathAgreesOnEcommerce(t *testing.T) {
	base := validBase(t)
	var m map[string]any
	if err := json.Unmarshal(base[len(base)-1], &m); err != nil {
		t.Fatal(err)
	}
	values := []any{"s", 1.5, true, nil, map[string]any{}, []any{}, []any{map[string]any{"type": "t", "value": "v"}}, []any{1}}
	extraKeys := []string{"orderId", "productId", "id", "sky", "imageUrl", "ImageURL", "orderID", "Total", "custom", "query", "filters", "position"}
	mutate := func(edit func(props map[string]any)) {
		var c map[string]any
		b, _ := json.Marshal(m)
		_ = json.Unmarshal(b, &c)
		edit(c["properties"].(map[string]any))
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		agree(t, out)
	}
	props := m["properties"].(map[string]any)
	product := props["products"].([]any)[0].(map[string]any)
	keys := append(extraKeys, "products")
	for k := range props {
		keys = append(keys, k)
	}
	pkeys := append([]string(nil), extraKeys...)
	for k := range product {
		pkeys = append(pkeys, k)
	}
	for _, k := range keys {
		for _, v := range values {
			mutate(func(p map[string]any) { p[k] = v })
		}
	}
	for _, k := range pkeys {
		for _, v := range values {
			mutate(func(p map[string]any) { p["products"].([]any)[0].(map[string]any)[k] = v })
		}
	}
	for _, ev := range EcommerceEvents() {
		m["event"] = ev
		for _, k := range keys {
			for _, v := range values {
				mutate(func(p map[string]any) { p[k] = v })
			}
		}
	}
}

func TestFastBatch(t *testing.T) {
	base := validBase(t)
	body := `{"batch":[` + string(base[0]) + `,` + string(base[len(base)-1]) + `],"sentAt":"2015-12-10T04:08:32.001Z","writeKey":"k"}`
	raws, infos, wk, ok := fastBatch([]byte(body), MaxBatchBytes)
	if !ok || len(raws) != 2 || len(infos) != 2 || wk == nil || *wk != "k" || string(raws[1]) != string(base[len(base)-1]) {
		t.Fatalf("fastBatch: ok %v, %d raws, writeKey %v", ok, len(raws), wk)
	}
	for _, b := range []string{
		`{"batch":[],"sentAt":"2015-12-10T04:08:32.001Z"}`,
		`{"batch":[` + string(base[0]) + `]}`,
		`{"batch":[` + string(base[0]) + `],"sentAt":"2015-12-10T04:08:32Z"}`,
		`{"batch":[` + string(base[0]) + `],"sentAt":"2015-12-10T04:08:32.001Z","writeKey":1}`,
		`{"Batch":[` + string(base[0]) + `],"batch":[],"sentAt":"2015-12-10T04:08:32.001Z"}`,
		`{"batch":[` + string(base[0]) + `],"batch":[` + string(base[0]) + `],"sentAt":"2015-12-10T04:08:32.001Z"}`,
		`{"batch":[` + string(base[0]) + `,1],"sentAt":"2015-12-10T04:08:32.001Z"}`,
		`{"batch":[` + string(base[0]) + `],"sentAt":"2015-12-10T04:08:32.001Z"} x`,
		body[:len(body)-1],
	} {
		if _, _, _, ok := fastBatch([]byte(b), MaxBatchBytes); ok {
			t.Errorf("fastBatch accepted %s; ValidateBatch says %v", b, ValidateBatch([]byte(b)))
		}
	}
	if _, _, _, ok := fastBatch([]byte(body), len(body)-1); ok {
		t.Error("fastBatch accepted a body over the limit")
	}
	many := `{"batch":[` + strings.Repeat(string(base[0])+",", MaxBatchMessages) + string(base[0]) + `],"sentAt":"2015-12-10T04:08:32.001Z"}`
	if _, _, _, ok := fastBatch([]byte(many), 1<<30); ok {
		t.Error("fastBatch accepted 2,501 messages")
	}
}

func FuzzFastPath(f *testing.F) {
	for _, m := range validBase(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if _, ok := fastMessage(msg); ok {
			if vs := Validate(msg); vs != nil {
				t.Fatalf("fast path accepted %q, Validate found %v", msg, vs)
			}
		}
		body := append(append([]byte(`{"sentAt":"2015-12-10T04:08:32.001Z","batch":[`), msg...), ']', '}')
		if _, _, _, ok := fastBatch(body, MaxBatchBytes); ok {
			if vs := ValidateBatch(body); vs != nil {
				t.Fatalf("fast path accepted batch %q, ValidateBatch found %v", body, vs)
			}
		}
	})
}

// BenchmarkFastBatch: the Server's checks of one 100-message batch of Order
// Completed, fast path against the full checks.
//
//	go test -run '^$' -bench FastBatch -benchmem .
func BenchmarkFastBatch(b *testing.B) {
	base := validBase(b)
	m := base[len(base)-1]
	body := []byte(`{"batch":[` + strings.TrimSuffix(strings.Repeat(string(m)+",", 100), ",") + `],"sentAt":"2015-12-10T04:08:32.001Z"}`)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, _, ok := fastBatch(body, MaxBatchBytes); !ok {
				b.Fatal("not ok")
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if vs, _ := validateBatch(body, MaxBatchBytes); vs != nil {
				b.Fatal(vs)
			}
		}
	})
}
