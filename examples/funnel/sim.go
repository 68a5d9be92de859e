package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/tracklane/analytics"
)

// A product of the simulated store; prices in cents.
type item struct {
	id, sku, name, category string
	cents                   int64
}

var catalog = [...]item{
	{"507f1f77", "45790-32", "Monopoly: 3rd Edition", "Games", 1999},
	{"505bd76c", "46493-32", "Uno Card Game", "Games", 399},
	{"6a2c4b18", "SH-RUN-42", "Trail Running Shoes", "Shoes", 8900},
	{"9b1e7d03", "TS-BLU-M", "Organic Cotton T-Shirt", "Apparel", 2450},
	{"c47a9e21", "MUG-CER-1", "Ceramic Coffee Mug", "Kitchen", 1200},
	{"1f0b8c66", "BK-GO-PL", "The Go Programming Language", "Books", 3499},
	{"d2e85a90", "HP-NC-700", "Noise-Cancelling Headphones", "Electronics", 17900},
	{"38f6c1aa", "BP-20L-GR", "Daypack 20L", "Bags", 5995},
}

// Probabilities of the funnel, each given the previous step. Together they
// give a conversion from view to order of about 8%, typical of ecommerce.
const (
	pAdd      = 0.38 // a viewer adds something to the cart
	pCheckout = 0.60 // an adder starts the checkout
	pCoupon   = 0.25 // a checkout applies a coupon
	pShipping = 0.80 // a checkout completes step 1 (shipping)
	pPayment  = 0.85 // then step 2 (payment)
	pOrder    = 0.93 // then places the order
	pRefund   = 0.06 // an order is refunded later

	couponPercent = 10   // SPRING10: 10% off the subtotal
	freeShipping  = 5000 // cents: orders from $50 ship free
	shippingCents = 499
	taxPercent    = 8
)

// sent is one simulated event: the message and what the funnel table
// counts of it.
type sent struct {
	ev  analytics.Track
	rec record
}

// shopper simulates one visitor and returns their events in order. rng
// drives every choice, so a seed gives the same shoppers every time.
func shopper(rng *rand.Rand, n int) []sent {
	anon := fmt.Sprintf("anon-%08x-%04d", rng.Uint32(), n%10000)
	var out []sent
	add := func(ev analytics.Track, rec record) {
		ev.AnonymousID = anon
		rec.anon = anon
		rec.event = ev.Event
		out = append(out, sent{ev, rec})
	}

	viewed := make([]item, 1+rng.IntN(3))
	for i := range viewed {
		viewed[i] = catalog[rng.IntN(len(catalog))]
		add(analytics.ProductViewed(product(viewed[i], 0, i+1)), record{})
	}
	if rng.Float64() >= pAdd {
		return out
	}
	cartID := fmt.Sprintf("cart-%08x", rng.Uint32())
	var lines []analytics.Product
	var subtotal int64
	for i, it := range viewed {
		if i > 0 && rng.Float64() < 0.5 {
			continue
		}
		qty := 1 + rng.IntN(2)
		p := product(it, qty, 0)
		lines = append(lines, p)
		subtotal += it.cents * int64(qty)
		add(analytics.ProductAdded(cartID, p), record{})
	}
	if rng.Float64() >= pCheckout {
		return out
	}
	orderID := fmt.Sprintf("order-%08x", rng.Uint32())
	checkoutID := "chk-" + orderID[len("order-"):]
	var discount int64
	coupon := ""
	if rng.Float64() < pCoupon {
		coupon = "SPRING10"
		discount = subtotal * couponPercent / 100
	}
	net := subtotal - discount
	shipping := int64(shippingCents)
	if net >= freeShipping {
		shipping = 0
	}
	tax := (net*taxPercent + 50) / 100
	order := analytics.Order{
		OrderID:    orderID,
		CheckoutID: checkoutID,
		Subtotal:   usd(net),
		Revenue:    usd(net),
		Value:      usd(net),
		Total:      usd(net + shipping + tax),
		Shipping:   usd(shipping),
		Tax:        usd(tax),
		Discount:   usd(discount),
		Coupon:     coupon,
		Currency:   "USD",
		Products:   lines,
		SendZero:   analytics.ZeroShipping, // free shipping is a meaningful 0
	}
	add(analytics.CheckoutStarted(order), record{})
	if coupon != "" {
		add(analytics.CouponApplied(analytics.Coupon{
			OrderID: orderID, CartID: cartID, CouponID: "cpn-spring10", CouponName: coupon, Discount: usd(discount),
		}), record{cents: discount})
	}
	if rng.Float64() >= pShipping {
		return out
	}
	methods := [...]string{"UPS Ground", "FedEx 2Day", "USPS Priority"}
	add(analytics.CheckoutStepCompleted(analytics.CheckoutStep{
		CheckoutID: checkoutID, Step: 1, ShippingMethod: methods[rng.IntN(len(methods))],
	}), record{step: 1})
	if rng.Float64() >= pPayment {
		return out
	}
	payments := [...]string{"Visa", "Mastercard", "PayPal", "Apple Pay"}
	add(analytics.CheckoutStepCompleted(analytics.CheckoutStep{
		CheckoutID: checkoutID, Step: 2, PaymentMethod: payments[rng.IntN(len(payments))],
	}), record{step: 2})
	if rng.Float64() >= pOrder {
		return out
	}
	add(analytics.OrderCompleted(order), record{cents: net})
	if rng.Float64() < pRefund {
		add(analytics.OrderRefunded(order), record{cents: net})
	}
	return out
}

func product(it item, qty, position int) analytics.Product {
	return analytics.Product{
		ProductID: it.id, SKU: it.sku, Name: it.name, Category: it.category, Brand: "Tracklane Goods",
		Price: usd(it.cents), Quantity: qty, Position: position,
		URL: "https://shop.example/products/" + it.id, ImageURL: "https://shop.example/img/" + it.id + ".jpg",
	}
}

// usd converts cents to the major-unit number the spec wants, exactly.
func usd(cents int64) float64 {
	v, err := analytics.Amount(cents, "USD")
	if err != nil {
		panic(err) // USD is a known currency
	}
	return v
}
