package analytics

import "github.com/tracklane/analytics/internal/jsonw"

// Context is the "context" object of a message: information about the call
// that is not part of it (https://segment.com/docs/connections/spec/common/#context).
// Every field is optional and
// left out when empty. context.library is always written by the SDK and
// cannot be set here.
//
// A message's Context is merged over the client's default context
// (WithDefaultContext): a field set on the message wins; Traits and Extra
// are merged key by key, the message's keys winning.
type Context struct {
	IP        string // the user's IP address; server libraries must pass it
	UserAgent string // the user agent of the user's device
	Locale    string // e.g. "en-US"
	Timezone  string // tz database name, e.g. "America/New_York"
	GroupID   string // account id, to attribute the call to a group
	Channel   string // "server", "browser" or "mobile"
	// Active, when non-nil, says whether the user is active (false lets an
	// Identify update traits without touching "last seen").
	Active *bool
	// Direct asks Segment to record the caller's IP (HTTP API); false: omitted.
	Direct bool

	App      *AppInfo      // the app making the call
	Campaign *CampaignInfo // UTM parameters
	Page     *PageInfo     // the web page of the call
	Referrer *ReferrerInfo // how the user arrived
	OS       *OSInfo       // operating system of the user's device
	Device   *DeviceInfo   // the user's device

	// Consent is the user's consent preferences (context.consent); nil:
	// omitted, and Segment then enforces no consent on the message. A
	// message's Consent replaces the default context's whole (categories
	// are never mixed between the two). See Consent.
	Consent *Consent

	// Traits are the current user's traits (context.traits); nil: omitted.
	Traits Traits
	// Extra holds any other context members (location, network, screen,
	// userAgentData, ...). A key that names a typed field above, or
	// "library", makes Enqueue fail with ErrPropertyConflict.
	Extra map[string]any
}

// AppInfo is context.app.
type AppInfo struct {
	Name, Version, Build, Namespace string
}

// CampaignInfo is context.campaign: UTM parameters.
type CampaignInfo struct {
	Name    string // utm_campaign
	Source  string // utm_source
	Medium  string // utm_medium
	Term    string // utm_term
	Content string // utm_content
}

// PageInfo is context.page.
type PageInfo struct {
	Path, Referrer, Search, Title, URL string
}

// ReferrerInfo is context.referrer.
type ReferrerInfo struct {
	Type, Name, URL, Link string
}

// OSInfo is context.os.
type OSInfo struct {
	Name, Version string
}

// DeviceInfo is context.device.
type DeviceInfo struct {
	ID, AdvertisingID, Manufacturer, Model, Name, Type, Version string
}

// contextKeys are the members written from typed fields (and library).
var contextKeys = [...]string{
	"library", "ip", "userAgent", "locale", "timezone", "groupId", "channel", "active", "direct",
	"app", "campaign", "page", "referrer", "os", "device", "consent", "traits",
}

func isContextKey(k string) bool {
	for _, c := range contextKeys {
		if c == k {
			return true
		}
	}
	return false
}

// mergeContext returns msg merged over def (either may be nil). It never
// modifies its arguments; it allocates only when both are non-nil.
func mergeContext(def, msg *Context) *Context {
	switch {
	case def == nil:
		return msg
	case msg == nil:
		return def
	}
	m := *msg
	str := func(dst *string, d string) {
		if *dst == "" {
			*dst = d
		}
	}
	str(&m.IP, def.IP)
	str(&m.UserAgent, def.UserAgent)
	str(&m.Locale, def.Locale)
	str(&m.Timezone, def.Timezone)
	str(&m.GroupID, def.GroupID)
	str(&m.Channel, def.Channel)
	if m.Active == nil {
		m.Active = def.Active
	}
	m.Direct = m.Direct || def.Direct
	if m.App == nil {
		m.App = def.App
	}
	if m.Campaign == nil {
		m.Campaign = def.Campaign
	}
	if m.Page == nil {
		m.Page = def.Page
	}
	if m.Referrer == nil {
		m.Referrer = def.Referrer
	}
	if m.OS == nil {
		m.OS = def.OS
	}
	if m.Device == nil {
		m.Device = def.Device
	}
	if m.Consent == nil {
		m.Consent = def.Consent
	}
	m.Traits = mergeMaps(def.Traits, msg.Traits)
	m.Extra = mergeMaps(def.Extra, msg.Extra)
	return &m
}

func mergeMaps(def, msg map[string]any) map[string]any {
	switch {
	case len(def) == 0:
		return msg
	case len(msg) == 0:
		return def
	}
	out := make(map[string]any, len(def)+len(msg))
	for k, v := range def {
		out[k] = v
	}
	for k, v := range msg {
		out[k] = v
	}
	return out
}

// encodeContext writes the "context" member: library first, then the set fields.
func encodeContext(w *jsonw.Writer, c *Context) {
	w.Key("context")
	w.ObjectStart()
	w.Field("library")
	w.Raw(libraryJSON)
	if c == nil {
		w.ObjectEnd()
		return
	}
	optString(w, `"ip":`, c.IP)
	optString(w, `"userAgent":`, c.UserAgent)
	optString(w, `"locale":`, c.Locale)
	optString(w, `"timezone":`, c.Timezone)
	optString(w, `"groupId":`, c.GroupID)
	optString(w, `"channel":`, c.Channel)
	if c.Active != nil {
		w.Key("active")
		w.Bool(*c.Active)
	}
	if c.Direct {
		w.Key("direct")
		w.Bool(true)
	}
	if a := c.App; a != nil {
		objectStart(w, "app")
		optString(w, `"name":`, a.Name)
		optString(w, `"version":`, a.Version)
		optString(w, `"build":`, a.Build)
		optString(w, `"namespace":`, a.Namespace)
		objectEnd(w)
	}
	if a := c.Campaign; a != nil {
		objectStart(w, "campaign")
		optString(w, `"name":`, a.Name)
		optString(w, `"source":`, a.Source)
		optString(w, `"medium":`, a.Medium)
		optString(w, `"term":`, a.Term)
		optString(w, `"content":`, a.Content)
		objectEnd(w)
	}
	if p := c.Page; p != nil {
		objectStart(w, "page")
		optString(w, `"path":`, p.Path)
		optString(w, `"referrer":`, p.Referrer)
		optString(w, `"search":`, p.Search)
		optString(w, `"title":`, p.Title)
		optString(w, `"url":`, p.URL)
		objectEnd(w)
	}
	if r := c.Referrer; r != nil {
		objectStart(w, "referrer")
		optString(w, `"type":`, r.Type)
		optString(w, `"name":`, r.Name)
		optString(w, `"url":`, r.URL)
		optString(w, `"link":`, r.Link)
		objectEnd(w)
	}
	if o := c.OS; o != nil {
		objectStart(w, "os")
		optString(w, `"name":`, o.Name)
		optString(w, `"version":`, o.Version)
		objectEnd(w)
	}
	if d := c.Device; d != nil {
		objectStart(w, "device")
		optString(w, `"id":`, d.ID)
		optString(w, `"advertisingId":`, d.AdvertisingID)
		optString(w, `"manufacturer":`, d.Manufacturer)
		optString(w, `"model":`, d.Model)
		optString(w, `"name":`, d.Name)
		optString(w, `"type":`, d.Type)
		optString(w, `"version":`, d.Version)
		objectEnd(w)
	}
	if c.Consent != nil {
		encodeConsent(w, c.Consent)
	}
	if c.Traits != nil {
		w.Key("traits")
		w.Any(c.Traits)
	}
	if len(c.Extra) > 0 {
		encodeExtra(w, c.Extra, isContextKey)
	}
	w.ObjectEnd()
}

// objectStart opens a nested object member (its key names it on the error path).
func objectStart(w *jsonw.Writer, key string) {
	w.Key(key)
	w.ObjectStart()
}

func objectEnd(w *jsonw.Writer) {
	w.ObjectEnd()
}

// optString writes the member qk s when s is not empty; qk is the key
// quoted with its colon, e.g. `"ip":`.
func optString(w *jsonw.Writer, qk, s string) {
	if s != "" {
		w.StringMember(qk, s)
	}
}
