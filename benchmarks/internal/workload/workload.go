// Package workload builds the one event every contender sends: an Order
// Completed with order_id, total, revenue, shipping, tax, discount, coupon,
// currency and 3 products carrying all 12 product fields of the Segment
// Ecommerce v2 spec. Each builder builds it the way that library's users
// would, from scratch on every call, as a request handler would.
package workload

import (
	posthog "github.com/posthog/posthog-go"
	segment "github.com/segmentio/analytics-go/v3"
	"github.com/tracklane/analytics"
)

// The values of the event, shared by every builder.
const (
	UserID   = "019mr8mf4r"
	Event    = "Order Completed"
	OrderID  = "50314b8e9bcf000000000000"
	Total    = 27.50
	Revenue  = 25.00
	Shipping = 3.00
	Tax      = 2.00
	Discount = 2.50
	Coupon   = "hasbros"
	Currency = "USD"
)

// Product is one line of the order, in neutral form.
type Product struct {
	ProductID, SKU, Category, Name, Brand, Variant string
	Price                                          float64
	Quantity                                       int
	Coupon                                         string
	Position                                       int
	URL, ImageURL                                  string
}

// Products are the order's 3 lines.
var Products = [3]Product{
	{"507f1f77bcf86cd799439011", "45790-32", "Games", "Monopoly: 3rd Edition", "Hasbro", "200 pieces",
		19, 1, "MAYDEALS", 1, "https://www.example.com/product/path", "https://www.example.com/product/path.jpg"},
	{"505bd76785ebb509fc183733", "46493-32", "Games", "Uno Card Game", "Mattel", "standard",
		3, 2, "MAYDEALS", 2, "https://www.example.com/product/uno", "https://www.example.com/product/uno.jpg"},
	{"60d5ec49f1b2c72d9c8b4567", "11021-07", "Puzzles", "Ravensburger 1000", "Ravensburger", "1000 pieces",
		14.99, 1, "SPRING", 3, "https://www.example.com/product/puzzle", "https://www.example.com/product/puzzle.jpg"},
}

// Tracklane builds the event with this SDK's typed constructor.
func Tracklane() analytics.Track {
	ev := analytics.OrderCompleted(analytics.Order{
		OrderID:  OrderID,
		Total:    Total,
		Revenue:  Revenue,
		Shipping: Shipping,
		Tax:      Tax,
		Discount: Discount,
		Coupon:   Coupon,
		Currency: Currency,
		Products: []analytics.Product{
			tracklaneProduct(&Products[0]),
			tracklaneProduct(&Products[1]),
			tracklaneProduct(&Products[2]),
		},
	})
	ev.UserID = UserID
	return ev
}

func tracklaneProduct(p *Product) analytics.Product {
	return analytics.Product{
		ProductID: p.ProductID, SKU: p.SKU, Category: p.Category, Name: p.Name, Brand: p.Brand,
		Variant: p.Variant, Price: p.Price, Quantity: p.Quantity, Coupon: p.Coupon,
		Position: p.Position, URL: p.URL, ImageURL: p.ImageURL,
	}
}

// Segment builds the event the way analytics-go v3 documents it: a Track
// whose Properties are built with NewProperties().Set... Its Product type
// has only id, sku (tagged "sky"), name and price, so the products are
// Properties maps carrying the spec's 12 fields.
func Segment() segment.Track {
	return segment.Track{
		Event:  Event,
		UserId: UserID,
		Properties: segment.NewProperties().
			SetOrderId(OrderID).
			SetTotal(Total).
			SetRevenue(Revenue).
			SetShipping(Shipping).
			SetTax(Tax).
			SetDiscount(Discount).
			SetCoupon(Coupon).
			SetCurrency(Currency).
			Set("products", []segment.Properties{
				segmentProduct(&Products[0]),
				segmentProduct(&Products[1]),
				segmentProduct(&Products[2]),
			}),
	}
}

func segmentProduct(p *Product) segment.Properties {
	return segment.NewProperties().
		SetProductId(p.ProductID).
		SetSKU(p.SKU).
		SetCategory(p.Category).
		SetName(p.Name).
		Set("brand", p.Brand).
		Set("variant", p.Variant).
		SetPrice(p.Price).
		Set("quantity", p.Quantity).
		SetCoupon(p.Coupon).
		Set("position", p.Position).
		SetURL(p.URL).
		Set("image_url", p.ImageURL)
}

// PostHog builds the event the way posthog-go documents it: a Capture with
// NewProperties().Set...
func PostHog() posthog.Capture {
	return posthog.Capture{
		DistinctId: UserID,
		Event:      Event,
		Properties: posthog.NewProperties().
			Set("order_id", OrderID).
			Set("total", Total).
			Set("revenue", Revenue).
			Set("shipping", Shipping).
			Set("tax", Tax).
			Set("discount", Discount).
			Set("coupon", Coupon).
			Set("currency", Currency).
			Set("products", []posthog.Properties{
				posthogProduct(&Products[0]),
				posthogProduct(&Products[1]),
				posthogProduct(&Products[2]),
			}),
	}
}

func posthogProduct(p *Product) posthog.Properties {
	return posthog.NewProperties().
		Set("product_id", p.ProductID).
		Set("sku", p.SKU).
		Set("category", p.Category).
		Set("name", p.Name).
		Set("brand", p.Brand).
		Set("variant", p.Variant).
		Set("price", p.Price).
		Set("quantity", p.Quantity).
		Set("coupon", p.Coupon).
		Set("position", p.Position).
		Set("url", p.URL).
		Set("image_url", p.ImageURL)
}
