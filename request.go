package analytics

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Request enrichment: the context of a message from the *http.Request that
// caused it.
//
// Exported here: RequestOption, TrustProxies, UseForwardedHeader,
// ContextFromRequest, Middleware, RequestContext. Browser identity is in
// cookies.go, attribution in attribution.go, consent in consent.go.

// RequestOption configures ContextFromRequest and Middleware. A nil
// RequestOption is a mistake, as a nil Option is for New; since these two
// cannot return an error, they ignore it.
type RequestOption interface {
	applyRequest(*requestConfig)
}

type requestOptionFunc func(*requestConfig)

func (f requestOptionFunc) applyRequest(c *requestConfig) { f(c) }

type requestConfig struct {
	trusted    []netip.Prefix
	forwarded  bool                         // read RFC 7239 Forwarded instead of X-Forwarded-*
	consent    func(*http.Request) *Consent // ReadConsent; nil: none
	anonCookie *CookieOptions               // SetAnonymousIDCookie; nil: never set
	campaign   *campaignConfig              // KeepCampaign; nil: off
}

func newRequestConfig(opts []RequestOption) requestConfig {
	var c requestConfig
	for _, o := range opts {
		if o != nil {
			o.applyRequest(&c)
		}
	}
	return c
}

// TrustProxies declares the reverse proxies (load balancers, CDNs, ingress)
// whose forwarding headers are believed. Only when the connection comes from
// one of these prefixes are X-Forwarded-For, X-Forwarded-Proto and
// X-Forwarded-Host read (or Forwarded, with UseForwardedHeader); the client
// address is then the rightmost address of the chain that is not itself a
// trusted proxy.
//
// Default: no proxy is trusted and every forwarding header is ignored, so a
// client cannot choose the ip it is recorded with. Declare exactly the
// addresses of your own proxies, for example
//
//	analytics.TrustProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8"))
//
// Calls accumulate. A zero (invalid) prefix is ignored; host bits are
// masked off (10.1.2.3/8 is 10.0.0.0/8). An IPv4 prefix also matches the
// IPv4-mapped IPv6 form of its addresses.
func TrustProxies(prefixes ...netip.Prefix) RequestOption {
	valid := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		valid = append(valid, p.Masked())
	}
	return requestOptionFunc(func(c *requestConfig) {
		c.trusted = append(c.trusted, valid...)
	})
}

// UseForwardedHeader makes trusted proxies' RFC 7239 Forwarded header
// (for=, proto=, host=) the source of the client address, scheme and host,
// instead of X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host, which
// are then ignored. Use it only if every trusted proxy writes Forwarded: a
// proxy that forwards a client's own Forwarded header without appending to it
// would let that client choose its address. Default: X-Forwarded-*. Without
// TrustProxies it has no effect.
func UseForwardedHeader() RequestOption {
	return requestOptionFunc(func(c *requestConfig) { c.forwarded = true })
}

// Longest value kept for each string taken from a request, in bytes, so that
// enrichment can never push a message over the 32,000-byte limit. Longer
// values are cut at a rune boundary.
const (
	maxURLBytes      = 1024 // page url, path, search, referrer
	maxUABytes       = 512  // userAgent
	maxCampaignBytes = 256  // each campaign member
	maxLocaleBytes   = 35   // the longest well-formed tag we keep
)

// ContextFromRequest returns the message context for an incoming request, as
// analytics.js would fill it in the browser (see the context fields of
// https://segment.com/docs/connections/spec/common/#context):
//
//   - IP: the connection's address (r.RemoteAddr), or, when that peer is a
//     trusted proxy (TrustProxies), the rightmost address of the forwarding
//     chain that is not a trusted proxy. IPv6 is written without brackets,
//     port or zone; IPv4-mapped IPv6 as IPv4. Empty when the address cannot
//     be parsed (a Unix socket, an "unknown" or obfuscated Forwarded node, a
//     malformed header entry at the point the walk stops).
//   - UserAgent: the User-Agent header.
//   - Locale: the most preferred tag of Accept-Language (highest q, the
//     first among equals; "*" and q=0 skipped), in canonical case
//     ("en-us" becomes "en-US", "zh-hant-tw" "zh-Hant-TW", "en_GB"
//     "en-GB"). Empty when no tag is well-formed.
//   - Page: URL is scheme://host/path?query as the client asked for it
//     (scheme https when the connection is TLS; scheme and host from
//     X-Forwarded-Proto/-Host or Forwarded only from trusted proxies; host
//     lower-cased, default port dropped, no fragment, no userinfo); Path is
//     the escaped path; Search is the query with its leading "?"; Referrer
//     is the Referer header when it is an absolute http(s) URL, without
//     userinfo or fragment. URL is empty when the host is unknown. Title is
//     never set (the server does not know it).
//   - Campaign: utm_campaign (Name), utm_source, utm_medium, utm_term and
//     utm_content of the query (the first value of each); nil when none is
//     set. Malformed query pairs are skipped. With KeepCampaign, a request
//     without any takes the campaign kept in its cookie.
//   - Consent: with ReadConsent, what its function returns; else nil.
//
// Strings are made valid UTF-8, stripped of control characters and cut to
// a bounded length (1,024 bytes for URLs, 512 for the user agent, 256 for
// each campaign member), so the result never makes Enqueue fail. Missing
// headers leave their fields empty (omitted on the wire). The query string
// is sent as the client sent it: keep secrets out of URLs.
//
// The browser's analytics.js ids (ajs_anonymous_id, ajs_user_id) are not
// part of the context but of the message: VisitorFromRequest reads them
// (RequestVisitor, with Middleware).
//
// It returns a new *Context the caller may modify; nil when r is nil.
// It never panics.
func ContextFromRequest(r *http.Request, opts ...RequestOption) *Context {
	if r == nil {
		return nil
	}
	cfg := newRequestConfig(opts)
	return cfg.context(r)
}

// requestKey is the context.Context key under which Middleware stores the request.
type requestKey struct{}

type requestValue struct {
	r      *http.Request
	cfg    *requestConfig
	minted string // the anonymous id Middleware set a cookie for, if any
}

// Middleware returns a handler that makes the request available to
// RequestContext and RequestVisitor and then calls next. It does no work
// until a handler asks: the context is built from the request as the
// middleware saw it (before any http.StripPrefix below it), each time
// RequestContext is called. Options are as for ContextFromRequest; declare
// trusted proxies here once.
//
// With SetAnonymousIDCookie or KeepCampaign, it reads the request's
// cookies and sets its own on the response before calling next (the only
// work it does eagerly).
//
// A nil next means http.DefaultServeMux, as for http.Server's Handler.
func Middleware(next http.Handler, opts ...RequestOption) http.Handler {
	if next == nil {
		next = http.DefaultServeMux
	}
	cfg := newRequestConfig(opts)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &requestValue{r: r, cfg: &cfg}
		if cfg.anonCookie != nil || cfg.campaign != nil {
			cfg.prepare(w, r, v)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, v)))
	})
}

// RequestContext returns the message context of the request that Middleware
// stored in ctx, built as ContextFromRequest does with the middleware's
// options. With RequestVisitor for the browser's anonymous id, it is what a
// handler adds:
//
//	ev := analytics.ProductAdded(cartID, product)
//	ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID
//	ev.Context = analytics.RequestContext(r.Context())
//
// Each call returns a new *Context the caller may modify. It returns nil
// (no per-message context; the client's default context still applies) when
// ctx is nil or did not pass through Middleware.
func RequestContext(ctx context.Context) *Context {
	if ctx == nil {
		return nil
	}
	v, _ := ctx.Value(requestKey{}).(*requestValue)
	if v == nil {
		return nil
	}
	return v.cfg.context(v.r)
}

func (cfg *requestConfig) context(r *http.Request) *Context {
	c := &Context{
		UserAgent: clean(r.Header.Get("User-Agent"), maxUABytes),
		Locale:    preferredLocale(r.Header.Values("Accept-Language")),
	}
	peer := parsePeer(r.RemoteAddr)
	ip, proto, host := cfg.forwarding(r, peer)
	if ip.IsValid() {
		c.IP = ip.String()
	}
	c.Page = pageInfo(r, proto, host)
	c.Campaign = campaign(r.URL)
	if c.Campaign == nil && cfg.campaign != nil {
		c.Campaign = keptCampaign(r)
	}
	if cfg.consent != nil {
		c.Consent = readConsent(cfg.consent, r)
	}
	return c
}

func (cfg *requestConfig) isTrusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range cfg.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarding returns the client address and, when a trusted proxy says so,
// the scheme and host the client used ("" when unknown).
func (cfg *requestConfig) forwarding(r *http.Request, peer netip.Addr) (ip netip.Addr, proto, host string) {
	if !cfg.isTrusted(peer) {
		return peer, "", ""
	}
	if cfg.forwarded {
		return cfg.walkForwarded(r.Header.Values("Forwarded"), peer)
	}
	return cfg.walkXFF(r.Header.Values("X-Forwarded-For"), peer),
		lastListValue(r.Header.Values("X-Forwarded-Proto")),
		lastListValue(r.Header.Values("X-Forwarded-Host"))
}

// walkXFF walks X-Forwarded-For from the right, starting at a trusted peer,
// and returns the first address that is not a trusted proxy (or the leftmost
// when all are). A malformed entry where the walk stops gives no address.
func (cfg *requestConfig) walkXFF(lines []string, peer netip.Addr) netip.Addr {
	cur := peer
	for i := len(lines) - 1; i >= 0; i-- {
		rest := lines[i]
		for {
			var part string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				part, rest = rest[j+1:], rest[:j]
			} else {
				part, rest = rest, ""
			}
			part = strings.TrimSpace(part)
			if part != "" || rest != "" { // skip a wholly empty header line
				cur = parseNode(part)
				if !cfg.isTrusted(cur) {
					return cur
				}
			}
			if rest == "" {
				break
			}
		}
	}
	return cur
}

// walkForwarded walks RFC 7239 elements from the right. Each element was
// written by the proxy that received the request from its for= node; the
// proto and host of the element where the walk stops are what the client
// used.
func (cfg *requestConfig) walkForwarded(lines []string, peer netip.Addr) (ip netip.Addr, proto, host string) {
	elems := parseForwarded(lines)
	cur := peer
	for i := len(elems) - 1; i >= 0; i-- {
		e := elems[i]
		cur, proto, host = parseNode(e.forNode), e.proto, e.host
		if !cfg.isTrusted(cur) {
			break
		}
	}
	return cur, proto, host
}

type forwardedElem struct{ forNode, proto, host string }

// parseForwarded splits Forwarded header lines into elements. A malformed
// element keeps what could be read; a missing for= gives an empty node.
func parseForwarded(lines []string) []forwardedElem {
	var out []forwardedElem
	for _, line := range lines {
		for _, el := range splitQuoted(line, ',') {
			var e forwardedElem
			for _, pair := range splitQuoted(el, ';') {
				k, v, ok := strings.Cut(pair, "=")
				if !ok {
					continue
				}
				v = unquote(strings.TrimSpace(v))
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "for":
					e.forNode = v
				case "proto":
					e.proto = v
				case "host":
					e.host = v
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings (with \ escapes).
func splitQuoted(s string, sep byte) []string {
	var parts []string
	start, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote removes the quotes and escapes of an RFC 7230 quoted-string; other
// values are returned as they are.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return s
	}
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseNode parses an address as proxies write it: 192.0.2.1, 192.0.2.1:80,
// 2001:db8::1, [2001:db8::1], [2001:db8::1]:80, fe80::1%eth0. Anything else
// ("unknown", "_hidden", garbage) is the zero Addr.
func parseNode(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return normalize(a)
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalize(ap.Addr())
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return normalize(a)
		}
	}
	// [v6]:port with a zone, or a host:port netip rejects.
	if h, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(h); err == nil {
			return normalize(a)
		}
	}
	return netip.Addr{}
}

// parsePeer parses r.RemoteAddr ("ip:port" for TCP; anything for other
// listeners).
func parsePeer(remote string) netip.Addr { return parseNode(remote) }

func normalize(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// lastListValue returns the rightmost element of a comma-separated header:
// the one the nearest (trusted) proxy wrote.
func lastListValue(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		v := lines[i]
		if j := strings.LastIndexByte(v, ','); j >= 0 {
			v = v[j+1:]
		}
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func pageInfo(r *http.Request, fwdProto, fwdHost string) *PageInfo {
	p := &PageInfo{Referrer: referrer(r.Header.Get("Referer"))}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if s := strings.ToLower(fwdProto); s == "http" || s == "https" {
		scheme = s
	}
	host := validHost(r.Host)
	if host == "" && r.URL != nil {
		host = validHost(r.URL.Host)
	}
	if h := validHost(fwdHost); h != "" {
		host = h
	}
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}

	var path, query string
	if r.URL != nil {
		path = r.URL.EscapedPath()
		if r.URL.Opaque != "" { // "OPTIONS *", "CONNECT host:port"
			path = ""
		}
		query = withoutFragment(r.URL.RawQuery)
		// A literal '#' in the request line (an encoded one is %23 there)
		// starts a fragment that net/http left in the path.
		if i := strings.IndexByte(r.RequestURI, '#'); i >= 0 {
			if u, err := url.ParseRequestURI(r.RequestURI[:i]); err == nil && u.Opaque == "" {
				path, query = u.EscapedPath(), u.RawQuery
			}
		}
	}
	if query != "" {
		p.Search = clean("?"+query, maxURLBytes)
	}
	p.Path = clean(path, maxURLBytes)
	if host != "" && (path == "" || path[0] == '/') {
		if path == "" {
			path = "/"
		}
		u := scheme + "://" + host + path
		if query != "" {
			u += "?" + query
		}
		p.URL = clean(u, maxURLBytes)
	}
	if *p == (PageInfo{}) {
		return nil
	}
	return p
}

// validHost returns h lower-cased when it is a plausible host[:port], else "".
func validHost(h string) string {
	h = strings.TrimSpace(h)
	if h == "" || len(h) > 255 {
		return ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-._:[]%", c) >= 0
		if !ok {
			return ""
		}
	}
	if _, err := url.Parse("http://" + h + "/"); err != nil {
		return ""
	}
	return strings.ToLower(h)
}

// referrer returns the Referer header as an absolute http(s) URL without
// userinfo or fragment, or "".
func referrer(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || validHost(u.Host) == "" {
		return ""
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	return clean(u.String(), maxURLBytes)
}

// withoutFragment cuts a "#fragment" that a non-browser client sent in the
// request line (servers leave it in the path or query; browsers never send it).
func withoutFragment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

func campaign(u *url.URL) *CampaignInfo {
	if u == nil || !strings.Contains(u.RawQuery, "utm_") {
		return nil
	}
	q, _ := url.ParseQuery(withoutFragment(u.RawQuery)) // keeps the well-formed pairs
	return campaignFrom(q)
}

// preferredLocale returns the canonical form of the Accept-Language tag with
// the highest q (the first among equals), or "".
func preferredLocale(lines []string) string {
	best, bestQ := "", -1.0
	for _, line := range lines {
		for _, item := range strings.Split(line, ",") {
			tag, params, _ := strings.Cut(item, ";")
			tag = canonicalTag(strings.TrimSpace(tag))
			if tag == "" {
				continue
			}
			q := parseQ(params)
			if q > bestQ && q > 0 {
				best, bestQ = tag, q
			}
		}
	}
	return best
}

// parseQ reads "q=0.8" from the parameters of an Accept-Language item: 1 when
// absent, 0 (skipped) when malformed or out of range.
func parseQ(params string) float64 {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
		if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') || (len(v) > 1 && v[1] != '.') {
			return 0
		}
		q := float64(v[0] - '0')
		scale := 0.1
		for i := 2; i < len(v); i++ {
			if v[i] < '0' || v[i] > '9' {
				return 0
			}
			q += float64(v[i]-'0') * scale
			scale /= 10
		}
		if q > 1 {
			return 0
		}
		return q
	}
	return 1
}

// canonicalTag returns a BCP 47 language tag in its canonical case, or "" when
// tag is not well-formed enough to send: a 2-3 letter language (or i-/x-),
// then subtags of 1-8 letters or digits. "_" is accepted for "-". Case
// follows RFC 5646 section 2.1.1: language lower, script title, region upper,
// and everything after a singleton (extensions, private use) lower.
func canonicalTag(tag string) string {
	if tag == "" || tag == "*" || len(tag) > maxLocaleBytes {
		return ""
	}
	subs := strings.Split(strings.ReplaceAll(tag, "_", "-"), "-")
	afterSingleton := false
	for i, s := range subs {
		if len(s) == 0 || len(s) > 8 {
			return ""
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !letter && (c < '0' || c > '9' || i == 0) {
				return ""
			}
		}
		s = strings.ToLower(s)
		switch {
		case i == 0:
			if (len(s) < 2 || len(s) > 3) && s != "i" && s != "x" {
				return ""
			}
			afterSingleton = len(s) == 1
		case afterSingleton:
		case len(s) == 1:
			afterSingleton = true
		case len(s) == 4 && isAlpha(s):
			s = strings.ToUpper(s[:1]) + s[1:] // script
		case len(s) == 2 && isAlpha(s):
			s = strings.ToUpper(s) // region
		}
		subs[i] = s
	}
	return strings.Join(subs, "-")
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// clean makes s valid UTF-8 without control characters, trimmed, and at most
// max bytes long (cut at a rune boundary).
func clean(s string, max int) string {
	ok := utf8.ValidString(s)
	for i := 0; ok && i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			ok = false
		}
	}
	if !ok {
		s = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
