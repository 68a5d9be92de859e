package analytics

import (
	"net/http"
	"net/url"
	"time"
)

// Attribution: a visit's landing campaign (the UTM parameters of the URL
// the shopper arrived on) kept in a first-party cookie, so that the visit's
// later events (Product Added, Checkout Started, Order Completed) carry it
// in context.campaign too, as analytics.js's campaign context does for the
// page it is on (https://segment.com/docs/connections/spec/common/#context).

// Attribution is the rule by which KeepCampaign chooses the campaign it keeps.
type Attribution uint8

const (
	// FirstTouch keeps the first campaign seen until its cookie expires: a
	// later request with other UTM parameters carries its own campaign,
	// but does not replace the kept one.
	FirstTouch Attribution = iota + 1
	// LastTouch keeps the most recent non-empty campaign: each request with
	// UTM parameters replaces the kept campaign (and restarts its
	// lifetime); requests without any leave it alone.
	LastTouch
)

const (
	// CampaignCookie is the cookie KeepCampaign keeps the campaign in.
	CampaignCookie = "tl_campaign"
	// DefaultCampaignCookieMaxAge is the lifetime of the campaign cookie
	// unless CookieOptions.MaxAge says otherwise: 30 days.
	DefaultCampaignCookieMaxAge = 30 * 24 * time.Hour
	// maxCampaignCookieBytes bounds the campaign cookie's value, well below
	// the 4,096 bytes browsers keep per cookie; a larger campaign is not kept.
	maxCampaignCookieBytes = 2048
)

type campaignConfig struct {
	model  Attribution
	cookie CookieOptions
}

// KeepCampaign keeps the campaign of a visit in the tl_campaign cookie
// (CampaignCookie), chosen by model (FirstTouch or LastTouch; any other
// value is FirstTouch), and puts it in context.campaign of the requests
// that have no UTM parameters of their own. A request with UTM parameters
// always carries its own campaign. The cookie lives o.MaxAge, default
// DefaultCampaignCookieMaxAge (30 days); see CookieOptions for the other
// attributes.
//
// Middleware sets the cookie before the handler runs; ContextFromRequest
// and RequestContext read it. It holds the five UTM members as a query
// string (utm_campaign=...&utm_source=...). The browser sends it back, so it
// is untrusted input: a cookie that is not a well-formed query string, or
// longer than 2,048 bytes, is ignored; its members are cleaned and cut as
// a request's own UTM parameters are (valid UTF-8, no control characters,
// at most 256 bytes each); other keys are ignored. A campaign whose cookie
// would be longer than 2,048 bytes is not kept.
//
// Default: no campaign is kept; only the request carrying UTM parameters
// has a campaign.
func KeepCampaign(model Attribution, o CookieOptions) RequestOption {
	if model != LastTouch {
		model = FirstTouch
	}
	cc := &campaignConfig{model: model, cookie: o.normalize(DefaultCampaignCookieMaxAge)}
	return requestOptionFunc(func(c *requestConfig) { c.campaign = cc })
}

// keptCampaign reads the campaign cookie of r; nil when absent or invalid.
func keptCampaign(r *http.Request) *CampaignInfo {
	for _, c := range r.CookiesNamed(CampaignCookie) {
		if len(c.Value) > maxCampaignCookieBytes {
			continue
		}
		q, err := url.ParseQuery(c.Value)
		if err != nil {
			continue
		}
		if ci := campaignFrom(q); ci != nil {
			return ci
		}
	}
	return nil
}

// campaignFrom returns the UTM members of q, cleaned; nil when none is set.
func campaignFrom(q url.Values) *CampaignInfo {
	get := func(k string) string { return clean(q.Get(k), maxCampaignBytes) }
	c := &CampaignInfo{
		Name:    get("utm_campaign"),
		Source:  get("utm_source"),
		Medium:  get("utm_medium"),
		Term:    get("utm_term"),
		Content: get("utm_content"),
	}
	if *c == (CampaignInfo{}) {
		return nil
	}
	return c
}

// encodeCampaignCookie is the cookie value of c.
func encodeCampaignCookie(c *CampaignInfo) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("utm_campaign", c.Name)
	set("utm_source", c.Source)
	set("utm_medium", c.Medium)
	set("utm_term", c.Term)
	set("utm_content", c.Content)
	return q.Encode()
}

// keep sets the campaign cookie when the request's campaign must be kept.
func (cc *campaignConfig) keep(w http.ResponseWriter, r *http.Request, https bool) {
	cur := campaign(r.URL)
	if cur == nil {
		return
	}
	kept := keptCampaign(r)
	switch {
	case kept == nil:
	case cc.model == FirstTouch, *kept == *cur:
		return
	}
	v := encodeCampaignCookie(cur)
	if len(v) > maxCampaignCookieBytes {
		return
	}
	http.SetCookie(w, cc.cookie.cookie(CampaignCookie, v, https))
}
