package analytics_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

var (
	trust10   = analytics.TrustProxies(netip.MustParsePrefix("10.0.0.0/8"))
	trustULA  = analytics.TrustProxies(netip.MustParsePrefix("fd00::/8"))
	forwarded = analytics.UseForwardedHeader()
)

// req builds a server-side request as net/http would hand it to a handler.
func req(target, remote string, header ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func TestContextFromRequestIP(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		header []string
		opts   []analytics.RequestOption
		want   string
	}{
		{"peer", "203.0.113.7:5555", nil, nil, "203.0.113.7"},
		{"untrusted by default: XFF ignored", "203.0.113.7:5555", []string{"X-Forwarded-For", "1.1.1.1"}, nil, "203.0.113.7"},
		{"untrusted by default: Forwarded ignored", "203.0.113.7:5555", []string{"Forwarded", "for=1.1.1.1"}, []analytics.RequestOption{forwarded}, "203.0.113.7"},
		{"untrusted peer claiming a trusted hop", "203.0.113.7:5555", []string{"X-Forwarded-For", "10.0.0.1"}, []analytics.RequestOption{trust10}, "203.0.113.7"},
		{"trusted peer, no header", "10.0.0.2:80", nil, []analytics.RequestOption{trust10}, "10.0.0.2"},
		{"trusted peer", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"spoofed entry left of the client", "10.0.0.2:80", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.9"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"trusted chain skipped", "10.0.0.2:80", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.9, 10.1.1.1, 10.2.2.2"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"chain over several header lines", "10.0.0.2:80", []string{"X-Forwarded-For", "6.6.6.6, 198.51.100.9", "X-Forwarded-For", "10.1.1.1"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"every hop trusted: the leftmost", "10.0.0.2:80", []string{"X-Forwarded-For", "10.9.9.9, 10.1.1.1"}, []analytics.RequestOption{trust10}, "10.9.9.9"},
		{"spoofed trusted hop left of the client", "10.0.0.2:80", []string{"X-Forwarded-For", "10.6.6.6, 198.51.100.9"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"entry with a port", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9:4711"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"malformed where the walk stops", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9, not-an-ip"}, []analytics.RequestOption{trust10}, ""},
		{"empty entry where the walk stops", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9, , 10.1.1.1"}, []analytics.RequestOption{trust10}, ""},
		{"malformed left of the client", "10.0.0.2:80", []string{"X-Forwarded-For", "<script>, 198.51.100.9"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"XFF mode ignores Forwarded", "10.0.0.2:80", []string{"Forwarded", "for=198.51.100.9"}, []analytics.RequestOption{trust10}, "10.0.0.2"},
		{"options accumulate", "192.168.1.1:80", []string{"X-Forwarded-For", "198.51.100.9, 10.0.0.3"}, []analytics.RequestOption{trust10, analytics.TrustProxies(netip.MustParsePrefix("192.168.0.0/16"))}, "198.51.100.9"},
		{"host bits masked", "10.200.0.1:80", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{analytics.TrustProxies(netip.MustParsePrefix("10.1.2.3/8"))}, "198.51.100.9"},
		{"zero prefix ignored", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{analytics.TrustProxies(netip.Prefix{}), nil}, "10.0.0.2"},

		// IPv6
		{"IPv6 peer", "[2001:db8::1]:443", nil, nil, "2001:db8::1"},
		{"IPv6 peer with zone", "[fe80::1%eth0]:443", nil, nil, "fe80::1"},
		{"IPv4-mapped peer", "[::ffff:203.0.113.7]:443", nil, nil, "203.0.113.7"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.2]:443", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{trust10}, "198.51.100.9"},
		{"mapped trusted prefix", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{analytics.TrustProxies(netip.MustParsePrefix("::ffff:10.0.0.0/104"))}, "198.51.100.9"},
		{"IPv6 trusted peer, IPv6 client", "[fd00::2]:80", []string{"X-Forwarded-For", "2001:db8::5"}, []analytics.RequestOption{trustULA}, "2001:db8::5"},
		{"IPv6 bracketed with port", "[fd00::2]:80", []string{"X-Forwarded-For", "[2001:db8::5]:1234, fd00::7"}, []analytics.RequestOption{trustULA}, "2001:db8::5"},
		{"IPv6 bracketed", "[fd00::2]:80", []string{"X-Forwarded-For", "[2001:db8::5]"}, []analytics.RequestOption{trustULA}, "2001:db8::5"},
		{"IPv6 client behind IPv4 proxy", "10.0.0.2:80", []string{"X-Forwarded-For", "2001:db8::5"}, []analytics.RequestOption{trust10}, "2001:db8::5"},

		// RFC 7239
		{"Forwarded", "10.0.0.2:80", []string{"Forwarded", "for=198.51.100.9;proto=https"}, []analytics.RequestOption{trust10, forwarded}, "198.51.100.9"},
		{"Forwarded chain", "10.0.0.2:80", []string{"Forwarded", `for=6.6.6.6, For="[2001:db8:cafe::17]:4711";by=10.0.0.1, for=10.1.1.1`}, []analytics.RequestOption{trust10, forwarded}, "2001:db8:cafe::17"},
		{"Forwarded over lines", "10.0.0.2:80", []string{"Forwarded", "for=198.51.100.9", "Forwarded", "for=10.1.1.1"}, []analytics.RequestOption{trust10, forwarded}, "198.51.100.9"},
		{"Forwarded quoted IPv4 with port", "10.0.0.2:80", []string{"Forwarded", `for="198.51.100.9:8080"`}, []analytics.RequestOption{trust10, forwarded}, "198.51.100.9"},
		{"Forwarded unknown node", "10.0.0.2:80", []string{"Forwarded", "for=unknown"}, []analytics.RequestOption{trust10, forwarded}, ""},
		{"Forwarded obfuscated node", "10.0.0.2:80", []string{"Forwarded", "for=_hidden, for=10.1.1.1"}, []analytics.RequestOption{trust10, forwarded}, ""},
		{"Forwarded without for", "10.0.0.2:80", []string{"Forwarded", "proto=https;by=10.0.0.1"}, []analytics.RequestOption{trust10, forwarded}, ""},
		{"Forwarded with a quoted comma", "10.0.0.2:80", []string{"Forwarded", `for="198.51.100.9, 6.6.6.6"`}, []analytics.RequestOption{trust10, forwarded}, ""},
		{"Forwarded mode ignores XFF", "10.0.0.2:80", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{trust10, forwarded}, "10.0.0.2"},
		{"Forwarded garbage", "10.0.0.2:80", []string{"Forwarded", `;;==,"`}, []analytics.RequestOption{trust10, forwarded}, ""},

		// peers that are not TCP addresses
		{"empty RemoteAddr", "", nil, nil, ""},
		{"unix socket", "@", nil, nil, ""},
		{"unix socket, XFF and trust", "@", []string{"X-Forwarded-For", "198.51.100.9"}, []analytics.RequestOption{trust10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req("/", "", tt.header...)
			r.RemoteAddr = tt.remote
			c := analytics.ContextFromRequest(r, tt.opts...)
			require.NotNil(t, c)
			assert.Equal(t, tt.want, c.IP)
		})
	}
}

func TestContextFromRequestPage(t *testing.T) {
	tests := []struct {
		name   string
		r      *http.Request
		opts   []analytics.RequestOption
		want   *analytics.PageInfo
		remark string
	}{
		{
			name: "https with query",
			r:    req("https://Shop.Example/products/42?color=red&utm_source=x", ""),
			want: &analytics.PageInfo{URL: "https://shop.example/products/42?color=red&utm_source=x", Path: "/products/42", Search: "?color=red&utm_source=x"},
		},
		{
			name: "plain http, no query",
			r:    req("http://shop.example/", ""),
			want: &analytics.PageInfo{URL: "http://shop.example/", Path: "/"},
		},
		{
			name: "default port dropped",
			r:    req("https://shop.example:443/cart", ""),
			want: &analytics.PageInfo{URL: "https://shop.example/cart", Path: "/cart"},
		},
		{
			name: "other port kept",
			r:    req("http://shop.example:8080/cart", ""),
			want: &analytics.PageInfo{URL: "http://shop.example:8080/cart", Path: "/cart"},
		},
		{
			name: "escaped path stays escaped",
			r:    req("http://shop.example/caf%C3%A9/a%2Fb?q=%22x%22", ""),
			want: &analytics.PageInfo{URL: "http://shop.example/caf%C3%A9/a%2Fb?q=%22x%22", Path: "/caf%C3%A9/a%2Fb", Search: "?q=%22x%22"},
		},
		{
			name: "IPv6 host",
			r:    req("http://[2001:db8::1]:8080/x", ""),
			want: &analytics.PageInfo{URL: "http://[2001:db8::1]:8080/x", Path: "/x"},
		},
		{
			name: "referrer kept, userinfo and fragment dropped",
			r:    req("http://shop.example/p", "", "Referer", "https://user:pw@www.google.com/search?q=shoes#top"),
			want: &analytics.PageInfo{URL: "http://shop.example/p", Path: "/p", Referrer: "https://www.google.com/search?q=shoes"},
		},
		{name: "relative referrer dropped", r: req("http://shop.example/p", "", "Referer", "/home"), want: &analytics.PageInfo{URL: "http://shop.example/p", Path: "/p"}},
		{name: "javascript referrer dropped", r: req("http://shop.example/p", "", "Referer", "javascript:alert(1)"), want: &analytics.PageInfo{URL: "http://shop.example/p", Path: "/p"}},
		{name: "malformed referrer dropped", r: req("http://shop.example/p", "", "Referer", "http://[::1/%zz"), want: &analytics.PageInfo{URL: "http://shop.example/p", Path: "/p"}},
		{name: "referrer with a bad host dropped", r: req("http://shop.example/p", "", "Referer", "http://a b/"), want: &analytics.PageInfo{URL: "http://shop.example/p", Path: "/p"}},
		{
			name: "no host: no url",
			r:    func() *http.Request { r := req("/p?a=1", ""); r.Host = ""; return r }(),
			want: &analytics.PageInfo{Path: "/p", Search: "?a=1"},
		},
		{
			name: "invalid host: no url",
			r:    func() *http.Request { r := req("/p", ""); r.Host = "evil.com/<x>"; return r }(),
			want: &analytics.PageInfo{Path: "/p"},
		},
		{
			name: "nil URL",
			r:    func() *http.Request { r := req("/p", ""); r.URL = nil; return r }(),
			want: &analytics.PageInfo{URL: "http://example.com/", Path: ""},
		},
		{
			name: "X-Forwarded-Proto/Host from an untrusted peer ignored",
			r:    req("http://internal:8080/p", "203.0.113.7:1", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"),
			opts: []analytics.RequestOption{trust10},
			want: &analytics.PageInfo{URL: "http://internal:8080/p", Path: "/p"},
		},
		{
			name: "X-Forwarded-Proto/Host from a trusted peer",
			r:    req("http://internal:8080/p?x=1", "10.0.0.2:1", "X-Forwarded-Proto", "HTTPS", "X-Forwarded-Host", "Shop.Example"),
			opts: []analytics.RequestOption{trust10},
			want: &analytics.PageInfo{URL: "https://shop.example/p?x=1", Path: "/p", Search: "?x=1"},
		},
		{
			name: "X-Forwarded-Host list: the nearest proxy's value",
			r:    req("http://internal/p", "10.0.0.2:1", "X-Forwarded-Host", "evil.example, shop.example", "X-Forwarded-Proto", "http, https"),
			opts: []analytics.RequestOption{trust10},
			want: &analytics.PageInfo{URL: "https://shop.example/p", Path: "/p"},
		},
		{
			name: "invalid forwarded values ignored",
			r:    req("http://internal/p", "10.0.0.2:1", "X-Forwarded-Host", "shop.example/evil?", "X-Forwarded-Proto", "javascript"),
			opts: []analytics.RequestOption{trust10},
			want: &analytics.PageInfo{URL: "http://internal/p", Path: "/p"},
		},
		{
			name: "Forwarded proto and host of the client's hop",
			r:    req("http://internal/p", "10.0.0.2:1", "Forwarded", `for=198.51.100.9;proto=https;host="Shop.Example", for=10.1.1.1;proto=http;host=internal`),
			opts: []analytics.RequestOption{trust10, forwarded},
			want: &analytics.PageInfo{URL: "https://shop.example/p", Path: "/p"},
		},
		{
			name: "Forwarded proto and host from an untrusted peer ignored",
			r:    req("http://internal/p", "203.0.113.7:1", "Forwarded", `for=198.51.100.9;proto=https;host=evil.example`),
			opts: []analytics.RequestOption{trust10, forwarded},
			want: &analytics.PageInfo{URL: "http://internal/p", Path: "/p"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := analytics.ContextFromRequest(tt.r, tt.opts...)
			require.NotNil(t, c)
			assert.Equal(t, tt.want, c.Page)
		})
	}
}

func TestContextFromRequestTLS(t *testing.T) {
	r := req("/checkout", "")
	r.Host = "shop.example"
	r.TLS = &tls.ConnectionState{}
	assert.Equal(t, "https://shop.example/checkout", analytics.ContextFromRequest(r).Page.URL)
}

func TestContextFromRequestCampaign(t *testing.T) {
	tests := []struct {
		query string
		want  *analytics.CampaignInfo
	}{
		{"", nil},
		{"color=red", nil},
		{"utm_source=google&utm_medium=cpc&utm_campaign=spring_sale&utm_term=running+shoes&utm_content=ad%201",
			&analytics.CampaignInfo{Source: "google", Medium: "cpc", Name: "spring_sale", Term: "running shoes", Content: "ad 1"}},
		{"utm_source=a&utm_source=b", &analytics.CampaignInfo{Source: "a"}},
		{"utm_source=%zz&utm_medium=email", &analytics.CampaignInfo{Medium: "email"}},
		{"utm_source=&utm_medium=", nil},
		{"utm_source=%00news%0Aletter%FF", &analytics.CampaignInfo{Source: "newsletter\uFFFD"}},
		{"UTM_SOURCE=upper", nil}, // parameter names are case-sensitive, as in analytics.js
		{"utm_id=42", nil},        // not a campaign member the SDK types
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := req("/?"+tt.query, "")
			assert.Equal(t, tt.want, analytics.ContextFromRequest(r).Campaign)
		})
	}
}

func TestContextFromRequestLocale(t *testing.T) {
	tests := []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"en-us"}, "en-US"},
		{[]string{"EN"}, "en"},
		{[]string{"fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5"}, "fr-CH"},
		{[]string{"en;q=0.5, de;q=0.9"}, "de"},
		{[]string{"en;q=0.9, de;q=0.9"}, "en"},
		{[]string{"*"}, ""},
		{[]string{"*, pt-br;q=0.1"}, "pt-BR"},
		{[]string{"en;q=0"}, ""},
		{[]string{"en;q=0, de;q=0.001"}, "de"},
		{[]string{"zh-hant-tw"}, "zh-Hant-TW"},
		{[]string{"sr-latn-rs"}, "sr-Latn-RS"},
		{[]string{"es-419"}, "es-419"},
		{[]string{"en_GB"}, "en-GB"},
		{[]string{"de-CH-x-PHONEBK"}, "de-CH-x-phonebk"},
		{[]string{"en-a-BBB-US"}, "en-a-bbb-us"},
		{[]string{"x-klingon"}, "x-klingon"},
		{[]string{"  da ,  en-gb ; q = 0.8 "}, "da"},
		{[]string{"en;q=abc, fr;q=0.2"}, "fr"},
		{[]string{"en;q=1.5, fr;q=0.2"}, "fr"},
		{[]string{"en;q=0.12345, fr;q=0.2"}, "fr"},
		{[]string{"12, e, en-, -en, en--us, ;;;,,, fr"}, "fr"},
		{[]string{"en-verylongsubtag"}, ""},
		{[]string{strings.Repeat("en-us-", 10) + "x"}, ""},
		{[]string{"\xff\xfe, ja"}, "ja"},
		{[]string{"de;q=0.5", "it"}, "it"},
		{[]string{"en;foo=bar;q=0.4, nl;q=0.3"}, "en"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.header, "|"), func(t *testing.T) {
			r := req("/", "")
			for _, h := range tt.header {
				r.Header.Add("Accept-Language", h)
			}
			assert.Equal(t, tt.want, analytics.ContextFromRequest(r).Locale)
		})
	}
}

func TestContextFromRequestMissingHeaders(t *testing.T) {
	r := req("http://shop.example/", "192.0.2.10:1234")
	got := analytics.ContextFromRequest(r)
	assert.Equal(t, &analytics.Context{
		IP:   "192.0.2.10",
		Page: &analytics.PageInfo{URL: "http://shop.example/", Path: "/"},
	}, got)
	assert.Nil(t, analytics.ContextFromRequest(nil))
}

// TestContextFromRequestHostileInput checks that whatever a client sends,
// the context never makes Enqueue fail and passes the strict checks.
func TestContextFromRequestHostileInput(t *testing.T) {
	huge := strings.Repeat("é", 20000)
	r := req("http://shop.example/"+strings.Repeat("%22", 3000)+"?utm_source="+strings.Repeat("%5C", 5000)+"&utm_campaign=%00%01%7F", "10.0.0.2:1",
		"User-Agent", "Mozilla\xff\xfe"+huge,
		"Accept-Language", huge,
		"Referer", "https://x.example/"+huge,
		"X-Forwarded-For", huge,
		"X-Forwarded-Host", huge,
	)
	c := analytics.ContextFromRequest(r, trust10)
	require.NotNil(t, c)
	assert.True(t, utf8.ValidString(c.UserAgent))
	assert.LessOrEqual(t, len(c.UserAgent), 512)
	assert.True(t, strings.HasPrefix(c.UserAgent, "Mozilla\uFFFD"))
	assert.LessOrEqual(t, len(c.Page.URL), 1024)
	assert.LessOrEqual(t, len(c.Page.Referrer), 1024)
	assert.LessOrEqual(t, len(c.Campaign.Source), 256)
	assert.Empty(t, c.Campaign.Name, "control characters are dropped")
	assert.Empty(t, c.Locale)
	assert.Empty(t, c.IP)

	rec := analyticstest.NewRecorder()
	client, err := analytics.New("test-write-key", analytics.WithTransport(rec))
	require.NoError(t, err)
	ev := analytics.ProductViewed(analytics.Product{ProductID: "p1", Price: 1})
	ev.AnonymousID = "a1"
	ev.Context = c
	require.NoError(t, client.Enqueue(ev))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Close(ctx))
	require.Equal(t, 1, rec.Len())
	assert.Empty(t, rec.Violations())
}

func TestRequestContextWithoutMiddleware(t *testing.T) {
	assert.Nil(t, analytics.RequestContext(t.Context()))
	assert.Nil(t, analytics.RequestContext(nil)) //nolint:staticcheck // nil is documented
}

func TestMiddlewareNilHandlerIsDefaultServeMux(t *testing.T) {
	h := analytics.Middleware(nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/analytics-test-unregistered", nil))
	assert.Equal(t, http.StatusNotFound, w.Code, "served by http.DefaultServeMux, which has no such route")
}

// TestMiddlewareRealServer sends real HTTP requests through a server whose
// handler tracks with RequestContext and a client that records.
func TestMiddlewareRealServer(t *testing.T) {
	got := make(chan *analytics.Context, 1)
	mux := http.NewServeMux()
	mux.Handle("/shop/", http.StripPrefix("/shop", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := analytics.RequestContext(r.Context())
		if c2 := analytics.RequestContext(r.Context()); c2 == c || c2.Page == c.Page {
			t.Error("RequestContext returned a shared value")
		}
		got <- c
	})))

	for _, tt := range []struct {
		name   string
		opts   []analytics.RequestOption
		wantIP string
	}{
		{"untrusted loopback: header ignored", nil, "127.0.0.1"},
		{"trusted loopback proxy", []analytics.RequestOption{analytics.TrustProxies(netip.MustParsePrefix("127.0.0.0/8"))}, "198.51.100.9"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(analytics.Middleware(mux, tt.opts...))
			defer srv.Close()
			r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/shop/products/42?utm_source=newsletter", nil)
			require.NoError(t, err)
			r.Header.Set("X-Forwarded-For", "198.51.100.9")
			r.Header.Set("User-Agent", "test-agent/1.0")
			r.Header.Set("Accept-Language", "en-gb,en;q=0.5")
			resp, err := srv.Client().Do(r)
			require.NoError(t, err)
			resp.Body.Close()
			c := <-got
			assert.Equal(t, tt.wantIP, c.IP)
			assert.Equal(t, "test-agent/1.0", c.UserAgent)
			assert.Equal(t, "en-GB", c.Locale)
			host := strings.TrimPrefix(srv.URL, "http://")
			assert.Equal(t, &analytics.PageInfo{
				URL:    "http://" + host + "/shop/products/42?utm_source=newsletter",
				Path:   "/shop/products/42", // as the client asked, before StripPrefix
				Search: "?utm_source=newsletter",
			}, c.Page)
			assert.Equal(t, &analytics.CampaignInfo{Source: "newsletter"}, c.Campaign)
		})
	}
}

func TestMiddlewareIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	got := make(chan *analytics.Context, 1)
	srv := httptest.NewUnstartedServer(analytics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- analytics.RequestContext(r.Context())
	}), analytics.TrustProxies(netip.MustParsePrefix("::1/128"))))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/p", nil)
	require.NoError(t, err)
	r.Header.Set("X-Forwarded-For", "[2001:db8::42]:5000, ::1")
	resp, err := srv.Client().Do(r)
	require.NoError(t, err)
	resp.Body.Close()
	c := <-got
	assert.Equal(t, "2001:db8::42", c.IP)
	assert.Equal(t, "http://"+strings.TrimPrefix(srv.URL, "http://")+"/p", c.Page.URL)
}

// TestMiddlewareEndToEnd is the whole path: a handler with one extra line,
// the client, and a strict Segment-compatible server.
func TestMiddlewareEndToEnd(t *testing.T) {
	collector := analyticstest.NewServer("key")
	defer collector.Close()
	client, err := analytics.New("key", analytics.WithEndpoint(collector.URL))
	require.NoError(t, err)

	h := analytics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := analytics.ProductViewed(analytics.Product{ProductID: r.PathValue("id"), Price: 19.99})
		ev.AnonymousID = "anon-1"
		ev.Context = analytics.RequestContext(r.Context())
		if err := client.Enqueue(ev); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /products/{id}", h)
	r := req("https://shop.example/products/42?utm_campaign=spring", "203.0.113.7:1", "User-Agent", "UA", "Referer", "https://www.google.com/")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, client.Close(ctx))
	require.Empty(t, collector.Violations())
	m, ok := collector.Last()
	require.True(t, ok)
	assert.Equal(t, "203.0.113.7", m.Context["ip"])
	assert.Equal(t, "UA", m.Context["userAgent"])
	assert.Equal(t, map[string]any{
		"url": "https://shop.example/products/42?utm_campaign=spring", "path": "/products/42",
		"search": "?utm_campaign=spring", "referrer": "https://www.google.com/",
	}, m.Context["page"])
	assert.Equal(t, map[string]any{"name": "spring"}, m.Context["campaign"])
}

func TestFragmentInRequestLineIsDropped(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://shop.test/p?utm_campaign=spring#frag", nil)
	c := analytics.ContextFromRequest(r)
	require.NotNil(t, c.Page)
	assert.Equal(t, "http://shop.test/p?utm_campaign=spring", c.Page.URL)
	assert.Equal(t, "?utm_campaign=spring", c.Page.Search)
	require.NotNil(t, c.Campaign)
	assert.Equal(t, "spring", c.Campaign.Name)
	r = httptest.NewRequest(http.MethodGet, "http://shop.test/p#frag", nil)
	c = analytics.ContextFromRequest(r)
	assert.Equal(t, "http://shop.test/p", c.Page.URL)
	assert.Equal(t, "/p", c.Page.Path)
}

func TestEncodedHashInPathIsKept(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://shop.test/tags/c%23?q=1", nil)
	c := analytics.ContextFromRequest(r)
	assert.Equal(t, "/tags/c%23", c.Page.Path)
	assert.Equal(t, "http://shop.test/tags/c%23?q=1", c.Page.URL)
}
