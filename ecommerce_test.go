package analytics

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tracklane/analytics/internal/ecomspec"
	"github.com/tracklane/analytics/internal/jsonw"
)

// encodeEcom encodes tr (with a user id when it has none) and returns the wire bytes.
func encodeEcom(t testing.TB, tr Track) []byte {
	t.Helper()
	if tr.UserID == "" && tr.AnonymousID == "" {
		tr.UserID = "019mr8mf4r"
	}
	data, _, err := encodeMessage(tr, testStamp())
	require.NoError(t, err, "encode %q", tr.Event)
	return data
}

// propsOf encodes tr and returns its decoded message and properties.
func propsOf(t testing.TB, tr Track) (msg, props map[string]any) {
	t.Helper()
	data := encodeEcom(t, tr)
	require.NoError(t, json.Unmarshal(data, &msg), "encoded message is not JSON: %s", data)
	props, ok := msg["properties"].(map[string]any)
	require.True(t, ok, "no properties object in %s", data)
	return msg, props
}

// Spec example values, shared by the golden cases.
const (
	exURL   = "https://www.example.com/product/path"
	exImage = "https://www.example.com/product/path.jpg"
	exOrder = "50314b8e9bcf000000000000"
)

var (
	exMonopoly = Product{ProductID: "507f1f77bcf86cd799439011", SKU: "G-32", Category: "Games",
		Name: "Monopoly: 3rd Edition", Brand: "Hasbro", Variant: "200 pieces", Price: 18.99, Quantity: 1,
		Coupon: "MAYDEALS", Position: 3, URL: exURL, ImageURL: exImage}
	exListProducts = []Product{
		{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: 19,
			Position: 1, Category: "Games", URL: exURL, ImageURL: exImage},
		{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: 3,
			Position: 2, Category: "Games"},
	}
	exOrderProducts = []Product{
		{ProductID: "507f1f77bcf86cd799439011", SKU: "45790-32", Name: "Monopoly: 3rd Edition", Price: 19,
			Quantity: 1, Category: "Games", URL: exURL, ImageURL: exImage},
		{ProductID: "505bd76785ebb509fc183733", SKU: "46493-32", Name: "Uno Card Game", Price: 3,
			Quantity: 2, Category: "Games"},
	}
	exWishlist = Wishlist{WishlistID: "skdjsidjsdkdj29j", WishlistName: "Loved Games"}
	exShare    = Share{Via: "email", Message: "Hey, check out this item", Recipient: "friend@example.com"}
)

// goldenCases feeds each constructor the example of its event on
// https://segment.com/docs/connections/spec/ecommerce/v2/;
// testdata/ecommerce/<file>.json is what the spec's example sends (with the spec's corrections: upper-case currency, coupon_id
// in Coupon Denied, Order Completed money as of 2024-04).
func goldenCases() []struct {
	file, event string
	track       Track
} {
	return []struct {
		file, event string
		track       Track
	}{
		{"products_searched", "Products Searched", ProductsSearched(Search{Query: "blue roses"})},
		{"product_list_viewed", "Product List Viewed", ProductListViewed(ProductList{
			ListID: "hot_deals_1", Category: "Deals", Products: exListProducts})},
		{"product_list_filtered", "Product List Filtered", ProductListFiltered(ProductList{
			ListID:  "todays_deals_may_11_2019",
			Filters: []Filter{{Type: "department", Value: "beauty"}, {Type: "price", Value: "under-$25"}},
			Sorts:   []Sort{{Type: "price", Value: "desc"}},
			Products: []Product{
				{ProductID: "507f1f77bcf86cd798439011", SKU: "45360-32", Name: "Special Facial Soap", Price: 12.60,
					Position: 1, Category: "Beauty", URL: exURL, ImageURL: exImage},
				{ProductID: "505bd76785ebb509fc283733", SKU: "46573-32", Name: "Fancy Hairbrush", Price: 7.60,
					Position: 2, Category: "Beauty"},
			}})},
		{"promotion_viewed", "Promotion Viewed", PromotionViewed(Promotion{PromotionID: "promo_1",
			Creative: "top_banner_2", Name: "75% store-wide shoe sale", Position: "home_banner_top"})},
		{"promotion_clicked", "Promotion Clicked", PromotionClicked(Promotion{PromotionID: "promo_1",
			Creative: "top_banner_2", Name: "75% store-wide shoe sale", Position: "home_banner_top"})},
		{"product_clicked", "Product Clicked", ProductClicked(exMonopoly)},
		{"product_viewed", "Product Viewed", ProductViewed(exMonopoly, ProductValue{Currency: "usd", Value: 18.99})},
		{"product_added", "Product Added", ProductAdded("skdjsidjsdkdj29j", exMonopoly)},
		{"product_removed", "Product Removed", ProductRemoved("ksjdj92dj29dj92d2j", exMonopoly)},
		{"cart_viewed", "Cart Viewed", CartViewed(Cart{CartID: "d92jd29jd92jd29j92d92jd", Products: exListProducts})},
		{"checkout_started", "Checkout Started", CheckoutStarted(Order{OrderID: exOrder, Affiliation: "Google Store",
			Value: 30, Revenue: 25.00, Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "USD",
			Products: exOrderProducts})},
		{"checkout_step_viewed", "Checkout Step Viewed", CheckoutStepViewed(CheckoutStep{CheckoutID: exOrder,
			Step: 2, ShippingMethod: "Fedex", PaymentMethod: "Visa"})},
		{"checkout_step_completed", "Checkout Step Completed", CheckoutStepCompleted(CheckoutStep{CheckoutID: exOrder,
			Step: 2, ShippingMethod: "Fedex", PaymentMethod: "Visa"})},
		{"payment_info_entered", "Payment Info Entered", PaymentInfoEntered(CheckoutStep{
			CheckoutID: "39f39fj39f3jf93fj9fj39fj3f", OrderID: "dkfsjidfjsdifsdfksdjfkdsfjsdfkdsf"})},
		{"order_updated", "Order Updated", OrderUpdated(Order{OrderID: exOrder, Affiliation: "Google Store",
			Total: 27.50, Revenue: 25.00, Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "USD",
			Products: exOrderProducts})},
		{"order_completed", "Order Completed", OrderCompleted(Order{CheckoutID: "fksdjfsdjfisjf9sdfjsd9f",
			OrderID: exOrder, Affiliation: "Google Store", Subtotal: 22.50, Total: 27.50, Revenue: 22.50,
			Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "USD", Products: exOrderProducts})},
		{"order_refunded", "Order Refunded", OrderRefunded(Order{OrderID: exOrder, Total: 30, Currency: "USD",
			Products: exOrderProducts})},
		{"order_cancelled", "Order Cancelled", OrderCancelled(Order{OrderID: exOrder, Affiliation: "Google Store",
			Total: 30, Revenue: 25.00, Shipping: 3, Tax: 2, Discount: 2.5, Coupon: "hasbros", Currency: "USD",
			Products: exOrderProducts})},
		{"coupon_entered", "Coupon Entered", CouponEntered(Coupon{OrderID: exOrder,
			CartID: "923923929jd29jd92dj9j93fj3", CouponID: "may_deals_2016"})},
		{"coupon_applied", "Coupon Applied", CouponApplied(Coupon{OrderID: exOrder,
			CartID: "923923929jd29jd92dj9j93fj3", CouponID: "may_deals_2016", CouponName: "May Deals 2016",
			Discount: 23.32})},
		{"coupon_denied", "Coupon Denied", CouponDenied(Coupon{OrderID: exOrder,
			CartID: "923923929jd29jd92dj9j93fj3", CouponID: "may_deals_2016", Reason: "Coupon expired"})},
		{"coupon_removed", "Coupon Removed", CouponRemoved(Coupon{OrderID: exOrder,
			CartID: "923923929jd29jd92dj9j93fj3", CouponID: "may_deals_2016", CouponName: "May Deals 2016",
			Discount: 23.32})},
		{"product_added_to_wishlist", "Product Added to Wishlist", ProductAddedToWishlist(exWishlist, exMonopoly)},
		{"product_removed_from_wishlist", "Product Removed from Wishlist", ProductRemovedFromWishlist(exWishlist, exMonopoly)},
		{"wishlist_product_added_to_cart", "Wishlist Product Added to Cart",
			WishlistProductAddedToCart(exWishlist, "99j2d92j9dj29dj29d2d", exMonopoly)},
		{"product_shared", "Product Shared", ProductShared(exShare, exMonopoly)},
		{"cart_shared", "Cart Shared", CartShared(exShare, Cart{CartID: "d92jd29jd92jd29j92d92jd",
			Products: []Product{{ProductID: "507f1f77bcf86cd799439011"}, {ProductID: "505bd76785ebb509fc183733"}}})},
		{"product_reviewed", "Product Reviewed", ProductReviewed(Review{ProductID: "507f1f77bcf86cd799439011",
			ReviewID: "kdfjrj39fj39jf3", ReviewBody: "I love this product", Rating: "5"})},
	}
}

func TestEcommerceGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range goldenCases() {
		t.Run(tc.file, func(t *testing.T) {
			assert.Equal(t, tc.event, tc.track.Event)
			seen[tc.track.Event] = true

			raw, err := os.ReadFile(filepath.Join("testdata", "ecommerce", tc.file+".json"))
			require.NoError(t, err)
			var want map[string]any
			require.NoError(t, json.Unmarshal(raw, &want))
			msg, got := propsOf(t, tc.track)
			assert.Equal(t, "track", msg["type"])
			assert.Equal(t, tc.event, msg["event"])
			// Equal on decoded JSON compares types too: a string "19" or a
			// number position 3 vs "3" fails here.
			assert.Equal(t, want, got)
			// Every sent key is one of the event's spec table.
			for k := range got {
				assert.True(t, tc.track.typed.emits(k), "sent %q, which is not in the %s table", k, tc.event)
			}
		})
	}
	assert.Len(t, seen, len(ecomspec.Events()), "one golden case per event")
}

// fullProduct sets every one of the 12 product fields.
var fullProduct = Product{ProductID: "p1", SKU: "s1", Category: "c", Name: "n", Brand: "b", Variant: "v",
	Price: 1.5, Quantity: 2, Coupon: "cp", Position: 1, URL: "u", ImageURL: "i"}

// TestEcommerceTables fills every field of every input and checks that each
// of the spec's 28 events sends exactly the keys of its table on the Segment
// page, written out here again (independently of internal/ecomspec) so that
// a slip in the table is caught.
func TestEcommerceTables(t *testing.T) {
	product := []string{"product_id", "sku", "category", "name", "brand", "variant", "price", "quantity",
		"coupon", "position", "url", "image_url"}
	productShared := []string{"product_id", "sku", "category", "name", "brand", "variant", "price", "url", "image_url"}
	order := Order{OrderID: "o", CheckoutID: "c", Affiliation: "a", Subtotal: 1, Total: 2, Revenue: 3,
		Value: 4, Shipping: 5, Tax: 6, Discount: 7, Coupon: "cp", Currency: "eur", Products: []Product{fullProduct}}
	step := CheckoutStep{CheckoutID: "c", OrderID: "o", Step: 1, ShippingMethod: "s", PaymentMethod: "p"}
	coupon := Coupon{OrderID: "o", CartID: "c", CouponID: "id", CouponName: "n", Discount: 1, Reason: "r"}
	list := ProductList{ListID: "l", Category: "c", Products: []Product{fullProduct},
		Filters: []Filter{{"t", "v"}}, Sorts: []Sort{{"t", "v"}}}
	promo := Promotion{PromotionID: "p", Creative: "c", Name: "n", Position: "top"}
	cart := Cart{CartID: "c", Products: []Product{fullProduct}}
	with := func(base []string, extra ...string) []string { return append(slices.Clone(base), extra...) }

	cases := []struct {
		track Track
		keys  []string
	}{
		{ProductsSearched(Search{Query: "q"}), []string{"query"}},
		{ProductListViewed(list), []string{"list_id", "category", "products"}},
		{ProductListFiltered(list), []string{"list_id", "category", "filters", "sorts", "products"}},
		{PromotionViewed(promo), []string{"promotion_id", "creative", "name", "position"}},
		{PromotionClicked(promo), []string{"promotion_id", "creative", "name", "position"}},
		{ProductClicked(fullProduct), product},
		{ProductViewed(fullProduct, ProductValue{Currency: "USD", Value: 3}), with(product, "currency", "value")},
		{ProductAdded("c", fullProduct), with(product, "cart_id")},
		{ProductRemoved("c", fullProduct), with(product, "cart_id")},
		{CartViewed(cart), []string{"cart_id", "products"}},
		{CheckoutStarted(order), []string{"order_id", "affiliation", "value", "revenue", "shipping", "tax",
			"discount", "coupon", "currency", "products"}},
		{CheckoutStepViewed(step), []string{"checkout_id", "step", "shipping_method", "payment_method"}},
		{CheckoutStepCompleted(step), []string{"checkout_id", "step", "shipping_method", "payment_method"}},
		{PaymentInfoEntered(step), []string{"checkout_id", "order_id", "step", "shipping_method", "payment_method"}},
		{OrderUpdated(order), []string{"order_id", "affiliation", "total", "revenue", "shipping", "tax",
			"discount", "coupon", "currency", "products"}},
		{OrderCompleted(order), []string{"checkout_id", "order_id", "affiliation", "subtotal", "total", "revenue",
			"shipping", "tax", "discount", "coupon", "currency", "products"}},
		{OrderRefunded(order), []string{"checkout_id", "order_id", "affiliation", "subtotal", "total", "revenue",
			"shipping", "tax", "discount", "coupon", "currency", "products"}},
		{OrderCancelled(order), []string{"order_id", "affiliation", "total", "revenue", "shipping", "tax",
			"discount", "coupon", "currency", "products"}},
		{CouponEntered(coupon), []string{"order_id", "cart_id", "coupon_id"}},
		{CouponApplied(coupon), []string{"order_id", "cart_id", "coupon_id", "coupon_name", "discount"}},
		{CouponDenied(coupon), []string{"order_id", "cart_id", "coupon_id", "coupon_name", "reason"}},
		{CouponRemoved(coupon), []string{"order_id", "cart_id", "coupon_id", "coupon_name", "discount"}},
		{ProductAddedToWishlist(exWishlist, fullProduct), with(product, "wishlist_id", "wishlist_name")},
		{ProductRemovedFromWishlist(exWishlist, fullProduct), with(product, "wishlist_id", "wishlist_name")},
		{WishlistProductAddedToCart(exWishlist, "c", fullProduct), with(product, "wishlist_id", "wishlist_name", "cart_id")},
		{ProductShared(exShare, fullProduct), with(productShared, "share_via", "share_message", "recipient")},
		{CartShared(exShare, cart), []string{"share_via", "share_message", "recipient", "cart_id", "products"}},
		{ProductReviewed(Review{ProductID: "p", ReviewID: "r", ReviewBody: "b", Rating: "4"}),
			[]string{"product_id", "review_id", "review_body", "rating"}},
	}
	for _, tc := range cases {
		t.Run(tc.track.Event, func(t *testing.T) {
			_, props := propsOf(t, tc.track)
			assert.ElementsMatch(t, tc.keys, slices.Collect(maps.Keys(props)))
			// emits is exactly the table, and nothing else.
			for i := range ecomspec.NumKeys {
				k := i.Name()
				assert.Equal(t, slices.Contains(tc.keys, k), tc.track.typed.emits(k), "emits(%q)", k)
			}
			assert.False(t, tc.track.typed.emits("color"))
		})
	}
}

// TestEcommerceJSONTypes checks the types the spec singles out.
func TestEcommerceJSONTypes(t *testing.T) {
	_, p := propsOf(t, PromotionViewed(Promotion{Position: "home_banner_top"}))
	assert.Equal(t, "home_banner_top", p["position"], "promotion position is a string")
	_, p = propsOf(t, ProductClicked(Product{ProductID: "x", Position: 3}))
	assert.Equal(t, 3.0, p["position"], "product position is a number")
	_, p = propsOf(t, ProductReviewed(Review{Rating: "5"}))
	assert.Equal(t, "5", p["rating"], "rating is a string")
	_, p = propsOf(t, CheckoutStepViewed(CheckoutStep{Step: 2}))
	assert.Equal(t, 2.0, p["step"], "step is a number")
	_, p = propsOf(t, ProductsSearched(Search{QueryObject: Properties{"text": "roses", "color": "blue", "max": 20}}))
	assert.Equal(t, map[string]any{"text": "roses", "color": "blue", "max": 20.0}, p["query"])
	_, p = propsOf(t, ProductsSearched(Search{}))
	assert.Empty(t, p, "empty search")
	// Currency is normalised to upper case.
	_, p = propsOf(t, OrderCompleted(Order{Currency: "eUr"}))
	assert.Equal(t, "EUR", p["currency"])
}

func TestEcommerceZeros(t *testing.T) {
	tests := []struct {
		name  string
		track Track
		want  map[string]any // exact properties
	}{
		{"free product is sent with price 0",
			ProductAdded("c", Product{ProductID: "p", Price: 0}),
			map[string]any{"cart_id": "c", "product_id": "p", "price": 0.0}},
		{"free product identified by sku",
			ProductClicked(Product{SKU: "s"}), map[string]any{"sku": "s", "price": 0.0}},
		{"free product identified by name, in a list",
			CartViewed(Cart{Products: []Product{{Name: "n"}}}),
			map[string]any{"products": []any{map[string]any{"name": "n", "price": 0.0}}}},
		{"anonymous product: no price",
			ProductClicked(Product{Category: "Games"}), map[string]any{"category": "Games"}},
		{"quantity, position and step 0 are not set",
			PaymentInfoEntered(CheckoutStep{CheckoutID: "c", Step: 0}), map[string]any{"checkout_id": "c"}},
		{"zero quantity and position omitted",
			ProductClicked(Product{ProductID: "p", Price: 2, Quantity: 0, Position: 0}),
			map[string]any{"product_id": "p", "price": 2.0}},
		{"order money 0 not sent by default",
			OrderCompleted(Order{OrderID: "o", Total: 0, Revenue: 0, Shipping: 0, Tax: 0, Discount: 0}),
			map[string]any{"order_id": "o"}},
		{"free order with SendZero",
			OrderCompleted(Order{OrderID: "o", Discount: 30, SendZero: ZeroTotal | ZeroRevenue | ZeroSubtotal}),
			map[string]any{"order_id": "o", "subtotal": 0.0, "total": 0.0, "revenue": 0.0, "discount": 30.0}},
		{"free shipping and no tax",
			OrderCompleted(Order{Total: 10, Revenue: 10, SendZero: ZeroShipping | ZeroTax}),
			map[string]any{"total": 10.0, "revenue": 10.0, "shipping": 0.0, "tax": 0.0}},
		{"ZeroAll sends the event's money fields only",
			OrderUpdated(Order{SendZero: ZeroAll}),
			map[string]any{"total": 0.0, "revenue": 0.0, "shipping": 0.0, "tax": 0.0, "discount": 0.0}},
		{"ZeroAll in Checkout Started sends value, not total",
			CheckoutStarted(Order{SendZero: ZeroAll}),
			map[string]any{"value": 0.0, "revenue": 0.0, "shipping": 0.0, "tax": 0.0, "discount": 0.0}},
		{"coupon worth nothing",
			CouponApplied(Coupon{CouponID: "c", SendZero: ZeroDiscount}),
			map[string]any{"coupon_id": "c", "discount": 0.0}},
		{"coupon discount 0 not sent by default",
			CouponRemoved(Coupon{CouponID: "c"}), map[string]any{"coupon_id": "c"}},
		{"product value 0 needs ZeroValue",
			ProductViewed(Product{ProductID: "p", Price: 0}, ProductValue{Currency: "usd"}),
			map[string]any{"product_id": "p", "price": 0.0, "currency": "USD"}},
		{"product value 0 with ZeroValue",
			ProductViewed(Product{ProductID: "p"}, ProductValue{SendZero: ZeroValue}),
			map[string]any{"product_id": "p", "price": 0.0, "value": 0.0}},
		{"nil products not sent", CartViewed(Cart{CartID: "c"}), map[string]any{"cart_id": "c"}},
		{"empty products sent as []", CartViewed(Cart{CartID: "c", Products: []Product{}}),
			map[string]any{"cart_id": "c", "products": []any{}}},
		{"empty filters sent as []", ProductListFiltered(ProductList{Filters: []Filter{}, Sorts: []Sort{{Type: "price"}}}),
			map[string]any{"filters": []any{}, "sorts": []any{map[string]any{"type": "price"}}}},
		{"nothing set sends nothing", OrderCompleted(Order{}), map[string]any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := propsOf(t, tc.track)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestEcommerceNegativeZero(t *testing.T) {
	negZero := math.Copysign(0, -1)
	data := encodeEcom(t, OrderCompleted(Order{Total: negZero, Tax: negZero, SendZero: ZeroTotal,
		Products: []Product{{ProductID: "p", Price: negZero}}}))
	assert.NotContains(t, string(data), "-0", "-0 sent as is")
	assert.Contains(t, string(data), `"total":0,`)
	assert.Contains(t, string(data), `"price":0}`)
	assert.NotContains(t, string(data), `"tax"`, "-0 tax without ZeroTax was sent")
}

func TestEcommerceValidation(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	bad := string([]byte{'b', 0xff, 'd'})
	tests := []struct {
		name  string
		track Track
		field string // ValidationError.Field
	}{
		{"negative product price in an order",
			OrderCompleted(Order{Products: []Product{{Price: 1}, {Price: -1}}}), "properties.products[1].price"},
		{"NaN price", ProductAdded("c", Product{Price: nan}), "properties.price"},
		{"+Inf price", ProductClicked(Product{Price: inf}), "properties.price"},
		{"-Inf price", ProductShared(Share{}, Product{Price: -inf}), "properties.price"},
		{"negative quantity", ProductRemoved("c", Product{Quantity: -2}), "properties.quantity"},
		{"negative quantity in a cart", CartViewed(Cart{Products: []Product{{Quantity: -1}}}),
			"properties.products[0].quantity"},
		{"negative position in a list", ProductListViewed(ProductList{Products: []Product{{}, {}, {Position: -1}}}),
			"properties.products[2].position"},
		{"negative position", ProductAddedToWishlist(Wishlist{}, Product{Position: -3}), "properties.position"},
		{"NaN total", OrderCompleted(Order{Total: nan}), "properties.total"},
		{"negative subtotal", OrderRefunded(Order{Subtotal: -5}), "properties.subtotal"},
		{"negative revenue", OrderCancelled(Order{Revenue: -5}), "properties.revenue"},
		{"negative value", CheckoutStarted(Order{Value: -1}), "properties.value"},
		{"Inf shipping", OrderUpdated(Order{Shipping: inf}), "properties.shipping"},
		{"negative tax", CheckoutStarted(Order{Tax: -0.01}), "properties.tax"},
		{"NaN discount", OrderCompleted(Order{Discount: nan}), "properties.discount"},
		{"currency too short", OrderCompleted(Order{Currency: "US"}), "properties.currency"},
		{"currency with a digit", CheckoutStarted(Order{Currency: "US1"}), "properties.currency"},
		{"currency not ASCII", OrderUpdated(Order{Currency: "€UR"}), "properties.currency"},
		{"currency too long", OrderCancelled(Order{Currency: "USDT"}), "properties.currency"},
		{"product value currency", ProductViewed(Product{}, ProductValue{Currency: "dollars"}), "properties.currency"},
		{"product value NaN", ProductViewed(Product{}, ProductValue{Value: nan}), "properties.value"},
		{"negative product value", ProductViewed(Product{}, ProductValue{Value: -1}), "properties.value"},
		{"two product values", ProductViewed(Product{}, ProductValue{}, ProductValue{}), "properties.value"},
		{"negative step", CheckoutStepCompleted(CheckoutStep{Step: -1}), "properties.step"},
		{"negative step, payment", PaymentInfoEntered(CheckoutStep{Step: -2}), "properties.step"},
		{"negative coupon discount", CouponApplied(Coupon{Discount: -3}), "properties.discount"},
		{"NaN coupon discount", CouponRemoved(Coupon{Discount: nan}), "properties.discount"},
		{"query string and object", ProductsSearched(Search{Query: "q", QueryObject: Properties{}}), "properties.query"},
		{"invalid UTF-8 in a product name", OrderCompleted(Order{Products: []Product{{}, {Name: bad}}}),
			"properties.products[1].name"},
		{"invalid UTF-8 in promotion position", PromotionClicked(Promotion{Position: bad}), "properties.position"},
		{"invalid UTF-8 in a filter", ProductListFiltered(ProductList{Filters: []Filter{{Type: "t", Value: bad}}}),
			"properties.filters[0].value"},
		{"invalid UTF-8 in a review", ProductReviewed(Review{ReviewBody: bad}), "properties.review_body"},
		{"NaN in an object query", ProductsSearched(Search{QueryObject: Properties{"max": nan}}), "properties.query.max"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.track
			tr.UserID = "u"
			_, _, err := encodeMessage(tr, testStamp())
			require.ErrorIs(t, err, ErrInvalidValue)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, ValidationError{Type: "track", Event: tr.Event, Field: tc.field}, ValidationError{Type: ve.Type, Event: ve.Event, Field: ve.Field})
			assert.Contains(t, err.Error(), tc.field)
		})
	}
}

// Fields an event does not send are not validated: one Order serves the
// whole funnel.
func TestEcommerceIgnoredFieldsNotValidated(t *testing.T) {
	nan := math.NaN()
	for _, tr := range []Track{
		CheckoutStarted(Order{Total: nan, Subtotal: -1}),
		OrderUpdated(Order{Value: nan, Subtotal: -1}),
		OrderCompleted(Order{Value: -1}),
		CouponDenied(Coupon{Discount: nan}),
		CouponEntered(Coupon{Discount: -1}),
		ProductShared(Share{}, Product{Quantity: -1, Position: -1}),
		CartShared(Share{}, Cart{Products: []Product{{ProductID: "p", Price: nan, Quantity: -1}}}),
	} {
		_, p := propsOf(t, tr)
		for _, k := range []string{"total", "subtotal", "value", "discount", "quantity", "position"} {
			assert.NotContains(t, p, k, "%s sent an ignored field", tr.Event)
		}
	}
	_, p := propsOf(t, CartShared(Share{}, Cart{Products: []Product{{ProductID: "p", Name: "n", Price: 3}}}))
	assert.Equal(t, []any{map[string]any{"product_id": "p"}}, p["products"], "Cart Shared products: ids only")
}

func TestEcommerceCustomProperties(t *testing.T) {
	t.Run("merged after the typed ones", func(t *testing.T) {
		tr := ProductAdded("c1", Product{ProductID: "p", Price: 2})
		tr.Properties = Properties{"gift_wrap": true, "color": "red"}
		data := encodeEcom(t, tr)
		assert.Contains(t, string(data), `"properties":{"cart_id":"c1","product_id":"p","price":2,"color":"red","gift_wrap":true}`)
	})
	t.Run("a key outside the table is free", func(t *testing.T) {
		tr := CheckoutStarted(Order{OrderID: "o", Value: 30})
		tr.Properties = Properties{"total": 32.5, "price": 1} // not in Checkout Started's table
		_, p := propsOf(t, tr)
		assert.Equal(t, map[string]any{"order_id": "o", "total": 32.5, "value": 30.0, "price": 1.0}, p)
	})
	conflicts := []struct {
		name  string
		track Track
		key   string
	}{
		{"typed value sent", ProductAdded("c", Product{ProductID: "p", Price: 2}), "price"},
		{"typed value not sent", ProductAdded("c", Product{ProductID: "p"}), "coupon"},
		{"top-level key of an order", OrderCompleted(Order{}), "order_id"},
		{"products of an order", OrderCompleted(Order{}), "products"},
		{"currency of Product Viewed without a ProductValue", ProductViewed(Product{}), "currency"},
		{"query", ProductsSearched(Search{}), "query"},
		{"rating", ProductReviewed(Review{}), "rating"},
	}
	for _, tc := range conflicts {
		t.Run("conflict: "+tc.name, func(t *testing.T) {
			tr := tc.track
			tr.UserID = "u"
			tr.Properties = Properties{"aaa": 1, tc.key: "x"}
			_, _, err := encodeMessage(tr, testStamp())
			require.ErrorIs(t, err, ErrPropertyConflict)
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, "properties."+tc.key, ve.Field)
			assert.Equal(t, tr.Event, ve.Event)
		})
	}
}

func TestEcommerceOrderID(t *testing.T) {
	o := Order{OrderID: "o-1"}
	for _, tc := range []struct {
		track Track
		want  string
	}{
		{OrderCompleted(o), "o-1"}, {OrderRefunded(o), "o-1"}, {OrderCancelled(o), "o-1"},
		{OrderUpdated(o), ""}, {CheckoutStarted(o), ""},
		{PaymentInfoEntered(CheckoutStep{OrderID: "o-1"}), ""},
		{CouponApplied(Coupon{OrderID: "o-1"}), ""},
		{ProductClicked(Product{}), ""},
	} {
		assert.Equal(t, tc.want, tc.track.typed.orderID(), tc.track.Event)
	}

	// With order message ids, the same order event gets the same messageId.
	s := testStamp()
	s.orderIDs = true
	tr := OrderCompleted(o)
	tr.UserID = "u"
	_, id1, err := encodeMessage(tr, s)
	require.NoError(t, err)
	assert.Equal(t, orderMessageID("Order Completed", "o-1"), id1, "the order-derived id")
	tr2 := OrderCompleted(Order{OrderID: "o-1", Total: 3})
	tr2.AnonymousID = "a"
	_, id2, _ := encodeMessage(tr2, s)
	assert.Equal(t, id1, id2, "second encode")
	tr3 := OrderRefunded(o)
	tr3.UserID = "u"
	_, id3, _ := encodeMessage(tr3, s)
	assert.NotEqual(t, id1, id3, "Order Refunded shares Order Completed's messageId")
}

// FullOrder is an Order Completed input with three fully filled products.
// It and GoldenTracks are exported to the analytics_test package (this file
// is compiled only with the tests).
func FullOrder() Order {
	p := func(id string) Product {
		return Product{ProductID: "507f1f77bcf86cd79943" + id, SKU: "45790-" + id, Category: "Games",
			Name: "Monopoly: 3rd Edition", Brand: "Hasbro", Variant: "200 pieces", Price: 18.99, Quantity: 2,
			Coupon: "MAYDEALS", Position: 3, URL: exURL, ImageURL: exImage}
	}
	return Order{CheckoutID: "fksdjfsdjfisjf9sdfjsd9f", OrderID: exOrder,
		Affiliation: "Google Store", Subtotal: 22.50, Total: 27.50, Revenue: 22.50, Shipping: 3, Tax: 2,
		Discount: 2.5, Coupon: "hasbros", Currency: "USD",
		Products: []Product{p("9011"), p("9012"), p("9013")}}
}

// GoldenTracks returns the Track of every golden case: one per event.
func GoldenTracks() []Track {
	var ts []Track
	for _, tc := range goldenCases() {
		ts = append(ts, tc.track)
	}
	return ts
}

// fullOrder is FullOrder as a Track with a user.
func fullOrder() Track {
	tr := OrderCompleted(FullOrder())
	tr.UserID = "019mr8mf4r"
	return tr
}

// The typed properties encode and validate without allocating.
func TestEcommerceEncodeAllocs(t *testing.T) {
	tr := fullOrder()
	w := &jsonw.Writer{Buf: make([]byte, 0, 4096)}
	w.Reset(w.Buf)
	allocs := testing.AllocsPerRun(100, func() {
		w.Reset(w.Buf)
		w.ObjectStart()
		tr.typed.encodeProperties(w)
		w.ObjectEnd()
	})
	require.NoError(t, w.Err())
	assert.Zero(t, allocs, "encodeProperties allocates")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = tr.typed.validate() }), "validate allocates")

	// The whole message (encodeMessage) is measured by
	// BenchmarkEncodeOrderCompleted: its one allocation is the returned
	// copy. It is not asserted here because under -race sync.Pool drops
	// pooled writers at random.
}

func BenchmarkEncodeOrderCompleted(b *testing.B) {
	tr := fullOrder()
	s := testStamp()
	data, _, err := encodeMessage(&tr, s)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := encodeMessage(&tr, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildAndEncodeOrderCompleted includes the constructor, as a
// handler pays it.
func BenchmarkBuildAndEncodeOrderCompleted(b *testing.B) {
	o := FullOrder()
	s := testStamp()
	b.ReportAllocs()
	for b.Loop() {
		tr := OrderCompleted(o)
		tr.UserID = "019mr8mf4r"
		if _, _, err := encodeMessage(tr, s); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCustomV1AndCamelCaseSpellingsConflict(t *testing.T) {
	for _, k := range []string{"orderId", "id", "sky", "productId", "checkoutId"} {
		ev := OrderCompleted(Order{OrderID: "o1"})
		ev.UserID = "u"
		ev.Properties = Properties{k: "x"}
		_, _, err := encodeMessage(ev, testStamp())
		assert.ErrorIs(t, err, ErrPropertyConflict, k)
	}
	ev := OrderCompleted(Order{OrderID: "o1"})
	ev.UserID = "u"
	ev.Properties = Properties{"giftWrap": true, "cartId": "c1"} // not in Order Completed's table
	_, _, err := encodeMessage(ev, testStamp())
	assert.NoError(t, err, "custom keys outside the table are free")
}

// TestMemberOffsets checks every member of every shape against the Go
// field its doc names, reached by reflect: a distinct value set there is
// the value the member's offset and kind read, a money member's 0 is sent
// by its own SendZero bit and no other (a price: by the product's
// identity), and each event writes exactly the members of its table.
func TestMemberOffsets(t *testing.T) {
	checkMembers(t, productShape)
	checkMembers(t, cartShape)
	checkMembers(t, orderShape)
	checkMembers(t, stepShape)
	checkMembers(t, couponShape)
	checkMembers(t, listShape)
	checkMembers(t, promotionShape)
	checkMembers(t, reviewShape)
	checkMembers(t, searchShape)
}

func checkMembers[T any](t *testing.T, s *shape[T]) {
	var v T
	base := unsafe.Pointer(&v)
	require.Len(t, s.docs, len(s.all))
	for i, m := range s.all {
		v = *new(T) // each member alone: a price's product is not identified by another member's value
		doc := s.docs[i].doc
		in, f := fieldByDoc(t, reflect.ValueOf(&v).Elem(), doc)
		p := unsafe.Add(base, m.off)
		assert.Equal(t, ","+m.key.Quoted(), m.qk.String(), doc)
		switch m.kind {
		case kString, kCurrency:
			f.SetString(doc)
			assert.Equal(t, doc, *(*string)(p), doc)
			assert.Equal(t, m.key == ecomspec.Currency, m.kind == kCurrency, doc)
		case kCount:
			f.SetInt(int64(i + 1))
			assert.Equal(t, i+1, *(*int)(p), doc)
		case kMoney:
			f.SetFloat(float64(i) + 0.25)
			assert.Equal(t, float64(i)+0.25, *(*float64)(p), doc)
			assert.False(t, m.zeroSent(base), doc)
			if m.key == ecomspec.Price {
				in.FieldByName("ProductID").SetString("p")
				assert.True(t, m.zeroSent(base), doc)
				in.FieldByName("ProductID").SetString("")
				continue
			}
			z := in.FieldByName("SendZero")
			z.SetUint(uint64(ZeroAll &^ m.zero))
			assert.False(t, m.zeroSent(base), doc)
			z.SetUint(uint64(m.zero))
			assert.True(t, m.zeroSent(base), doc)
			z.SetUint(0)
		case kProducts:
			f.Set(reflect.ValueOf([]Product{{Name: doc}}))
			assert.Equal(t, doc, (*(*[]Product)(p))[0].Name, doc)
		case kTypeValues:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
			f.Index(0).FieldByName("Type").SetString(doc)
			f.Index(0).FieldByName("Value").SetString(doc + "!")
			assert.Equal(t, []Filter{{doc, doc + "!"}}, *(*[]Filter)(p), doc)
		case kQuery:
			assert.Equal(t, in.Addr().UnsafePointer(), p, doc)
		default:
			t.Errorf("%s: kind %d", doc, m.kind)
		}
	}
	for _, ev := range ecomspec.Events() {
		var want []member
		for _, m := range s.all {
			if ev.Keys().Has(m.key) {
				want = append(want, m)
			}
		}
		require.Len(t, s.events[ev], len(want), ev.Name())
		for i, m := range s.events[ev] {
			assert.Equal(t, want[i].key, m.key, ev.Name())
			assert.Equal(t, want[i].off, m.off, ev.Name())
			for _, e := range m.elems {
				assert.True(t, ev.ProductKeys().Has(e.key), ev.Name())
			}
			if m.kind == kProducts {
				assert.Len(t, m.elems, bitCount(ev.ProductKeys()), ev.Name())
			}
		}
	}
}

func bitCount(s ecomspec.Set) (n int) {
	for ; s != 0; s &= s - 1 {
		n++
	}
	return n
}

// fieldByDoc returns the struct holding the field doc names in v
// ("Product.Price": v's Product, or v itself when it is one) and the field,
// both settable (the unexported fields of the inputs too).
func fieldByDoc(t *testing.T, v reflect.Value, doc string) (in, f reflect.Value) {
	t.Helper()
	name, _, _ := strings.Cut(doc, "|")
	typ, fname, nested := strings.Cut(name, ".")
	in = v
	if !nested {
		fname = typ
	} else if v.Type().Name() != typ {
		for i := range v.NumField() {
			if v.Field(i).Type().Name() == typ {
				in = v.Field(i)
			}
		}
	}
	if nested {
		require.Equal(t, typ, in.Type().Name(), "%s: no field of that type", doc)
	}
	f = in.FieldByName(fname)
	require.True(t, f.IsValid(), doc)
	return settable(in), settable(f)
}

func settable(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}
