package analytics

import (
	"fmt"
	"github.com/tracklane/analytics/internal/ecomspec"
	"math"
	"slices"
	"strconv"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Product is a product as the spec describes it: the element of "products"
// arrays, and the top-level properties of single-product events. Every
// field is optional.
//
// Rules shared by the ecommerce constructors (ProductAdded, OrderCompleted, ...):
//
//   - Empty strings are never sent.
//   - Money fields (float64, major units: 19.99 means $19.99) are sent when
//     they are not 0. A meaningful 0 (a free order, free shipping, no tax, a
//     coupon worth nothing) is sent when the field is listed in the struct's
//     SendZero field. The one exception is Product.Price, which has no
//     SendZero: it is sent whenever the product is identified (ProductID,
//     SKU or Name set), so a free product is sent with "price": 0.
//   - Counts (Product.Quantity, Product.Position, CheckoutStep.Step) are
//     sent when they are above 0; 0 means "not set". Positions and steps are
//     1-based, as in the spec's examples.
//   - A nil slice (Products, Filters, Sorts) is not sent; a non-nil empty
//     slice is sent as [].
//   - Each event sends only the properties its spec table lists. Fields of a
//     shared shape that the event does not list (Order.Total in Checkout
//     Started, Product.Quantity in Product Shared, ...) are ignored and not
//     validated; add them as custom Properties if you need them.
//   - Custom Properties set on the returned Track are merged after the typed
//     ones. A custom key that the event's spec table lists (for example
//     "price" on Product Added), or a v1 or camelCase spelling of one (id,
//     sky, orderId, imageUrl), makes Enqueue fail with ErrPropertyConflict,
//     whether or not the typed value is sent, so the outcome never depends
//     on the data. Keys the table does not list are free.
//   - Enqueue validates the typed values and fails with a *ValidationError
//     wrapping ErrInvalidValue that names the field (for example
//     "properties.products[1].price") for: NaN or ±Inf, a negative money
//     amount, quantity, position or step, a currency that is not three ASCII
//     letters, invalid UTF-8. No property is required: the v2 spec requires
//     none.
//   - Currency codes are sent in upper case ("usd" is sent as "USD").
type Product struct {
	ProductID string  // product_id: your database id of the product; empty: not sent
	SKU       string  // sku: the stock-keeping unit; empty: not sent
	Category  string  // category; empty: not sent
	Name      string  // name; empty: not sent
	Brand     string  // brand; empty: not sent
	Variant   string  // variant, e.g. "200 pieces"; empty: not sent
	Price     float64 // price: unit price in major units; sent when not 0 or when ProductID, SKU or Name is set (0 is a free product); negative, NaN, ±Inf: invalid
	Quantity  int     // quantity; sent when above 0; negative: invalid
	Coupon    string  // coupon: coupon code for this product; empty: not sent
	Position  int     // position in the list, 1-based; sent when above 0; negative: invalid
	URL       string  // url of the product page; empty: not sent
	ImageURL  string  // image_url of the product image; empty: not sent
}

// identified reports whether the product has an identity, which makes its
// price meaningful even when it is 0.
func (p *Product) identified() bool {
	return p.ProductID != "" || p.SKU != "" || p.Name != ""
}

// ZeroFields lists the money fields of an Order, Coupon or ProductValue that
// are sent even when they are 0. Combine them with |, e.g.
// ZeroShipping|ZeroTax. The zero value sends no zero amounts. Bits naming a
// field the event does not carry are ignored.
type ZeroFields uint16

// Money fields whose zero is sent when listed in SendZero.
const (
	ZeroSubtotal ZeroFields = 1 << iota // subtotal (Order Completed, Order Refunded)
	ZeroTotal                           // total (Order Updated, Completed, Refunded, Cancelled)
	ZeroRevenue                         // revenue (Checkout Started and the order events)
	ZeroValue                           // value (Checkout Started; Product Viewed through ProductValue)
	ZeroShipping                        // shipping (Checkout Started and the order events)
	ZeroTax                             // tax (Checkout Started and the order events)
	ZeroDiscount                        // discount (Checkout Started, the order events, Coupon Applied and Removed)

	// ZeroAll sends every money field the event carries, 0 or not. Note that
	// some destinations (Google Analytics) want total or revenue, not both.
	ZeroAll = ZeroSubtotal | ZeroTotal | ZeroRevenue | ZeroValue | ZeroShipping | ZeroTax | ZeroDiscount
)

// Order is a checkout or an order, for Checkout Started, Order Updated, Order
// Completed, Order Refunded and Order Cancelled. Each event sends only the
// fields its spec table lists (docs/ecommerce.md shows which). Money is in
// major units of Currency.
type Order struct {
	OrderID     string    // order_id; empty: not sent
	CheckoutID  string    // checkout_id (Order Completed, Order Refunded); empty: not sent
	Affiliation string    // affiliation: the store, e.g. "Google Store"; empty: not sent
	Subtotal    float64   // subtotal: after discounts, before shipping and tax (Order Completed, Refunded); 0: sent only with ZeroSubtotal
	Total       float64   // total: subtotal + shipping + tax (not in Checkout Started); 0: sent only with ZeroTotal
	Revenue     float64   // revenue: with discounts, without shipping and tax; 0: sent only with ZeroRevenue
	Value       float64   // value: Checkout Started's total (only there); 0: sent only with ZeroValue
	Shipping    float64   // shipping cost; 0: sent only with ZeroShipping
	Tax         float64   // tax: total tax; 0: sent only with ZeroTax
	Discount    float64   // discount: total discount; 0: sent only with ZeroDiscount
	Coupon      string    // coupon: code redeemed on the whole order; empty: not sent
	Currency    string    // currency: ISO 4217 code, sent upper-case; empty: not sent (Segment assumes USD); not three ASCII letters: invalid
	Products    []Product // products: the items; nil: not sent, empty: sent as []

	// SendZero lists the money fields sent even when they are 0 (a free
	// order: ZeroTotal|ZeroRevenue; free shipping: ZeroShipping). Default:
	// none, zero amounts are not sent.
	SendZero ZeroFields
}

// CheckoutStep is a step of the checkout funnel, for Checkout Step Viewed,
// Checkout Step Completed and Payment Info Entered.
type CheckoutStep struct {
	CheckoutID     string // checkout_id; empty: not sent
	OrderID        string // order_id (Payment Info Entered only); empty: not sent
	Step           int    // step number, 1-based; sent when above 0; negative: invalid
	ShippingMethod string // shipping_method, e.g. "Fedex"; empty: not sent
	PaymentMethod  string // payment_method, e.g. "Visa"; empty: not sent
}

// ProductList is a list or category of products, for Product List Viewed
// and Product List Filtered.
type ProductList struct {
	ListID   string    // list_id, e.g. "hot_deals_1"; empty: not sent
	Category string    // category being viewed; empty: not sent
	Products []Product // products shown; nil: not sent
	Filters  []Filter  // filters (Product List Filtered only); nil: not sent
	Sorts    []Sort    // sorts (Product List Filtered only); nil: not sent
}

// Filter is an active filter of a product list.
type Filter struct {
	Type  string // type: the filter dimension, e.g. "department"; empty: not sent
	Value string // value: the option chosen, e.g. "beauty"; empty: not sent
}

// Sort is an active sorting of a product list.
type Sort struct {
	Type  string // type: the sort dimension, e.g. "price"; empty: not sent
	Value string // value: the direction, e.g. "desc"; empty: not sent
}

// Search is what a user searched for: a string or an object. Setting both
// Query and QueryObject is invalid.
type Search struct {
	Query       string     // query as a string, e.g. "blue roses"; empty: not sent
	QueryObject Properties // query as an object (same value rules as Properties); nil: Query is used
}

// Promotion is an internal promotion (banner, ...), for Promotion Viewed and
// Promotion Clicked.
type Promotion struct {
	PromotionID string // promotion_id, e.g. "promo_1"; empty: not sent
	Creative    string // creative, e.g. "top_banner_2"; empty: not sent
	Name        string // name, e.g. "75% store-wide shoe sale"; empty: not sent
	Position    string // position: the slot (a string, unlike Product.Position), e.g. "home_banner_top"; empty: not sent
}

// ProductValue is the optional currency and value of a Product Viewed event.
type ProductValue struct {
	Currency string     // currency: ISO 4217 code, sent upper-case; empty: not sent; not three ASCII letters: invalid
	Value    float64    // value: total value of the product after quantity; 0: sent only with ZeroValue
	SendZero ZeroFields // ZeroValue sends a value of 0; default: not sent
}

// Cart is a shopping cart, for Cart Viewed and Cart Shared.
type Cart struct {
	CartID   string    // cart_id; empty: not sent
	Products []Product // products in the cart (Cart Shared sends only their product_id); nil: not sent
}

// Coupon is a coupon entered, applied, denied or removed on a cart or an order.
type Coupon struct {
	OrderID    string  // order_id, if the coupon is for an order; empty: not sent
	CartID     string  // cart_id, if the coupon is for a cart; empty: not sent
	CouponID   string  // coupon_id; empty: not sent
	CouponName string  // coupon_name (Applied, Denied, Removed); empty: not sent
	Discount   float64 // discount the coupon gave (Applied, Removed); 0: sent only with ZeroDiscount
	Reason     string  // reason the coupon was denied (Denied), e.g. "Coupon expired"; empty: not sent

	// SendZero with ZeroDiscount sends a discount of 0 (a coupon worth
	// nothing). Default: not sent.
	SendZero ZeroFields
}

// Wishlist names the wishlist of the wishlist events.
type Wishlist struct {
	WishlistID   string // wishlist_id; empty: not sent
	WishlistName string // wishlist_name, e.g. "Loved Games"; empty: not sent
}

// Share describes a share, for Product Shared and Cart Shared.
type Share struct {
	Via       string // share_via: the sharing method, e.g. "email"; empty: not sent
	Message   string // share_message: what the sender wrote; empty: not sent
	Recipient string // recipient, e.g. an email address; empty: not sent
}

// Review is a product review, for Product Reviewed.
type Review struct {
	ProductID  string // product_id; empty: not sent
	ReviewID   string // review_id; empty: not sent
	ReviewBody string // review_body; empty: not sent
	Rating     string // rating, a string as the spec says, e.g. "5"; empty: not sent
}

// ---------------------------------------------------------------------------
//go:generate go test -run ^TestEcommerceDoc$ . -args -update

// Constructors, one per spec event, in the spec's order. The properties
// each sends, and the fields that fill them, are in docs/ecommerce.md
// (generated from the spec table); zeros, empty fields, ignored fields and
// invalid values follow the rules listed on [Product].

// ProductsSearched returns a "Products Searched" Track: query is s.Query,
// or s.QueryObject when set (setting both is invalid).
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductsSearched(s Search) Track { return ecomTrack(ecomspec.ProductsSearched, searchShape, s) }

// ProductListViewed returns a "Product List Viewed" Track; l.Filters and
// l.Sorts are ignored.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductListViewed(l ProductList) Track {
	return ecomTrack(ecomspec.ProductListViewed, listShape, l)
}

// ProductListFiltered returns a "Product List Filtered" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductListFiltered(l ProductList) Track {
	return ecomTrack(ecomspec.ProductListFiltered, listShape, l)
}

// PromotionViewed returns a "Promotion Viewed" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func PromotionViewed(p Promotion) Track {
	return ecomTrack(ecomspec.PromotionViewed, promotionShape, p)
}

// PromotionClicked returns a "Promotion Clicked" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func PromotionClicked(p Promotion) Track {
	return ecomTrack(ecomspec.PromotionClicked, promotionShape, p)
}

// ProductClicked returns a "Product Clicked" Track with the 12 product
// fields as top-level properties.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductClicked(p Product) Track {
	return ecomTrack(ecomspec.ProductClicked, productShape, productProps{p: p})
}

// ProductViewed returns a "Product Viewed" Track with the 12 product fields
// and, when a ProductValue is given, currency and value. More than one
// ProductValue is invalid.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductViewed(p Product, v ...ProductValue) Track {
	pp := productProps{p: p, nValue: len(v)}
	if len(v) > 0 {
		pp.value = v[0]
	}
	return ecomTrack(ecomspec.ProductViewed, productShape, pp)
}

// ProductAdded returns a "Product Added" Track: cart_id and the 12 product fields.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductAdded(cartID string, p Product) Track {
	return ecomTrack(ecomspec.ProductAdded, productShape, productProps{p: p, cartID: cartID})
}

// ProductRemoved returns a "Product Removed" Track: cart_id and the 12 product fields.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductRemoved(cartID string, p Product) Track {
	return ecomTrack(ecomspec.ProductRemoved, productShape, productProps{p: p, cartID: cartID})
}

// CartViewed returns a "Cart Viewed" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CartViewed(c Cart) Track { return ecomTrack(ecomspec.CartViewed, cartShape, cartProps{c: c}) }

// CheckoutStarted returns a "Checkout Started" Track. The spec has value
// here where the order events have total, and neither checkout_id nor
// subtotal: o.Total, o.Subtotal and o.CheckoutID are not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CheckoutStarted(o Order) Track { return ecomTrack(ecomspec.CheckoutStarted, orderShape, o) }

// CheckoutStepViewed returns a "Checkout Step Viewed" Track; s.OrderID is not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CheckoutStepViewed(s CheckoutStep) Track {
	return ecomTrack(ecomspec.CheckoutStepViewed, stepShape, s)
}

// CheckoutStepCompleted returns a "Checkout Step Completed" Track; s.OrderID is not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CheckoutStepCompleted(s CheckoutStep) Track {
	return ecomTrack(ecomspec.CheckoutStepCompleted, stepShape, s)
}

// PaymentInfoEntered returns a "Payment Info Entered" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func PaymentInfoEntered(s CheckoutStep) Track {
	return ecomTrack(ecomspec.PaymentInfoEntered, stepShape, s)
}

// OrderUpdated returns an "Order Updated" Track; o.CheckoutID, o.Subtotal
// and o.Value are not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func OrderUpdated(o Order) Track { return ecomTrack(ecomspec.OrderUpdated, orderShape, o) }

// OrderCompleted returns an "Order Completed" Track; o.Value is not sent.
// With WithOrderMessageIDs, its messageId is derived from o.OrderID.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func OrderCompleted(o Order) Track { return ecomTrack(ecomspec.OrderCompleted, orderShape, o) }

// OrderRefunded returns an "Order Refunded" Track. The spec's table lists
// only order_id, but its prose and example send the whole order, so it sends
// what Order Completed sends (products: the refunded items); o.Value is not
// sent. With WithOrderMessageIDs, its messageId is derived from o.OrderID.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func OrderRefunded(o Order) Track { return ecomTrack(ecomspec.OrderRefunded, orderShape, o) }

// OrderCancelled returns an "Order Cancelled" Track; o.CheckoutID,
// o.Subtotal and o.Value are not sent. With WithOrderMessageIDs, its
// messageId is derived from o.OrderID.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func OrderCancelled(o Order) Track { return ecomTrack(ecomspec.OrderCancelled, orderShape, o) }

// CouponEntered returns a "Coupon Entered" Track; c.CouponName, c.Discount
// and c.Reason are not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CouponEntered(c Coupon) Track { return ecomTrack(ecomspec.CouponEntered, couponShape, c) }

// CouponApplied returns a "Coupon Applied" Track; c.Reason is not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CouponApplied(c Coupon) Track { return ecomTrack(ecomspec.CouponApplied, couponShape, c) }

// CouponDenied returns a "Coupon Denied" Track; c.Discount is not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CouponDenied(c Coupon) Track { return ecomTrack(ecomspec.CouponDenied, couponShape, c) }

// CouponRemoved returns a "Coupon Removed" Track; c.Reason is not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CouponRemoved(c Coupon) Track { return ecomTrack(ecomspec.CouponRemoved, couponShape, c) }

// ProductAddedToWishlist returns a "Product Added to Wishlist" Track:
// wishlist_id, wishlist_name and the 12 product fields.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductAddedToWishlist(w Wishlist, p Product) Track {
	return ecomTrack(ecomspec.ProductAddedToWishlist, productShape, productProps{p: p, wishlist: w})
}

// ProductRemovedFromWishlist returns a "Product Removed from Wishlist"
// Track: wishlist_id, wishlist_name and the 12 product fields.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductRemovedFromWishlist(w Wishlist, p Product) Track {
	return ecomTrack(ecomspec.ProductRemovedFromWishlist, productShape, productProps{p: p, wishlist: w})
}

// WishlistProductAddedToCart returns a "Wishlist Product Added to Cart"
// Track: wishlist_id, wishlist_name, cart_id and the 12 product fields.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func WishlistProductAddedToCart(w Wishlist, cartID string, p Product) Track {
	return ecomTrack(ecomspec.WishlistProductAddedToCart, productShape, productProps{p: p, wishlist: w, cartID: cartID})
}

// ProductShared returns a "Product Shared" Track: share_via, share_message,
// recipient and the product fields but p.Quantity, p.Coupon and p.Position,
// which are not sent.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductShared(s Share, p Product) Track {
	return ecomTrack(ecomspec.ProductShared, productShape, productProps{p: p, share: s})
}

// CartShared returns a "Cart Shared" Track. Each product is sent with its
// product_id only, as the spec lists.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func CartShared(s Share, c Cart) Track {
	return ecomTrack(ecomspec.CartShared, cartShape, cartProps{c: c, share: s})
}

// ProductReviewed returns a "Product Reviewed" Track.
// Properties and fields: docs/ecommerce.md; zeros, empty and invalid values: [Product].
func ProductReviewed(r Review) Track { return ecomTrack(ecomspec.ProductReviewed, reviewShape, r) }

// ---------------------------------------------------------------------------
// Shapes: which struct field fills each property. The event's row in
// internal/ecomspec says which of them it sends; the order here is the wire
// order.

// productProps is the input of the single-product events.
type productProps struct {
	p        Product
	cartID   string
	wishlist Wishlist
	share    Share
	value    ProductValue // Product Viewed
	nValue   int          // number of ProductValues given to ProductViewed
}

// cartProps is the input of Cart Viewed and Cart Shared.
type cartProps struct {
	c     Cart
	share Share
}

var productFields = []field[Product]{
	str(ecomspec.ProductID, "Product.ProductID", func(p *Product) string { return p.ProductID }),
	str(ecomspec.SKU, "Product.SKU", func(p *Product) string { return p.SKU }),
	str(ecomspec.Category, "Product.Category", func(p *Product) string { return p.Category }),
	str(ecomspec.Name, "Product.Name", func(p *Product) string { return p.Name }),
	str(ecomspec.Brand, "Product.Brand", func(p *Product) string { return p.Brand }),
	str(ecomspec.Variant, "Product.Variant", func(p *Product) string { return p.Variant }),
	money(ecomspec.Price, "Product.Price", func(p *Product) float64 { return p.Price }, (*Product).identified),
	count(ecomspec.Quantity, "Product.Quantity", func(p *Product) int { return p.Quantity }),
	str(ecomspec.Coupon, "Product.Coupon", func(p *Product) string { return p.Coupon }),
	count(ecomspec.Position, "Product.Position", func(p *Product) int { return p.Position }),
	str(ecomspec.URL, "Product.URL", func(p *Product) string { return p.URL }),
	str(ecomspec.ImageURL, "Product.ImageURL", func(p *Product) string { return p.ImageURL }),
}

var shareFields = []field[Share]{
	str(ecomspec.ShareVia, "Share.Via", func(s *Share) string { return s.Via }),
	str(ecomspec.ShareMessage, "Share.Message", func(s *Share) string { return s.Message }),
	str(ecomspec.Recipient, "Share.Recipient", func(s *Share) string { return s.Recipient }),
}

var productShape = &shape[productProps]{
	check: func(p *productProps) error {
		if p.nValue > 1 {
			return invalidField("value", "more than one ProductValue")
		}
		return nil
	},
	fields: slices.Concat(
		lift(shareFields, func(p *productProps) *Share { return &p.share }),
		[]field[productProps]{
			str(ecomspec.WishlistID, "Wishlist.WishlistID", func(p *productProps) string { return p.wishlist.WishlistID }),
			str(ecomspec.WishlistName, "Wishlist.WishlistName", func(p *productProps) string { return p.wishlist.WishlistName }),
			str(ecomspec.CartID, "cartID", func(p *productProps) string { return p.cartID }),
		},
		lift(productFields, func(p *productProps) *Product { return &p.p }),
		[]field[productProps]{
			str(ecomspec.Currency, "ProductValue.Currency", func(p *productProps) string { return p.value.Currency }),
			money(ecomspec.Value, "ProductValue.Value", func(p *productProps) float64 { return p.value.Value },
				func(p *productProps) bool { return p.value.SendZero&ZeroValue != 0 }),
		}),
}

var cartShape = &shape[cartProps]{fields: append(lift(shareFields, func(p *cartProps) *Share { return &p.share }),
	str(ecomspec.CartID, "Cart.CartID", func(p *cartProps) string { return p.c.CartID }),
	products("Cart.Products", func(p *cartProps) []Product { return p.c.Products }))}

var orderShape = &shape[Order]{fields: []field[Order]{
	str(ecomspec.CheckoutID, "Order.CheckoutID", func(o *Order) string { return o.CheckoutID }),
	str(ecomspec.OrderID, "Order.OrderID", func(o *Order) string { return o.OrderID }),
	str(ecomspec.Affiliation, "Order.Affiliation", func(o *Order) string { return o.Affiliation }),
	money(ecomspec.Subtotal, "Order.Subtotal", func(o *Order) float64 { return o.Subtotal }, orderZero(ZeroSubtotal)),
	money(ecomspec.Total, "Order.Total", func(o *Order) float64 { return o.Total }, orderZero(ZeroTotal)),
	money(ecomspec.Value, "Order.Value", func(o *Order) float64 { return o.Value }, orderZero(ZeroValue)),
	money(ecomspec.Revenue, "Order.Revenue", func(o *Order) float64 { return o.Revenue }, orderZero(ZeroRevenue)),
	money(ecomspec.Shipping, "Order.Shipping", func(o *Order) float64 { return o.Shipping }, orderZero(ZeroShipping)),
	money(ecomspec.Tax, "Order.Tax", func(o *Order) float64 { return o.Tax }, orderZero(ZeroTax)),
	money(ecomspec.Discount, "Order.Discount", func(o *Order) float64 { return o.Discount }, orderZero(ZeroDiscount)),
	str(ecomspec.Coupon, "Order.Coupon", func(o *Order) string { return o.Coupon }),
	str(ecomspec.Currency, "Order.Currency", func(o *Order) string { return o.Currency }),
	products("Order.Products", func(o *Order) []Product { return o.Products }),
}}

func orderZero(z ZeroFields) func(*Order) bool {
	return func(o *Order) bool { return o.SendZero&z != 0 }
}

var stepShape = &shape[CheckoutStep]{fields: []field[CheckoutStep]{
	str(ecomspec.CheckoutID, "CheckoutStep.CheckoutID", func(s *CheckoutStep) string { return s.CheckoutID }),
	str(ecomspec.OrderID, "CheckoutStep.OrderID", func(s *CheckoutStep) string { return s.OrderID }),
	count(ecomspec.Step, "CheckoutStep.Step", func(s *CheckoutStep) int { return s.Step }),
	str(ecomspec.ShippingMethod, "CheckoutStep.ShippingMethod", func(s *CheckoutStep) string { return s.ShippingMethod }),
	str(ecomspec.PaymentMethod, "CheckoutStep.PaymentMethod", func(s *CheckoutStep) string { return s.PaymentMethod }),
}}

var couponShape = &shape[Coupon]{fields: []field[Coupon]{
	str(ecomspec.OrderID, "Coupon.OrderID", func(c *Coupon) string { return c.OrderID }),
	str(ecomspec.CartID, "Coupon.CartID", func(c *Coupon) string { return c.CartID }),
	str(ecomspec.CouponID, "Coupon.CouponID", func(c *Coupon) string { return c.CouponID }),
	str(ecomspec.CouponName, "Coupon.CouponName", func(c *Coupon) string { return c.CouponName }),
	money(ecomspec.Discount, "Coupon.Discount", func(c *Coupon) float64 { return c.Discount },
		func(c *Coupon) bool { return c.SendZero&ZeroDiscount != 0 }),
	str(ecomspec.Reason, "Coupon.Reason", func(c *Coupon) string { return c.Reason }),
}}

var listShape = &shape[ProductList]{fields: []field[ProductList]{
	str(ecomspec.ListID, "ProductList.ListID", func(l *ProductList) string { return l.ListID }),
	str(ecomspec.Category, "ProductList.Category", func(l *ProductList) string { return l.Category }),
	typeValues(ecomspec.Filters, "ProductList.Filters", func(l *ProductList) []Filter { return l.Filters },
		func(f *Filter) (string, string) { return f.Type, f.Value }),
	typeValues(ecomspec.Sorts, "ProductList.Sorts", func(l *ProductList) []Sort { return l.Sorts },
		func(s *Sort) (string, string) { return s.Type, s.Value }),
	products("ProductList.Products", func(l *ProductList) []Product { return l.Products }),
}}

var promotionShape = &shape[Promotion]{fields: []field[Promotion]{
	str(ecomspec.PromotionID, "Promotion.PromotionID", func(p *Promotion) string { return p.PromotionID }),
	str(ecomspec.Creative, "Promotion.Creative", func(p *Promotion) string { return p.Creative }),
	str(ecomspec.Name, "Promotion.Name", func(p *Promotion) string { return p.Name }),
	str(ecomspec.PromotionPosition, "Promotion.Position", func(p *Promotion) string { return p.Position }),
}}

var reviewShape = &shape[Review]{fields: []field[Review]{
	str(ecomspec.ProductID, "Review.ProductID", func(r *Review) string { return r.ProductID }),
	str(ecomspec.ReviewID, "Review.ReviewID", func(r *Review) string { return r.ReviewID }),
	str(ecomspec.ReviewBody, "Review.ReviewBody", func(r *Review) string { return r.ReviewBody }),
	str(ecomspec.Rating, "Review.Rating", func(r *Review) string { return r.Rating }),
}}

var searchShape = &shape[Search]{
	check: func(s *Search) error {
		if s.Query != "" && s.QueryObject != nil {
			return invalidField("query", "set Query or QueryObject, not both")
		}
		return nil
	},
	fields: []field[Search]{{key: ecomspec.Query, doc: "Search.Query|Search.QueryObject",
		enc: func(w *jsonw.Writer, s *Search, _ ecomspec.Event) {
			if s.QueryObject == nil {
				optString(w, ecomspec.Query.Quoted(), s.Query)
				return
			}
			w.Field("query")
			w.Any(s.QueryObject)
		}}},
}

// ---------------------------------------------------------------------------
// The machinery: a shape is a list of fields; props is one event's value.

// field is one property of a shape: its key, the Go field that fills it
// (for docs/ecommerce.md) and how its value is read. Exactly one of str,
// num, cnt and enc is set. Values are checked as they are written: an
// invalid one fails the writer, whose path names it
// ("properties.products[1].price").
type field[T any] struct {
	key  ecomspec.Key
	doc  string
	str  func(*T) string  // a string, sent when not empty (currency: upper-cased)
	num  func(*T) float64 // money, sent when not 0 or when zero reports true
	zero func(*T) bool
	cnt  func(*T) int                            // a count, sent when above 0
	enc  func(*jsonw.Writer, *T, ecomspec.Event) // any other value
}

func str[T any](k ecomspec.Key, doc string, get func(*T) string) field[T] {
	return field[T]{key: k, doc: doc, str: get}
}

func money[T any](k ecomspec.Key, doc string, get func(*T) float64, zero func(*T) bool) field[T] {
	return field[T]{key: k, doc: doc, num: get, zero: zero}
}

func count[T any](k ecomspec.Key, doc string, get func(*T) int) field[T] {
	return field[T]{key: k, doc: doc, cnt: get}
}

// lift makes the fields of a U, reached through get, fields of a T.
func lift[T, U any](fs []field[U], get func(*T) *U) []field[T] {
	out := make([]field[T], len(fs))
	for i, f := range fs {
		out[i] = field[T]{key: f.key, doc: f.doc}
		switch {
		case f.str != nil:
			out[i].str = func(t *T) string { return f.str(get(t)) }
		case f.num != nil:
			out[i].num = func(t *T) float64 { return f.num(get(t)) }
			out[i].zero = func(t *T) bool { return f.zero(get(t)) }
		case f.cnt != nil:
			out[i].cnt = func(t *T) int { return f.cnt(get(t)) }
		}
	}
	return out
}

// products is a "products" array; its elements carry the event's product keys.
func products[T any](doc string, get func(*T) []Product) field[T] {
	return field[T]{key: ecomspec.ProductsKey, doc: doc,
		enc: func(w *jsonw.Writer, t *T, ev ecomspec.Event) {
			ps := get(t)
			if ps == nil {
				return
			}
			w.Field("products")
			w.ArrayStart()
			for i := range ps {
				w.ObjectStart()
				writeFields(w, productFields, ev.ProductKeys(), ev, &ps[i])
				w.ObjectEnd()
			}
			w.ArrayEnd()
		}}
}

// typeValues is an array of {"type", "value"} objects (filters, sorts).
func typeValues[T, E any](k ecomspec.Key, doc string, get func(*T) []E, tv func(*E) (string, string)) field[T] {
	return field[T]{key: k, doc: doc, enc: func(w *jsonw.Writer, t *T, _ ecomspec.Event) {
		es := get(t)
		if es == nil {
			return
		}
		w.Field(k.Name())
		w.ArrayStart()
		for i := range es {
			typ, value := tv(&es[i])
			w.ObjectStart()
			optString(w, `"type":`, typ)
			optString(w, `"value":`, value)
			w.ObjectEnd()
		}
		w.ArrayEnd()
	}}
}

// shape is the fields of one input type, and a rule across them (nil: none).
type shape[T any] struct {
	fields []field[T]
	check  func(*T) error
}

// props is one event's typed properties: it implements typedProperties.
type props[T any] struct {
	ev ecomspec.Event
	s  *shape[T]
	v  T
}

func ecomTrack[T any](ev ecomspec.Event, s *shape[T], v T) Track {
	return Track{Event: ev.Name(), typed: &props[T]{ev: ev, s: s, v: v}}
}

func (p *props[T]) encodeProperties(w *jsonw.Writer) {
	writeFields(w, p.s.fields, p.ev.Keys(), p.ev, &p.v)
}

// validate checks the rules across fields; each value is checked as it is
// written (writeFields).
func (p *props[T]) validate() error {
	if p.s.check != nil {
		return p.s.check(&p.v)
	}
	return nil
}

// emits reports whether k is a property of the event's spec table, or a v1
// or camelCase spelling of one (id, sky, orderId, imageUrl, ...): such a key
// cannot be set again as a custom property, since a strict collector would
// refuse the message.
func (p *props[T]) emits(k string) bool {
	if _, v1 := ecomspec.V1Name(k); v1 {
		return true
	}
	_, ok := p.ev.Keys().Named(k)
	if sk := ecomspec.SnakeCase(k); !ok && sk != "" {
		_, ok = p.ev.Keys().Named(sk)
	}
	return ok
}

// orderID returns the order_id of a once-per-order event, "" for the others.
func (p *props[T]) orderID() string {
	for _, f := range p.s.fields {
		if f.key == ecomspec.OrderID && p.ev.OncePerOrder() {
			return f.str(&p.v)
		}
	}
	return ""
}

// writeFields writes v's fields that are in ks, in the shape's order. An
// invalid value (NaN, ±Inf, negative, a malformed currency) fails w.
func writeFields[T any](w *jsonw.Writer, fs []field[T], ks ecomspec.Set, ev ecomspec.Event, v *T) {
	for i := range fs {
		f := &fs[i]
		if !ks.Has(f.key) {
			continue
		}
		switch {
		case f.str != nil && f.key == ecomspec.Currency:
			writeCurrency(w, f.str(v))
		case f.str != nil:
			optString(w, f.key.Quoted(), f.str(v))
		case f.num != nil:
			switch n := f.num(v); {
			case math.IsNaN(n) || math.IsInf(n, 0):
				fail(w, f.key, "number is "+strconv.FormatFloat(n, 'g', -1, 64))
			case n < 0:
				fail(w, f.key, "negative "+f.key.Name()+" "+strconv.FormatFloat(n, 'g', -1, 64))
			case n != 0 || f.zero(v):
				w.FloatMember(f.key.Quoted(), n+0) // -0 is sent as 0
			}
		case f.cnt != nil:
			switch n := f.cnt(v); {
			case n > 0:
				w.IntMember(f.key.Quoted(), int64(n))
			case n < 0:
				fail(w, f.key, "negative "+f.key.Name()+" "+strconv.Itoa(n))
			}
		default:
			f.enc(w, v, ev)
		}
	}
}

// fail records that k's value is invalid, for the reason given.
func fail(w *jsonw.Writer, k ecomspec.Key, reason string) {
	w.Field(k.Name())
	w.Fail(fmt.Errorf("%w: %s", ErrInvalidValue, reason))
}

// writeCurrency writes "currency" upper-cased unless c is empty; a code
// that is not three ASCII letters fails w.
func writeCurrency(w *jsonw.Writer, c string) {
	switch {
	case c == "":
	case !isCurrency(c):
		fail(w, ecomspec.Currency, "currency "+strconv.Quote(c)+" is not a 3-letter ISO 4217 code")
	default:
		q := [5]byte{'"', asciiUpper(c[0]), asciiUpper(c[1]), asciiUpper(c[2]), '"'}
		w.Field("currency")
		w.Raw(q[:])
	}
}

func invalidField(field, reason string) error {
	return &fieldError{Field: field, Err: fmt.Errorf("%w: %s", ErrInvalidValue, reason)}
}

func isCurrency(c string) bool {
	return len(c) == 3 && isASCIILetter(c[0]) && isASCIILetter(c[1]) && isASCIILetter(c[2])
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func asciiUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// fieldDoc is a field of a shape as docs/ecommerce.md shows it.
type fieldDoc struct {
	key ecomspec.Key
	doc string        // the Go field
	typ ecomspec.Type // the JSON type the field's Go type writes
}

// fieldDocs lists the fields of the event's shape, in wire order.
func (p *props[T]) fieldDocs() (ev ecomspec.Event, fs []fieldDoc) {
	for _, f := range p.s.fields {
		d := fieldDoc{key: f.key, doc: f.doc, typ: f.key.Type()}
		switch {
		case f.str != nil:
			d.typ = ecomspec.String
		case f.num != nil || f.cnt != nil:
			d.typ = ecomspec.Number
		}
		fs = append(fs, d)
	}
	return p.ev, fs
}
