package analyticstest

import (
	"bytes"
	"encoding/json"
	"time"
)

// Message is one recorded message, decoded. The common fields are typed;
// Properties, Traits, Context and Integrations are generic maps (JSON
// numbers as float64), and Raw keeps the message exactly as it was sent.
// A field the message did not carry is the zero value.
type Message struct {
	Type        string    // "track", "identify", "page", "screen", "group" or "alias"
	MessageID   string    // messageId
	UserID      string    // userId
	AnonymousID string    // anonymousId
	Timestamp   time.Time // timestamp; zero when absent or not RFC 3339
	Event       string    // track: event
	Name        string    // page, screen: name
	Category    string    // page, screen: category
	GroupID     string    // group: groupId
	PreviousID  string    // alias: previousId

	Properties   map[string]any // track, page, screen: properties
	Traits       map[string]any // identify, group: traits
	Context      map[string]any // context, including library
	Integrations map[string]any // integrations

	// Raw is the message's JSON as it arrived.
	Raw json.RawMessage
}

// wireMessage mirrors the members of a message that Message decodes.
type wireMessage struct {
	Type         string         `json:"type"`
	MessageID    string         `json:"messageId"`
	UserID       string         `json:"userId"`
	AnonymousID  string         `json:"anonymousId"`
	Timestamp    string         `json:"timestamp"`
	Event        string         `json:"event"`
	Name         string         `json:"name"`
	Category     string         `json:"category"`
	GroupID      string         `json:"groupId"`
	PreviousID   string         `json:"previousId"`
	Properties   map[string]any `json:"properties"`
	Traits       map[string]any `json:"traits"`
	Context      map[string]any `json:"context"`
	Integrations map[string]any `json:"integrations"`
}

// DecodeMessage decodes one message as sent on the wire. It fails when raw
// is not a JSON object or a common member has the wrong JSON type (for
// example a numeric userId); Validate says more precisely what is wrong.
// The returned Message keeps its own copy of raw.
func DecodeMessage(raw []byte) (Message, error) {
	var w wireMessage
	if err := json.Unmarshal(raw, &w); err != nil {
		return Message{Raw: bytes.Clone(raw)}, err
	}
	m := Message{
		Type: w.Type, MessageID: w.MessageID, UserID: w.UserID, AnonymousID: w.AnonymousID,
		Event: w.Event, Name: w.Name, Category: w.Category, GroupID: w.GroupID, PreviousID: w.PreviousID,
		Properties: w.Properties, Traits: w.Traits, Context: w.Context, Integrations: w.Integrations,
		Raw: bytes.Clone(raw),
	}
	if t, err := time.Parse(time.RFC3339Nano, w.Timestamp); err == nil {
		m.Timestamp = t
	}
	return m, nil
}

// DecodeProperties decodes the message's properties object into v, as
// json.Unmarshal would. A message without properties leaves v unchanged and
// returns nil.
func (m Message) DecodeProperties(v any) error {
	var p struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(m.Raw, &p); err != nil {
		return err
	}
	if len(p.Properties) == 0 || string(p.Properties) == "null" {
		return nil
	}
	return json.Unmarshal(p.Properties, v)
}

// Product is one product of an ecommerce event, as the spec names its
// fields. Numbers the message did not carry are zero.
type Product struct {
	ProductID string  `json:"product_id"`
	SKU       string  `json:"sku"`
	Category  string  `json:"category"`
	Name      string  `json:"name"`
	Brand     string  `json:"brand"`
	Variant   string  `json:"variant"`
	Price     float64 `json:"price"`
	Quantity  float64 `json:"quantity"`
	Coupon    string  `json:"coupon"`
	Position  float64 `json:"position"`
	URL       string  `json:"url"`
	ImageURL  string  `json:"image_url"`
}

// Products decodes the products of an ecommerce track: the elements of
// properties.products when present (Order Completed, Cart Viewed, ...),
// else the single product whose fields are properties themselves when
// properties has a product_id or sku (Product Viewed, Product Added, ...),
// else nil. It fails when a product field has the wrong JSON type (for
// example a price sent as a string).
func (m Message) Products() ([]Product, error) {
	var p struct {
		Products  json.RawMessage `json:"products"`
		ProductID json.RawMessage `json:"product_id"`
		SKU       json.RawMessage `json:"sku"`
	}
	if err := m.DecodeProperties(&p); err != nil {
		return nil, err
	}
	switch {
	case len(p.Products) > 0 && string(p.Products) != "null":
		var ps []Product
		if err := json.Unmarshal(p.Products, &ps); err != nil {
			return nil, err
		}
		return ps, nil
	case p.ProductID != nil || p.SKU != nil:
		var one Product
		if err := m.DecodeProperties(&one); err != nil {
			return nil, err
		}
		return []Product{one}, nil
	}
	return nil, nil
}
