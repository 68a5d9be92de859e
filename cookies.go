package analytics

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tracklane/analytics/internal/ids"
)

// Browser identity: the ids analytics.js keeps in first-party cookies, so
// that server-side events carry the same anonymousId as the browser's and
// every destination sees one user, not two
// (https://segment.com/docs/connections/sources/catalog/libraries/website/javascript/identity/,
// https://segment.com/docs/connections/sources/catalog/libraries/website/javascript/persistence/).

// Cookie names analytics.js uses, read by VisitorFromRequest and
// RequestVisitor.
const (
	// AnonymousIDCookie holds analytics.js's anonymousId.
	AnonymousIDCookie = "ajs_anonymous_id"
	// UserIDCookie holds the userId analytics.js was last identified with.
	UserIDCookie = "ajs_user_id"
)

// Bounds of the ids read from cookies (after decoding).
const (
	maxAnonymousIDBytes = 128
	maxUserIDBytes      = 256
	// DefaultAnonymousIDCookieMaxAge is the lifetime of the cookie
	// SetAnonymousIDCookie sets, as analytics.js's own default (one year).
	DefaultAnonymousIDCookieMaxAge = 365 * 24 * time.Hour
)

// Visitor is who the browser says it is: the ids in its analytics.js
// cookies.
//
// The cookies are written by the browser, so these ids are claims, not
// facts: a visitor can send any anonymousId or userId, including someone
// else's. They are good for joining a visitor's server-side events to its
// browser-side ones; never use them to authorise anything, and prefer the
// user id of your own authenticated session to UserID.
type Visitor struct {
	// AnonymousID is from the ajs_anonymous_id cookie, or minted by
	// Middleware for this request (see SetAnonymousIDCookie); "" when
	// neither.
	AnonymousID string
	// UserID is from the ajs_user_id cookie; "" when absent or invalid.
	UserID string
	// NewAnonymousID reports that Middleware minted AnonymousID for this
	// request and set its cookie on the response.
	NewAnonymousID bool
}

// VisitorFromRequest returns the ids in r's analytics.js cookies. It reads
// them as analytics.js writes them: plain (analytics.js 2.0,
// ajs_anonymous_id=6f2b...), JSON-quoted (Analytics.js Classic,
// ajs_anonymous_id=%226f2b...%22, or with literal quotes), percent-encoded
// or not. Of several cookies of the same name, the first valid one counts.
//
// A cookie is user-controlled input and is accepted only when, decoded, it
// is a plausible id: 1 to 128 bytes for the anonymous id, 1 to 256 for the
// user id, made only of the characters a cookie value may hold unquoted
// (printable ASCII other than space, '"', ',', ';' and '\'), and not '<'
// or '>' (no markup reaches a dashboard through an id). Anything
// else (malformed encoding or JSON, control or non-ASCII characters,
// oversized values, a JSON null or non-string) is ignored, as if the
// cookie were absent. The ids are sent JSON-escaped like any other string.
//
// It never panics; a nil r gives the zero Visitor. It does not see an id
// that Middleware minted for r (RequestVisitor does).
func VisitorFromRequest(r *http.Request) Visitor {
	if r == nil {
		return Visitor{}
	}
	return readVisitor(r)
}

// RequestVisitor returns the Visitor of the request that Middleware stored
// in ctx, including an anonymous id Middleware minted for it. It is the
// identity line of a handler:
//
//	ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID
//
// It returns the zero Visitor when ctx is nil or did not pass through
// Middleware.
func RequestVisitor(ctx context.Context) Visitor {
	if ctx == nil {
		return Visitor{}
	}
	v, _ := ctx.Value(requestKey{}).(*requestValue)
	if v == nil {
		return Visitor{}
	}
	vis := readVisitor(v.r)
	if vis.AnonymousID == "" && v.minted != "" {
		vis.AnonymousID, vis.NewAnonymousID = v.minted, true
	}
	return vis
}

func readVisitor(r *http.Request) Visitor {
	return Visitor{
		AnonymousID: cookieID(r, AnonymousIDCookie, maxAnonymousIDBytes),
		UserID:      cookieID(r, UserIDCookie, maxUserIDBytes),
	}
}

// cookieID returns the first valid id among r's cookies called name, or "".
func cookieID(r *http.Request, name string, maxBytes int) string {
	for _, c := range r.CookiesNamed(name) {
		if id := decodeCookieID(c.Value, maxBytes); id != "" {
			return id
		}
	}
	return ""
}

// decodeCookieID decodes an id as analytics.js stores it (see
// VisitorFromRequest), or returns "" when it is not a valid id.
func decodeCookieID(raw string, maxBytes int) string {
	// Percent-encoding at most triples a value, JSON quoting adds a few bytes.
	if raw == "" || len(raw) > 3*(maxBytes+2)+6 {
		return ""
	}
	s, err := url.PathUnescape(raw) // js-cookie encodes like encodeURIComponent: no '+' for space
	if err != nil {
		return ""
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var out string
		if json.Unmarshal([]byte(s), &out) != nil {
			return ""
		}
		s = out
	}
	if s == "" || len(s) > maxBytes || s == "null" || s == "undefined" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !cookieOctet(c) || c == '<' || c == '>' {
			return ""
		}
	}
	return s
}

// cookieOctet reports whether c may appear unquoted in a cookie value
// (RFC 6265 section 4.1.1).
func cookieOctet(c byte) bool {
	return c == 0x21 || c >= 0x23 && c <= 0x2B || c >= 0x2D && c <= 0x3A || c >= 0x3C && c <= 0x5B || c >= 0x5D && c <= 0x7E
}

// CookieOptions are the attributes of a cookie that Middleware sets
// (SetAnonymousIDCookie, KeepCampaign). The zero value gives analytics.js's
// defaults: host-only, Path "/", SameSite Lax, Secure on https requests.
//
// The cookies are not HttpOnly: analytics.js, when the page runs it, must
// be able to read (and keep) the anonymous id.
type CookieOptions struct {
	// Domain is the Domain attribute, e.g. "example.com" to share the
	// cookie with every subdomain (a leading dot is dropped). Empty: a
	// host-only cookie. A value that is not a valid domain name is ignored
	// (host-only).
	Domain string
	// Path is the Path attribute. Empty, or not starting with "/", or with
	// characters a path attribute cannot hold: "/".
	Path string
	// MaxAge is the cookie's lifetime, counted from when it is set. Zero or
	// negative: the option's default. It is rounded down to whole seconds
	// (at least one).
	MaxAge time.Duration
	// SameSite is the SameSite attribute. Zero or http.SameSiteDefaultMode
	// (or any value that is not a SameSite mode): Lax, as analytics.js. http.SameSiteNoneMode forces Secure, as browsers
	// require.
	SameSite http.SameSite
	// Secure sets the Secure attribute on every response. False: Secure is
	// set only when the request is https (TLS, or X-Forwarded-Proto https
	// or Forwarded proto=https from a trusted proxy).
	Secure bool
}

// SetAnonymousIDCookie makes Middleware give a shopper without a valid
// ajs_anonymous_id cookie a new anonymous id (a random UUIDv4) and set it
// as that cookie on the response, before the handler runs, in the plain
// format analytics.js 2.0 writes and reads. A server-rendered shop without
// analytics.js thereby gets one stable anonymous id per browser, and a shop
// that later adds analytics.js keeps it. RequestVisitor returns the new id
// for the request that minted it (NewAnonymousID true) and the browser
// sends it back on the next ones.
//
// An existing valid cookie (see VisitorFromRequest) is never replaced, nor
// its lifetime renewed; a malformed or oversized one is replaced. The
// cookie's lifetime is o.MaxAge, default DefaultAnonymousIDCookieMaxAge
// (one year); see CookieOptions for the other attributes.
//
// Default: no cookie is set. ContextFromRequest, which has no response, never
// sets one.
func SetAnonymousIDCookie(o CookieOptions) RequestOption {
	cc := o.normalize(DefaultAnonymousIDCookieMaxAge)
	return requestOptionFunc(func(c *requestConfig) { c.anonCookie = &cc })
}

// normalize applies the defaults and the validity rules of CookieOptions.
func (o CookieOptions) normalize(defMaxAge time.Duration) CookieOptions {
	o.Domain = strings.TrimPrefix(o.Domain, ".")
	probe := &http.Cookie{Name: "n", Value: "v", Domain: o.Domain} //nolint:gosec // G124: only validates Domain, never sent
	if o.Domain != "" && probe.Valid() != nil {
		o.Domain = ""
	}
	if !validCookiePath(o.Path) {
		o.Path = "/"
	}
	if o.MaxAge <= 0 {
		o.MaxAge = defMaxAge
	}
	if o.MaxAge < time.Second {
		o.MaxAge = time.Second
	}
	if o.SameSite == http.SameSiteDefaultMode || o.SameSite < http.SameSiteDefaultMode || o.SameSite > http.SameSiteNoneMode {
		o.SameSite = http.SameSiteLaxMode
	}
	return o
}

func validCookiePath(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 1024 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c >= 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// cookie returns the cookie name=value with o's attributes for r.
func (o *CookieOptions) cookie(name, value string, https bool) *http.Cookie {
	return &http.Cookie{ //nolint:gosec // G124: not HttpOnly on purpose, analytics.js reads it; Secure below
		Name:     name,
		Value:    value,
		Domain:   o.Domain,
		Path:     o.Path,
		MaxAge:   int(o.MaxAge / time.Second),
		SameSite: o.SameSite,
		Secure:   o.Secure || https || o.SameSite == http.SameSiteNoneMode,
	}
}

// prepare does what Middleware does before the handler runs: mint and set
// the anonymous id cookie, and keep the campaign. It records a minted id in v.
func (cfg *requestConfig) prepare(w http.ResponseWriter, r *http.Request, v *requestValue) {
	https := cfg.isHTTPS(r)
	if cfg.anonCookie != nil && cookieID(r, AnonymousIDCookie, maxAnonymousIDBytes) == "" {
		v.minted = ids.NewV4()
		http.SetCookie(w, cfg.anonCookie.cookie(AnonymousIDCookie, v.minted, https))
	}
	if cfg.campaign != nil {
		cfg.campaign.keep(w, r, https)
	}
}

// isHTTPS reports whether the client used https (as pageInfo decides the scheme).
func (cfg *requestConfig) isHTTPS(r *http.Request) bool {
	_, proto, _ := cfg.forwarding(r, parsePeer(r.RemoteAddr))
	if p := strings.ToLower(proto); p == "http" || p == "https" {
		return p == "https"
	}
	return r.TLS != nil
}
