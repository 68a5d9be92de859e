package analytics

import (
	"errors"
	"fmt"
	"math"
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
//     "price" on Product Added) makes Enqueue fail with ErrPropertyConflict,
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
// fields its spec table lists (see each constructor). Money is in major units
// of Currency.
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
// Constructors, one per spec event, in the spec's order.

// ProductsSearched returns a "Products Searched" Track: query (a string, or
// an object when s.QueryObject is set).
//
// An empty search sends no query. Setting both Query and QueryObject, a non-
// finite number in QueryObject, or invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func ProductsSearched(s Search) Track {
	return Track{Event: evProductsSearched.name(), typed: &searchProps{event: evProductsSearched, s: s}}
}

// ProductListViewed returns a "Product List Viewed" Track: list_id, category,
// products. l.Filters and l.Sorts are ignored.
//
// Empty fields are not sent; see Product for zeros. An invalid product (see
// ProductClicked) makes Enqueue fail with ErrInvalidValue.
func ProductListViewed(l ProductList) Track {
	return Track{Event: evProductListViewed.name(), typed: &listProps{event: evProductListViewed, l: l}}
}

// ProductListFiltered returns a "Product List Filtered" Track: list_id,
// category, filters, sorts, products.
//
// Empty fields are not sent; see Product for zeros. An invalid product (see
// ProductClicked) makes Enqueue fail with ErrInvalidValue.
func ProductListFiltered(l ProductList) Track {
	return Track{Event: evProductListFiltered.name(), typed: &listProps{event: evProductListFiltered, l: l}}
}

// PromotionViewed returns a "Promotion Viewed" Track: promotion_id, creative,
// name, position (a string).
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func PromotionViewed(p Promotion) Track {
	return Track{Event: evPromotionViewed.name(), typed: &promotionProps{event: evPromotionViewed, p: p}}
}

// PromotionClicked returns a "Promotion Clicked" Track: promotion_id,
// creative, name, position (a string).
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func PromotionClicked(p Promotion) Track {
	return Track{Event: evPromotionClicked.name(), typed: &promotionProps{event: evPromotionClicked, p: p}}
}

// ProductClicked returns a "Product Clicked" Track with the 12 product
// fields as top-level properties.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductClicked(p Product) Track {
	return Track{Event: evProductClicked.name(), typed: &productProps{event: evProductClicked, p: p}}
}

// ProductViewed returns a "Product Viewed" Track with the 12 product fields
// and, when a ProductValue is given, currency and value (see ProductValue
// for a zero value). Passing more than one ProductValue, a currency that is
// not three ASCII letters, a negative or non-finite value or price, a
// negative quantity or position, or invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func ProductViewed(p Product, v ...ProductValue) Track {
	pp := &productProps{event: evProductViewed, p: p, nValue: len(v)}
	if len(v) > 0 {
		pp.value = v[0]
	}
	return Track{Event: evProductViewed.name(), typed: pp}
}

// ProductAdded returns a "Product Added" Track: cart_id and the 12 product
// fields.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductAdded(cartID string, p Product) Track {
	return Track{Event: evProductAdded.name(), typed: &productProps{event: evProductAdded, p: p, cartID: cartID}}
}

// ProductRemoved returns a "Product Removed" Track: cart_id and the 12
// product fields.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductRemoved(cartID string, p Product) Track {
	return Track{Event: evProductRemoved.name(), typed: &productProps{event: evProductRemoved, p: p, cartID: cartID}}
}

// CartViewed returns a "Cart Viewed" Track: cart_id, products.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func CartViewed(c Cart) Track {
	return Track{Event: evCartViewed.name(), typed: &cartProps{event: evCartViewed, c: c}}
}

// CheckoutStarted returns a "Checkout Started" Track: order_id, affiliation,
// value, revenue, shipping, tax, discount, coupon, currency, products. The
// spec has value here where the other order events have total: o.Total,
// o.Subtotal and o.CheckoutID are ignored.
//
// Empty fields and zero amounts are not sent (see Order.SendZero). A
// negative or non-finite amount or price, a currency that is not three ASCII
// letters, or invalid UTF-8 makes Enqueue fail with ErrInvalidValue.
func CheckoutStarted(o Order) Track {
	return Track{Event: evCheckoutStarted.name(), typed: &orderProps{event: evCheckoutStarted, o: o}}
}

// CheckoutStepViewed returns a "Checkout Step Viewed" Track: checkout_id,
// step, shipping_method, payment_method. s.OrderID is ignored.
//
// Empty fields and a zero step are not sent. A negative step or invalid
// UTF-8 makes Enqueue fail with ErrInvalidValue.
func CheckoutStepViewed(s CheckoutStep) Track {
	return Track{Event: evCheckoutStepViewed.name(), typed: &stepProps{event: evCheckoutStepViewed, s: s}}
}

// CheckoutStepCompleted returns a "Checkout Step Completed" Track:
// checkout_id, step, shipping_method, payment_method. s.OrderID is ignored.
//
// Empty fields and a zero step are not sent. A negative step or invalid
// UTF-8 makes Enqueue fail with ErrInvalidValue.
func CheckoutStepCompleted(s CheckoutStep) Track {
	return Track{Event: evCheckoutStepCompleted.name(), typed: &stepProps{event: evCheckoutStepCompleted, s: s}}
}

// PaymentInfoEntered returns a "Payment Info Entered" Track: checkout_id,
// order_id, step, shipping_method, payment_method.
//
// Empty fields and a zero step are not sent. A negative step or invalid
// UTF-8 makes Enqueue fail with ErrInvalidValue.
func PaymentInfoEntered(s CheckoutStep) Track {
	return Track{Event: evPaymentInfoEntered.name(), typed: &stepProps{event: evPaymentInfoEntered, s: s}}
}

// OrderUpdated returns an "Order Updated" Track: order_id, affiliation,
// total, revenue, shipping, tax, discount, coupon, currency, products.
// o.CheckoutID, o.Subtotal and o.Value are ignored.
//
// Empty fields and zero amounts are not sent (see Order.SendZero). A
// negative or non-finite amount or price, a currency that is not three ASCII
// letters, or invalid UTF-8 makes Enqueue fail with ErrInvalidValue.
func OrderUpdated(o Order) Track {
	return Track{Event: evOrderUpdated.name(), typed: &orderProps{event: evOrderUpdated, o: o}}
}

// OrderCompleted returns an "Order Completed" Track: checkout_id, order_id,
// affiliation, subtotal, total, revenue, shipping, tax, discount, coupon,
// currency, products. o.Value is ignored. With WithOrderMessageIDs, its
// messageId is derived from o.OrderID.
//
// Empty fields and zero amounts are not sent (see Order.SendZero). A
// negative or non-finite amount or price, a currency that is not three ASCII
// letters, or invalid UTF-8 makes Enqueue fail with ErrInvalidValue.
func OrderCompleted(o Order) Track {
	return Track{Event: evOrderCompleted.name(), typed: &orderProps{event: evOrderCompleted, o: o}}
}

// OrderRefunded returns an "Order Refunded" Track. The spec's table lists
// only order_id, but its prose and example send the whole order, so it sends
// what Order Completed sends: checkout_id, order_id, affiliation, subtotal,
// total, revenue, shipping, tax, discount, coupon, currency, products (the
// refunded items). o.Value is ignored. With WithOrderMessageIDs, its
// messageId is derived from o.OrderID.
//
// Empty fields and zero amounts are not sent (see Order.SendZero). A
// negative or non-finite amount or price, a currency that is not three ASCII
// letters, or invalid UTF-8 makes Enqueue fail with ErrInvalidValue.
func OrderRefunded(o Order) Track {
	return Track{Event: evOrderRefunded.name(), typed: &orderProps{event: evOrderRefunded, o: o}}
}

// OrderCancelled returns an "Order Cancelled" Track: order_id, affiliation,
// total, revenue, shipping, tax, discount, coupon, currency, products.
// o.CheckoutID, o.Subtotal and o.Value are ignored. With
// WithOrderMessageIDs, its messageId is derived from o.OrderID.
//
// Empty fields and zero amounts are not sent (see Order.SendZero). A
// negative or non-finite amount or price, a currency that is not three ASCII
// letters, or invalid UTF-8 makes Enqueue fail with ErrInvalidValue.
func OrderCancelled(o Order) Track {
	return Track{Event: evOrderCancelled.name(), typed: &orderProps{event: evOrderCancelled, o: o}}
}

// CouponEntered returns a "Coupon Entered" Track: order_id, cart_id,
// coupon_id. c.CouponName, c.Discount and c.Reason are ignored.
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func CouponEntered(c Coupon) Track {
	return Track{Event: evCouponEntered.name(), typed: &couponProps{event: evCouponEntered, c: c}}
}

// CouponApplied returns a "Coupon Applied" Track: order_id, cart_id,
// coupon_id, coupon_name, discount. c.Reason is ignored.
//
// Empty fields are not sent, nor a zero discount without ZeroDiscount. A
// negative or non-finite discount or invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func CouponApplied(c Coupon) Track {
	return Track{Event: evCouponApplied.name(), typed: &couponProps{event: evCouponApplied, c: c}}
}

// CouponDenied returns a "Coupon Denied" Track: order_id, cart_id,
// coupon_id, coupon_name, reason. c.Discount is ignored.
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func CouponDenied(c Coupon) Track {
	return Track{Event: evCouponDenied.name(), typed: &couponProps{event: evCouponDenied, c: c}}
}

// CouponRemoved returns a "Coupon Removed" Track: order_id, cart_id,
// coupon_id, coupon_name, discount. c.Reason is ignored.
//
// Empty fields are not sent, nor a zero discount without ZeroDiscount. A
// negative or non-finite discount or invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func CouponRemoved(c Coupon) Track {
	return Track{Event: evCouponRemoved.name(), typed: &couponProps{event: evCouponRemoved, c: c}}
}

// ProductAddedToWishlist returns a "Product Added to Wishlist" Track:
// wishlist_id, wishlist_name and the 12 product fields.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductAddedToWishlist(w Wishlist, p Product) Track {
	return Track{Event: evProductAddedToWishlist.name(),
		typed: &productProps{event: evProductAddedToWishlist, p: p, wishlist: w}}
}

// ProductRemovedFromWishlist returns a "Product Removed from Wishlist" Track:
// wishlist_id, wishlist_name and the 12 product fields.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductRemovedFromWishlist(w Wishlist, p Product) Track {
	return Track{Event: evProductRemovedFromWishlist.name(),
		typed: &productProps{event: evProductRemovedFromWishlist, p: p, wishlist: w}}
}

// WishlistProductAddedToCart returns a "Wishlist Product Added to Cart"
// Track: wishlist_id, wishlist_name, cart_id and the 12 product fields.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func WishlistProductAddedToCart(w Wishlist, cartID string, p Product) Track {
	return Track{Event: evWishlistProductAddedToCart.name(),
		typed: &productProps{event: evWishlistProductAddedToCart, p: p, wishlist: w, cartID: cartID}}
}

// ProductShared returns a "Product Shared" Track: share_via, share_message,
// recipient, product_id, sku, category, name, brand, variant, price, url,
// image_url. p.Quantity, p.Coupon and p.Position are ignored.
//
// Empty fields are not sent; see Product for zeros. A negative or non-finite
// price, a negative quantity or position, or invalid UTF-8 makes Enqueue
// fail with ErrInvalidValue.
func ProductShared(s Share, p Product) Track {
	return Track{Event: evProductShared.name(), typed: &productProps{event: evProductShared, p: p, share: s}}
}

// CartShared returns a "Cart Shared" Track: share_via, share_message,
// recipient, cart_id, products. Each product is sent with its product_id
// only, as the spec lists; the other product fields are ignored.
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func CartShared(s Share, c Cart) Track {
	return Track{Event: evCartShared.name(), typed: &cartProps{event: evCartShared, c: c, share: s}}
}

// ProductReviewed returns a "Product Reviewed" Track: product_id, review_id,
// review_body, rating (a string).
//
// Empty fields are not sent. Invalid UTF-8 makes Enqueue fail with
// ErrInvalidValue.
func ProductReviewed(r Review) Track {
	return Track{Event: evProductReviewed.name(), typed: &reviewProps{event: evProductReviewed, r: r}}
}

// ---------------------------------------------------------------------------
// The spec as data: events, their property keys.

// event is one of the 28 spec events.
type event uint8

const (
	evProductsSearched event = iota + 1
	evProductListViewed
	evProductListFiltered
	evPromotionViewed
	evPromotionClicked
	evProductClicked
	evProductViewed
	evProductAdded
	evProductRemoved
	evCartViewed
	evCheckoutStarted
	evCheckoutStepViewed
	evCheckoutStepCompleted
	evPaymentInfoEntered
	evOrderUpdated
	evOrderCompleted
	evOrderRefunded
	evOrderCancelled
	evCouponEntered
	evCouponApplied
	evCouponDenied
	evCouponRemoved
	evProductAddedToWishlist
	evProductRemovedFromWishlist
	evWishlistProductAddedToCart
	evProductShared
	evCartShared
	evProductReviewed

	numEvents = int(evProductReviewed)
)

// name returns the spec's exact event name.
func (e event) name() string {
	switch e {
	case evProductsSearched:
		return "Products Searched"
	case evProductListViewed:
		return "Product List Viewed"
	case evProductListFiltered:
		return "Product List Filtered"
	case evPromotionViewed:
		return "Promotion Viewed"
	case evPromotionClicked:
		return "Promotion Clicked"
	case evProductClicked:
		return "Product Clicked"
	case evProductViewed:
		return "Product Viewed"
	case evProductAdded:
		return "Product Added"
	case evProductRemoved:
		return "Product Removed"
	case evCartViewed:
		return "Cart Viewed"
	case evCheckoutStarted:
		return "Checkout Started"
	case evCheckoutStepViewed:
		return "Checkout Step Viewed"
	case evCheckoutStepCompleted:
		return "Checkout Step Completed"
	case evPaymentInfoEntered:
		return "Payment Info Entered"
	case evOrderUpdated:
		return "Order Updated"
	case evOrderCompleted:
		return "Order Completed"
	case evOrderRefunded:
		return "Order Refunded"
	case evOrderCancelled:
		return "Order Cancelled"
	case evCouponEntered:
		return "Coupon Entered"
	case evCouponApplied:
		return "Coupon Applied"
	case evCouponDenied:
		return "Coupon Denied"
	case evCouponRemoved:
		return "Coupon Removed"
	case evProductAddedToWishlist:
		return "Product Added to Wishlist"
	case evProductRemovedFromWishlist:
		return "Product Removed from Wishlist"
	case evWishlistProductAddedToCart:
		return "Wishlist Product Added to Cart"
	case evProductShared:
		return "Product Shared"
	case evCartShared:
		return "Cart Shared"
	case evProductReviewed:
		return "Product Reviewed"
	}
	return ""
}

// key is a top-level (or product) property name of the spec.
type key uint8

const (
	kQuery key = iota
	kListID
	kCategory
	kFilters
	kSorts
	kProducts
	kPromotionID
	kCreative
	kName
	kPosition
	kProductID
	kSKU
	kBrand
	kVariant
	kPrice
	kQuantity
	kCoupon
	kURL
	kImageURL
	kCurrency
	kValue
	kCartID
	kCheckoutID
	kOrderID
	kAffiliation
	kSubtotal
	kTotal
	kRevenue
	kShipping
	kTax
	kDiscount
	kStep
	kShippingMethod
	kPaymentMethod
	kCouponID
	kCouponName
	kReason
	kWishlistID
	kWishlistName
	kShareVia
	kShareMessage
	kRecipient
	kReviewID
	kReviewBody
	kRating

	numKeys = int(kRating) + 1
)

// quotedKeys holds each key as written in JSON with its colon: `"product_id":`.
var quotedKeys = func() (q [numKeys]string) {
	for k := range q {
		q[k] = `"` + key(k).String() + `":`
	}
	return q
}()

// quoted returns the key as written in JSON with its colon.
func (k key) quoted() string { return quotedKeys[k] }

// String returns the JSON property name.
func (k key) String() string {
	switch k {
	case kQuery:
		return "query"
	case kListID:
		return "list_id"
	case kCategory:
		return "category"
	case kFilters:
		return "filters"
	case kSorts:
		return "sorts"
	case kProducts:
		return "products"
	case kPromotionID:
		return "promotion_id"
	case kCreative:
		return "creative"
	case kName:
		return "name"
	case kPosition:
		return "position"
	case kProductID:
		return "product_id"
	case kSKU:
		return "sku"
	case kBrand:
		return "brand"
	case kVariant:
		return "variant"
	case kPrice:
		return "price"
	case kQuantity:
		return "quantity"
	case kCoupon:
		return "coupon"
	case kURL:
		return "url"
	case kImageURL:
		return "image_url"
	case kCurrency:
		return "currency"
	case kValue:
		return "value"
	case kCartID:
		return "cart_id"
	case kCheckoutID:
		return "checkout_id"
	case kOrderID:
		return "order_id"
	case kAffiliation:
		return "affiliation"
	case kSubtotal:
		return "subtotal"
	case kTotal:
		return "total"
	case kRevenue:
		return "revenue"
	case kShipping:
		return "shipping"
	case kTax:
		return "tax"
	case kDiscount:
		return "discount"
	case kStep:
		return "step"
	case kShippingMethod:
		return "shipping_method"
	case kPaymentMethod:
		return "payment_method"
	case kCouponID:
		return "coupon_id"
	case kCouponName:
		return "coupon_name"
	case kReason:
		return "reason"
	case kWishlistID:
		return "wishlist_id"
	case kWishlistName:
		return "wishlist_name"
	case kShareVia:
		return "share_via"
	case kShareMessage:
		return "share_message"
	case kRecipient:
		return "recipient"
	case kReviewID:
		return "review_id"
	case kReviewBody:
		return "review_body"
	case kRating:
		return "rating"
	}
	return ""
}

// keyOf returns the key named s.
func keyOf(s string) (key, bool) {
	switch s {
	case "query":
		return kQuery, true
	case "list_id":
		return kListID, true
	case "category":
		return kCategory, true
	case "filters":
		return kFilters, true
	case "sorts":
		return kSorts, true
	case "products":
		return kProducts, true
	case "promotion_id":
		return kPromotionID, true
	case "creative":
		return kCreative, true
	case "name":
		return kName, true
	case "position":
		return kPosition, true
	case "product_id":
		return kProductID, true
	case "sku":
		return kSKU, true
	case "brand":
		return kBrand, true
	case "variant":
		return kVariant, true
	case "price":
		return kPrice, true
	case "quantity":
		return kQuantity, true
	case "coupon":
		return kCoupon, true
	case "url":
		return kURL, true
	case "image_url":
		return kImageURL, true
	case "currency":
		return kCurrency, true
	case "value":
		return kValue, true
	case "cart_id":
		return kCartID, true
	case "checkout_id":
		return kCheckoutID, true
	case "order_id":
		return kOrderID, true
	case "affiliation":
		return kAffiliation, true
	case "subtotal":
		return kSubtotal, true
	case "total":
		return kTotal, true
	case "revenue":
		return kRevenue, true
	case "shipping":
		return kShipping, true
	case "tax":
		return kTax, true
	case "discount":
		return kDiscount, true
	case "step":
		return kStep, true
	case "shipping_method":
		return kShippingMethod, true
	case "payment_method":
		return kPaymentMethod, true
	case "coupon_id":
		return kCouponID, true
	case "coupon_name":
		return kCouponName, true
	case "reason":
		return kReason, true
	case "wishlist_id":
		return kWishlistID, true
	case "wishlist_name":
		return kWishlistName, true
	case "share_via":
		return kShareVia, true
	case "share_message":
		return kShareMessage, true
	case "recipient":
		return kRecipient, true
	case "review_id":
		return kReviewID, true
	case "review_body":
		return kReviewBody, true
	case "rating":
		return kRating, true
	}
	return 0, false
}

// keySet is a set of keys.
type keySet uint64

func keySetOf(ks ...key) keySet {
	var s keySet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s keySet) has(k key) bool { return s&(1<<k) != 0 }

// productKeys are the 12 product fields.
const productKeys = keySet(1<<kProductID | 1<<kSKU | 1<<kCategory | 1<<kName | 1<<kBrand | 1<<kVariant |
	1<<kPrice | 1<<kQuantity | 1<<kCoupon | 1<<kPosition | 1<<kURL | 1<<kImageURL)

// sharedProductKeys are the product fields of Product Shared (no quantity, coupon, position).
const sharedProductKeys = productKeys &^ (1<<kQuantity | 1<<kCoupon | 1<<kPosition)

// orderCompletedKeys are the keys of Order Completed (and Order Refunded).
const orderCompletedKeys = keySet(1<<kCheckoutID | 1<<kOrderID | 1<<kAffiliation | 1<<kSubtotal | 1<<kTotal |
	1<<kRevenue | 1<<kShipping | 1<<kTax | 1<<kDiscount | 1<<kCoupon | 1<<kCurrency | 1<<kProducts)

// keys returns the properties of e's spec table (top-level keys only).
func (e event) keys() keySet {
	switch e {
	case evProductsSearched:
		return keySetOf(kQuery)
	case evProductListViewed:
		return keySetOf(kListID, kCategory, kProducts)
	case evProductListFiltered:
		return keySetOf(kListID, kCategory, kFilters, kSorts, kProducts)
	case evPromotionViewed, evPromotionClicked:
		return keySetOf(kPromotionID, kCreative, kName, kPosition)
	case evProductClicked:
		return productKeys
	case evProductViewed:
		return productKeys | keySetOf(kCurrency, kValue)
	case evProductAdded, evProductRemoved:
		return productKeys | keySetOf(kCartID)
	case evCartViewed:
		return keySetOf(kCartID, kProducts)
	case evCheckoutStarted:
		return keySetOf(kOrderID, kAffiliation, kValue, kRevenue, kShipping, kTax, kDiscount, kCoupon, kCurrency, kProducts)
	case evCheckoutStepViewed, evCheckoutStepCompleted:
		return keySetOf(kCheckoutID, kStep, kShippingMethod, kPaymentMethod)
	case evPaymentInfoEntered:
		return keySetOf(kCheckoutID, kOrderID, kStep, kShippingMethod, kPaymentMethod)
	case evOrderUpdated, evOrderCancelled:
		return orderCompletedKeys &^ keySetOf(kCheckoutID, kSubtotal)
	case evOrderCompleted, evOrderRefunded:
		return orderCompletedKeys
	case evCouponEntered:
		return keySetOf(kOrderID, kCartID, kCouponID)
	case evCouponApplied, evCouponRemoved:
		return keySetOf(kOrderID, kCartID, kCouponID, kCouponName, kDiscount)
	case evCouponDenied:
		return keySetOf(kOrderID, kCartID, kCouponID, kCouponName, kReason)
	case evProductAddedToWishlist, evProductRemovedFromWishlist:
		return productKeys | keySetOf(kWishlistID, kWishlistName)
	case evWishlistProductAddedToCart:
		return productKeys | keySetOf(kWishlistID, kWishlistName, kCartID)
	case evProductShared:
		return sharedProductKeys | keySetOf(kShareVia, kShareMessage, kRecipient)
	case evCartShared:
		return keySetOf(kShareVia, kShareMessage, kRecipient, kCartID, kProducts)
	case evProductReviewed:
		return keySetOf(kProductID, kReviewID, kReviewBody, kRating)
	}
	return 0
}

// productElemKeys returns the keys of the elements of e's products array.
func (e event) productElemKeys() keySet {
	if e == evCartShared {
		return keySetOf(kProductID)
	}
	return productKeys
}

// emits reports whether key is a property of e's spec table, or a v1 or
// camelCase spelling of one (id, sky, orderId, productId, imageUrl, ...):
// such a key cannot be set again as a custom property, since a strict
// collector would refuse the message.
func (e event) emits(k string) bool {
	if kk, ok := keyOf(k); ok {
		return e.keys().has(kk)
	}
	switch k {
	case "id", "sky", "orderId", "productId":
		return true
	}
	kk, ok := keyOf(snakeCase(k))
	return ok && e.keys().has(kk)
}

// snakeCase converts a camelCase name to snake_case ("imageUrl" ->
// "image_url"); other names come back unchanged.
func snakeCase(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if b == nil {
				b = append(make([]byte, 0, len(s)+4), s[:i]...)
			}
			b = append(b, '_', c+('a'-'A'))
			continue
		}
		if b != nil {
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// orderID is "" for every event but the once-per-order ones (orderProps).
func (e event) orderID() string { return "" }

// ---------------------------------------------------------------------------
// Property sets: one type per shape, each implementing typedProperties.

type searchProps struct {
	event
	s Search
}

func (p *searchProps) encodeProperties(w *jsonw.Writer) {
	switch {
	case p.s.QueryObject != nil:
		w.Key("query")
		w.Push("query")
		w.Any(p.s.QueryObject)
		w.Pop()
	default:
		writeStr(w, p.keys(), kQuery, p.s.Query)
	}
}

func (p *searchProps) validate() error {
	if p.s.Query != "" && p.s.QueryObject != nil {
		return invalidField("query", "set Query or QueryObject, not both")
	}
	return nil
}

type listProps struct {
	event
	l ProductList
}

func (p *listProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kListID, p.l.ListID)
	writeStr(w, ks, kCategory, p.l.Category)
	if ks.has(kFilters) && p.l.Filters != nil {
		w.Key("filters")
		w.Push("filters")
		w.ArrayStart()
		for i := range p.l.Filters {
			typeValue(w, i, p.l.Filters[i].Type, p.l.Filters[i].Value)
		}
		w.ArrayEnd()
		w.Pop()
	}
	if ks.has(kSorts) && p.l.Sorts != nil {
		w.Key("sorts")
		w.Push("sorts")
		w.ArrayStart()
		for i := range p.l.Sorts {
			typeValue(w, i, p.l.Sorts[i].Type, p.l.Sorts[i].Value)
		}
		w.ArrayEnd()
		w.Pop()
	}
	writeProducts(w, p.l.Products, productKeys)
}

func (p *listProps) validate() error { return validateProducts(p.l.Products, productKeys) }

// typeValue writes one {"type":...,"value":...} element of filters or sorts.
func typeValue(w *jsonw.Writer, i int, typ, value string) {
	w.Push(indexPath(i))
	w.ObjectStart()
	writeMember(w, "type", typ)
	writeMember(w, "value", value)
	w.ObjectEnd()
	w.Pop()
}

type promotionProps struct {
	event
	p Promotion
}

func (p *promotionProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kPromotionID, p.p.PromotionID)
	writeStr(w, ks, kCreative, p.p.Creative)
	writeStr(w, ks, kName, p.p.Name)
	writeStr(w, ks, kPosition, p.p.Position)
}

func (p *promotionProps) validate() error { return nil }

// productProps is every single-product event: Product Clicked, Viewed,
// Added, Removed, the wishlist events and Product Shared.
type productProps struct {
	event
	p        Product
	cartID   string
	wishlist Wishlist
	share    Share
	value    ProductValue // Product Viewed
	nValue   int          // number of ProductValues given to ProductViewed
}

func (p *productProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kShareVia, p.share.Via)
	writeStr(w, ks, kShareMessage, p.share.Message)
	writeStr(w, ks, kRecipient, p.share.Recipient)
	writeStr(w, ks, kWishlistID, p.wishlist.WishlistID)
	writeStr(w, ks, kWishlistName, p.wishlist.WishlistName)
	writeStr(w, ks, kCartID, p.cartID)
	writeProduct(w, &p.p, ks)
	if p.nValue > 0 {
		writeCurrency(w, ks, p.value.Currency)
		writeMoney(w, ks, kValue, p.value.Value, p.value.SendZero&ZeroValue != 0)
	}
}

func (p *productProps) validate() error {
	if p.nValue > 1 {
		return invalidField("value", "more than one ProductValue")
	}
	if err := validateProduct(&p.p, p.keys()); err != nil {
		return err
	}
	if p.nValue == 1 {
		if err := checkCurrency("currency", p.value.Currency); err != nil {
			return err
		}
		return checkMoney("value", p.value.Value)
	}
	return nil
}

// cartProps is Cart Viewed and Cart Shared.
type cartProps struct {
	event
	c     Cart
	share Share
}

func (p *cartProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kShareVia, p.share.Via)
	writeStr(w, ks, kShareMessage, p.share.Message)
	writeStr(w, ks, kRecipient, p.share.Recipient)
	writeStr(w, ks, kCartID, p.c.CartID)
	writeProducts(w, p.c.Products, p.productElemKeys())
}

func (p *cartProps) validate() error { return validateProducts(p.c.Products, p.productElemKeys()) }

// orderProps is Checkout Started and the four order events.
type orderProps struct {
	event
	o Order
}

func (p *orderProps) encodeProperties(w *jsonw.Writer) {
	ks, o := p.keys(), &p.o
	writeStr(w, ks, kCheckoutID, o.CheckoutID)
	writeStr(w, ks, kOrderID, o.OrderID)
	writeStr(w, ks, kAffiliation, o.Affiliation)
	writeMoney(w, ks, kSubtotal, o.Subtotal, o.SendZero&ZeroSubtotal != 0)
	writeMoney(w, ks, kTotal, o.Total, o.SendZero&ZeroTotal != 0)
	writeMoney(w, ks, kValue, o.Value, o.SendZero&ZeroValue != 0)
	writeMoney(w, ks, kRevenue, o.Revenue, o.SendZero&ZeroRevenue != 0)
	writeMoney(w, ks, kShipping, o.Shipping, o.SendZero&ZeroShipping != 0)
	writeMoney(w, ks, kTax, o.Tax, o.SendZero&ZeroTax != 0)
	writeMoney(w, ks, kDiscount, o.Discount, o.SendZero&ZeroDiscount != 0)
	writeStr(w, ks, kCoupon, o.Coupon)
	writeCurrency(w, ks, o.Currency)
	writeProducts(w, o.Products, productKeys)
}

func (p *orderProps) validate() error {
	ks, o := p.keys(), &p.o
	for _, m := range [...]struct {
		k key
		v float64
	}{
		{kSubtotal, o.Subtotal}, {kTotal, o.Total}, {kValue, o.Value}, {kRevenue, o.Revenue},
		{kShipping, o.Shipping}, {kTax, o.Tax}, {kDiscount, o.Discount},
	} {
		if ks.has(m.k) {
			if err := checkMoney(m.k.String(), m.v); err != nil {
				return err
			}
		}
	}
	if err := checkCurrency("currency", o.Currency); err != nil {
		return err
	}
	return validateProducts(o.Products, productKeys)
}

func (p *orderProps) orderID() string {
	switch p.event {
	case evOrderCompleted, evOrderRefunded, evOrderCancelled:
		return p.o.OrderID
	}
	return ""
}

// stepProps is Checkout Step Viewed, Checkout Step Completed and Payment Info Entered.
type stepProps struct {
	event
	s CheckoutStep
}

func (p *stepProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kCheckoutID, p.s.CheckoutID)
	writeStr(w, ks, kOrderID, p.s.OrderID)
	writeCount(w, ks, kStep, p.s.Step)
	writeStr(w, ks, kShippingMethod, p.s.ShippingMethod)
	writeStr(w, ks, kPaymentMethod, p.s.PaymentMethod)
}

func (p *stepProps) validate() error {
	if p.s.Step < 0 {
		return invalidField("step", "step "+strconv.Itoa(p.s.Step)+" is below 1")
	}
	return nil
}

// couponProps is the four coupon events.
type couponProps struct {
	event
	c Coupon
}

func (p *couponProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kOrderID, p.c.OrderID)
	writeStr(w, ks, kCartID, p.c.CartID)
	writeStr(w, ks, kCouponID, p.c.CouponID)
	writeStr(w, ks, kCouponName, p.c.CouponName)
	writeMoney(w, ks, kDiscount, p.c.Discount, p.c.SendZero&ZeroDiscount != 0)
	writeStr(w, ks, kReason, p.c.Reason)
}

func (p *couponProps) validate() error {
	if p.keys().has(kDiscount) {
		return checkMoney("discount", p.c.Discount)
	}
	return nil
}

type reviewProps struct {
	event
	r Review
}

func (p *reviewProps) encodeProperties(w *jsonw.Writer) {
	ks := p.keys()
	writeStr(w, ks, kProductID, p.r.ProductID)
	writeStr(w, ks, kReviewID, p.r.ReviewID)
	writeStr(w, ks, kReviewBody, p.r.ReviewBody)
	writeStr(w, ks, kRating, p.r.Rating)
}

func (p *reviewProps) validate() error { return nil }

// ---------------------------------------------------------------------------
// Encoding helpers. They write members into the open object; the path pushed
// around strings names the value if the writer refuses it (invalid UTF-8).

// writeMember writes "name":"v" unless v is empty.
func writeMember(w *jsonw.Writer, name, v string) {
	if v == "" {
		return
	}
	w.Field(name)
	w.String(v)
}

// writeStr writes k:v when k is in ks and v is not empty.
func writeStr(w *jsonw.Writer, ks keySet, k key, v string) {
	if v != "" && ks.has(k) {
		w.StringMember(k.quoted(), v)
	}
}

// writeMoney writes k:v when k is in ks and v is not 0 or zero is true.
func writeMoney(w *jsonw.Writer, ks keySet, k key, v float64, zero bool) {
	if !ks.has(k) || (v == 0 && !zero) {
		return
	}
	if v == 0 {
		v = 0 // -0 is sent as 0
	}
	w.FloatMember(k.quoted(), v)
}

// writeCount writes k:n when k is in ks and n is above 0.
func writeCount(w *jsonw.Writer, ks keySet, k key, n int) {
	if n > 0 && ks.has(k) {
		w.IntMember(k.quoted(), int64(n))
	}
}

// writeCurrency writes "currency" upper-cased when it is in ks and c is not empty.
func writeCurrency(w *jsonw.Writer, ks keySet, c string) {
	if !ks.has(kCurrency) || c == "" {
		return
	}
	w.Field("currency")
	if len(c) != 3 || !isASCIILetter(c[0]) || !isASCIILetter(c[1]) || !isASCIILetter(c[2]) {
		w.String(c) // validate refuses it first; written as is for completeness
		return
	}
	q := [5]byte{'"', asciiUpper(c[0]), asciiUpper(c[1]), asciiUpper(c[2]), '"'}
	w.Raw(q[:])
}

// writeProduct writes p's fields that are in ks.
func writeProduct(w *jsonw.Writer, p *Product, ks keySet) {
	writeStr(w, ks, kProductID, p.ProductID)
	writeStr(w, ks, kSKU, p.SKU)
	writeStr(w, ks, kCategory, p.Category)
	writeStr(w, ks, kName, p.Name)
	writeStr(w, ks, kBrand, p.Brand)
	writeStr(w, ks, kVariant, p.Variant)
	writeMoney(w, ks, kPrice, p.Price, p.identified())
	writeCount(w, ks, kQuantity, p.Quantity)
	writeStr(w, ks, kCoupon, p.Coupon)
	writeCount(w, ks, kPosition, p.Position)
	writeStr(w, ks, kURL, p.URL)
	writeStr(w, ks, kImageURL, p.ImageURL)
}

// writeProducts writes "products":[...] unless ps is nil; each element has the fields in elem.
func writeProducts(w *jsonw.Writer, ps []Product, elem keySet) {
	if ps == nil {
		return
	}
	w.Key("products")
	w.Push("products")
	w.ArrayStart()
	for i := range ps {
		w.Push(indexPath(i))
		w.ObjectStart()
		writeProduct(w, &ps[i], elem)
		w.ObjectEnd()
		w.Pop()
	}
	w.ArrayEnd()
	w.Pop()
}

// Index path elements "[0]" ... "[99]", sliced from constants so that
// encoding does not allocate for them.
const (
	index1 = "[0][1][2][3][4][5][6][7][8][9]"
	index2 = "[10][11][12][13][14][15][16][17][18][19][20][21][22][23][24][25][26][27][28][29]" +
		"[30][31][32][33][34][35][36][37][38][39][40][41][42][43][44][45][46][47][48][49]" +
		"[50][51][52][53][54][55][56][57][58][59][60][61][62][63][64][65][66][67][68][69]" +
		"[70][71][72][73][74][75][76][77][78][79][80][81][82][83][84][85][86][87][88][89]" +
		"[90][91][92][93][94][95][96][97][98][99]"
)

// indexPath returns "[i]".
func indexPath(i int) string {
	switch {
	case i < 10:
		return index1[3*i : 3*i+3]
	case i < 100:
		return index2[4*(i-10) : 4*(i-10)+4]
	}
	return "[" + strconv.Itoa(i) + "]"
}

// ---------------------------------------------------------------------------
// Validation helpers. They return a *fieldError naming the field relative to
// properties and wrapping ErrInvalidValue.

func invalidField(field, reason string) error {
	return &fieldError{Field: field, Err: fmt.Errorf("%w: %s", ErrInvalidValue, reason)}
}

// checkMoney refuses NaN, ±Inf and negative amounts.
func checkMoney(field string, v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return invalidField(field, "number is "+strconv.FormatFloat(v, 'g', -1, 64))
	case v < 0:
		return invalidField(field, "negative "+field+" "+strconv.FormatFloat(v, 'g', -1, 64))
	}
	return nil
}

// checkCurrency refuses a non-empty code that is not three ASCII letters.
func checkCurrency(field, c string) error {
	if c == "" {
		return nil
	}
	if len(c) != 3 || !isASCIILetter(c[0]) || !isASCIILetter(c[1]) || !isASCIILetter(c[2]) {
		return invalidField(field, "currency "+strconv.Quote(c)+" is not a 3-letter ISO 4217 code")
	}
	return nil
}

// validateProduct checks p's fields that are in ks.
func validateProduct(p *Product, ks keySet) error {
	if ks.has(kPrice) {
		if err := checkMoney("price", p.Price); err != nil {
			return err
		}
	}
	if ks.has(kQuantity) && p.Quantity < 0 {
		return invalidField("quantity", "negative quantity "+strconv.Itoa(p.Quantity))
	}
	if ks.has(kPosition) && p.Position < 0 {
		return invalidField("position", "negative position "+strconv.Itoa(p.Position))
	}
	return nil
}

// validateProducts checks every product, naming the failing one "products[i].field".
func validateProducts(ps []Product, elem keySet) error {
	for i := range ps {
		if err := validateProduct(&ps[i], elem); err != nil {
			var fe *fieldError
			if !errors.As(err, &fe) {
				return err
			}
			return &fieldError{Field: "products" + indexPath(i) + "." + fe.Field, Err: fe.Err}
		}
	}
	return nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func asciiUpper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}
