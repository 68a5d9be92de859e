package analyticstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

func newRecorderClient(t *testing.T, rec *analyticstest.Recorder, opts ...analytics.Option) *analytics.Client {
	t.Helper()
	return testClient(t, analytics.WithTransport(rec), opts...)
}

func order() analytics.Track {
	ev := analytics.OrderCompleted(analytics.Order{
		OrderID: "50314b8e", Total: 27.50, Revenue: 22.50, Shipping: 3, Tax: 2, Currency: "USD",
		Products: []analytics.Product{{ProductID: "507f1f77", SKU: "45790-32", Name: "Monopoly", Price: 19, Quantity: 1, Position: 1}},
	})
	ev.UserID = "u1"
	return ev
}

func TestRecorderWithClient(t *testing.T) {
	rec := analyticstest.NewRecorder()
	c := newRecorderClient(t, rec)
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Enqueue(analytics.Identify{UserID: "u1", Traits: map[string]any{"email": "a@b.c"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := rec.WaitFor(ctxT(t), 2); err != nil {
		t.Fatal(err)
	}
	orders := rec.Tracks("Order Completed")
	if len(orders) != 1 || orders[0].Properties["order_id"] != "50314b8e" || orders[0].Properties["total"] != 27.5 {
		t.Fatalf("orders %+v", orders)
	}
	ps, err := orders[0].Products()
	if err != nil || len(ps) != 1 || ps[0] != (analyticstest.Product{ProductID: "507f1f77", SKU: "45790-32", Name: "Monopoly", Price: 19, Quantity: 1, Position: 1}) {
		t.Fatalf("products %+v %v", ps, err)
	}
	var props struct {
		OrderID  string  `json:"order_id"`
		Revenue  float64 `json:"revenue"`
		Currency string  `json:"currency"`
	}
	if err := orders[0].DecodeProperties(&props); err != nil || props.OrderID != "50314b8e" || props.Revenue != 22.5 || props.Currency != "USD" {
		t.Errorf("DecodeProperties %+v %v", props, err)
	}
	last, ok := rec.Last()
	if !ok || last.Type != "identify" || last.Traits["email"] != "a@b.c" || last.Context["library"] == nil {
		t.Errorf("last %+v", last)
	}
	if vs := rec.Violations(); vs != nil {
		t.Errorf("the client's own wire format has violations: %v", vs)
	}
	if b := rec.Batches(); len(b) != 1 || len(b[0].Messages) != 2 || b[0].Attempt != 1 || b[0].SentAt.IsZero() {
		t.Errorf("batches %+v", b)
	}
	rec.Reset()
	if rec.Len() != 0 || rec.Batches() != nil || rec.Attempts() != nil {
		t.Error("Reset kept data")
	}
}

func TestRecorderScriptedFailures(t *testing.T) {
	rec := analyticstest.NewRecorder()
	c := newRecorderClient(t, rec)
	// Retried: two 503s, a network error, then success.
	rec.FailNextStatus(2, 503, 0)
	rec.FailNext(1, errors.New("connection reset"))
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	at := rec.Attempts()
	if len(at) != 4 || rec.Len() != 1 {
		t.Fatalf("attempts %d, delivered %d", len(at), rec.Len())
	}
	var he *analytics.HTTPError
	if !errors.As(at[0].Err, &he) || he.StatusCode != 503 || at[2].Err.Error() != "connection reset" || at[3].Err != nil {
		t.Errorf("attempt errors %v %v %v %v", at[0].Err, at[1].Err, at[2].Err, at[3].Err)
	}
	for i, a := range at {
		if a.Batch.Attempt != i+1 || string(a.Batch.Messages[0]) != string(at[0].Batch.Messages[0]) {
			t.Errorf("attempt %d: Attempt=%d, same bytes %v", i, a.Batch.Attempt, string(a.Batch.Messages[0]) == string(at[0].Batch.Messages[0]))
		}
	}
	// Not retried: a 400 fails the message, which is not recorded as delivered.
	rec.Reset()
	rec.FailNextStatus(1, 400, 0)
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	err := c.Flush(ctxT(t))
	var ue *analytics.UndeliveredError
	// (UndeliveredError.Err does not carry the reason from Flush: see the
	// delivery callback or Stats instead.)
	if !errors.As(err, &ue) || ue.Count != 1 || c.Stats().FailedRejected != 1 {
		t.Errorf("flush after 400: %v, %+v", err, c.Stats())
	}
	if rec.Len() != 0 || len(rec.Attempts()) != 1 {
		t.Errorf("delivered %d attempts %d", rec.Len(), len(rec.Attempts()))
	}
	// Reset drops scripted failures; n < 1 or nil err script nothing.
	rec.FailNextStatus(5, 500, 0)
	rec.Reset()
	rec.FailNext(0, errors.New("x"))
	rec.FailNext(3, nil)
	if err := rec.Send(context.Background(), &analytics.Batch{}); err != nil {
		t.Errorf("send after reset: %v", err)
	}
	if err := rec.Send(context.Background(), nil); err == nil {
		t.Error("nil batch accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.Send(ctx, &analytics.Batch{}); !errors.Is(err, context.Canceled) {
		t.Errorf("done ctx: %v", err)
	}
}

func TestRecorderWaitForTimesOut(t *testing.T) {
	var rec analyticstest.Recorder // the zero value works
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := rec.WaitFor(ctx, 1)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "have 0") {
		t.Errorf("WaitFor: %v", err)
	}
	if err := rec.WaitFor(ctx, 0); err != nil {
		t.Errorf("WaitFor(0): %v", err)
	}
}

func TestRecorderConcurrentSafe(t *testing.T) {
	rec := analyticstest.NewRecorder()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				m := fmt.Appendf(nil, `{"type":"track","event":"E","messageId":"%d-%d"}`, g, i)
				_ = rec.Send(context.Background(), &analytics.Batch{Messages: []json.RawMessage{m}})
				_ = rec.Messages()
				_, _ = rec.Last()
				_ = rec.Violations()
			}
		})
	}
	if err := rec.WaitFor(ctxT(t), 400); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if rec.Len() != 400 || len(rec.Tracks("E")) != 400 {
		t.Errorf("len %d", rec.Len())
	}
}

func TestServerWithClient(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	c := newClient(t, srv, analytics.WithGzip(true))
	for i := range 10 {
		ev := order()
		ev.Properties = map[string]any{"n": i}
		if err := c.Enqueue(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitFor(ctxT(t), 10); err != nil {
		t.Fatal(err)
	}
	if vs := srv.Violations(); vs != nil {
		t.Errorf("violations %v", vs)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("requests %d", len(r))
	}
}

func TestServerRetriesThroughClient(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	srv.Respond(analyticstest.Status(500).Times(2), analyticstest.Status(429), analyticstest.Disconnect(),
		analyticstest.ProcessThenDisconnect())
	c := newClient(t, srv)
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	statuses := make([]int, len(reqs))
	for i, r := range reqs {
		statuses[i] = r.Status
	}
	if fmt.Sprint(statuses) != "[500 500 429 0 0 200]" {
		t.Errorf("statuses %v", statuses)
	}
	if srv.Len() != 1 || srv.Duplicates() != 1 {
		t.Errorf("len %d duplicates %d", srv.Len(), srv.Duplicates())
	}
	if got := reqs[5].Header.Get("X-Retry-Count"); got != "5" {
		t.Errorf("X-Retry-Count %q", got)
	}
	if s := c.Stats(); s.Delivered != 1 || s.RateLimited != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestServer413SplitsBatchThroughClient(t *testing.T) {
	// RudderStack-like: 413 above a size makes the client split the batch.
	srv := analyticstest.NewServer(key, analyticstest.WithBodyLimit(4000, 413))
	defer srv.Close()
	c := newClient(t, srv)
	for i := range 4 {
		ev := order()
		ev.Properties = map[string]any{"pad": strings.Repeat("x", 1000), "n": i}
		if err := c.Enqueue(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if srv.Len() != 4 || srv.Requests()[0].Status != 413 {
		t.Errorf("len %d, first status %d", srv.Len(), srv.Requests()[0].Status)
	}
}

func TestServerRejectsThroughClient(t *testing.T) {
	srv := analyticstest.NewServer("another-key")
	defer srv.Close()
	reports := make(chan analytics.Report, 1)
	c := newClient(t, srv, analytics.WithDeliveryCallback(func(r analytics.Report) { reports <- r }))
	if err := c.Enqueue(order()); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctxT(t)); err == nil {
		t.Fatal("flush: no error")
	}
	r := <-reports
	var he *analytics.HTTPError
	if r.Outcome != analytics.Failed || !errors.Is(r.Err, analytics.ErrRejected) || !errors.As(r.Err, &he) || he.StatusCode != 401 {
		t.Fatalf("report: %+v", r)
	}
	if len(srv.Requests()) != 1 || srv.Len() != 0 {
		t.Errorf("401 retried or recorded")
	}
}

// TestAllEcommerceEventsThroughClient sends each of the 28 constructors
// through the client and checks the Server finds nothing wrong.
func TestAllEcommerceEventsThroughClient(t *testing.T) {
	srv := analyticstest.NewServer(key)
	defer srv.Close()
	c := newClient(t, srv)
	p := analytics.Product{ProductID: "507f1f77", SKU: "G-32", Category: "Games", Name: "Monopoly", Brand: "Hasbro",
		Variant: "200 pieces", Price: 18.99, Quantity: 2, Coupon: "MAY", Position: 3, URL: "https://x/p", ImageURL: "https://x/p.jpg"}
	free := analytics.Product{ProductID: "free", Price: 0, Quantity: 1}
	ps := []analytics.Product{p, free}
	o := analytics.Order{OrderID: "o1", CheckoutID: "c1", Affiliation: "Store", Subtotal: 22.5, Total: 27.5, Revenue: 22.5,
		Value: 30, Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "usd", Products: ps}
	step := analytics.CheckoutStep{CheckoutID: "c1", OrderID: "o1", Step: 2, ShippingMethod: "Fedex", PaymentMethod: "Visa"}
	cp := analytics.Coupon{OrderID: "o1", CartID: "cart", CouponID: "c", CouponName: "May", Discount: 0, Reason: "expired", SendZero: analytics.ZeroDiscount}
	w := analytics.Wishlist{WishlistID: "w", WishlistName: "Loved"}
	sh := analytics.Share{Via: "email", Message: "hi", Recipient: "a@b.c"}
	list := analytics.ProductList{ListID: "l", Category: "Deals", Products: ps,
		Filters: []analytics.Filter{{Type: "department", Value: "beauty"}}, Sorts: []analytics.Sort{{Type: "price", Value: "desc"}}}
	events := []analytics.Track{
		analytics.ProductsSearched(analytics.Search{Query: "blue roses"}),
		analytics.ProductsSearched(analytics.Search{QueryObject: map[string]any{"q": "x"}}),
		analytics.ProductListViewed(list), analytics.ProductListFiltered(list),
		analytics.PromotionViewed(analytics.Promotion{PromotionID: "p", Creative: "c", Name: "n", Position: "top"}),
		analytics.PromotionClicked(analytics.Promotion{PromotionID: "p", Position: "top"}),
		analytics.ProductClicked(p), analytics.ProductViewed(p, analytics.ProductValue{Currency: "USD", Value: 37.98}),
		analytics.ProductAdded("cart", p), analytics.ProductRemoved("cart", free),
		analytics.CartViewed(analytics.Cart{CartID: "cart", Products: ps}),
		analytics.CheckoutStarted(o), analytics.CheckoutStepViewed(step), analytics.CheckoutStepCompleted(step),
		analytics.PaymentInfoEntered(step), analytics.OrderUpdated(o), analytics.OrderCompleted(o),
		analytics.OrderRefunded(o), analytics.OrderCancelled(o),
		analytics.CouponEntered(cp), analytics.CouponApplied(cp), analytics.CouponDenied(cp), analytics.CouponRemoved(cp),
		analytics.ProductAddedToWishlist(w, p), analytics.ProductRemovedFromWishlist(w, p),
		analytics.WishlistProductAddedToCart(w, "cart", p),
		analytics.ProductShared(sh, p), analytics.CartShared(sh, analytics.Cart{CartID: "cart", Products: ps}),
		analytics.ProductReviewed(analytics.Review{ProductID: "p", ReviewID: "r", ReviewBody: "good", Rating: "5"}),
	}
	names := map[string]bool{}
	for _, ev := range events {
		ev.AnonymousID = "anon"
		names[ev.Event] = true
		if err := c.Enqueue(ev); err != nil {
			t.Fatalf("%s: %v", ev.Event, err)
		}
	}
	if len(names) != 28 {
		t.Fatalf("%d distinct events", len(names))
	}
	if err := c.Flush(ctxT(t)); err != nil {
		t.Fatalf("flush: %v; violations %v", err, srv.Violations())
	}
	if vs := srv.Violations(); vs != nil {
		t.Errorf("violations: %v", vs)
	}
	if srv.Len() != len(events) {
		t.Errorf("%d delivered", srv.Len())
	}
	for _, m := range srv.Tracks("") {
		if !names[m.Event] {
			t.Errorf("unexpected event %q", m.Event)
		}
	}
}
