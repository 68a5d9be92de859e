package analyticstest_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tracklane/analytics/analyticstest"
)

func TestValidateValidMessages(t *testing.T) {
	for _, typ := range []string{"track", "identify", "page", "screen", "group", "alias"} {
		if vs := analyticstest.Validate(msg(t, typ, nil)); vs != nil {
			t.Errorf("%s: valid message got violations %v", typ, vs)
		}
	}
	// anonymousId alone is enough; alias needs no anonymousId.
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"userId": nil, "anonymousId": "a1"})); vs != nil {
		t.Errorf("anonymousId only: %v", vs)
	}
	// A messageId of exactly 100 characters is accepted.
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"messageId": strings.Repeat("x", 100)})); vs != nil {
		t.Errorf("100-char messageId: %v", vs)
	}
	// A per-message sentAt in the right form is accepted.
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"sentAt": "2015-12-10T04:08:32.001Z"})); vs != nil {
		t.Errorf("sentAt: %v", vs)
	}
}

func TestValidateChecksFire(t *testing.T) {
	lib := func(l map[string]any) map[string]any { return map[string]any{"library": l} }
	tests := []struct {
		name    string
		typ     string
		changes map[string]any
		rule    analyticstest.Rule
		field   string
	}{
		{"no type", "track", map[string]any{"type": nil}, analyticstest.RuleRequired, "type"},
		{"unknown type", "track", map[string]any{"type": "pageview"}, analyticstest.RuleType, "type"},
		{"no messageId", "track", map[string]any{"messageId": nil}, analyticstest.RuleRequired, "messageId"},
		{"empty messageId", "track", map[string]any{"messageId": ""}, analyticstest.RuleRequired, "messageId"},
		{"messageId 101", "track", map[string]any{"messageId": strings.Repeat("x", 101)}, analyticstest.RuleMessageID, "messageId"},
		{"no ids", "identify", map[string]any{"userId": nil}, analyticstest.RuleRequired, "userId"},
		{"numeric userId", "identify", map[string]any{"userId": 42}, analyticstest.RuleJSON, "userId"},
		{"track without event", "track", map[string]any{"event": nil}, analyticstest.RuleRequired, "event"},
		{"track empty event", "track", map[string]any{"event": ""}, analyticstest.RuleRequired, "event"},
		{"group without groupId", "group", map[string]any{"groupId": nil}, analyticstest.RuleRequired, "groupId"},
		{"alias without previousId", "alias", map[string]any{"previousId": nil}, analyticstest.RuleRequired, "previousId"},
		{"alias without userId", "alias", map[string]any{"userId": nil, "anonymousId": "a1"}, analyticstest.RuleRequired, "userId"},
		{"no timestamp", "track", map[string]any{"timestamp": nil}, analyticstest.RuleRequired, "timestamp"},
		{"timestamp with offset", "track", map[string]any{"timestamp": "2015-12-10T05:08:31.905+01:00"}, analyticstest.RuleTimestamp, "timestamp"},
		{"timestamp without ms", "track", map[string]any{"timestamp": "2015-12-10T04:08:31Z"}, analyticstest.RuleTimestamp, "timestamp"},
		{"timestamp with ns", "track", map[string]any{"timestamp": "2015-12-10T04:08:31.905000001Z"}, analyticstest.RuleTimestamp, "timestamp"},
		{"timestamp number", "track", map[string]any{"timestamp": 1449720511}, analyticstest.RuleTimestamp, "timestamp"},
		{"sentAt not UTC", "track", map[string]any{"sentAt": "2015-12-10T04:08:31.905+00:00"}, analyticstest.RuleTimestamp, "sentAt"},
		{"no context", "track", map[string]any{"context": nil}, analyticstest.RuleLibrary, "context.library"},
		{"no library", "track", map[string]any{"context": map[string]any{"ip": "1.2.3.4"}}, analyticstest.RuleLibrary, "context.library"},
		{"library without version", "track", map[string]any{"context": lib(map[string]any{"name": "x"})}, analyticstest.RuleLibrary, "context.library.version"},
		{"library without name", "track", map[string]any{"context": lib(map[string]any{"version": "1"})}, analyticstest.RuleLibrary, "context.library.name"},
		{"properties array", "track", map[string]any{"properties": []any{}}, analyticstest.RuleJSON, "properties"},
		{"traits string", "identify", map[string]any{"traits": "x"}, analyticstest.RuleJSON, "traits"},
		{"message too large", "track", map[string]any{"properties": map[string]any{"blob": strings.Repeat("x", 32000)}}, analyticstest.RuleMessageSize, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := analyticstest.Validate(msg(t, tt.typ, tt.changes))
			if !hasRule(vs, tt.rule, tt.field) {
				t.Fatalf("want %s on %q, got %v", tt.rule, tt.field, vs)
			}
		})
	}
}

func TestValidateMalformed(t *testing.T) {
	for _, in := range []string{``, `[]`, `null`, `"x"`, `{"type":`, "{\"type\":\"\xff\"}"} {
		if vs := analyticstest.Validate([]byte(in)); !hasRule(vs, analyticstest.RuleJSON, "") {
			t.Errorf("%q: want a json violation, got %v", in, vs)
		}
	}
	vs := analyticstest.Validate([]byte(`{"type":"track","type":"track"}`))
	if !hasRule(vs, analyticstest.RuleDuplicateKey, "type") {
		t.Errorf("duplicate member not found: %v", vs)
	}
	vs = analyticstest.Validate(msg(t, "track", map[string]any{"properties": map[string]any{"a": map[string]any{"b": 1}}}))
	if hasRule(vs, analyticstest.RuleDuplicateKey, "") {
		t.Errorf("false duplicate: %v", vs)
	}
	nested := []byte(`{"type":"track","messageId":"m","userId":"u","event":"E","timestamp":"2015-12-10T04:08:31.905Z",` +
		`"properties":{"list":[{"a":1,"a":2},{"a":1}],"a":{}},"context":{"library":{"name":"n","version":"v"}}}`)
	vs = analyticstest.Validate(nested)
	if len(vs) != 1 || vs[0].Field != "properties.list[0].a" || vs[0].Rule != analyticstest.RuleDuplicateKey {
		t.Errorf("nested duplicate: %v", vs)
	}
}

func TestValidateViolationIdentifiesMessage(t *testing.T) {
	vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": "Order Completed", "properties": map[string]any{"total": "27.50"}}))
	if len(vs) != 1 {
		t.Fatalf("got %v", vs)
	}
	v := vs[0]
	if v.Index != 0 || v.MessageID != "m-track" || v.Type != "track" || v.Event != "Order Completed" || v.Field != "properties.total" {
		t.Errorf("violation does not identify its message: %+v", v)
	}
	want := `message 0 (track "Order Completed"): properties.total: ecommerce: want a number, got a string`
	if v.String() != want {
		t.Errorf("String() = %q, want %q", v.String(), want)
	}
}

func TestEcommerceEvents(t *testing.T) {
	names := analyticstest.EcommerceEvents()
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("not sorted or not unique: %v", names)
	}
	// The spec's names, written out again: the events of ecommerceExamples,
	// with their exact spelling and case.
	for n := range ecommerceExamples() {
		if !slices.Contains(names, n) {
			t.Errorf("missing %q", n)
		}
	}
}

// ecommerceExamples are example properties of the 28 events, valid per
// their tables on https://segment.com/docs/connections/spec/ecommerce/v2/,
// written here independently of internal/ecomspec.
func ecommerceExamples() map[string]map[string]any {
	product := map[string]any{"product_id": "507f1f77", "sku": "G-32", "category": "Games", "name": "Monopoly",
		"brand": "Hasbro", "variant": "200 pieces", "price": 18.99, "quantity": 1, "coupon": "MAYDEALS",
		"position": 3, "url": "https://x/p", "image_url": "https://x/p.jpg"}
	merge := func(base, extra map[string]any) map[string]any {
		m := maps.Clone(base)
		maps.Copy(m, extra)
		return m
	}
	with := func(extra map[string]any) map[string]any { return merge(product, extra) }
	products := []any{product, map[string]any{"product_id": "2", "price": 0}}
	order := map[string]any{"order_id": "50314b8e", "affiliation": "Google Store", "revenue": 22.5, "shipping": 3,
		"tax": 2, "discount": 2.5, "coupon": "hasbros", "currency": "USD", "products": products}
	orderWith := func(extra map[string]any) map[string]any { return merge(order, extra) }
	step := map[string]any{"checkout_id": "c1", "step": 2, "shipping_method": "Fedex", "payment_method": "Visa"}
	promo := map[string]any{"promotion_id": "promo_1", "creative": "top_banner_2", "name": "75% sale", "position": "home_banner_top"}
	return map[string]map[string]any{
		"Products Searched":              {"query": "blue roses"},
		"Product List Viewed":            {"list_id": "hot_deals_1", "category": "Deals", "products": products},
		"Product List Filtered":          {"list_id": "l", "filters": []any{map[string]any{"type": "department", "value": "beauty"}}, "sorts": []any{map[string]any{"type": "price", "value": "desc"}}, "products": products},
		"Promotion Viewed":               promo,
		"Promotion Clicked":              promo,
		"Product Clicked":                product,
		"Product Viewed":                 with(map[string]any{"currency": "USD", "value": 18.99}),
		"Product Added":                  with(map[string]any{"cart_id": "cart1"}),
		"Product Removed":                with(map[string]any{"cart_id": "cart1"}),
		"Cart Viewed":                    {"cart_id": "cart1", "products": products},
		"Checkout Started":               orderWith(map[string]any{"value": 30}),
		"Checkout Step Viewed":           step,
		"Checkout Step Completed":        step,
		"Payment Info Entered":           {"checkout_id": "c1", "order_id": "o1", "step": 3, "shipping_method": "Fedex", "payment_method": "Visa"},
		"Order Updated":                  orderWith(map[string]any{"total": 30}),
		"Order Completed":                orderWith(map[string]any{"checkout_id": "c1", "subtotal": 22.5, "total": 27.5}),
		"Order Refunded":                 orderWith(map[string]any{"total": 30}),
		"Order Cancelled":                orderWith(map[string]any{"total": 30}),
		"Coupon Entered":                 {"order_id": "o1", "cart_id": "c", "coupon_id": "may_deals_2016"},
		"Coupon Applied":                 {"order_id": "o1", "coupon_id": "c", "coupon_name": "May Deals", "discount": 23.32},
		"Coupon Denied":                  {"order_id": "o1", "coupon_id": "c", "coupon_name": "May Deals", "reason": "Coupon expired"},
		"Coupon Removed":                 {"order_id": "o1", "coupon_id": "c", "coupon_name": "May Deals", "discount": 0},
		"Product Added to Wishlist":      with(map[string]any{"wishlist_id": "w", "wishlist_name": "Loved Games"}),
		"Product Removed from Wishlist":  with(map[string]any{"wishlist_id": "w", "wishlist_name": "Loved Games"}),
		"Wishlist Product Added to Cart": with(map[string]any{"wishlist_id": "w", "wishlist_name": "Loved Games", "cart_id": "c"}),
		"Product Shared":                 with(map[string]any{"share_via": "email", "share_message": "Hey", "recipient": "a@b.c"}),
		"Cart Shared":                    {"share_via": "email", "share_message": "Hey", "recipient": "a@b.c", "cart_id": "c", "products": []any{map[string]any{"product_id": "1"}}},
		"Product Reviewed":               {"product_id": "p", "review_id": "r", "review_body": "Good", "rating": "5"},
	}
}

func TestValidateEcommerceValid(t *testing.T) {
	ex := ecommerceExamples()
	if len(ex) != 28 {
		t.Fatalf("%d examples", len(ex))
	}
	for event, props := range ex {
		props["custom_thing"] = []any{1, "x"} // custom properties are free
		props["myCustom"] = true              // camelCase custom names that are not spec names too
		vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": event, "properties": props}))
		if vs != nil {
			t.Errorf("%s: valid example got %v", event, vs)
		}
	}
	// Query may be an object; a missing property is fine (nothing is required).
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": "Products Searched", "properties": map[string]any{"query": map[string]any{"q": "x"}}})); vs != nil {
		t.Error(vs)
	}
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": "Order Completed", "properties": map[string]any{}})); vs != nil {
		t.Error(vs)
	}
}

func TestValidateEcommerceTypes(t *testing.T) {
	tests := []struct {
		event string
		props map[string]any
		field string
	}{
		{"Order Completed", map[string]any{"total": "27.50"}, "properties.total"},
		{"Order Completed", map[string]any{"revenue": nil}, "properties.revenue"},
		{"Order Completed", map[string]any{"order_id": 50314}, "properties.order_id"},
		{"Order Completed", map[string]any{"products": map[string]any{}}, "properties.products"},
		{"Order Completed", map[string]any{"products": []any{"p1"}}, "properties.products[0]"},
		{"Order Completed", map[string]any{"products": []any{map[string]any{"price": "19"}}}, "properties.products[0].price"},
		{"Cart Viewed", map[string]any{"products": []any{map[string]any{}, map[string]any{"position": "3"}}}, "properties.products[1].position"},
		{"Product Clicked", map[string]any{"position": "3"}, "properties.position"},
		{"Product Viewed", map[string]any{"quantity": "1"}, "properties.quantity"},
		{"Product Viewed", map[string]any{"value": "18.99"}, "properties.value"},
		{"Promotion Viewed", map[string]any{"position": 1}, "properties.position"},
		{"Promotion Clicked", map[string]any{"position": 1}, "properties.position"},
		{"Product Reviewed", map[string]any{"rating": 5}, "properties.rating"},
		{"Checkout Step Completed", map[string]any{"step": "2"}, "properties.step"},
		{"Payment Info Entered", map[string]any{"step": "2"}, "properties.step"},
		{"Checkout Started", map[string]any{"value": "30"}, "properties.value"},
		{"Coupon Applied", map[string]any{"discount": "5"}, "properties.discount"},
		{"Products Searched", map[string]any{"query": 7}, "properties.query"},
		{"Product List Filtered", map[string]any{"filters": []any{map[string]any{"type": "price", "value": 25}}}, "properties.filters[0].value"},
		{"Product List Filtered", map[string]any{"sorts": "price"}, "properties.sorts"},
		// v1 and camelCase spellings.
		{"Order Completed", map[string]any{"orderId": "o1"}, "properties.orderId"},
		{"Order Completed", map[string]any{"id": "o1"}, "properties.id"},
		{"Order Completed", map[string]any{"products": []any{map[string]any{"sky": "45790-32"}}}, "properties.products[0].sky"},
		{"Order Completed", map[string]any{"products": []any{map[string]any{"id": "p"}}}, "properties.products[0].id"},
		{"Product Viewed", map[string]any{"productId": "p"}, "properties.productId"},
		{"Product Viewed", map[string]any{"imageUrl": "u"}, "properties.imageUrl"},
		{"Checkout Step Completed", map[string]any{"shippingMethod": "Fedex"}, "properties.shippingMethod"},
		{"Coupon Applied", map[string]any{"couponId": "c"}, "properties.couponId"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.event, tt.field), func(t *testing.T) {
			vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": tt.event, "properties": tt.props}))
			if len(vs) != 1 || vs[0].Rule != analyticstest.RuleEcommerce || vs[0].Field != tt.field {
				t.Fatalf("want one ecommerce violation on %s, got %v", tt.field, vs)
			}
		})
	}
	// Not an ecommerce event: the same properties are custom and free.
	if vs := analyticstest.Validate(msg(t, "track", map[string]any{"event": "Completed Order", "properties": map[string]any{"total": "27.50", "orderId": 1}})); vs != nil {
		t.Errorf("custom event checked as ecommerce: %v", vs)
	}
	// Page properties are not ecommerce properties.
	if vs := analyticstest.Validate(msg(t, "page", map[string]any{"event": "Order Completed", "properties": map[string]any{"total": "x"}})); vs != nil {
		t.Errorf("page checked as ecommerce: %v", vs)
	}
}

func TestValidateBatch(t *testing.T) {
	good := msg(t, "track", nil)
	if vs := analyticstest.ValidateBatch(batchBody(good)); vs != nil {
		t.Fatalf("valid batch: %v", vs)
	}
	many := make([][]byte, 2500)
	for i := range many {
		many[i] = msg(t, "track", map[string]any{"messageId": fmt.Sprint(i)})
	}
	if vs := analyticstest.ValidateBatch(batchBody(many...)); vs != nil {
		t.Fatalf("2500 messages: %v", vs[:1])
	}
	many = append(many, msg(t, "track", map[string]any{"messageId": "2500"}))
	vs := analyticstest.ValidateBatch(batchBody(many...))
	if !hasRule(vs, analyticstest.RuleBatch, "batch") {
		t.Errorf("2501 messages: %v", rules(vs))
	}
	big := make([][]byte, 17)
	for i := range big {
		big[i] = msg(t, "track", map[string]any{"messageId": fmt.Sprint(i), "properties": map[string]any{"pad": strings.Repeat("x", 31000)}})
	}
	if vs := analyticstest.ValidateBatch(batchBody(big[:16]...)); vs != nil {
		t.Errorf("under 500000 bytes: %v", rules(vs))
	}
	if vs := analyticstest.ValidateBatch(batchBody(big...)); !hasRule(vs, analyticstest.RuleBodySize, "") || len(vs) != 1 {
		t.Errorf("over 500000 bytes: %v", rules(vs))
	}
	for _, tc := range []struct {
		body  string
		rule  analyticstest.Rule
		field string
	}{
		{`{"batch":[],"sentAt":"2015-12-10T04:08:32.001Z"}`, analyticstest.RuleBatch, "batch"},
		{`{"sentAt":"2015-12-10T04:08:32.001Z"}`, analyticstest.RuleBatch, "batch"},
		{`{"batch":[` + string(good) + `]}`, analyticstest.RuleRequired, "sentAt"},
		{`{"batch":[` + string(good) + `],"sentAt":"2015-12-10 04:08:32"}`, analyticstest.RuleTimestamp, "sentAt"},
		{`{"batch":{}}`, analyticstest.RuleJSON, "batch"},
		{`[]`, analyticstest.RuleJSON, ""},
		{`{"batch":[`, analyticstest.RuleJSON, ""},
	} {
		if vs := analyticstest.ValidateBatch([]byte(tc.body)); !hasRule(vs, tc.rule, tc.field) {
			t.Errorf("%s: want %s on %q, got %v", tc.body, tc.rule, tc.field, vs)
		}
	}
	// A bad message is reported with its index.
	vs = analyticstest.ValidateBatch(batchBody(good, msg(t, "track", map[string]any{"event": nil})))
	if len(vs) != 1 || vs[0].Index != 1 || vs[0].Field != "event" {
		t.Errorf("index: %v", vs)
	}
}
