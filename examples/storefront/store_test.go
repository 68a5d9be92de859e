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
	"testing"
	"time"

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

// checkout walks the whole funnel and returns the cookie's anonymous id.
func (s *shopper) checkout() string {
	s.t.Helper()
	require.Equal(s.t, 200, s.do("GET", "/products/507f1f77?utm_source=newsletter&utm_medium=email&utm_campaign=spring", nil))
	require.Equal(s.t, 200, s.do("POST", "/cart", url.Values{"product_id": {"507f1f77"}, "quantity": {"2"}}))
	require.Equal(s.t, 200, s.do("POST", "/cart", url.Values{"product_id": {"6a2c4b18"}, "quantity": {"1"}}))
	require.Equal(s.t, 200, s.do("POST", "/checkout", nil))
	require.Equal(s.t, 200, s.do("POST", "/checkout/shipping", url.Values{"method": {"UPS Ground"}}))
	require.Equal(s.t, 200, s.do("POST", "/checkout/payment", url.Values{"method": {"Visa"}}))
	require.Equal(s.t, 200, s.do("POST", "/order", nil))
	u, _ := url.Parse(s.base)
	for _, c := range s.hc.Jar.Cookies(u) {
		if c.Name == anonCookie {
			return c.Value
		}
	}
	s.t.Fatal("no anonymous id cookie")
	return ""
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
	srv := httptest.NewServer(newStore(client, quietLog()).routes(
		analytics.TrustProxies(netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))))
	defer srv.Close()

	anon := newShopper(t, srv.URL).checkout()
	closeClient(t, client)

	var events []string
	for _, m := range rec.Messages() {
		events = append(events, m.Event)
		assert.Equal(t, anon, m.AnonymousID, m.Event)
		assert.Equal(t, "198.51.100.23", m.Context["ip"], "the proxy's client, not the loopback peer")
		assert.Equal(t, "Mozilla/5.0 (test)", m.Context["userAgent"])
		assert.Equal(t, "de-DE", m.Context["locale"])
		page, _ := m.Context["page"].(map[string]any)
		assert.Equal(t, srv.URL+"/", page["referrer"])
	}
	assert.Equal(t, []string{
		"Product Viewed", "Product Added", "Cart Viewed", "Product Added", "Cart Viewed",
		"Checkout Started", "Checkout Step Completed", "Checkout Step Completed", "Order Completed",
	}, events)
	assert.Empty(t, rec.Violations())

	viewed := rec.Tracks("Product Viewed")[0]
	assert.Equal(t, map[string]any{"source": "newsletter", "medium": "email", "name": "spring"}, viewed.Context["campaign"])
	assert.Equal(t, map[string]any{
		"url": srv.URL + "/products/507f1f77?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "path": "/products/507f1f77",
		"search": "?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "referrer": srv.URL + "/",
	}, viewed.Context["page"])

	order := rec.Tracks("Order Completed")[0]
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

// TestCheckoutWithServer: the same funnel over HTTP to a strict
// Segment-compatible collector: every message passes its checks.
func TestCheckoutWithServer(t *testing.T) {
	collector := analyticstest.NewServer("key")
	defer collector.Close()
	client, err := analytics.New("key", analytics.WithEndpoint(collector.URL))
	require.NoError(t, err)
	srv := httptest.NewServer(newStore(client, quietLog()).routes()) // no trusted proxy
	defer srv.Close()

	newShopper(t, srv.URL).checkout()
	newShopper(t, srv.URL).checkout()
	closeClient(t, client)

	assert.Empty(t, collector.Violations())
	assert.Len(t, collector.Tracks("Order Completed"), 2)
	assert.Equal(t, 18, collector.Len())
	m, _ := collector.Last()
	assert.Equal(t, "127.0.0.1", m.Context["ip"], "X-Forwarded-For from an untrusted peer is ignored")
}

// TestHandlersRejectBadInput: invalid requests send nothing.
func TestHandlersRejectBadInput(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	h := newStore(client, quietLog()).routes()

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

// TestVisitorCookie: the analytics.js cookie (JSON-quoted) is reused.
func TestVisitorCookie(t *testing.T) {
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	h := newStore(client, quietLog()).routes()

	r := httptest.NewRequest("GET", "/products/505bd76c", nil)
	r.AddCookie(&http.Cookie{Name: anonCookie, Value: "%22a1b2c3%22"})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, 200, w.Code)
	assert.Empty(t, w.Result().Cookies(), "an existing id is kept")

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/products/505bd76c", nil))
	require.Len(t, w.Result().Cookies(), 1)
	fresh := w.Result().Cookies()[0].Value

	closeClient(t, client)
	ms := rec.Messages()
	require.Len(t, ms, 2)
	assert.Equal(t, "a1b2c3", ms[0].AnonymousID)
	assert.Equal(t, fresh, ms[1].AnonymousID)
}
