package analytics_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
)

// withCookie returns a request whose Cookie header is exactly raw, as a
// browser sends it.
func withCookie(raw ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://shop.example/cart", nil)
	for _, c := range raw {
		r.Header.Add("Cookie", c)
	}
	return r
}

func TestVisitorFromRequestCookieFormats(t *testing.T) {
	const id = "4e4f0b3c-8f63-4a7e-9d2c-1b8e5f6a7c90"
	long := strings.Repeat("a", 128)
	tests := []struct {
		name, cookie, anon, user string
	}{
		// As analytics.js writes them.
		{"analytics.js 2.0: plain", "ajs_anonymous_id=" + id + "; ajs_user_id=97980cfea0067", id, "97980cfea0067"},
		{"Classic: JSON-quoted, percent-encoded", "ajs_anonymous_id=%22" + id + "%22; ajs_user_id=%2297980cfea0067%22", id, "97980cfea0067"},
		{"literal quotes", `ajs_anonymous_id="` + id + `"`, id, ""},
		{"email user id, Classic", "ajs_user_id=%22peter%40example.com%22", "", "peter@example.com"},
		{"email user id, 2.0", "ajs_user_id=peter@example.com", "", "peter@example.com"},
		{"Classic: logged out user is null", "ajs_anonymous_id=" + id + "; ajs_user_id=null", id, ""},
		{"JSON escapes decoded", "ajs_anonymous_id=%22a%5Cu0062c%22", "abc", ""},
		{"128 bytes is the limit", "ajs_anonymous_id=" + long, long, ""},
		{"other cookies around", "_ga=GA1.2.3; ajs_anonymous_id=" + id + "; theme=dark", id, ""},
		{"first valid of several", "ajs_anonymous_id=%ZZ; ajs_anonymous_id=" + id, id, ""},

		// Malformed and hostile: ignored as if absent.
		{"absent", "theme=dark", "", ""},
		{"empty", "ajs_anonymous_id=; ajs_user_id=", "", ""},
		{"oversized", "ajs_anonymous_id=" + long + "b", "", ""},
		{"oversized user id", "ajs_user_id=" + strings.Repeat("u", 257), "", ""},
		{"bad percent-encoding", "ajs_anonymous_id=%E0%A4%A", "", ""},
		{"unterminated JSON", "ajs_anonymous_id=%22abc", "", ""},
		{"empty JSON string", "ajs_anonymous_id=%22%22", "", ""},
		{"JSON number", "ajs_anonymous_id=42", "42", ""},
		{"NUL byte", "ajs_anonymous_id=ab%00cd", "", ""},
		{"newline (header injection attempt)", "ajs_anonymous_id=ab%0D%0ASet-Cookie:x", "", ""},
		{"space", "ajs_anonymous_id=a%20b", "", ""},
		{"non-ASCII", "ajs_anonymous_id=caf%C3%A9", "", ""},
		{"invalid UTF-8", "ajs_anonymous_id=%FF%FE", "", ""},
		{"quote inside", "ajs_anonymous_id=%22a%5C%22b%22", "", ""},
		{"markup", "ajs_anonymous_id=%3Cscript%3Ealert(1)%3C/script%3E", "", ""},
		{"markup, quoted", "ajs_user_id=%22%3Cimg%3E%22", "", ""},
		{"undefined", "ajs_anonymous_id=undefined", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := analytics.VisitorFromRequest(withCookie(tt.cookie))
			assert.Equal(t, tt.anon, v.AnonymousID)
			assert.Equal(t, tt.user, v.UserID)
			assert.False(t, v.NewAnonymousID)
		})
	}
	assert.Equal(t, analytics.Visitor{}, analytics.VisitorFromRequest(nil))
}

// TestVisitorHugeCookieHeader: a cookie header near net/http's limit is
// refused cheaply and never reaches the message.
func TestVisitorHugeCookieHeader(t *testing.T) {
	v := analytics.VisitorFromRequest(withCookie("ajs_anonymous_id=" + strings.Repeat("%41", 200_000)))
	assert.Empty(t, v.AnonymousID)
}

func TestRequestVisitorWithoutMiddleware(t *testing.T) {
	assert.Equal(t, analytics.Visitor{}, analytics.RequestVisitor(t.Context()))
	assert.Equal(t, analytics.Visitor{}, analytics.RequestVisitor(nil)) //nolint:staticcheck // SA1012: a nil context must not crash
}

// serve runs h for r and returns the response recorder and the Visitor the
// handler saw.
func serve(t *testing.T, r *http.Request, opts ...analytics.RequestOption) (*httptest.ResponseRecorder, analytics.Visitor) {
	t.Helper()
	var seen analytics.Visitor
	h := analytics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = analytics.RequestVisitor(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}), opts...)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w, seen
}

func TestSetAnonymousIDCookie(t *testing.T) {
	set := analytics.SetAnonymousIDCookie(analytics.CookieOptions{})

	t.Run("minted when absent, with analytics.js's defaults", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "http://shop.example/", nil)
		w, v := serve(t, r, set)
		require.True(t, v.NewAnonymousID)
		_, err := uuid.Parse(v.AnonymousID)
		require.NoError(t, err, "a UUID: %q", v.AnonymousID)
		lines := w.Result().Header.Values("Set-Cookie")
		require.Len(t, lines, 1)
		assert.Equal(t, "ajs_anonymous_id="+v.AnonymousID+"; Path=/; Max-Age=31536000; SameSite=Lax", lines[0],
			"plain value as analytics.js 2.0 writes it; not HttpOnly; not Secure over http")
		// analytics.js (and the next request) read it back as the same id.
		assert.Equal(t, v.AnonymousID, analytics.VisitorFromRequest(withCookie(lines[0][:strings.IndexByte(lines[0], ';')])).AnonymousID)
	})
	t.Run("existing cookie kept, no Set-Cookie", func(t *testing.T) {
		w, v := serve(t, withCookie("ajs_anonymous_id=%22abc-123%22"), set)
		assert.Equal(t, analytics.Visitor{AnonymousID: "abc-123"}, v)
		assert.Empty(t, w.Result().Header.Values("Set-Cookie"))
	})
	t.Run("malformed cookie replaced", func(t *testing.T) {
		w, v := serve(t, withCookie("ajs_anonymous_id="+strings.Repeat("x", 300)), set)
		assert.True(t, v.NewAnonymousID)
		assert.Len(t, v.AnonymousID, 36)
		assert.Len(t, w.Result().Cookies(), 1)
	})
	t.Run("Secure over TLS", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "https://shop.example/", nil)
		r.TLS = &tls.ConnectionState{}
		w, _ := serve(t, r, set)
		assert.True(t, w.Result().Cookies()[0].Secure)
	})
	t.Run("Secure behind a trusted TLS proxy only", func(t *testing.T) {
		r := req("http://shop.example/", "10.0.0.2:80", "X-Forwarded-Proto", "https")
		w, _ := serve(t, r, set, trust10)
		assert.True(t, w.Result().Cookies()[0].Secure)
		r = req("http://shop.example/", "203.0.113.9:80", "X-Forwarded-Proto", "https")
		w, _ = serve(t, r, set, trust10)
		assert.False(t, w.Result().Cookies()[0].Secure, "an untrusted client cannot claim https")
	})
	t.Run("options", func(t *testing.T) {
		o := analytics.CookieOptions{Domain: ".shop.example", Path: "/store", MaxAge: 7 * 24 * time.Hour, SameSite: http.SameSiteStrictMode, Secure: true}
		w, v := serve(t, httptest.NewRequest(http.MethodGet, "http://shop.example/", nil), analytics.SetAnonymousIDCookie(o))
		assert.Equal(t, "ajs_anonymous_id="+v.AnonymousID+"; Path=/store; Domain=shop.example; Max-Age=604800; Secure; SameSite=Strict",
			w.Result().Header.Get("Set-Cookie"))
	})
	t.Run("SameSite None forces Secure; invalid domain and path fall back", func(t *testing.T) {
		o := analytics.CookieOptions{Domain: "bad domain;x", Path: "no-slash", SameSite: http.SameSiteNoneMode, MaxAge: time.Millisecond}
		w, v := serve(t, httptest.NewRequest(http.MethodGet, "http://shop.example/", nil), analytics.SetAnonymousIDCookie(o))
		assert.Equal(t, "ajs_anonymous_id="+v.AnonymousID+"; Path=/; Max-Age=1; Secure; SameSite=None", w.Result().Header.Get("Set-Cookie"))
	})
	t.Run("off by default", func(t *testing.T) {
		w, v := serve(t, httptest.NewRequest(http.MethodGet, "http://shop.example/", nil))
		assert.Equal(t, analytics.Visitor{}, v)
		assert.Empty(t, w.Result().Cookies())
	})
	t.Run("user id cookie is read, never set", func(t *testing.T) {
		w, v := serve(t, withCookie("ajs_user_id=u-77"), set)
		assert.Equal(t, "u-77", v.UserID)
		require.Len(t, w.Result().Cookies(), 1)
		assert.Equal(t, analytics.AnonymousIDCookie, w.Result().Cookies()[0].Name)
	})
}

// shop is a two-page site behind Middleware that records what its handlers send.
func shop(t *testing.T, opts ...analytics.RequestOption) (*httptest.Server, *analyticstest.Recorder, *analytics.Client) {
	t.Helper()
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("k", analytics.WithTransport(rec))
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		ev := analytics.ProductViewed(analytics.Product{ProductID: r.PathValue("id")})
		ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID
		ev.Context = analytics.RequestContext(r.Context())
		assert.NoError(t, client.Enqueue(ev))
	})
	mux.HandleFunc("/order", func(w http.ResponseWriter, r *http.Request) {
		ev := analytics.OrderCompleted(analytics.Order{OrderID: r.URL.Query().Get("id"), Total: 10, Currency: "USD"})
		ev.AnonymousID = analytics.RequestVisitor(r.Context()).AnonymousID
		ev.Context = analytics.RequestContext(r.Context())
		assert.NoError(t, client.Enqueue(ev))
	})
	srv := httptest.NewServer(analytics.Middleware(mux, opts...))
	t.Cleanup(srv.Close)
	return srv, rec, client
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

func get(t *testing.T, hc *http.Client, u string) {
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if !assert.NoError(t, err) {
		return
	}
	resp, err := hc.Do(r)
	if assert.NoError(t, err) {
		resp.Body.Close()
	}
}

// TestTwoShoppersAtOnce: two browsers walk the shop concurrently; each
// keeps its own minted anonymous id from the first page to the order, and
// the campaign it landed with.
func TestTwoShoppersAtOnce(t *testing.T) {
	srv, rec, client := shop(t, analytics.SetAnonymousIDCookie(analytics.CookieOptions{}),
		analytics.KeepCampaign(analytics.FirstTouch, analytics.CookieOptions{}))
	const shoppers, pages = 2, 20
	var wg sync.WaitGroup
	for i := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := browser(t)
			get(t, hc, fmt.Sprintf("%s/products/p0?utm_source=s%d", srv.URL, i))
			for j := 1; j < pages; j++ {
				get(t, hc, fmt.Sprintf("%s/products/p%d", srv.URL, j))
			}
			get(t, hc, fmt.Sprintf("%s/order?id=o%d", srv.URL, i))
		}()
	}
	wg.Wait()
	require.NoError(t, client.Close(t.Context()))

	orders := rec.Tracks("Order Completed")
	require.Len(t, orders, shoppers)
	byID := map[string]string{} // anonymousId -> campaign source
	for _, o := range orders {
		require.NotEmpty(t, o.AnonymousID)
		byID[o.AnonymousID] = o.Context["campaign"].(map[string]any)["source"].(string)
	}
	require.Len(t, byID, shoppers, "two shoppers, two ids")
	counts := map[string]int{}
	for _, m := range rec.Messages() {
		src, ok := byID[m.AnonymousID]
		require.True(t, ok, "%s carries an id of no order: %q", m.Event, m.AnonymousID)
		counts[m.AnonymousID]++
		assert.Equal(t, map[string]any{"source": src}, m.Context["campaign"], "every event keeps its shopper's landing campaign")
	}
	for id, n := range counts {
		assert.Equal(t, pages+1, n, id)
	}
	assert.Empty(t, rec.Violations())
}

func TestKeepCampaign(t *testing.T) {
	landing := "http://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring"
	campaignOf := func(r *http.Request, opts ...analytics.RequestOption) *analytics.CampaignInfo {
		return analytics.ContextFromRequest(r, opts...).Campaign
	}
	for _, model := range []analytics.Attribution{analytics.FirstTouch, analytics.LastTouch} {
		keep := analytics.KeepCampaign(model, analytics.CookieOptions{})
		w, _ := serve(t, httptest.NewRequest(http.MethodGet, landing, nil), keep)
		cs := w.Result().Cookies()
		require.Len(t, cs, 1)
		kept := cs[0]
		assert.Equal(t, analytics.CampaignCookie, kept.Name)
		assert.Equal(t, 30*24*3600, kept.MaxAge)
		assert.False(t, kept.HttpOnly)

		later := httptest.NewRequest(http.MethodGet, "http://shop.example/checkout", nil)
		later.AddCookie(kept)
		assert.Equal(t, &analytics.CampaignInfo{Source: "newsletter", Medium: "email", Name: "spring"}, campaignOf(later, keep))
		assert.Nil(t, campaignOf(later), "without KeepCampaign the cookie is not read")

		// A second touch carries its own campaign either way; only LastTouch keeps it.
		second := httptest.NewRequest(http.MethodGet, "http://shop.example/?utm_source=ads", nil)
		second.AddCookie(kept)
		assert.Equal(t, &analytics.CampaignInfo{Source: "ads"}, campaignOf(second, keep))
		w, _ = serve(t, second, keep)
		if model == analytics.FirstTouch {
			assert.Empty(t, w.Result().Cookies(), "first touch stays")
		} else {
			require.Len(t, w.Result().Cookies(), 1)
			assert.Equal(t, "utm_source=ads", w.Result().Cookies()[0].Value)
		}
		// The same campaign again sets nothing.
		again := httptest.NewRequest(http.MethodGet, landing, nil)
		again.AddCookie(kept)
		w, _ = serve(t, again, keep)
		assert.Empty(t, w.Result().Cookies())
	}

	keep := analytics.KeepCampaign(analytics.LastTouch, analytics.CookieOptions{MaxAge: time.Hour})
	t.Run("hostile cookies are ignored or cleaned", func(t *testing.T) {
		for _, c := range []string{
			"tl_campaign=%ZZ",
			"tl_campaign=utm_source%3Dx%3B", // a value with ; is refused by net/http's parser
			"tl_campaign=" + strings.Repeat("utm_term=x&", 200),
			"tl_campaign=foo=bar",
		} {
			assert.Nil(t, campaignOf(withCookie(c), keep), c)
		}
		got := campaignOf(withCookie("tl_campaign=utm_source=a%00b%0Ac&utm_term="+strings.Repeat("t", 300)), keep)
		require.NotNil(t, got)
		assert.Equal(t, "abc", got.Source, "control characters stripped")
		assert.Len(t, got.Term, 256, "cut like a query's utm_term")
	})
	t.Run("lifetime", func(t *testing.T) {
		w, _ := serve(t, httptest.NewRequest(http.MethodGet, landing, nil), keep)
		assert.Equal(t, 3600, w.Result().Cookies()[0].MaxAge)
	})
	t.Run("oversized campaign is not kept", func(t *testing.T) {
		q := url.Values{}
		for _, k := range []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"} {
			q.Set(k, strings.Repeat("é", 128)) // 256 bytes, 1,536 once percent-encoded
		}
		w, _ := serve(t, httptest.NewRequest(http.MethodGet, "http://shop.example/?"+q.Encode(), nil), keep)
		assert.Empty(t, w.Result().Cookies())
	})
	t.Run("with a trusted proxy's https, Secure", func(t *testing.T) {
		w, _ := serve(t, req(landing, "10.0.0.2:80", "X-Forwarded-Proto", "https"), keep, trust10)
		assert.True(t, w.Result().Cookies()[0].Secure)
	})
}

func TestReadConsent(t *testing.T) {
	// A CMP cookie of our own: "ads=1,analytics=0".
	fromCookie := analytics.ReadConsent(func(r *http.Request) *analytics.Consent {
		c, err := r.Cookie("consent")
		if err != nil {
			return nil
		}
		prefs := map[string]bool{}
		for _, kv := range strings.Split(c.Value, ",") {
			k, v, _ := strings.Cut(kv, "=")
			prefs[k] = v == "1"
		}
		return &analytics.Consent{CategoryPreferences: prefs}
	})
	got := analytics.ContextFromRequest(withCookie("consent=ads=1,analytics=0"), fromCookie)
	assert.Equal(t, &analytics.Consent{CategoryPreferences: map[string]bool{"ads": true, "analytics": false}}, got.Consent)
	assert.Nil(t, analytics.ContextFromRequest(withCookie()).Consent, "not read by default")
	assert.Nil(t, analytics.ContextFromRequest(withCookie(), fromCookie).Consent, "nil: no consent object")
	assert.Nil(t, analytics.ContextFromRequest(withCookie(), analytics.ReadConsent(nil)).Consent)

	panics := analytics.ReadConsent(func(*http.Request) *analytics.Consent { panic("bug") })
	assert.Equal(t, &analytics.Consent{}, analytics.ContextFromRequest(withCookie(), panics).Consent, "fails closed")

	// Through Middleware and a client with a default consent: the request's wins whole.
	rec := analyticstest.NewRecorder()
	client, err := analytics.New("k", analytics.WithTransport(rec), analytics.WithDefaultContext(&analytics.Context{
		Consent: &analytics.Consent{CategoryPreferences: map[string]bool{"Functional": true, "ads": true}}}))
	require.NoError(t, err)
	h := analytics.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, client.Enqueue(analytics.Track{Event: "E", AnonymousID: "a", Context: analytics.RequestContext(r.Context())}))
	}), fromCookie)
	h.ServeHTTP(httptest.NewRecorder(), withCookie("consent=ads=0"))
	h.ServeHTTP(httptest.NewRecorder(), withCookie())
	require.NoError(t, client.Close(t.Context()))
	ms := rec.Messages()
	require.Len(t, ms, 2)
	assert.Equal(t, map[string]any{"categoryPreferences": map[string]any{"ads": false}}, ms[0].Context["consent"])
	assert.Equal(t, map[string]any{"categoryPreferences": map[string]any{"Functional": true, "ads": true}}, ms[1].Context["consent"],
		"no consent from the request: the client's default")
	assert.Empty(t, rec.Violations())
}

// FuzzVisitorCookie: whatever Cookie header a client sends, reading it never
// panics, and an id that comes out is within the documented bounds.
func FuzzVisitorCookie(f *testing.F) {
	f.Add("ajs_anonymous_id=%224e4f0b3c%22; ajs_user_id=u1; tl_campaign=utm_source=x")
	f.Add(`ajs_anonymous_id="a\u0062"; ajs_user_id=%22%5Cud800%22`)
	f.Add("ajs_anonymous_id=%ff%fe; tl_campaign=%zz&utm_term=" + strings.Repeat("t", 300))
	keep := analytics.KeepCampaign(analytics.LastTouch, analytics.CookieOptions{})
	set := analytics.SetAnonymousIDCookie(analytics.CookieOptions{})
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "http://shop.example/?utm_source=s", nil)
		r.Header.Set("Cookie", header)
		v := analytics.VisitorFromRequest(r)
		for _, id := range []struct {
			s   string
			max int
		}{{v.AnonymousID, 128}, {v.UserID, 256}} {
			if len(id.s) > id.max {
				t.Fatalf("id of %d bytes", len(id.s))
			}
			for i := 0; i < len(id.s); i++ {
				if c := id.s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("\",;\\<>", c) >= 0 {
					t.Fatalf("id %q has byte %#x", id.s, c)
				}
			}
		}
		c := analytics.ContextFromRequest(r, keep)
		if c.Campaign != nil && len(c.Campaign.Term) > 256 {
			t.Fatalf("campaign term of %d bytes", len(c.Campaign.Term))
		}
		w, seen := serve(t, r, set, keep)
		if seen.AnonymousID == "" {
			t.Fatal("no anonymous id with SetAnonymousIDCookie")
		}
		for _, ck := range w.Result().Cookies() {
			if err := ck.Valid(); err != nil {
				t.Fatalf("set an invalid cookie %v: %v", ck, err)
			}
		}
	})
}

func BenchmarkVisitorFromRequest(b *testing.B) {
	r := withCookie("_ga=GA1.2.3; ajs_anonymous_id=%224e4f0b3c-8f63-4a7e-9d2c-1b8e5f6a7c90%22; ajs_user_id=%2297980cfea0067%22; theme=dark")
	b.ReportAllocs()
	for b.Loop() {
		if analytics.VisitorFromRequest(r).AnonymousID == "" {
			b.Fatal("no id")
		}
	}
}
