package analytics

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tracklane/analytics/internal/ecomspec"
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

// The tables. A field names its Go field as docs/ecommerce.md shows it:
// "Product.ProductID" is field ProductID of the input's Product (the input
// itself, or its one field of type Product), "cartID" a field of the input.
// The Go type says how the value is written (see member).
var productFields = []field{
	{ecomspec.ProductID, "Product.ProductID"}, {ecomspec.SKU, "Product.SKU"},
	{ecomspec.Category, "Product.Category"}, {ecomspec.Name, "Product.Name"}, {ecomspec.Brand, "Product.Brand"},
	{ecomspec.Variant, "Product.Variant"}, {ecomspec.Price, "Product.Price"},
	{ecomspec.Quantity, "Product.Quantity"}, {ecomspec.Coupon, "Product.Coupon"},
	{ecomspec.Position, "Product.Position"}, {ecomspec.URL, "Product.URL"}, {ecomspec.ImageURL, "Product.ImageURL"},
}

var shareFields = []field{
	{ecomspec.ShareVia, "Share.Via"}, {ecomspec.ShareMessage, "Share.Message"}, {ecomspec.Recipient, "Share.Recipient"},
}

var productShape = newShape(func(p *productProps) error {
	if p.nValue > 1 {
		return invalidField("value", "more than one ProductValue")
	}
	return nil
}, shareFields, []field{
	{ecomspec.WishlistID, "Wishlist.WishlistID"}, {ecomspec.WishlistName, "Wishlist.WishlistName"},
	{ecomspec.CartID, "cartID"},
}, productFields, []field{{ecomspec.Currency, "ProductValue.Currency"}, {ecomspec.Value, "ProductValue.Value"}})

var cartShape = newShape[cartProps](nil, shareFields,
	[]field{{ecomspec.CartID, "Cart.CartID"}, {ecomspec.ProductsKey, "Cart.Products"}})

var orderShape = newShape[Order](nil, []field{
	{ecomspec.CheckoutID, "Order.CheckoutID"}, {ecomspec.OrderID, "Order.OrderID"}, {ecomspec.Affiliation, "Order.Affiliation"},
	{ecomspec.Subtotal, "Order.Subtotal"}, {ecomspec.Total, "Order.Total"}, {ecomspec.Value, "Order.Value"},
	{ecomspec.Revenue, "Order.Revenue"}, {ecomspec.Shipping, "Order.Shipping"}, {ecomspec.Tax, "Order.Tax"},
	{ecomspec.Discount, "Order.Discount"}, {ecomspec.Coupon, "Order.Coupon"}, {ecomspec.Currency, "Order.Currency"},
	{ecomspec.ProductsKey, "Order.Products"}})

var stepShape = newShape[CheckoutStep](nil, []field{{ecomspec.CheckoutID, "CheckoutStep.CheckoutID"},
	{ecomspec.OrderID, "CheckoutStep.OrderID"}, {ecomspec.Step, "CheckoutStep.Step"},
	{ecomspec.ShippingMethod, "CheckoutStep.ShippingMethod"}, {ecomspec.PaymentMethod, "CheckoutStep.PaymentMethod"}})

var couponShape = newShape[Coupon](nil, []field{{ecomspec.OrderID, "Coupon.OrderID"}, {ecomspec.CartID, "Coupon.CartID"},
	{ecomspec.CouponID, "Coupon.CouponID"}, {ecomspec.CouponName, "Coupon.CouponName"},
	{ecomspec.Discount, "Coupon.Discount"}, {ecomspec.Reason, "Coupon.Reason"}})

var listShape = newShape[ProductList](nil, []field{{ecomspec.ListID, "ProductList.ListID"},
	{ecomspec.Category, "ProductList.Category"}, {ecomspec.Filters, "ProductList.Filters"},
	{ecomspec.Sorts, "ProductList.Sorts"}, {ecomspec.ProductsKey, "ProductList.Products"}})

var promotionShape = newShape[Promotion](nil, []field{{ecomspec.PromotionID, "Promotion.PromotionID"},
	{ecomspec.Creative, "Promotion.Creative"}, {ecomspec.Name, "Promotion.Name"},
	{ecomspec.PromotionPosition, "Promotion.Position"}})

var reviewShape = newShape[Review](nil, []field{{ecomspec.ProductID, "Review.ProductID"},
	{ecomspec.ReviewID, "Review.ReviewID"}, {ecomspec.ReviewBody, "Review.ReviewBody"}, {ecomspec.Rating, "Review.Rating"}})

var searchShape = newShape(func(s *Search) error {
	if s.Query != "" && s.QueryObject != nil {
		return invalidField("query", "set Query or QueryObject, not both")
	}
	return nil
}, []field{{ecomspec.Query, "Search.Query|Search.QueryObject"}})

// sendZero is the SendZero bit of each money property but price.
var sendZero = map[ecomspec.Key]ZeroFields{ecomspec.Subtotal: ZeroSubtotal, ecomspec.Total: ZeroTotal,
	ecomspec.Revenue: ZeroRevenue, ecomspec.Value: ZeroValue, ecomspec.Shipping: ZeroShipping,
	ecomspec.Tax: ZeroTax, ecomspec.Discount: ZeroDiscount}

// ---------------------------------------------------------------------------
// The machinery: a shape is a list of fields, resolved once (at init) into
// the members each event writes; props is one event's value.

// field is one property of a shape: its key and the Go field that fills it.
type field struct {
	key ecomspec.Key
	doc string
}

// kind is how a member's value is written, from its Go type.
type kind uint8

const (
	kString     kind = iota + 1 // string: sent when not empty
	kCurrency                   // string: sent upper-cased when not empty; not 3 ASCII letters: invalid
	kMoney                      // float64: sent when not 0 or when its 0 is meant (zeroSent)
	kCount                      // int: sent when above 0; negative: invalid
	kProducts                   // []Product: sent when not nil, each with the event's product keys
	kTypeValues                 // a slice of {Type, Value string} (Filter, Sort): sent when not nil
	kQuery                      // Search: query, a string or an object
)

// member is a field resolved against its input type for one event: the
// key, the kind and the offset of the value in the input. The hot path
// reads the value at that offset (writeFields): no closure per field, and
// only the fields the event's table lists. resolve takes the offsets and
// kinds from reflect, and TestMemberOffsets checks each one.
type member struct {
	qk    jsonw.Key // the key, for the writer
	off   uintptr   // of the value in the input
	zoff  uintptr   // kMoney: of the SendZero field, or of the Product (price)
	elems []member  // kProducts: the members of each product
	key   ecomspec.Key
	kind  kind
	zero  ZeroFields // kMoney: the SendZero bit; 0: a price, sent when the product is identified
}

// shape is the fields of one input type, a rule across them (nil: none),
// and, per event, the members it writes.
type shape[T any] struct {
	check  func(*T) error
	all    []member   // the fields resolved, in order
	docs   []fieldDoc // and as docs/ecommerce.md shows them
	events [][]member // by ecomspec.Event: the members of all it writes
}

// newShape resolves the fields, in order, against T, for every event.
func newShape[T any](check func(*T) error, fss ...[]field) *shape[T] {
	s := &shape[T]{check: check}
	s.all = resolveAll(reflect.TypeFor[T](), slices.Concat(fss...), &s.docs)
	products := resolveAll(reflect.TypeFor[Product](), productFields, nil)
	evs := ecomspec.Events()
	s.events = make([][]member, len(evs)+1)
	for _, ev := range evs {
		s.events[ev] = only(s.all, ev.Keys())
		for i, m := range s.events[ev] {
			if m.kind == kProducts {
				s.events[ev][i].elems = only(products, ev.ProductKeys())
			}
		}
	}
	return s
}

// only returns the members of ms whose key is in ks (a new slice).
func only(ms []member, ks ecomspec.Set) []member {
	var out []member
	for _, m := range ms {
		if ks.Has(m.key) {
			out = append(out, m)
		}
	}
	return out
}

// resolveAll resolves fs against t and, when docs is not nil, appends
// what docs/ecommerce.md shows of each.
func resolveAll(t reflect.Type, fs []field, docs *[]fieldDoc) []member {
	ms := make([]member, len(fs))
	for i, f := range fs {
		ms[i] = resolve(t, f)
		if docs != nil {
			typ := f.key.Type()
			switch ms[i].kind {
			case kString, kCurrency:
				typ = ecomspec.String
			case kMoney, kCount:
				typ = ecomspec.Number
			}
			*docs = append(*docs, fieldDoc{key: f.key, doc: f.doc, typ: typ})
		}
	}
	return ms
}

// resolve finds the Go field f names in t and the kind its type writes. A
// table naming no field, or a field of a type the encoder does not write,
// panics at init: the package's every test fails.
func resolve(t reflect.Type, f field) member {
	name, _, query := strings.Cut(f.doc, "|") // "Search.Query|Search.QueryObject"
	m := member{qk: jsonw.NewKey(f.key.Name()), key: f.key}
	if typ, fname, nested := strings.Cut(name, "."); nested && t.Name() != typ {
		in, ok := fieldOfType(t, typ)
		if !ok {
			panic("analytics: " + t.Name() + " has no single field of type " + typ)
		}
		m.off, t, name = in.Offset, in.Type, fname
	} else if nested {
		name = fname
	}
	sf, ok := t.FieldByName(name)
	if !ok {
		panic("analytics: " + t.Name() + " has no field " + name)
	}
	switch typ := sf.Type; {
	case query && t == reflect.TypeFor[Search]():
		m.kind = kQuery
		return m // the offset of the Search
	case typ == reflect.TypeFor[string]() && f.key == ecomspec.Currency:
		m.kind = kCurrency
	case typ == reflect.TypeFor[string]():
		m.kind = kString
	case typ == reflect.TypeFor[int]():
		m.kind = kCount
	case typ == reflect.TypeFor[[]Product]():
		m.kind = kProducts
	case typ.Kind() == reflect.Slice && typ.Elem().ConvertibleTo(reflect.TypeFor[Filter]()):
		m.kind = kTypeValues // read as a []Filter: the same layout
	case typ == reflect.TypeFor[float64]():
		m.kind = kMoney
		if z, ok := t.FieldByName("SendZero"); ok && z.Type == reflect.TypeFor[ZeroFields]() && sendZero[f.key] != 0 {
			m.zoff, m.zero = m.off+z.Offset, sendZero[f.key]
		} else if t != reflect.TypeFor[Product]() {
			panic("analytics: " + f.doc + " has no SendZero bit")
		} else {
			m.zoff = m.off
		}
	default:
		panic("analytics: " + f.doc + " is a " + typ.String() + ", which the encoder does not write")
	}
	m.off += sf.Offset
	return m
}

// fieldOfType returns t's one field of the type named typ (none when
// there are two: the name would be ambiguous).
func fieldOfType(t reflect.Type, typ string) (sf reflect.StructField, ok bool) {
	n := 0
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Name() == typ {
			sf, n = f, n+1
		}
	}
	return sf, n == 1
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
	writeFields(w, p.s.events[p.ev], unsafe.Pointer(&p.v)) //nolint:gosec // G103: the members were resolved against T (resolve)
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
	for _, m := range p.s.events[p.ev] {
		if m.key == ecomspec.OrderID && m.kind == kString && p.ev.OncePerOrder() {
			return *(*string)(unsafe.Add(unsafe.Pointer(&p.v), m.off)) //nolint:gosec // G103: as in encodeProperties
		}
	}
	return ""
}

// writeFields writes the members ms of the input at v, the value of the
// type they were resolved against (so each offset holds a value of the
// member's kind). An invalid value (NaN, ±Inf, negative, a malformed
// currency) fails w, whose path names it ("properties.products[1].price").
func writeFields(w *jsonw.Writer, ms []member, v unsafe.Pointer) {
	for i := range ms {
		m := &ms[i]
		p := unsafe.Add(v, m.off)
		if m.kind == kString { // most members: one test, not the switch's search
			if s := *(*string)(p); s != "" {
				w.StringKey(&m.qk, s)
			}
			continue
		}
		switch m.kind {
		case kMoney:
			switch n := *(*float64)(p); {
			case n > 0 && n <= math.MaxFloat64:
				w.FloatKey(&m.qk, n)
			case math.IsNaN(n) || math.IsInf(n, 0):
				fail(w, m.key, "number is "+strconv.FormatFloat(n, 'g', -1, 64))
			case n < 0:
				fail(w, m.key, "negative "+m.key.Name()+" "+strconv.FormatFloat(n, 'g', -1, 64))
			case m.zeroSent(v):
				w.FloatKey(&m.qk, 0) // -0 too
			}
		case kCount:
			switch n := *(*int)(p); {
			case n > 0:
				w.IntKey(&m.qk, int64(n))
			case n < 0:
				fail(w, m.key, "negative "+m.key.Name()+" "+strconv.Itoa(n))
			}
		case kCurrency:
			writeCurrency(w, &m.qk, *(*string)(p))
		case kProducts:
			writeProducts(w, *(*[]Product)(p), m.elems)
		case kTypeValues:
			writeTypeValues(w, m.key, *(*[]Filter)(p))
		case kQuery:
			writeQuery(w, (*Search)(p))
		}
	}
}

// zeroSent reports whether a money member's 0 is sent: its bit is in
// SendZero, or it is the price of an identified product.
func (m *member) zeroSent(v unsafe.Pointer) bool {
	z := unsafe.Add(v, m.zoff)
	if m.zero == 0 {
		return (*Product)(z).identified()
	}
	return *(*ZeroFields)(z)&m.zero != 0
}

// writeProducts writes a "products" array unless ps is nil.
func writeProducts(w *jsonw.Writer, ps []Product, ms []member) {
	if ps == nil {
		return
	}
	w.Field("products")
	w.ArrayStart()
	for i := range ps {
		w.ObjectStart()
		writeFields(w, ms, unsafe.Pointer(&ps[i])) //nolint:gosec // G103: ms were resolved against Product
		w.ObjectEnd()
	}
	w.ArrayEnd()
}

// writeTypeValues writes an array of {"type", "value"} objects (filters, sorts).
func writeTypeValues(w *jsonw.Writer, k ecomspec.Key, es []Filter) {
	if es == nil {
		return
	}
	w.Field(k.Name())
	w.ArrayStart()
	for _, e := range es {
		w.ObjectStart()
		optString(w, `"type":`, e.Type)
		optString(w, `"value":`, e.Value)
		w.ObjectEnd()
	}
	w.ArrayEnd()
}

// writeQuery writes query: s.Query, or s.QueryObject when set.
func writeQuery(w *jsonw.Writer, s *Search) {
	if s.QueryObject == nil {
		optString(w, ecomspec.Query.Quoted(), s.Query)
		return
	}
	w.Field("query")
	w.Any(s.QueryObject)
}

// fail records that k's value is invalid, for the reason given.
func fail(w *jsonw.Writer, k ecomspec.Key, reason string) {
	w.Field(k.Name())
	w.Fail(fmt.Errorf("%w: %s", ErrInvalidValue, reason))
}

// writeCurrency writes "currency" upper-cased unless c is empty; a code
// that is not three ASCII letters fails w.
func writeCurrency(w *jsonw.Writer, k *jsonw.Key, c string) {
	switch {
	case c == "":
	case !isCurrency(c):
		fail(w, ecomspec.Currency, "currency "+strconv.Quote(c)+" is not a 3-letter ISO 4217 code")
	case asciiUpper(c[0]) == c[0] && asciiUpper(c[1]) == c[1] && asciiUpper(c[2]) == c[2]:
		w.StringKey(k, c)
	default:
		q := [3]byte{asciiUpper(c[0]), asciiUpper(c[1]), asciiUpper(c[2])}
		w.StringKey(k, string(q[:]))
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
func (p *props[T]) fieldDocs() (ecomspec.Event, []fieldDoc) { return p.ev, p.s.docs }
