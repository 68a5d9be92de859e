// Package ecomspec is the Segment Ecommerce Events v2 spec as data
// (https://segment.com/docs/connections/spec/ecommerce/v2/): the 28 events,
// the properties each one lists and their JSON types. It is the one table
// the analytics encoder, its collision rule, analyticstest's validator and
// docs/ecommerce.md derive from; adding an event is one Event constant and
// one row of events.
package ecomspec

import "strings"

// Type is the JSON type a property must have.
type Type uint8

// The JSON types of the spec's properties.
const (
	String         Type = iota + 1
	Number              // money and counts
	StringOrObject      // query: a string or an object
	Products            // an array of product objects
	TypeValues          // an array of {"type", "value"} string objects: filters, sorts
)

// String names the type for people ("a string", ...).
func (t Type) String() string {
	return [...]string{"?", "a string", "a number", "a string or an object", "an array of product objects",
		"an array of {type, value} objects"}[min(int(t), 5)]
}

// Key is a property name of the spec.
type Key uint8

// The spec's property names.
const (
	Query Key = iota
	ListID
	Category
	Filters
	Sorts
	ProductsKey
	PromotionID
	Creative
	Name
	Position
	ProductID
	SKU
	Brand
	Variant
	Price
	Quantity
	Coupon
	URL
	ImageURL
	Currency
	Value
	CartID
	CheckoutID
	OrderID
	Affiliation
	Subtotal
	Total
	Revenue
	Shipping
	Tax
	Discount
	Step
	ShippingMethod
	PaymentMethod
	CouponID
	CouponName
	Reason
	WishlistID
	WishlistName
	ShareVia
	ShareMessage
	Recipient
	ReviewID
	ReviewBody
	Rating
	PromotionPosition // "position" of a promotion: a string, unlike a product's
	NumKeys
)

// keys gives each Key its JSON name and type.
var keys = [NumKeys]struct {
	name string
	typ  Type
}{
	Query: {"query", StringOrObject}, ListID: {"list_id", String}, Category: {"category", String},
	Filters: {"filters", TypeValues}, Sorts: {"sorts", TypeValues}, ProductsKey: {"products", Products},
	PromotionID: {"promotion_id", String}, Creative: {"creative", String}, Name: {"name", String},
	Position: {"position", Number}, ProductID: {"product_id", String}, SKU: {"sku", String},
	Brand: {"brand", String}, Variant: {"variant", String}, Price: {"price", Number},
	Quantity: {"quantity", Number}, Coupon: {"coupon", String}, URL: {"url", String},
	ImageURL: {"image_url", String}, Currency: {"currency", String}, Value: {"value", Number},
	CartID: {"cart_id", String}, CheckoutID: {"checkout_id", String}, OrderID: {"order_id", String},
	Affiliation: {"affiliation", String}, Subtotal: {"subtotal", Number}, Total: {"total", Number},
	Revenue: {"revenue", Number}, Shipping: {"shipping", Number}, Tax: {"tax", Number},
	Discount: {"discount", Number}, Step: {"step", Number}, ShippingMethod: {"shipping_method", String},
	PaymentMethod: {"payment_method", String}, CouponID: {"coupon_id", String},
	CouponName: {"coupon_name", String}, Reason: {"reason", String}, WishlistID: {"wishlist_id", String},
	WishlistName: {"wishlist_name", String}, ShareVia: {"share_via", String},
	ShareMessage: {"share_message", String}, Recipient: {"recipient", String},
	ReviewID: {"review_id", String}, ReviewBody: {"review_body", String}, Rating: {"rating", String},
	PromotionPosition: {"position", String},
}

// quoted holds each key as written in JSON with its colon: `"product_id":`.
var quoted = func() (q [NumKeys]string) {
	for k := range q {
		q[k] = `"` + keys[k].name + `":`
	}
	return q
}()

// Name returns the key's JSON name, e.g. "product_id".
func (k Key) Name() string { return keys[k].name }

// Quoted returns the key as written in JSON with its colon: `"product_id":`.
func (k Key) Quoted() string { return quoted[k] }

// Type returns the JSON type the spec gives the key.
func (k Key) Type() Type { return keys[k].typ }

// Set is a set of keys.
type Set uint64

// Of returns the set of ks.
func Of(ks ...Key) Set {
	var s Set
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

// Has reports whether k is in s.
func (s Set) Has(k Key) bool { return s&(1<<k) != 0 }

// Named returns the key of s whose JSON name is name. Names are unique
// within an event, not across events ("position").
func (s Set) Named(name string) (Key, bool) {
	for k := range NumKeys {
		if s.Has(k) && keys[k].name == name {
			return k, true
		}
	}
	return 0, false
}

// ProductFields returns the 12 properties of a product.
func ProductFields() Set { return productFields }

var productFields = Of(ProductID, SKU, Category, Name, Brand, Variant, Price, Quantity, Coupon, Position, URL, ImageURL)

// Event is one of the spec's events.
type Event uint8

// The events, in the spec's order.
const (
	ProductsSearched Event = iota + 1
	ProductListViewed
	ProductListFiltered
	PromotionViewed
	PromotionClicked
	ProductClicked
	ProductViewed
	ProductAdded
	ProductRemoved
	CartViewed
	CheckoutStarted
	CheckoutStepViewed
	CheckoutStepCompleted
	PaymentInfoEntered
	OrderUpdated
	OrderCompleted
	OrderRefunded
	OrderCancelled
	CouponEntered
	CouponApplied
	CouponDenied
	CouponRemoved
	ProductAddedToWishlist
	ProductRemovedFromWishlist
	WishlistProductAddedToCart
	ProductShared
	CartShared
	ProductReviewed
	numEvents
)

// row is an event of the spec: its exact name, the properties its table
// lists, the properties of the elements of its "products" array (the 12
// product fields unless said), and whether it happens once per order (its
// messageId may then derive from order_id).
type row struct {
	name         string
	keys         Set
	productKeys  Set
	oncePerOrder bool
}

var (
	order     = Of(OrderID, Affiliation, Revenue, Shipping, Tax, Discount, Coupon, Currency, ProductsKey)
	completed = order | Of(CheckoutID, Subtotal, Total)
	step      = Of(CheckoutID, Step, ShippingMethod, PaymentMethod)
	promotion = Of(PromotionID, Creative, Name, PromotionPosition)
	coupon    = Of(OrderID, CartID, CouponID)
	wishlist  = productFields | Of(WishlistID, WishlistName)
	share     = Of(ShareVia, ShareMessage, Recipient)
	list      = Of(ListID, Category, ProductsKey)
)

// events is the spec: one row per event.
var events = [numEvents]row{
	ProductsSearched:           {name: "Products Searched", keys: Of(Query)},
	ProductListViewed:          {name: "Product List Viewed", keys: list},
	ProductListFiltered:        {name: "Product List Filtered", keys: list | Of(Filters, Sorts)},
	PromotionViewed:            {name: "Promotion Viewed", keys: promotion},
	PromotionClicked:           {name: "Promotion Clicked", keys: promotion},
	ProductClicked:             {name: "Product Clicked", keys: productFields},
	ProductViewed:              {name: "Product Viewed", keys: productFields | Of(Currency, Value)},
	ProductAdded:               {name: "Product Added", keys: productFields | Of(CartID)},
	ProductRemoved:             {name: "Product Removed", keys: productFields | Of(CartID)},
	CartViewed:                 {name: "Cart Viewed", keys: Of(CartID, ProductsKey)},
	CheckoutStarted:            {name: "Checkout Started", keys: order | Of(Value)},
	CheckoutStepViewed:         {name: "Checkout Step Viewed", keys: step},
	CheckoutStepCompleted:      {name: "Checkout Step Completed", keys: step},
	PaymentInfoEntered:         {name: "Payment Info Entered", keys: step | Of(OrderID)},
	OrderUpdated:               {name: "Order Updated", keys: order | Of(Total)},
	OrderCompleted:             {name: "Order Completed", keys: completed, oncePerOrder: true},
	OrderRefunded:              {name: "Order Refunded", keys: completed, oncePerOrder: true},
	OrderCancelled:             {name: "Order Cancelled", keys: order | Of(Total), oncePerOrder: true},
	CouponEntered:              {name: "Coupon Entered", keys: coupon},
	CouponApplied:              {name: "Coupon Applied", keys: coupon | Of(CouponName, Discount)},
	CouponDenied:               {name: "Coupon Denied", keys: coupon | Of(CouponName, Reason)},
	CouponRemoved:              {name: "Coupon Removed", keys: coupon | Of(CouponName, Discount)},
	ProductAddedToWishlist:     {name: "Product Added to Wishlist", keys: wishlist},
	ProductRemovedFromWishlist: {name: "Product Removed from Wishlist", keys: wishlist},
	WishlistProductAddedToCart: {name: "Wishlist Product Added to Cart", keys: wishlist | Of(CartID)},
	ProductShared:              {name: "Product Shared", keys: share | productFields&^Of(Quantity, Coupon, Position)},
	CartShared:                 {name: "Cart Shared", keys: share | Of(CartID, ProductsKey), productKeys: Of(ProductID)},
	ProductReviewed:            {name: "Product Reviewed", keys: Of(ProductID, ReviewID, ReviewBody, Rating)},
}

// Events returns every event, in the spec's order.
func Events() []Event {
	es := make([]Event, 0, numEvents-1)
	for e := ProductsSearched; e < numEvents; e++ {
		es = append(es, e)
	}
	return es
}

// Lookup returns the event named name ("Order Completed").
func Lookup(name string) (Event, bool) {
	for e := ProductsSearched; e < numEvents; e++ {
		if events[e].name == name {
			return e, true
		}
	}
	return 0, false
}

// Name returns the spec's exact event name.
func (e Event) Name() string { return events[e].name }

// Keys returns the properties of e's spec table.
func (e Event) Keys() Set { return events[e].keys }

// ProductKeys returns the properties of the elements of e's products array.
func (e Event) ProductKeys() Set {
	if s := events[e].productKeys; s != 0 {
		return s
	}
	return productFields
}

// OncePerOrder reports whether e happens once per order (Order Completed,
// Refunded, Cancelled): its messageId may derive from order_id.
func (e Event) OncePerOrder() bool { return events[e].oncePerOrder }

// V1Name reports whether k is a spelling of a v2 property that
// analytics-go v3 and the v1 spec used ("id", "sky", "orderId", "productId"),
// which a strict collector refuses, and returns the v2 name.
func V1Name(k string) (v2 string, ok bool) {
	switch k {
	case "id":
		return "product_id or order_id", true
	case "sky":
		return "sku", true
	case "orderId":
		return "order_id", true
	case "productId":
		return "product_id", true
	}
	return "", false
}

// SnakeCase returns camelCase k in snake_case ("imageUrl": "image_url"),
// or "" when k has no upper-case ASCII letter.
func SnakeCase(k string) string {
	if !strings.ContainsAny(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		return ""
	}
	var b strings.Builder
	for i := range len(k) {
		if c := k[i]; 'A' <= c && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
