package analytics

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var updateWire = flag.Bool("update-wire", false, "rewrite testdata/wire/*.json from the encoder's output")

// wireRequest is a shopper's request as net/http hands it to a handler.
func wireRequest(target string, cookies ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.RemoteAddr = "203.0.113.7:5555"
	r.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64)")
	r.Header.Set("Referer", "https://www.google.com/")
	for _, c := range cookies {
		r.Header.Add("Cookie", c)
	}
	return r
}

// wireCases are the wire shapes added for destinations: each is encoded
// and compared byte for byte with testdata/wire/<name>.json (compacted).
func wireCases() []struct {
	name string
	msg  Message
	def  *Context
} {
	created := time.Date(2024, 3, 1, 9, 30, 0, 123_000_000, time.FixedZone("CET", 3600))
	birthday := time.Date(1990, 5, 17, 0, 0, 0, 0, time.FixedZone("PDT", -7*3600))
	pageCtx := ContextFromRequest(wireRequest("https://shop.example/products/42?color=red&utm_source=newsletter&utm_medium=email"))
	kept := ContextFromRequest(wireRequest("https://shop.example/checkout", "tl_campaign=utm_campaign=spring+sale&utm_medium=email&utm_source=newsletter"),
		KeepCampaign(FirstTouch, CookieOptions{}))
	return []struct {
		name string
		msg  Message
		def  *Context
	}{
		{"page_from_request", Page{AnonymousID: "a1", Name: "Monopoly", Category: "Product", Context: pageCtx}, nil},
		{"page_properties_win", Page{AnonymousID: "a1", Name: "Monopoly", Category: "Product", Context: pageCtx,
			Properties: Properties{"category": "Games", "url": "https://shop.example/products/monopoly", "title": "Monopoly: 3rd Edition"}}, nil},
		{"page_default_context", Page{UserID: "u1", Name: "Home"}, &Context{Page: &PageInfo{Path: "/", URL: "https://shop.example/"}}},
		{"screen", Screen{UserID: "u1", Name: "Cart", Category: "Checkout", Properties: Properties{"items": 2}}, nil},
		{"identify_typed_traits", Identify{UserID: "97980cfea0067", User: UserTraits{
			Address: &Address{City: "San Francisco", Country: "USA", PostalCode: "94103", State: "CA", Street: "6th St"},
			Age:     34, Avatar: "https://shop.example/a/peter.png", Birthday: birthday,
			Company:   &Company{Name: "Initech", ID: "c42", Industry: "Technology", EmployeeCount: 329, Plan: "enterprise"},
			CreatedAt: created, Description: "Likes board games", Email: "peter@example.com", FirstName: "Peter",
			Gender: "male", ID: "97980cfea0067", LastName: "Gibbons", Name: "Peter Gibbons", Phone: "+1-555-0100",
			Title: "Engineer", Username: "pgibbons", Website: "https://peter.example",
		}, Traits: Traits{"plan": "premium", "logins": 5}}, nil},
		{"identify_custom_only", Identify{AnonymousID: "a1", Traits: Traits{"email": "peter@example.com", "first_name": "Peter"}}, nil},
		{"group_typed_traits", Group{UserID: "97980cfea0067", GroupID: "0e8c78ea9d97a7b8185e8632", Account: GroupTraits{
			Address: &Address{City: "Austin", Country: "USA"}, Avatar: "https://initech.example/logo.png", CreatedAt: created,
			Description: "Software", Email: "info@initech.example", Employees: "329", ID: "0e8c78ea9d97a7b8185e8632",
			Industry: "Technology", Name: "Initech", Phone: "+1-555-0199", Website: "https://initech.example", Plan: "enterprise",
		}, Traits: Traits{"total billed": 830}}, nil},
		{"consent", Track{Event: "Order Completed", UserID: "u1",
			Context: &Context{Consent: &Consent{CategoryPreferences: map[string]bool{"Analytics": true, "Advertising": false, "C0004": true}}}}, nil},
		{"consent_empty", Track{Event: "Product Viewed", AnonymousID: "a1", Context: &Context{Consent: &Consent{}}}, nil},
		{"consent_default", Identify{UserID: "u1"}, &Context{Consent: &Consent{CategoryPreferences: map[string]bool{"Functional": true}}}},
		{"campaign_kept", Track{Event: "Checkout Started", AnonymousID: "a1", Context: kept}, nil},
	}
}

func TestWireGolden(t *testing.T) {
	for _, tc := range wireCases() {
		t.Run(tc.name, func(t *testing.T) {
			s := testStamp()
			s.defCtx = tc.def
			got, _, err := encodeMessage(tc.msg, s)
			if err != nil {
				t.Fatal(err)
			}
			// The library version is not part of the shape under test.
			got = bytes.Replace(got, libraryJSON, []byte(`{"name":"`+libraryName+`","version":"VERSION"}`), 1)
			path := filepath.Join("testdata", "wire", tc.name+".json")
			if *updateWire {
				var b bytes.Buffer
				if err := json.Indent(&b, got, "", "  "); err != nil {
					t.Fatal(err)
				}
				b.WriteByte('\n')
				if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestWireGolden -update-wire to create it, then review it)", err)
			}
			var want bytes.Buffer
			if err := json.Compact(&want, raw); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("wire format changed\n got %s\nwant %s", got, want.Bytes())
			}
		})
	}
}
