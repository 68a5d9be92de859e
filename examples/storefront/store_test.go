package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// shopper is a browser: a cookie jar and the headers a browser sends, behind
// a (test) proxy that appends X-Forwarded-For.
type shopper struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newShopper(t *testing.T, base string) *shopper {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &shopper{t: t, base: base, hc: &http.Client{Jar: jar}}
}

func (s *shopper) do(method, path string, form url.Values) int {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, body)
	require.NoError(s.t, err)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.Header.Set("User-Agent", "Mozilla/5.0 (test)")
	r.Header.Set("Accept-Language", "de-de,de;q=0.9,en;q=0.5")
	r.Header.Set("Referer", s.base+"/")
	r.Header.Set("X-Forwarded-For", "198.51.100.23")
	resp, err := s.hc.Do(r)
	require.NoError(s.t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// checkout walks the whole funnel, from a product page reached from a
// newsletter to the order, and returns the cookie's anonymous id.
func (s *shopper) checkout() string {
	s.t.Helper()
	require.Equal(s.t, 200, s.do("GET", "/products/507f1f77?utm_source=newsletter&utm_medium=email&utm_campaign=spring", nil))
	require.Equal(s.t, 200, s.do("POST", "/cart", url.Values{"product_id": {"507f1f77"}, "quantity": {"2"}}))
	require.Equal(s.t, 200, s.do("POST", "/cart", url.Values{"product_id": {"6a2c4b18"}, "quantity": {"1"}}))
	require.Equal(s.t, 200, s.do("POST", "/checkout", nil))
	require.Equal(s.t, 200, s.do("POST", "/checkout/shipping", url.Values{"method": {"UPS Ground"}}))
	require.Equal(s.t, 200, s.do("POST", "/checkout/payment", url.Values{"method": {"Visa"}}))
	require.Equal(s.t, 200, s.do("POST", "/order", url.Values{"email": {"peter@example.com"}}))
	return s.cookie(analytics.AnonymousIDCookie)
}

// cookie returns the value of the browser's cookie called name, or fails.
func (s *shopper) cookie(name string) string {
	s.t.Helper()
	u, _ := url.Parse(s.base)
	for _, c := range s.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	s.t.Fatalf("no %s cookie", name)
	return ""
}

// funnel is the events of one checkout, in order.
var funnel = []string{
	"page", "Product Viewed", "Product Added", "Cart Viewed", "Product Added", "Cart Viewed",
	"Checkout Started", "Checkout Step Completed", "Checkout Step Completed", "identify", "Order Completed",
}

// startShop serves a store on a test server; its origin is the server's URL.
func startShop(t *testing.T, client *analytics.Client, opts ...analytics.RequestOption) *httptest.Server {
	t.Helper()
	st := newStore(client, quietLog(), "")
	srv := httptest.NewServer(st.routes(opts...))
	st.origin = srv.URL
	t.Cleanup(srv.Close)
	return srv
}

func eventName(m analyticstest.Message) string {
	if m.Type == "track" {
		return m.Event
	}
	return m.Type
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func closeClient(t *testing.T, c *analytics.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
}

// TestCheckoutWithRecorder: the handlers' events, in order, with typed
// properties and the request's context, through an in-memory transport.
func TestCheckoutWithRecorder(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	srv := startShop(t, client,
		analytics.TrustProxies(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")))

	anon := newShopper(t, srv.URL).checkout()
	closeClient(t, client)
	_, err = uuid.Parse(anon)
	require.NoError(t, err, "the middleware's cookie holds a whole UUID: %q", anon)

	var events []string
	for _, m := range rec.Messages() {
		events = append(events, eventName(m))
		// One anonymous id from the product page to the order: the one in
		// the browser's ajs_anonymous_id cookie.
		assert.Equal(t, anon, m.AnonymousID, m.Event)
		// The landing campaign, kept for the whole visit.
		assert.Equal(t, map[string]any{"source": "newsletter", "medium": "email", "name": "spring"}, m.Context["campaign"], m.Event)
		assert.Equal(t, "198.51.100.23", m.Context["ip"], "the proxy's client, not the loopback peer")
		assert.Equal(t, "Mozilla/5.0 (test)", m.Context["userAgent"])
		assert.Equal(t, "de-DE", m.Context["locale"])
		page, _ := m.Context["page"].(map[string]any)
		assert.Equal(t, srv.URL+"/", page["referrer"])
	}
	assert.Equal(t, funnel, events)
	assert.Empty(t, rec.Violations())

	viewed := rec.Tracks("Product Viewed")[0]
	assert.Equal(t, map[string]any{
		"url": srv.URL + "/products/507f1f77?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "path": "/products/507f1f77",
		"search": "?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": srv.URL + "/",
	}, viewed.Context["page"])

	// The page call's properties carry name, category and the page fields.
	pg := rec.Messages()[0]
	assert.Equal(t, map[string]any{
		"name": "Monopoly: 3rd Edition", "category": "Games", "path": "/products/507f1f77", "referrer": srv.URL + "/",
		"search": "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
		"url":    srv.URL + "/products/507f1f77?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
	}, pg.Properties)

	// Product Added and Cart Viewed carry the currency; product URLs are absolute.
	for _, ev := range append(rec.Tracks("Product Added"), rec.Tracks("Cart Viewed")...) {
		assert.Equal(t, "USD", ev.Properties["currency"], ev.Event)
	}
	added := rec.Tracks("Product Added")[0]
	assert.Equal(t, srv.URL+"/products/507f1f77", added.Properties["url"])
	assert.Equal(t, srv.URL+"/images/507f1f77.jpg", added.Properties["image_url"])
	assertUUID(t, added.Properties["cart_id"])

	// Checkout Started's value is what the shopper is about to pay.
	started := rec.Tracks("Checkout Started")[0]
	assert.Equal(t, 139.3, started.Properties["value"])
	assert.Equal(t, 128.98, started.Properties["revenue"])

	// The guest's email, as a typed trait, on the same anonymous id.
	ident := rec.Messages()[len(funnel)-2]
	assert.Equal(t, map[string]any{"email": "peter@example.com"}, ident.Traits)

	order := rec.Tracks("Order Completed")[0]
	assert.Equal(t, map[string]any{"email": "peter@example.com"}, order.Context["traits"], "for conversion matching")
	assertUUID(t, order.Properties["order_id"])
	assertUUID(t, order.Properties["checkout_id"])
	var props struct {
		OrderID  string  `json:"order_id"`
		Subtotal float64 `json:"subtotal"`
		Shipping float64 `json:"shipping"`
		Tax      float64 `json:"tax"`
		Total    float64 `json:"total"`
		Currency string  `json:"currency"`
	}
	require.NoError(t, order.DecodeProperties(&props))
	assert.NotEmpty(t, props.OrderID)
	assert.Equal(t, 128.98, props.Subtotal) // 2 x 19.99 + 89
	assert.Equal(t, 0.0, props.Shipping)    // free above $50, sent as 0
	assert.Equal(t, 10.32, props.Tax)
	assert.Equal(t, 139.3, props.Total)
	assert.Equal(t, "USD", props.Currency)
	products, err := order.Products()
	require.NoError(t, err)
	require.Len(t, products, 2)
	assert.Equal(t, 2.0, products[0].Quantity)

	steps := rec.Tracks("Checkout Step Completed")
	assert.Equal(t, 1.0, steps[0].Properties["step"])
	assert.Equal(t, "UPS Ground", steps[0].Properties["shipping_method"])
	assert.Equal(t, 2.0, steps[1].Properties["step"])
	assert.Equal(t, "Visa", steps[1].Properties["payment_method"])
}

func assertUUID(t *testing.T, v any) {
	t.Helper()
	s, _ := v.(string)
	_, err := uuid.Parse(s)
	assert.NoError(t, err, "want a whole UUID, got %q", s)
}

// TestCheckoutWithServer: two shoppers check out at the same time, over
// HTTP to a strict Segment-compatible collector: every message passes its
// checks, and each shopper's events carry that shopper's own id.
func TestCheckoutWithServer(t *testing.T) {
	collector := analyticstest.NewServer("key")
	defer collector.Close()
	client, err := analytics.New("key", analytics.WithEndpoint(collector.URL))
	require.NoError(t, err)
	srv := startShop(t, client) // no trusted proxy

	ids := make([]string, 2)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = newShopper(t, srv.URL).checkout()
		}()
	}
	wg.Wait()
	closeClient(t, client)

	assert.Empty(t, collector.Violations())
	assert.Len(t, collector.Tracks("Order Completed"), 2)
	assert.Equal(t, 2*len(funnel), collector.Len())
	require.NotEqual(t, ids[0], ids[1])
	perShopper := map[string][]string{}
	for _, m := range collector.Messages() {
		perShopper[m.AnonymousID] = append(perShopper[m.AnonymousID], eventName(m))
		assert.Equal(t, "127.0.0.1", m.Context["ip"], "X-Forwarded-For from an untrusted peer is ignored")
	}
	assert.Equal(t, map[string][]string{ids[0]: funnel, ids[1]: funnel}, perShopper)
}

// TestHandlersRejectBadInput: invalid requests send nothing.
func TestHandlersRejectBadInput(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	h := newStore(client, quietLog(), "http://shop.example").routes()

	for _, tc := range []struct {
		method, target, body string
		want                 int
	}{
		{"GET", "/products/nope", "", 404},
		{"POST", "/cart", "product_id=nope&quantity=1", 400},
		{"POST", "/cart", "product_id=507f1f77&quantity=0", 400},
		{"POST", "/cart", "product_id=507f1f77&quantity=x", 400},
		{"POST", "/checkout", "", 409},
		{"POST", "/checkout/shipping", "method=UPS", 409},
		{"POST", "/order", "", 409},
		{"GET", "/order", "", 405},
	} {
		r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, tc.want, w.Code, "%s %s %s", tc.method, tc.target, tc.body)
	}
	closeClient(t, client)
	assert.Zero(t, rec.Len())
}

// TestVisitorCookie: the id of analytics.js's cookie, in either of the
// formats it writes, is reused and no cookie is set; a shopper without one
// (or with a malformed one) gets a new one.
func TestVisitorCookie(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	h := newStore(client, quietLog(), "http://shop.example").routes()

	// view shows a product page with the Cookie header a browser sends and
	// returns the cookies the response sets.
	view := func(cookie string) []*http.Cookie {
		r := httptest.NewRequest("GET", "/products/505bd76c", nil)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, 200, w.Code)
		res := w.Result()
		defer res.Body.Close()
		return res.Cookies()
	}
	assert.Empty(t, view("ajs_anonymous_id=%22a1b2c3%22"), "Analytics.js Classic's id is kept")
	assert.Empty(t, view("ajs_anonymous_id=d4e5f6"), "analytics.js 2.0's id is kept")
	fresh := view("")
	require.Len(t, fresh, 1)
	replaced := view("ajs_anonymous_id=%22" + strings.Repeat("z", 200) + "%22")
	require.Len(t, replaced, 1, "an oversized id is replaced")

	closeClient(t, client)
	var ids []string
	for _, m := range rec.Tracks("Product Viewed") {
		ids = append(ids, m.AnonymousID)
	}
	assert.Equal(t, []string{"a1b2c3", "d4e5f6", fresh[0].Value, replaced[0].Value}, ids)
	assert.NotEqual(t, fresh[0].Value, replaced[0].Value)
}

// TestConsentBanner: after the shopper's choice, every event carries it.
func TestConsentBanner(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("k", analytics.WithTransport(rec))
	require.NoError(t, err)
	srv := startShop(t, client)

	s := newShopper(t, srv.URL)
	require.Equal(t, 200, s.do("GET", "/", nil))
	require.Equal(t, 204, s.do("POST", "/consent", url.Values{"granted": {"Analytics", "Bogus"}}))
	require.Equal(t, 200, s.do("GET", "/products/507f1f77", nil))
	closeClient(t, client)

	ms := rec.Messages()
	require.Len(t, ms, 3)
	assert.Nil(t, ms[0].Context["consent"], "no choice yet: no consent object")
	want := map[string]any{"categoryPreferences": map[string]any{"Advertising": false, "Analytics": true, "Functional": false}}
	assert.Equal(t, want, ms[1].Context["consent"])
	assert.Equal(t, want, ms[2].Context["consent"])
}
