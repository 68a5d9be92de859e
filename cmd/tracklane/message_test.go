package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tracklane/analytics"
)

func mustParse(t *testing.T, line string) map[string]any {
	t.Helper()
	m, err := parseLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToMessageKeepsWhatASegmentMessageCarries(t *testing.T) {
	m := mustParse(t, `{"type":"track","userId":"u1","anonymousId":"a1","messageId":"m1","event":"Order Completed",
		"timestamp":"2024-01-02T03:04:05.678+01:00","properties":{"total":27.50,"n":12345678901234567890},
		"integrations":{"All":false,"Mixpanel":true},"sentAt":"x","receivedAt":"y","channel":"server",
		"context":{"ip":"203.0.113.7","library":{"name":"analytics.js","version":"1"},"active":false,
		"app":{"name":"shop","version":"2"},"device":{"advertisingId":"ad-1"},"traits":{"plan":"pro"},"location":{"city":"Paris"}}}`)
	msg, err := toMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := msg.(analytics.Track)
	if !ok {
		t.Fatalf("%T", msg)
	}
	if tr.UserID != "u1" || tr.AnonymousID != "a1" || tr.MessageID != "m1" || tr.Event != "Order Completed" ||
		!tr.Timestamp.Equal(time.Date(2024, 1, 2, 2, 4, 5, 678e6, time.UTC)) {
		t.Errorf("track %+v", tr)
	}
	if tr.Properties["n"] != json.Number("12345678901234567890") || tr.Integrations["Mixpanel"] != true {
		t.Errorf("properties %v integrations %v", tr.Properties, tr.Integrations)
	}
	c := tr.Context
	if c == nil || c.IP != "203.0.113.7" || c.Active == nil || *c.Active || c.App == nil || c.App.Name != "shop" ||
		c.Device == nil || c.Device.AdvertisingID != "ad-1" || c.Traits["plan"] != "pro" || c.Extra["location"] == nil || c.Extra["library"] != nil {
		t.Errorf("context %+v", c)
	}
	// The client encodes it as usual, with its own library.
	cl, err := analytics.New("k", analytics.WithTransport(analytics.TransportFunc(func(context.Context, *analytics.Batch) error { return nil })))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close(t.Context()) }()
	enc, err := cl.Encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(enc.Data); !strings.Contains(s, `"n":12345678901234567890`) || strings.Contains(s, "analytics.js") || !strings.Contains(s, `"city":"Paris"`) {
		t.Errorf("encoded %s", s)
	}
}

func TestToMessageRefusesWhatItWouldDrop(t *testing.T) {
	for _, line := range []string{
		`{"type":"track","userId":"u","event":"E","traits":{}}`,
		`{"type":"identify","userId":"u","favourite":"x"}`,
		`{"type":"page","userId":"u","context":{"app":{"name":"a","colour":"red"}}}`,
		`{"type":"track","userId":7,"event":"E"}`,
		`{"type":"track","userId":"u","event":"E","properties":[]}`,
		`{"type":"track","userId":"u","event":"E","context":{"ip":1}}`,
		`{"type":"track","userId":"u","event":"E","context":{"active":"yes"}}`,
		`{"type":"track","userId":"u","event":"E","timestamp":"yesterday"}`,
		`{"userId":"u"}`,
		`{"type":"scroll"}`,
	} {
		if _, err := toMessage(mustParse(t, line)); !errors.Is(err, errLine) {
			t.Errorf("%s: %v, want errLine", line, err)
		}
	}
	if _, err := toMessage(mustParse(t, `{"type":"track","userId":"u","event":"E","context":{"ip":1}}`)); !strings.Contains(err.Error(), "context.ip") {
		t.Errorf("error does not name context.ip: %v", err)
	}
	for _, bad := range []string{"", "[]", "null", `{"a":1} {"b":2}`, `{"a":`} {
		if _, err := parseLine([]byte(bad)); !errors.Is(err, errLine) {
			t.Errorf("parseLine(%q) = %v", bad, err)
		}
	}
}

func TestDeriveIDIsCanonical(t *testing.T) {
	a, err := deriveID(mustParse(t, `{"type":"track","userId":"u","event":"E","properties":{"a":1.50,"b":[1,2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := deriveID(mustParse(t, ` { "properties" : {"b":[1,2],"a":1.50}, "event":"E","userId":"u","type":"track"}`))
	c, _ := deriveID(mustParse(t, `{"type":"track","userId":"u","event":"E","properties":{"a":1.5,"b":[1,2]}}`))
	if a != b || a == c || len(a) != 36 {
		t.Errorf("ids %s %s %s: want the first two equal, the third (1.5, not 1.50) different", a, b, c)
	}
}
