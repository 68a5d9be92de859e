package analytics

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A nil RequestOption is skipped (these functions cannot return an error);
// the options after it still apply.
func TestNilRequestOptionIsIgnored(t *testing.T) {
	r := httptest.NewRequest("GET", "http://shop.example/", nil)
	r.RemoteAddr = "10.0.0.2:41000"
	r.Header.Set("X-Forwarded-For", "198.51.100.9")
	trust := TrustProxies(netip.MustParsePrefix("10.0.0.0/8"))

	c := ContextFromRequest(r, nil, trust)
	require.NotNil(t, c)
	assert.Equal(t, "198.51.100.9", c.IP)

	var got *Context
	h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = RequestContext(r.Context()) }), nil, trust)
	h.ServeHTTP(httptest.NewRecorder(), r)
	require.NotNil(t, got)
	assert.Equal(t, "198.51.100.9", got.IP)
}
