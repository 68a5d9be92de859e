package analytics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// A server-rendered shop gives each new shopper an ajs_anonymous_id cookie
// and keeps the landing campaign; every later event of the visit carries
// both, and the consent read from the shop's own cookie.
func ExampleSetAnonymousIDCookie() {
	rec := analyticstest.NewRecorder()
	client, _ := analytics.New("WRITE_KEY", analytics.WithTransport(rec))

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		ev := analytics.ProductViewed(analytics.Product{ProductID: "507f1f77"})
		ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID // the browser's id
		ev.Context = analytics.RequestContext(r.Context())
		_ = client.Enqueue(ev)
	})
	handler := analytics.Middleware(mux,
		analytics.SetAnonymousIDCookie(analytics.CookieOptions{}),
		analytics.KeepCampaign(analytics.FirstTouch, analytics.CookieOptions{}),
		analytics.ReadConsent(func(r *http.Request) *analytics.Consent {
			if c, err := r.Cookie("consent"); err == nil {
				return &analytics.Consent{CategoryPreferences: map[string]bool{"Advertising": c.Value == "all"}}
			}
			return nil
		}))

	// The landing request: no cookie yet.
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "https://shop.example/?utm_source=newsletter", nil))
	res := w.Result()
	_ = res.Body.Close()

	// The next request sends back what the first one set, and a consent cookie.
	next := httptest.NewRequest("GET", "https://shop.example/products/507f1f77", nil)
	for _, c := range res.Cookies() {
		next.AddCookie(c)
	}
	next.AddCookie(&http.Cookie{Name: "consent", Value: "all"})
	handler.ServeHTTP(httptest.NewRecorder(), next)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = client.Close(ctx)
	ms := rec.Messages()
	fmt.Println("same anonymous id:", ms[0].AnonymousID == ms[1].AnonymousID, len(ms[1].AnonymousID))
	fmt.Println("campaign:", ms[1].Context["campaign"])
	fmt.Println("consent:", ms[1].Context["consent"])
	// Output:
	// same anonymous id: true 36
	// campaign: map[source:newsletter]
	// consent: map[categoryPreferences:map[Advertising:true]]
}

// Reserved traits are typed; custom ones are merged after them.
func ExampleUserTraits() {
	rec := analyticstest.NewRecorder()
	client, _ := analytics.New("WRITE_KEY", analytics.WithTransport(rec))

	_ = client.Enqueue(analytics.Identify{
		UserID: "97980cfea0067",
		User: analytics.UserTraits{
			Email: "peter@example.com", FirstName: "Peter",
			CreatedAt: time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC),
			Address:   &analytics.Address{City: "San Francisco", Country: "USA"},
		},
		Traits: analytics.Traits{"plan": "premium"},
	})
	// A custom key naming a reserved trait, in any spelling, is refused.
	err := client.Enqueue(analytics.Identify{UserID: "u", User: analytics.UserTraits{Email: "a@b.c"},
		Traits: analytics.Traits{"first_name": "Peter"}})
	fmt.Println(err)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = client.Close(ctx)
	m, _ := rec.Last()
	fmt.Println(m.Traits)
	// Output:
	// analytics: invalid identify: traits.first_name: analytics: property set twice
	// map[address:map[city:San Francisco country:USA] createdAt:2024-03-01T09:30:00.000Z email:peter@example.com firstName:Peter plan:premium]
}
