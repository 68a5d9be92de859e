package analytics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	"github.com/tracklane/analytics/internal/ids"
	"github.com/tracklane/analytics/internal/jsonw"
)

// printingClient returns a client whose transport prints the event name and
// the properties of every message it delivers, as they are on the wire.
func printingClient() *analytics.Client {
	client, err := analytics.New("WRITE_KEY",
		analytics.WithFlushInterval(time.Hour),
		analytics.WithTransport(analytics.TransportFunc(func(_ context.Context, b *analytics.Batch) error {
			for _, m := range b.Messages {
				var msg struct {
					Event      string
					Properties json.RawMessage
				}
				if err := json.Unmarshal(m, &msg); err != nil {
					return err
				}
				fmt.Printf("%s %s\n", msg.Event, msg.Properties)
			}
			return nil
		})))
	if err != nil {
		panic(err)
	}
	return client
}

// send enqueues evs on a printing client and closes it, which delivers them.
func send(evs ...analytics.Track) {
	client := printingClient()
	for _, ev := range evs {
		if err := client.Enqueue(ev); err != nil {
			fmt.Println(err)
		}
	}
	_ = client.Close(context.Background())
}

func ExampleProductViewed() {
	ev := analytics.ProductViewed(analytics.Product{
		ProductID: "507f1f77bcf86cd799439011", SKU: "G-32", Name: "Monopoly: 3rd Edition",
		Price: 18.99, Position: 3,
	}, analytics.ProductValue{Currency: "usd", Value: 18.99})
	ev.AnonymousID = "a-1"
	send(ev)
	// Output:
	// Product Viewed {"product_id":"507f1f77bcf86cd799439011","sku":"G-32","name":"Monopoly: 3rd Edition","price":18.99,"position":3,"currency":"USD","value":18.99}
}

func ExampleProductAdded() {
	ev := analytics.ProductAdded("cart-7", analytics.Product{ProductID: "507f1f77", Price: 19.99, Quantity: 2})
	ev.UserID = "u-1"
	ev.Properties = analytics.Properties{"gift_wrap": true} // custom, next to the typed ones
	send(ev)
	// Output:
	// Product Added {"cart_id":"cart-7","product_id":"507f1f77","price":19.99,"quantity":2,"gift_wrap":true}
}

func ExampleCheckoutStarted() {
	// Checkout Started carries value where the order events carry total.
	ev := analytics.CheckoutStarted(analytics.Order{
		OrderID: "50314b8e", Value: 30, Revenue: 25, Shipping: 3, Tax: 2, Currency: "USD",
		Products: []analytics.Product{{ProductID: "507f1f77", Price: 19, Quantity: 1}, {ProductID: "505bd767", Price: 3, Quantity: 2}},
	})
	ev.UserID = "u-1"
	send(ev)
	// Output:
	// Checkout Started {"order_id":"50314b8e","value":30,"revenue":25,"shipping":3,"tax":2,"currency":"USD","products":[{"product_id":"507f1f77","price":19,"quantity":1},{"product_id":"505bd767","price":3,"quantity":2}]}
}

func ExampleCheckoutStepCompleted() {
	step1 := analytics.CheckoutStepCompleted(analytics.CheckoutStep{CheckoutID: "c-9", Step: 1, ShippingMethod: "Fedex"})
	step2 := analytics.CheckoutStepCompleted(analytics.CheckoutStep{CheckoutID: "c-9", Step: 2, PaymentMethod: "Visa"})
	step1.UserID, step2.UserID = "u-1", "u-1"
	send(step1, step2)
	// Output:
	// Checkout Step Completed {"checkout_id":"c-9","step":1,"shipping_method":"Fedex"}
	// Checkout Step Completed {"checkout_id":"c-9","step":2,"payment_method":"Visa"}
}

func ExampleOrderCompleted() {
	ev := analytics.OrderCompleted(analytics.Order{
		CheckoutID: "fksdjfsd", OrderID: "50314b8e", Subtotal: 22.50, Total: 27.50, Revenue: 22.50,
		Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "USD",
		Products: []analytics.Product{{ProductID: "507f1f77", SKU: "45790-32", Name: "Monopoly", Price: 19, Quantity: 1}},
	})
	ev.UserID = "u-1"
	send(ev)
	// Output:
	// Order Completed {"checkout_id":"fksdjfsd","order_id":"50314b8e","subtotal":22.5,"total":27.5,"revenue":22.5,"shipping":3,"tax":2,"discount":2.5,"coupon":"hasbros","currency":"USD","products":[{"product_id":"507f1f77","sku":"45790-32","name":"Monopoly","price":19,"quantity":1}]}
}

// A free order: amounts of 0 are sent only for the fields listed in
// SendZero; a free product (identified, price 0) always has its price sent.
func ExampleOrder_sendZero() {
	ev := analytics.OrderCompleted(analytics.Order{
		OrderID: "o-1", Discount: 19, Currency: "EUR",
		SendZero: analytics.ZeroTotal | analytics.ZeroRevenue | analytics.ZeroShipping,
		Products: []analytics.Product{{ProductID: "gift", Price: 0, Quantity: 1}},
	})
	ev.UserID = "u-1"
	send(ev)
	// Output:
	// Order Completed {"order_id":"o-1","total":0,"revenue":0,"shipping":0,"discount":19,"currency":"EUR","products":[{"product_id":"gift","price":0,"quantity":1}]}
}

// Enqueue refuses invalid values synchronously, naming the field.
func ExampleOrderCompleted_invalid() {
	client := printingClient()
	ev := analytics.OrderCompleted(analytics.Order{
		OrderID: "o-1", Currency: "dollars",
		Products: []analytics.Product{{ProductID: "p", Price: 19}, {ProductID: "q", Price: -1}},
	})
	ev.UserID = "u-1"
	err := client.Enqueue(ev)
	var ve *analytics.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Field, errors.Is(err, analytics.ErrInvalidValue))
	}
	_ = client.Close(context.Background())
	// Output:
	// properties.currency true
}

// Prices in minor units (cents) are converted with the currency's exponent.
func ExampleAmount() {
	for _, c := range []struct {
		minor    int64
		currency string
	}{{1999, "USD"}, {1999, "JPY"}, {1999, "KWD"}} {
		v, err := analytics.Amount(c.minor, c.currency)
		fmt.Println(c.minor, c.currency, "->", v, err)
	}
	_, err := analytics.Amount(100, "XYZ")
	fmt.Println(errors.Is(err, analytics.ErrInvalidValue))
	// Output:
	// 1999 USD -> 19.99 <nil>
	// 1999 JPY -> 1999 <nil>
	// 1999 KWD -> 1.999 <nil>
	// true
}

// allEvents returns one Track per spec event, every field filled (the
// spec examples are analytics.GoldenTracks).
func allEvents() []analytics.Track {
	p := analytics.Product{ProductID: "507f1f77bcf86cd799439011", SKU: "G-32", Category: "Games",
		Name: "Monopoly: 3rd Edition", Brand: "Hasbro", Variant: "200 pieces", Price: 18.99, Quantity: 1,
		Coupon: "MAYDEALS", Position: 3, URL: "https://www.example.com/product/path",
		ImageURL: "https://www.example.com/product/path.jpg"}
	free := analytics.Product{ProductID: "gift", Name: "Sticker", Quantity: 1}
	products := []analytics.Product{p, free}
	o := analytics.Order{OrderID: "50314b8e9bcf000000000000", CheckoutID: "fksdjfsdjfisjf9sdfjsd9f",
		Affiliation: "Google Store", Subtotal: 22.5, Total: 27.5, Revenue: 22.5, Value: 30, Shipping: 3, Tax: 2,
		Discount: 2.5, Coupon: "hasbros", Currency: "usd", Products: products, SendZero: analytics.ZeroAll}
	step := analytics.CheckoutStep{CheckoutID: "c", OrderID: "o", Step: 2, ShippingMethod: "Fedex", PaymentMethod: "Visa"}
	coupon := analytics.Coupon{OrderID: "o", CartID: "c", CouponID: "may_deals_2016", CouponName: "May Deals 2016",
		Discount: 23.32, Reason: "Coupon expired"}
	list := analytics.ProductList{ListID: "hot_deals_1", Category: "Deals", Products: products,
		Filters: []analytics.Filter{{Type: "department", Value: "beauty"}},
		Sorts:   []analytics.Sort{{Type: "price", Value: "desc"}}}
	promo := analytics.Promotion{PromotionID: "promo_1", Creative: "top_banner_2", Name: "75% store-wide shoe sale",
		Position: "home_banner_top"}
	cart := analytics.Cart{CartID: "d92jd29jd92jd29j92d92jd", Products: products}
	wish := analytics.Wishlist{WishlistID: "w", WishlistName: "Loved Games"}
	share := analytics.Share{Via: "email", Message: "Hey, check out this item", Recipient: "friend@example.com"}
	return []analytics.Track{
		analytics.ProductsSearched(analytics.Search{Query: "blue roses"}),
		analytics.ProductListViewed(list),
		analytics.ProductListFiltered(list),
		analytics.PromotionViewed(promo),
		analytics.PromotionClicked(promo),
		analytics.ProductClicked(p),
		analytics.ProductViewed(p, analytics.ProductValue{Currency: "usd", Value: 18.99}),
		analytics.ProductAdded("c", p),
		analytics.ProductRemoved("c", p),
		analytics.CartViewed(cart),
		analytics.CheckoutStarted(o),
		analytics.CheckoutStepViewed(step),
		analytics.CheckoutStepCompleted(step),
		analytics.PaymentInfoEntered(step),
		analytics.OrderUpdated(o),
		analytics.OrderCompleted(o),
		analytics.OrderRefunded(o),
		analytics.OrderCancelled(o),
		analytics.CouponEntered(coupon),
		analytics.CouponApplied(coupon),
		analytics.CouponDenied(coupon),
		analytics.CouponRemoved(coupon),
		analytics.ProductAddedToWishlist(wish, p),
		analytics.ProductRemovedFromWishlist(wish, p),
		analytics.WishlistProductAddedToCart(wish, "c", p),
		analytics.ProductShared(share, p),
		analytics.CartShared(share, cart),
		analytics.ProductReviewed(analytics.Review{ProductID: "p", ReviewID: "r", ReviewBody: "I love this product", Rating: "5"}),
	}
}

// TestEcommerceStrictCollector sends every event twice (every field filled,
// and the spec's example of its golden file), plus an object query,
// through a real client to the strict fake collector of
// analyticstest: it must report no violation.
func TestEcommerceStrictCollector(t *testing.T) {
	srv := analyticstest.NewServer("WRITE_KEY")
	defer srv.Close()
	client, err := analytics.New("WRITE_KEY", analytics.WithEndpoint(srv.URL),
		analytics.WithHTTPClient(srv.Client()), analytics.WithFlushInterval(time.Hour))
	require.NoError(t, err)
	events := append(allEvents(), analytics.GoldenTracks()...)
	events = append(events,
		analytics.ProductsSearched(analytics.Search{QueryObject: analytics.Properties{"text": "roses", "max_price": 20}}))
	for i, ev := range events {
		ev.UserID = fmt.Sprintf("u-%d", i)
		require.NoError(t, client.Enqueue(ev), ev.Event)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Close(ctx))
	require.Empty(t, srv.Violations())
	require.Len(t, srv.Messages(), len(events))
	seen := map[string]bool{}
	for _, m := range srv.Messages() {
		seen[m.Event] = true
	}
	for _, name := range analyticstest.EcommerceEvents() {
		require.True(t, seen[name], "event %q not delivered", name)
	}
}

// BenchmarkEnqueueOrderCompleted measures a handler's cost: build Order
// Completed with three fully filled products and Enqueue it (validation,
// encoding, queueing), delivering to a no-op transport.
func BenchmarkEnqueueOrderCompleted(b *testing.B) {
	client, err := analytics.New("WRITE_KEY", analytics.WithMaxQueue(1<<20, 1<<30),
		analytics.WithTransport(analytics.TransportFunc(func(context.Context, *analytics.Batch) error { return nil })))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = client.Close(context.Background()) }()
	o := analytics.FullOrder()
	b.ReportAllocs()
	refused := 0
	for b.Loop() {
		ev := analytics.OrderCompleted(o)
		ev.UserID = "019mr8mf4r"
		if err := client.Enqueue(&ev); err != nil {
			if !errors.Is(err, analytics.ErrQueueFull) {
				b.Fatal(err)
			}
			refused++
		}
	}
	b.ReportMetric(float64(refused), "refused")
}

// appendOrderFloor is the floor BenchmarkEnqueueOrderCompleted is measured
// against: Order Completed appended by hand, the fields in wire order,
// with no validation, no escaping, no Message interface and no queue.
// Only the id, the time and the numbers use the SDK's helpers (the fastest
// there are). TestOrderFloorBytes checks it writes what Enqueue sends.
func appendOrderFloor(b []byte, o *analytics.Order, userID string, id []byte, now time.Time) []byte {
	str := func(b []byte, qk, v string) []byte {
		b = append(b, qk...)
		b = append(b, '"')
		b = append(b, v...)
		return append(b, '"')
	}
	num := func(b []byte, qk string, f float64) []byte { return jsonw.AppendFloat(append(b, qk...), f) }
	b = append(b, `{"type":"track","messageId":"`...)
	if id == nil {
		b = ids.AppendV4(b)
	} else {
		b = append(b, id...)
	}
	b = str(append(b, '"'), `,"userId":`, userID)
	b = append(b, `,"timestamp":"`...)
	b = append(jsonw.AppendTime(b, now), '"')
	b = append(b, `,"event":"Order Completed","properties":{`...)
	b = str(b, `"checkout_id":`, o.CheckoutID)
	b = str(b, `,"order_id":`, o.OrderID)
	b = str(b, `,"affiliation":`, o.Affiliation)
	b = num(b, `,"subtotal":`, o.Subtotal)
	b = num(b, `,"total":`, o.Total)
	b = num(b, `,"revenue":`, o.Revenue)
	b = num(b, `,"shipping":`, o.Shipping)
	b = num(b, `,"tax":`, o.Tax)
	b = num(b, `,"discount":`, o.Discount)
	b = str(b, `,"coupon":`, o.Coupon)
	b = str(b, `,"currency":`, o.Currency)
	b = append(b, `,"products":[`...)
	for i := range o.Products {
		p := &o.Products[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = str(b, `{"product_id":`, p.ProductID)
		b = str(b, `,"sku":`, p.SKU)
		b = str(b, `,"category":`, p.Category)
		b = str(b, `,"name":`, p.Name)
		b = str(b, `,"brand":`, p.Brand)
		b = str(b, `,"variant":`, p.Variant)
		b = num(b, `,"price":`, p.Price)
		b = strconv.AppendInt(append(b, `,"quantity":`...), int64(p.Quantity), 10)
		b = str(b, `,"coupon":`, p.Coupon)
		b = strconv.AppendInt(append(b, `,"position":`...), int64(p.Position), 10)
		b = str(b, `,"url":`, p.URL)
		b = str(b, `,"image_url":`, p.ImageURL)
		b = append(b, '}')
	}
	return append(b, `]},"context":{"library":{"name":"tracklane-analytics-go","version":"`+analytics.Version+`"}}}`...)
}

// The floor writes exactly the bytes Enqueue sends for the same message.
func TestOrderFloorBytes(t *testing.T) {
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	at := time.Date(2026, 12, 2, 13, 38, 41, 363e6, time.UTC)
	client, err := analytics.New("WRITE_KEY", analytics.WithMessageIDs(func() string { return id }),
		analytics.WithClock(func() time.Time { return at }),
		analytics.WithTransport(analytics.TransportFunc(func(context.Context, *analytics.Batch) error { return nil })))
	require.NoError(t, err)
	defer func() { _ = client.Close(context.Background()) }()
	o := analytics.FullOrder()
	ev := analytics.OrderCompleted(o)
	ev.UserID = "019mr8mf4r"
	enc, err := client.Encode(&ev)
	require.NoError(t, err)
	require.Equal(t, string(enc.Data), string(appendOrderFloor(nil, &o, ev.UserID, []byte(id), at)))
	require.Contains(t, string(appendOrderFloor(nil, &o, ev.UserID, nil, at)), `"messageId":"`)
}

// BenchmarkEnqueueOrderFloor is the floor of BenchmarkEnqueueOrderCompleted:
// the same message (a fresh UUIDv4 and the time included) appended by hand
// into a reused buffer, nothing validated, nothing queued.
func BenchmarkEnqueueOrderFloor(b *testing.B) {
	o := analytics.FullOrder()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendOrderFloor(buf[:0], &o, "019mr8mf4r", nil, time.Now())
	}
}
