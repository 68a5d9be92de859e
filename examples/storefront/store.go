package main

import (
	"crypto/rand"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tracklane/analytics"
)

// store is a tiny shop: a catalog, carts in memory, and an analytics client.
// Every handler that tracks does it in the same three lines: build the
// event with a constructor, say who (analytics.RequestVisitor: the
// browser's ajs_anonymous_id cookie, set by the middleware on the first
// visit) and attach the request's context (analytics.RequestContext: ip,
// userAgent, locale, page, the landing campaign, consent).
type store struct {
	client  *analytics.Client
	log     *slog.Logger
	origin  string // public scheme://host of the shop, for absolute product URLs
	catalog []analytics.Product

	mu    sync.Mutex
	carts map[string]*cart // by anonymous id
}

type cart struct {
	id         string
	lines      []analytics.Product
	checkoutID string
	shipping   string
	payment    string
}

// currency is the shop's only currency.
const currency = "USD"

// newStore returns the shop; origin is its public base URL (scheme://host).
func newStore(client *analytics.Client, log *slog.Logger, origin string) *store {
	return &store{
		client: client,
		log:    log,
		origin: strings.TrimSuffix(origin, "/"),
		catalog: []analytics.Product{
			{ProductID: "507f1f77", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Brand: "Hasbro", Category: "Games", Price: 19.99},
			{ProductID: "505bd76c", SKU: "46493-32", Name: "Uno Card Game", Brand: "Mattel", Category: "Games", Price: 3.99},
			{ProductID: "6a2c4b18", SKU: "SH-RUN-42", Name: "Trail Running Shoes", Brand: "Tracklane", Category: "Shoes", Price: 89},
		},
		carts: make(map[string]*cart),
	}
}

// routes returns the shop's handler. Middleware makes every request
// available to analytics.RequestContext and analytics.RequestVisitor, gives
// a new shopper an ajs_anonymous_id cookie (the one analytics.js would use
// if the pages ran it), keeps the landing campaign for the rest of the
// visit, and reads the shop's consent cookie; opts declare trusted proxies.
func (s *store) routes(opts ...analytics.RequestOption) http.Handler {
	opts = append(opts,
		analytics.SetAnonymousIDCookie(analytics.CookieOptions{}),
		analytics.KeepCampaign(analytics.FirstTouch, analytics.CookieOptions{}),
		analytics.ReadConsent(consentFromCookie))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /products/{id}", s.productPage)
	mux.HandleFunc("POST /cart", s.addToCart)
	mux.HandleFunc("GET /cart", s.viewCart)
	mux.HandleFunc("POST /checkout", s.startCheckout)
	mux.HandleFunc("POST /checkout/shipping", s.completeShipping)
	mux.HandleFunc("POST /checkout/payment", s.completePayment)
	mux.HandleFunc("POST /order", s.placeOrder)
	mux.HandleFunc("POST /consent", s.setConsent)
	return analytics.Middleware(mux, opts...)
}

func (s *store) home(w http.ResponseWriter, r *http.Request) {
	s.page(r, analytics.Page{Name: "Home"})
	var b strings.Builder
	for _, p := range s.catalog {
		fmt.Fprintf(&b, `<li><a href="/products/%s">%s</a> $%.2f</li>`, p.ProductID, html.EscapeString(p.Name), p.Price)
	}
	page(w, "Shop", "<ul>"+b.String()+"</ul>")
}

func (s *store) productPage(w http.ResponseWriter, r *http.Request) {
	p, ok := s.product(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.page(r, analytics.Page{Name: p.Name, Category: p.Category})

	ev := analytics.ProductViewed(p, analytics.ProductValue{Currency: currency, Value: p.Price})
	ev.AnonymousID = visitor(r)
	ev.Context = analytics.RequestContext(r.Context())
	s.track(ev)

	page(w, p.Name, fmt.Sprintf(`<p>$%.2f</p><form method="post" action="/cart">
<input type="hidden" name="product_id" value="%s"><input name="quantity" value="1">
<button>Add to cart</button></form>`, p.Price, p.ProductID))
}

func (s *store) addToCart(w http.ResponseWriter, r *http.Request) {
	p, ok := s.product(r.PostFormValue("product_id"))
	qty, err := strconv.Atoi(r.PostFormValue("quantity"))
	if !ok || err != nil || qty < 1 || qty > 99 {
		http.Error(w, "unknown product or bad quantity", http.StatusBadRequest)
		return
	}
	p.Quantity = qty
	anon := visitor(r)
	cartID := s.addLine(anon, p)

	ev := analytics.ProductAdded(cartID, p)
	ev.AnonymousID = anon
	ev.Context = analytics.RequestContext(r.Context())
	ev.Properties = analytics.Properties{"currency": currency} // not in the spec table; Facebook and Google Ads want it
	s.track(ev)

	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *store) viewCart(w http.ResponseWriter, r *http.Request) {
	anon := visitor(r)
	s.mu.Lock()
	c := s.cartLocked(anon)
	cartID, lines := c.id, slices.Clone(c.lines)
	s.mu.Unlock()

	ev := analytics.CartViewed(analytics.Cart{CartID: cartID, Products: lines})
	ev.AnonymousID = anon
	ev.Context = analytics.RequestContext(r.Context())
	ev.Properties = analytics.Properties{"currency": currency}
	s.track(ev)

	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "<li>%d x %s</li>", l.Quantity, html.EscapeString(l.Name))
	}
	page(w, "Cart", "<ul>"+b.String()+`</ul><form method="post" action="/checkout"><button>Checkout</button></form>`)
}

func (s *store) startCheckout(w http.ResponseWriter, r *http.Request) {
	anon := visitor(r)
	c, ok := s.cartWithItems(w, anon)
	if !ok {
		return
	}
	s.mu.Lock()
	if c.checkoutID == "" {
		c.checkoutID = randomID()
	}
	order := c.order()
	s.mu.Unlock()

	ev := analytics.CheckoutStarted(order)
	ev.AnonymousID = anon
	ev.Context = analytics.RequestContext(r.Context())
	s.track(ev)

	page(w, "Shipping", `<form method="post" action="/checkout/shipping"><input name="method" value="UPS Ground"><button>Next</button></form>`)
}

func (s *store) completeShipping(w http.ResponseWriter, r *http.Request) {
	if !s.checkoutStep(w, r, 1, func(c *cart, v string) { c.shipping = v }) {
		return
	}
	page(w, "Payment", `<form method="post" action="/checkout/payment"><input name="method" value="Visa"><button>Next</button></form>`)
}

func (s *store) completePayment(w http.ResponseWriter, r *http.Request) {
	if !s.checkoutStep(w, r, 2, func(c *cart, v string) { c.payment = v }) {
		return
	}
	page(w, "Review", `<form method="post" action="/order"><button>Place order</button></form>`)
}

// checkoutStep records step n; set stores the method chosen. It answers 409
// and returns false when no checkout was started.
func (s *store) checkoutStep(w http.ResponseWriter, r *http.Request, n int, set func(*cart, string)) bool {
	anon := visitor(r)
	method := strings.TrimSpace(r.PostFormValue("method"))
	s.mu.Lock()
	c := s.carts[anon]
	if c == nil || c.checkoutID == "" {
		s.mu.Unlock()
		http.Error(w, "start the checkout first", http.StatusConflict)
		return false
	}
	set(c, method)
	step := analytics.CheckoutStep{CheckoutID: c.checkoutID, Step: n, ShippingMethod: c.shipping, PaymentMethod: c.payment}
	s.mu.Unlock()
	if n == 1 {
		step.PaymentMethod = ""
	}

	ev := analytics.CheckoutStepCompleted(step)
	ev.AnonymousID = anon
	ev.Context = analytics.RequestContext(r.Context())
	s.track(ev)
	return true
}

func (s *store) placeOrder(w http.ResponseWriter, r *http.Request) {
	anon := visitor(r)
	c, ok := s.cartWithItems(w, anon)
	if !ok {
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	s.mu.Lock()
	order := c.order()
	order.OrderID = randomID()
	delete(s.carts, anon) // the order empties the cart
	s.mu.Unlock()

	if email != "" && (len(email) > 254 || !strings.Contains(email, "@")) {
		email = "" // not an address: not sent
	}
	if email != "" {
		// A guest checkout: the shopper is still anonymous, but now has an
		// email, which Customer.io and the warehouse's users table want.
		id := analytics.Identify{AnonymousID: anon, User: analytics.UserTraits{Email: email}}
		id.Context = analytics.RequestContext(r.Context())
		if err := s.client.Enqueue(id); err != nil {
			s.log.Warn("analytics identify refused", "err", err)
		}
	}

	ev := analytics.OrderCompleted(order)
	ev.AnonymousID = anon
	ev.Context = analytics.RequestContext(r.Context())
	if email != "" && ev.Context != nil {
		// Facebook and Google Ads match conversions on context.traits.email.
		ev.Context.Traits = analytics.Traits{"email": email}
	}
	s.track(ev)

	page(w, "Thank you", fmt.Sprintf("<p>Order %s: $%.2f</p>", order.OrderID, order.Total))
}

// order is the cart as an order; s.mu must be held. Money is computed in
// cents, then converted exactly with analytics.Amount.
func (c *cart) order() analytics.Order {
	var subtotal int64
	for _, l := range c.lines {
		subtotal += cents(l.Price) * int64(l.Quantity)
	}
	shipping := int64(499)
	if subtotal >= 5000 {
		shipping = 0
	}
	tax := (subtotal*8 + 50) / 100
	usd := func(c int64) float64 { v, _ := analytics.Amount(c, currency); return v }
	total := subtotal + shipping + tax
	return analytics.Order{
		CheckoutID: c.checkoutID,
		Subtotal:   usd(subtotal),
		Revenue:    usd(subtotal), // what destinations count as revenue: without shipping and tax
		Value:      usd(total),    // Checkout Started's value: what the shopper is about to pay
		Shipping:   usd(shipping),
		Tax:        usd(tax),
		Total:      usd(total),
		Currency:   currency,
		Products:   slices.Clone(c.lines),
		SendZero:   analytics.ZeroShipping,
	}
}

func cents(price float64) int64 { return int64(price*100 + 0.5) }

// track enqueues ev. A refused event is logged, never shown to the shopper:
// analytics must not break the shop.
func (s *store) track(ev analytics.Track) {
	if err := s.client.Enqueue(ev); err != nil {
		s.log.Warn("analytics event refused", "event", ev.Event, "err", err)
	}
}

// page sends a page call for the request, named as the page.
func (s *store) page(r *http.Request, p analytics.Page) {
	p.AnonymousID = visitor(r)
	p.Context = analytics.RequestContext(r.Context()) // fills properties.path, url, referrer, search
	if err := s.client.Enqueue(p); err != nil {
		s.log.Warn("analytics page refused", "page", p.Name, "err", err)
	}
}

// product returns the catalog's product id, with its absolute URLs.
func (s *store) product(id string) (analytics.Product, bool) {
	for _, p := range s.catalog {
		if p.ProductID == id {
			p.URL = s.origin + "/products/" + p.ProductID
			p.ImageURL = s.origin + "/images/" + p.ProductID + ".jpg"
			return p, true
		}
	}
	return analytics.Product{}, false
}

func (s *store) cartLocked(anon string) *cart {
	c := s.carts[anon]
	if c == nil {
		c = &cart{id: randomID()}
		s.carts[anon] = c
	}
	return c
}

// addLine adds p to the visitor's cart and returns the cart's id.
func (s *store) addLine(anon string, p analytics.Product) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cartLocked(anon)
	for i := range c.lines {
		if c.lines[i].ProductID == p.ProductID {
			c.lines[i].Quantity += p.Quantity
			return c.id
		}
	}
	c.lines = append(c.lines, p)
	return c.id
}

// cartWithItems returns the visitor's cart, or answers 409 when it is empty.
func (s *store) cartWithItems(w http.ResponseWriter, anon string) (*cart, bool) {
	s.mu.Lock()
	c := s.carts[anon]
	empty := c == nil || len(c.lines) == 0
	s.mu.Unlock()
	if empty {
		http.Error(w, "your cart is empty", http.StatusConflict)
		return nil, false
	}
	return c, true
}

// visitor returns the shopper's anonymous id: the ajs_anonymous_id cookie
// that analytics.js (or, on the first visit, the middleware) set.
func visitor(r *http.Request) string {
	return analytics.RequestVisitor(r.Context()).AnonymousID
}

// consentCookie is the shop's own consent banner's cookie: the consent
// categories (as configured in Segment) the shopper granted, joined by ".".
const consentCookie = "shop_consent"

// consentCategories are the categories the banner offers.
var consentCategories = []string{"Advertising", "Analytics", "Functional"}

// consentFromCookie reads the consent cookie: nil (no consent object) when
// the shopper has not chosen, else each offered category, true when
// granted. The cookie comes from the browser: unknown names are ignored.
func consentFromCookie(r *http.Request) *analytics.Consent {
	ck, err := r.Cookie(consentCookie)
	if err != nil {
		return nil
	}
	granted := strings.Split(ck.Value, ".")
	prefs := make(map[string]bool, len(consentCategories))
	for _, c := range consentCategories {
		prefs[c] = slices.Contains(granted, c)
	}
	return &analytics.Consent{CategoryPreferences: prefs}
}

// setConsent records the banner's choice (form field "granted", repeated).
func (s *store) setConsent(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var granted []string
	for _, c := range consentCategories {
		if slices.Contains(r.PostForm["granted"], c) {
			granted = append(granted, c)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: consentCookie, Value: strings.Join(granted, "."), Path: "/", //nolint:gosec // G124: the banner's script reads it; Secure on TLS
		MaxAge: 180 * 24 * 3600, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

// randomID returns a random UUIDv4.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func page(w http.ResponseWriter, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1>%s\n", html.EscapeString(title), html.EscapeString(title), body)
}
