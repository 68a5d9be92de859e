package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzEncode: any strings, floats and nested custom values give valid JSON
// within the size limit, or a typed error; never a panic.
func FuzzEncode(f *testing.F) {
	f.Add("Order Completed", "u1", "price", "x", 19.99, `{"a":[1,"b",{"c":null}]}`, uint8(0))
	f.Add("", "", "", "", math.NaN(), `[]`, uint8(1))
	f.Add("E\xff", "u", "k\x00", "\xfe", math.Inf(1), `{"k":"\u2028"}`, uint8(2))
	f.Add("E", "u", "library", "v", math.Copysign(0, -1), `1e400`, uint8(3))
	f.Fuzz(func(t *testing.T, event, user, key, sval string, num float64, nested string, kind uint8) {
		var custom any
		_ = json.Unmarshal([]byte(nested), &custom)
		props := Properties{key: sval, "num": num, "nested": custom}
		var m Message
		switch kind % 6 {
		case 0:
			m = Track{Event: event, UserID: user, Properties: props}
		case 1:
			m = &Identify{AnonymousID: user, Traits: props}
		case 2:
			m = Page{UserID: user, Name: event, Properties: props}
		case 3:
			m = Group{UserID: user, GroupID: event, Traits: props, Context: &Context{Extra: map[string]any{key: sval}}}
		case 4:
			m = Alias{UserID: user, PreviousID: event}
		default:
			m = Track{Event: event, AnonymousID: user, Integrations: Integrations{key: custom}}
		}
		data, id, err := encodeMessage(m, testStamp())
		if err != nil {
			for _, sentinel := range []error{ErrMissingID, ErrMissingField, ErrInvalidValue, ErrPropertyConflict,
				ErrMessageIDTooLong, ErrMessageTooLarge, ErrNilMessage} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("untyped error: %v", err)
		}
		if !json.Valid(data) {
			t.Fatalf("invalid JSON: %s", data)
		}
		if len(data) > MaxMessageBytes {
			t.Fatalf("message of %d bytes accepted", len(data))
		}
		var back map[string]any
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back["messageId"] != id {
			t.Fatalf("messageId %v, returned %q", back["messageId"], id)
		}
		if tr, ok := m.(Track); ok && kind%6 == 0 {
			p := back["properties"].(map[string]any)
			if p[key] != sval && key != "num" && key != "nested" {
				t.Fatalf("property %q: got %#v want %q", key, p[key], sval)
			}
			if back["event"] != tr.Event {
				t.Fatalf("event %v want %q", back["event"], tr.Event)
			}
		}
	})
}

// FuzzHTTPResponse: any status, Retry-After and body are handled without a
// panic, and classified consistently with the status.
func FuzzHTTPResponse(f *testing.F) {
	f.Add(200, "", "ok")
	f.Add(429, "3", `{"code":"rate_limited"}`)
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", "")
	f.Add(413, "-5", strings.Repeat("x", 5000))
	f.Add(999, "1e9", "\xff\xfe")
	f.Add(100, "NaN", "")
	f.Add(200, "", `{"ok":false,"errors":["x"]}`)
	f.Add(511, "", "")
	f.Fuzz(func(t *testing.T, code int, retryAfter, body string) {
		if code < 100 || code > 999 {
			return
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			h := http.Header{}
			h.Set("Retry-After", retryAfter)
			return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body))}, nil
		})}
		tr := newHTTPTransport(&config{httpClient: hc, endpoint: "http://collector.test", writeKey: "key", now: time.Now})
		err := tr.Send(context.Background(), &Batch{Messages: []json.RawMessage{json.RawMessage(`{}`)}, SentAt: fixedTime, Attempt: 1})
		if code >= 200 && code < 300 {
			var he *HTTPError
			if err != nil && (!errors.As(err, &he) || he.StatusCode != code || !strings.Contains(body, `"ok"`)) {
				t.Fatalf("status %d: %v", code, err) // only a Jitsu-style {"ok":false} refuses a 2xx
			}
			return
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != code {
			t.Fatalf("status %d: got %v", code, err)
		}
		if he.RetryAfter < 0 || len(he.Body) > maxErrorBody+len("\uFFFD")*maxErrorBody {
			t.Fatalf("bad HTTPError %+v", he)
		}
		d := decide(attempt{err: err, status: code}, batchFacts{size: 1, maxDelay: MaxRetryAfter, nowForDates: fixedTime})
		retry := d.verdict == resend || d.verdict == pause
		want := code == 408 || code == 410 || code == 429 || code == 460 || (code >= 500 && code <= 599 && code != 501 && code != 505 && code != 511)
		if retry != want {
			t.Fatalf("status %d: retry=%v", code, retry)
		}
		_ = strconv.Itoa(code)
	})
}
