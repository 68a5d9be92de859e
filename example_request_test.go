package analytics_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func ExampleContextFromRequest() {
	// A request as a handler behind a load balancer at 10.0.0.2 receives it.
	r := httptest.NewRequest("GET", "http://internal:8080/products/42?utm_source=newsletter&utm_campaign=spring", nil)
	r.RemoteAddr = "10.0.0.2:41000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.9") // 6.6.6.6 was sent by the client: ignored
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Forwarded-Host", "shop.example")
	r.Header.Set("User-Agent", "Mozilla/5.0")
	r.Header.Set("Accept-Language", "fr-ch, fr;q=0.9, en;q=0.8")
	r.Header.Set("Referer", "https://mail.example/inbox")

	c := analytics.ContextFromRequest(r, analytics.TrustProxies(netip.MustParsePrefix("10.0.0.0/8")))
	fmt.Println("ip:       ", c.IP)
	fmt.Println("userAgent:", c.UserAgent)
	fmt.Println("locale:   ", c.Locale)
	fmt.Println("url:      ", c.Page.URL)
	fmt.Println("path:     ", c.Page.Path)
	fmt.Println("search:   ", c.Page.Search)
	fmt.Println("referrer: ", c.Page.Referrer)
	fmt.Printf("campaign:  %+v\n", *c.Campaign)

	// Without TrustProxies, forwarding headers are ignored.
	fmt.Println("untrusted:", analytics.ContextFromRequest(r).IP)
	// Output:
	// ip:        198.51.100.9
	// userAgent: Mozilla/5.0
	// locale:    fr-CH
	// url:       https://shop.example/products/42?utm_source=newsletter&utm_campaign=spring
	// path:      /products/42
	// search:    ?utm_source=newsletter&utm_campaign=spring
	// referrer:  https://mail.example/inbox
	// campaign:  {Name:spring Source:newsletter Medium: Term: Content:}
	// untrusted: 10.0.0.2
}

func ExampleMiddleware() {
	rec := analyticstest.NewRecorder()
	client, _ := analytics.New("WRITE_KEY", analytics.WithTransport(rec))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /cart/{cart}/items", func(w http.ResponseWriter, r *http.Request) {
		ev := analytics.ProductAdded(r.PathValue("cart"), analytics.Product{ProductID: "507f1f77", Price: 18.99, Quantity: 1})
		ev.AnonymousID = "anon-1"
		ev.Context = analytics.RequestContext(r.Context()) // the one extra line
		if err := client.Enqueue(ev); err != nil {
			// Never fail the request for analytics: log, and carry on.
			slog.Warn("product added not tracked", "err", err)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	// Wrap the whole mux once; declare your proxies here.
	handler := analytics.Middleware(mux, analytics.TrustProxies(netip.MustParsePrefix("10.0.0.0/8")))

	r := httptest.NewRequest("POST", "https://shop.example/cart/c1/items", nil)
	r.RemoteAddr = "203.0.113.7:50000"
	r.Header.Set("User-Agent", "Mozilla/5.0")
	handler.ServeHTTP(httptest.NewRecorder(), r)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = client.Close(ctx)
	m, _ := rec.Last()
	fmt.Println(m.Event)
	fmt.Println(m.Context["ip"], m.Context["userAgent"])
	fmt.Println(m.Context["page"].(map[string]any)["url"])
	// Output:
	// Product Added
	// 203.0.113.7 Mozilla/5.0
	// https://shop.example/cart/c1/items
}
