package main

import (
	"context"
	"fmt"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tracklane/analytics/analyticstest"
	"github.com/tracklane/analytics/internal/syncbuf"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func noenv(string) string { return "" }

// TestRunShutdownDeliversQueuedEvents: events still queued when the server
// is told to stop are delivered by Close before run returns (the default
// flush interval, 5 s, has not passed).
func TestRunShutdownDeliversQueuedEvents(t *testing.T) {
	collector := analyticstest.NewServer("key")
	defer collector.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncbuf.Buffer
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-endpoint", collector.URL, "-write-key", "key"}, noenv, &logs, func(a string) { addr <- a })
	}()
	base := "http://" + <-addr
	newShopper(t, base).checkout()
	cancel() // as SIGTERM would
	require.NoError(t, <-done)

	assert.Equal(t, len(funnel), collector.Len())
	assert.Empty(t, collector.Violations())
	assert.Contains(t, logs.String(), fmt.Sprintf("delivered=%d", len(funnel)))
}

// TestRunSignal: SIGINT stops the server the same way.
func TestRunSignal(t *testing.T) {
	addr := make(chan string, 1)
	done := make(chan error, 1)
	var logs syncbuf.Buffer
	go func() {
		done <- run(t.Context(), []string{"-addr", "127.0.0.1:0"}, noenv, &logs, func(a string) { addr <- a })
	}()
	base := "http://" + <-addr
	s := newShopper(t, base)
	require.Equal(t, 200, s.do("GET", "/products/507f1f77", url.Values(nil)))
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGINT))
	require.NoError(t, <-done)
	assert.Contains(t, logs.String(), "embedded collector")
	assert.Contains(t, logs.String(), "received=2 violations=0", "a page call and Product Viewed")
}

func TestRunBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-trusted-proxies", "10.0.0.0/33"},
		{"-endpoint", "http://127.0.0.1:1"}, // no write key
		{"-endpoint", "not a url", "-write-key", "k"},
		{"-addr", "256.0.0.1:99999"},
		{"-addr", "127.0.0.1:0", "-public-url", "ftp://shop.example"},
		{"-nope"},
	} {
		var logs syncbuf.Buffer
		assert.Error(t, run(t.Context(), args, noenv, &logs, nil), "%v", args)
	}
}
