package analytics

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTypedTraitsConflicts(t *testing.T) {
	user := UserTraits{Email: "peter@example.com"}
	account := GroupTraits{Name: "Initech"}
	tests := []struct {
		name  string
		msg   Message
		field string
	}{
		{"custom email with typed email", Identify{UserID: "u", User: user, Traits: Traits{"email": "x@y.z"}}, "traits.email"},
		{"reserved trait the typed set leaves empty", Identify{UserID: "u", User: user, Traits: Traits{"age": 3}}, "traits.age"},
		{"snake_case spelling", Identify{UserID: "u", User: user, Traits: Traits{"first_name": "P"}}, "traits.first_name"},
		{"other case", Identify{UserID: "u", User: user, Traits: Traits{"CreatedAt": "2020"}}, "traits.CreatedAt"},
		{"sub-object", Identify{UserID: "u", User: user, Traits: Traits{"company": map[string]any{"plan": "x"}}}, "traits.company"},
		{"group", Group{UserID: "u", GroupID: "g", Account: account, Traits: Traits{"employees": 5}}, "traits.employees"},
		{"group snake_case", Group{UserID: "u", GroupID: "g", Account: account, Traits: Traits{"created_at": "x"}}, "traits.created_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := encodeMessage(tt.msg, testStamp())
			requireField(t, err, ErrPropertyConflict, tt.field)
		})
	}

	// Custom keys that are not reserved are free; group and user reserved sets differ.
	for _, m := range []Message{
		Identify{UserID: "u", User: user, Traits: Traits{"plan": "pro", "logins": 5, "email_verified": true}},
		Group{UserID: "u", GroupID: "g", Account: account, Traits: Traits{"age": 3, "firstName": "x"}},
		// Without typed traits, Traits is sent as it is.
		Identify{UserID: "u", Traits: Traits{"email": 5, "first_name": "P", "firstName": "P"}},
		Group{UserID: "u", GroupID: "g", Traits: Traits{"employees": 329}},
	} {
		_, _, err := encodeMessage(m, testStamp())
		assert.NoError(t, err, "%#v", m)
	}
}

func TestTypedTraitsValidation(t *testing.T) {
	tests := []struct {
		name  string
		msg   Message
		field string
	}{
		{"negative age", Identify{UserID: "u", User: UserTraits{Age: -1}}, "traits.age"},
		{"negative employee_count", Identify{UserID: "u", User: UserTraits{Company: &Company{EmployeeCount: -3}}}, "traits.company.employee_count"},
		{"createdAt year", Identify{UserID: "u", User: UserTraits{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "traits.createdAt"},
		{"birthday year", Identify{UserID: "u", User: UserTraits{Birthday: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}, "traits.birthday"},
		{"group createdAt year", Group{UserID: "u", GroupID: "g", Account: GroupTraits{CreatedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)}}, "traits.createdAt"},
		{"invalid UTF-8", Identify{UserID: "u", User: UserTraits{Email: "a\xffb"}}, "traits.email"},
		{"invalid UTF-8 in address", Group{UserID: "u", GroupID: "g", Account: GroupTraits{Address: &Address{City: "\xfe"}}}, "traits.address.city"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := encodeMessage(tt.msg, testStamp())
			requireField(t, err, ErrInvalidValue, tt.field)
		})
	}
}

func TestTypedTraitsZeroes(t *testing.T) {
	// Empty sub-objects and zero values are not sent; a User with only an
	// empty address is no typed trait at all (custom email allowed).
	b, _, err := encodeMessage(Identify{UserID: "u", User: UserTraits{Address: &Address{}, Company: &Company{}},
		Traits: Traits{"email": "a@b.c"}}, testStamp())
	require.NoError(t, err)
	var got struct {
		Traits map[string]any `json:"traits"`
	}
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, map[string]any{"email": "a@b.c"}, got.Traits)
}

func TestBirthdayKeepsItsDate(t *testing.T) {
	// Late evening in Honolulu is the next day in UTC; the birthday must not move.
	hnl := time.FixedZone("HST", -10*3600)
	b, _, err := encodeMessage(Identify{UserID: "u", User: UserTraits{Birthday: time.Date(1990, 5, 17, 23, 0, 0, 0, hnl)}}, testStamp())
	require.NoError(t, err)
	assert.Contains(t, string(b), `"birthday":"1990-05-17T00:00:00.000Z"`)
}

func TestPagePropertiesFromMiddleware(t *testing.T) {
	var got *Context
	h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = RequestContext(r.Context()) }))
	r := httptest.NewRequest(http.MethodGet, "http://shop.example/products/42?utm_source=x", nil)
	r.Header.Set("Referer", "https://search.example/?q=monopoly")
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.NotNil(t, got)
	got.Page.Title = "Monopoly" // the handler knows its title

	b, _, err := encodeMessage(Page{AnonymousID: "a", Name: "Product", Context: got,
		Properties: Properties{"search": nil}}, testStamp()) // a key set to nil still wins
	require.NoError(t, err)
	var m struct {
		Properties map[string]any `json:"properties"`
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, map[string]any{
		"name": "Product", "path": "/products/42", "referrer": "https://search.example/?q=monopoly",
		"search": nil, "title": "Monopoly", "url": "http://shop.example/products/42?utm_source=x",
	}, m.Properties)

	// A screen takes no page fields, even with a context.page.
	b, _, err = encodeMessage(Screen{AnonymousID: "a", Name: "Cart", Context: got}, testStamp())
	require.NoError(t, err)
	m.Properties = nil
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, map[string]any{"name": "Cart"}, m.Properties)
}

func TestConsentValidation(t *testing.T) {
	_, _, err := encodeMessage(Track{Event: "E", UserID: "u", Context: &Context{
		Consent: &Consent{CategoryPreferences: map[string]bool{"ok": true, "bad\xff": true}}}}, testStamp())
	require.ErrorIs(t, err, ErrInvalidValue)
	// "consent" is a typed context member: Extra may not set it.
	_, _, err = encodeMessage(Track{Event: "E", UserID: "u", Context: &Context{Extra: map[string]any{"consent": map[string]any{}}}}, testStamp())
	require.ErrorIs(t, err, ErrPropertyConflict)
	// The message's consent replaces the default's whole.
	s := testStamp()
	s.defCtx = &Context{Consent: &Consent{CategoryPreferences: map[string]bool{"Ads": true, "Analytics": true}}}
	b, _, err := encodeMessage(Track{Event: "E", UserID: "u", Context: &Context{Consent: &Consent{CategoryPreferences: map[string]bool{"Ads": false}}}}, s)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"consent":{"categoryPreferences":{"Ads":false}}`)
}

func BenchmarkEncodeIdentifyTyped(b *testing.B) {
	m := Identify{UserID: "97980cfea0067", User: UserTraits{Email: "peter@example.com", FirstName: "Peter", LastName: "Gibbons",
		CreatedAt: time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC), Address: &Address{City: "San Francisco", Country: "USA"}},
		Traits: Traits{"plan": "premium", "logins": 5}}
	benchEncode(b, m)
}

func BenchmarkEncodePageFromRequest(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "https://shop.example/products/42?utm_source=newsletter", nil)
	r.Header.Set("Referer", "https://www.google.com/")
	m := Page{AnonymousID: "a1", Name: "Monopoly", Category: "Product", Context: ContextFromRequest(r)}
	benchEncode(b, m)
}

// benchEncode measures encoding m into a pooled writer, as Enqueue does.
func benchEncode(b *testing.B, m Message) {
	s := testStamp()
	b.ReportAllocs()
	for b.Loop() {
		w, _, err := encodeWriter(m, s)
		if err != nil {
			b.Fatal(err)
		}
		putWriter(w)
	}
}
