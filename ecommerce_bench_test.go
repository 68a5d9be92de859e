package analytics

import (
	"encoding/json"
	"testing"

	"github.com/tracklane/analytics/internal/jsonw"
)

// jsonProduct and jsonOrder are Order Completed's properties as
// encoding/json would write them from tagged structs: the alternative
// docs/design.md sets aside.
type jsonProduct struct {
	ProductID string  `json:"product_id,omitempty"`
	SKU       string  `json:"sku,omitempty"`
	Category  string  `json:"category,omitempty"`
	Name      string  `json:"name,omitempty"`
	Brand     string  `json:"brand,omitempty"`
	Variant   string  `json:"variant,omitempty"`
	Price     float64 `json:"price"`
	Quantity  int     `json:"quantity,omitempty"`
	Coupon    string  `json:"coupon,omitempty"`
	Position  int     `json:"position,omitempty"`
	URL       string  `json:"url,omitempty"`
	ImageURL  string  `json:"image_url,omitempty"`
}

type jsonOrder struct {
	CheckoutID  string        `json:"checkout_id,omitempty"`
	OrderID     string        `json:"order_id,omitempty"`
	Affiliation string        `json:"affiliation,omitempty"`
	Subtotal    float64       `json:"subtotal,omitempty"`
	Total       float64       `json:"total,omitempty"`
	Revenue     float64       `json:"revenue,omitempty"`
	Shipping    float64       `json:"shipping,omitempty"`
	Tax         float64       `json:"tax,omitempty"`
	Discount    float64       `json:"discount,omitempty"`
	Coupon      string        `json:"coupon,omitempty"`
	Currency    string        `json:"currency,omitempty"`
	Products    []jsonProduct `json:"products,omitempty"`
}

// BenchmarkPropertiesJSON compares the properties object of a full Order
// Completed (three products) written by jsonw through the spec table with
// encoding/json from tagged structs. Both write the same bytes (checked).
func BenchmarkPropertiesJSON(b *testing.B) {
	tr := fullOrder()
	o := FullOrder()
	jo := jsonOrder{o.CheckoutID, o.OrderID, o.Affiliation, o.Subtotal, o.Total, o.Revenue, o.Shipping, o.Tax,
		o.Discount, o.Coupon, o.Currency, nil}
	for _, p := range o.Products {
		jo.Products = append(jo.Products, jsonProduct(p))
	}
	w := &jsonw.Writer{Buf: make([]byte, 0, 4096)}
	writeProps := func() {
		w.Reset(w.Buf)
		w.ObjectStart()
		tr.typed.encodeProperties(w)
		w.ObjectEnd()
	}
	writeProps()
	want, err := json.Marshal(jo)
	if err != nil || string(want) != string(w.Buf) {
		b.Fatalf("encodings differ:\n%s\n%s (%v)", w.Buf, want, err)
	}
	b.Run("jsonw", func(b *testing.B) {
		b.SetBytes(int64(len(want)))
		b.ReportAllocs()
		for b.Loop() {
			writeProps()
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(want)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(jo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
