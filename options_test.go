package analytics

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics/internal/jsonw"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    string
		opts   []Option
		option string
	}{
		{"empty key", "", nil, "New"},
		{"invalid key", "a\nb", nil, "New"},
		{"nil option", "k", []Option{nil}, "New"},
		{"relative endpoint", "k", []Option{WithEndpoint("api.segment.io")}, "WithEndpoint"},
		{"ftp endpoint", "k", []Option{WithEndpoint("ftp://x")}, "WithEndpoint"},
		{"endpoint with credentials", "k", []Option{WithEndpoint("https://user:pw@x")}, "WithEndpoint"},
		{"endpoint with a query", "k", []Option{WithEndpoint("https://x.test/?a=1")}, "WithEndpoint"},
		{"endpoint with a fragment", "k", []Option{WithEndpoint("https://x.test/#f")}, "WithEndpoint"},
		{"nil transport", "k", []Option{WithTransport(nil)}, "WithTransport"},
		{"nil http client", "k", []Option{WithHTTPClient(nil)}, "WithHTTPClient"},
		{"batch size 0", "k", []Option{WithBatchSize(0)}, "WithBatchSize"},
		{"batch size 2501", "k", []Option{WithBatchSize(2501)}, "WithBatchSize"},
		{"batch bytes small", "k", []Option{WithBatchBytes(100)}, "WithBatchBytes"},
		{"batch bytes big", "k", []Option{WithBatchBytes(500001)}, "WithBatchBytes"},
		{"interval", "k", []Option{WithFlushInterval(0)}, "WithFlushInterval"},
		{"queue messages", "k", []Option{WithMaxQueue(0, 1<<20)}, "WithMaxQueue"},
		{"queue bytes", "k", []Option{WithMaxQueue(10, 100)}, "WithMaxQueue"},
		{"concurrency", "k", []Option{WithConcurrency(0)}, "WithConcurrency"},
		{"retry attempts", "k", []Option{WithRetry(0, time.Second)}, "WithRetry"},
		{"retry time", "k", []Option{WithRetry(3, 0)}, "WithRetry"},
		{"backoff", "k", []Option{WithBackoff(time.Second, time.Millisecond)}, "WithBackoff"},
		{"clock", "k", []Option{WithClock(nil)}, "WithClock"},
		{"ids", "k", []Option{WithMessageIDs(nil)}, "WithMessageIDs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.key, tc.opts...)
			assert.Nil(t, c)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "got %v", err)
			assert.Equal(t, tc.option, ce.Option)
		})
	}
}

func TestNewWithCustomTransportNeedsNoKey(t *testing.T) {
	c, err := New("", WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })))
	require.NoError(t, err)
	require.NoError(t, c.Close(context.Background()))
}

func TestConfigErrorNeverShowsKey(t *testing.T) {
	_, err := New("secret\nkey")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "secret")
}

func TestWithHTTPClientIsUsed(t *testing.T) {
	used := false
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used = true
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})}
	c, err := New("test-write-key", WithHTTPClient(hc), WithEndpoint("https://collector.invalid"))
	require.NoError(t, err)
	require.NoError(t, c.Enqueue(track(1)))
	require.NoError(t, c.Close(context.Background()))
	assert.True(t, used)
	assert.Equal(t, uint64(1), c.Stats().Delivered)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSmallBatchBytesLowersMessageLimit(t *testing.T) {
	c, err := New("test-write-key", WithTransport(TransportFunc(func(context.Context, *Batch) error { return nil })), WithBatchBytes(2048))
	require.NoError(t, err)
	defer c.Close(context.Background())
	big := make([]byte, 2100)
	for i := range big {
		big[i] = 'x'
	}
	err = c.Enqueue(Track{Event: "E", UserID: "u", Properties: Properties{"p": string(big)}})
	var tl *TooLargeError
	require.ErrorAs(t, err, &tl)
	assert.Less(t, tl.Limit, 2048)
	assert.Equal(t, uint64(1), c.Stats().RefusedTooLarge)
}

func TestOrderMessageIDs(t *testing.T) {
	s := testStamp()
	s.orderIDs = true
	m := Track{Event: "Order Completed", UserID: "u", typed: fakeTyped{order: "o-1"}}
	_, id1, err := encodeMessage(m, s)
	require.NoError(t, err)
	_, id2, err := encodeMessage(m, s)
	require.NoError(t, err)
	assert.Equal(t, id1, id2)
	assert.Len(t, id1, 36)
	m.Event = "Order Refunded"
	_, id3, _ := encodeMessage(m, s)
	assert.NotEqual(t, id1, id3)
	m.MessageID = "mine"
	_, id4, _ := encodeMessage(m, s)
	assert.Equal(t, "mine", id4)
	s.orderIDs = false
	m.MessageID = ""
	_, id5, _ := encodeMessage(m, s)
	assert.Equal(t, "id-1", id5)
}

// fakeTyped is a minimal typed property set, independent of the ecommerce constructors.
type fakeTyped struct{ order string }

func (f fakeTyped) encodeProperties(w *jsonw.Writer) {
	if f.order != "" {
		w.Key("order_id")
		w.String(f.order)
	}
}
func (f fakeTyped) validate() error       { return nil }
func (f fakeTyped) emits(key string) bool { return key == "order_id" && f.order != "" }
func (f fakeTyped) orderID() string       { return f.order }

func TestTypedAndCustomProperties(t *testing.T) {
	m := Track{Event: "Order Completed", UserID: "u", typed: fakeTyped{order: "o"}, Properties: Properties{"order_id": "x"}}
	_, _, err := encodeMessage(m, testStamp())
	ve := requireField(t, err, ErrPropertyConflict, "properties.order_id")
	assert.Equal(t, "Order Completed", ve.Event)

	m.Properties = Properties{"gift": true}
	assert.Contains(t, encodeString(t, m), `"properties":{"order_id":"o","gift":true}`)

	m = Track{Event: "Order Completed", UserID: "u", typed: fakeTyped{}, Properties: Properties{"order_id": "x"}}
	assert.Contains(t, encodeString(t, m), `"properties":{"order_id":"x"}`, "a key the typed set leaves out may be set by hand")
}
