package analytics

import (
	"time"

	"github.com/tracklane/analytics/internal/jsonw"
)

// Message is one Segment call: a Track, Identify, Page, Screen, Group or Alias,
// as a value or a pointer. The interface is sealed: only this package's
// message types implement it. A nil pointer is refused by Enqueue with
// ErrNilMessage.
type Message interface {
	message()
}

func (Track) message()    {}
func (Identify) message() {}
func (Page) message()     {}
func (Screen) message()   {}
func (Group) message()    {}
func (Alias) message()    {}

// Properties holds free-form properties of a Track, Page or Screen call.
// A map[string]any literal can be assigned to it. Values may be nil, bool,
// string, any Go integer or float type, time.Time (sent as UTC ISO-8601),
// json.Number, json.RawMessage, maps with string keys, slices and structs
// (through encoding/json). NaN, ±Inf, invalid UTF-8 and values that cannot be
// encoded make Enqueue fail with a *ValidationError.
type Properties = map[string]any

// Traits holds the traits of an Identify or Group call, or context.traits.
// Same value rules as Properties.
type Traits = map[string]any

// Integrations selects destinations: keys are destination names as in the
// Segment catalog (case-sensitive) or "All"; values are booleans or
// per-destination option objects (map[string]any). Any other value makes
// Enqueue fail with ErrInvalidValue.
type Integrations = map[string]any

// Track records an action a user performed. Event is required, and so is
// UserID or AnonymousID.
//
// The ecommerce constructors (OrderCompleted, ProductViewed, ...) return a
// Track whose spec properties are typed; Properties can still be set on it
// and is merged with them (a custom key that names a spec property the event
// sets makes Enqueue fail with ErrPropertyConflict).
type Track struct {
	// UserID is your database id for the user. UserID or AnonymousID is required.
	UserID string
	// AnonymousID identifies an unknown user. UserID or AnonymousID is required.
	AnonymousID string
	// MessageID deduplicates the message downstream. Empty: Enqueue assigns a
	// UUIDv4 (or the client's message-id function). At most 100 characters.
	MessageID string
	// Timestamp is when the event happened, sent in UTC with milliseconds.
	// Zero: the time of Enqueue. A year outside 1-9999 makes Enqueue fail
	// with ErrInvalidValue.
	Timestamp time.Time
	// Context carries extra information about the call (ip, userAgent, page,
	// campaign, ...). Merged over the client's default context.
	Context *Context
	// Integrations selects destinations. Nil: omitted (all destinations).
	Integrations Integrations

	// Event is the name of the action, e.g. "Order Completed". Required.
	Event string
	// Properties are free-form properties, merged after the typed ones of
	// an ecommerce constructor. Nil: only the typed ones ({} when none).
	Properties Properties

	typed typedProperties
}

// Identify ties a user to their traits. UserID or AnonymousID is required.
//
// Reserved traits (email, firstName, createdAt, address, company, ...) are
// typed in User; custom ones go in Traits and are merged after them. When
// User has any field set, a Traits key naming a reserved trait (in any
// case, with or without underscores) makes Enqueue fail with
// ErrPropertyConflict; when it has none, Traits is sent as it is. See
// UserTraits.
type Identify struct {
	UserID       string       // your database id for the user; this or AnonymousID is required
	AnonymousID  string       // id of an unknown user; this or UserID is required
	MessageID    string       // empty: assigned by Enqueue; at most 100 characters
	Timestamp    time.Time    // zero: the time of Enqueue
	Context      *Context     // nil: the client's default context only
	Integrations Integrations // nil: omitted

	User   UserTraits // reserved traits, written first; zero fields are not sent
	Traits Traits     // custom traits, merged after User's, keys sorted; nil and User zero: sent as {}
}

// Page records a web page view. UserID or AnonymousID is required.
type Page struct {
	UserID       string       // your database id for the user; this or AnonymousID is required
	AnonymousID  string       // id of an unknown user; this or UserID is required
	MessageID    string       // empty: assigned by Enqueue; at most 100 characters
	Timestamp    time.Time    // zero: the time of Enqueue
	Context      *Context     // nil: the client's default context only
	Integrations Integrations // nil: omitted

	Name     string // name of the page; empty: omitted; also sent as properties.name
	Category string // category of the page; empty: omitted; also sent as properties.category
	// Properties are the page's properties (reserved: name, path, referrer,
	// search, title, url, keywords). As analytics.js does, Enqueue fills
	// name and category from the fields above and path, referrer, search,
	// title and url from the message's context.page (RequestContext sets
	// it), each only when known and when Properties does not have that key:
	// a key set here wins, whatever its value. Nil: only the filled ones.
	Properties Properties
}

// Screen records a mobile screen view. UserID or AnonymousID is required.
type Screen struct {
	UserID       string       // your database id for the user; this or AnonymousID is required
	AnonymousID  string       // id of an unknown user; this or UserID is required
	MessageID    string       // empty: assigned by Enqueue; at most 100 characters
	Timestamp    time.Time    // zero: the time of Enqueue
	Context      *Context     // nil: the client's default context only
	Integrations Integrations // nil: omitted

	Name       string     // name of the screen; empty: omitted; also sent as properties.name
	Category   string     // category of the screen; empty: omitted; also sent as properties.category
	Properties Properties // keys set here win over name and category; nil: only those
}

// Group associates a user with a group (company, account, ...). GroupID is
// required, and so is UserID or AnonymousID.
//
// Reserved traits (name, industry, employees, plan, ...) are typed in
// Account; custom ones go in Traits and are merged after them, with the
// same conflict rule as Identify's. See GroupTraits.
type Group struct {
	UserID       string       // your database id for the user; this or AnonymousID is required
	AnonymousID  string       // id of an unknown user; this or UserID is required
	MessageID    string       // empty: assigned by Enqueue; at most 100 characters
	Timestamp    time.Time    // zero: the time of Enqueue
	Context      *Context     // nil: the client's default context only
	Integrations Integrations // nil: omitted

	GroupID string      // required
	Account GroupTraits // reserved traits of the group, written first; zero fields are not sent
	Traits  Traits      // custom traits, merged after Account's, keys sorted; nil and Account zero: sent as {}
}

// Alias merges two identities: PreviousID (the old id) and UserID (the new
// one) are both required. AnonymousID is optional: sent as anonymousId when
// set, not required.
type Alias struct {
	UserID       string       // the new identity; required
	AnonymousID  string       // optional; sent as anonymousId when set
	MessageID    string       // empty: assigned by Enqueue; at most 100 characters
	Timestamp    time.Time    // zero: the time of Enqueue
	Context      *Context     // nil: the client's default context only
	Integrations Integrations // nil: omitted

	PreviousID string // the previous identity; required
}

// typedProperties is implemented by the ecommerce property sets. They write
// their members into the open "properties" object, validate themselves, and
// say which keys they emit so custom Properties cannot duplicate them.
type typedProperties interface {
	// encodeProperties writes the typed properties as members of the open object.
	encodeProperties(w *jsonw.Writer)
	// validate returns nil or an error naming the field (wrapped by Enqueue
	// into a *ValidationError naming the event).
	validate() error
	// emits reports whether the typed set writes key.
	emits(key string) bool
	// orderID returns the order_id for once-per-order message ids ("" if none).
	orderID() string
}
