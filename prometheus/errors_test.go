package promanalytics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

func TestNew(t *testing.T) {
	_, err := promanalytics.New(nil, promanalytics.ClientName(""))
	assert.ErrorIs(t, err, promanalytics.ErrInvalidClientName)

	reg := prometheus.NewPedanticRegistry()
	shop, err := promanalytics.New(reg, promanalytics.ClientName("shop"))
	require.NoError(t, err)
	// Two clients without distinct names cannot share a registry...
	_, err = promanalytics.New(reg, promanalytics.ClientName("shop"))
	var are prometheus.AlreadyRegisteredError
	assert.True(t, errors.As(err, &are), "got %v", err)
	// ...with distinct names they can.
	backoffice, err := promanalytics.New(reg, promanalytics.ClientName("backoffice"))
	require.NoError(t, err)
	assert.ErrorIs(t, shop.Register(nil), promanalytics.ErrNilClient)

	// Close unregisters: the name is free again.
	shop.Close()
	again, err := promanalytics.New(reg, promanalytics.ClientName("shop"))
	require.NoError(t, err)
	again.Close()
	backoffice.Close()

	// A nil Registerer registers nothing: the Metrics is a Collector to
	// register yourself.
	own, err := promanalytics.New(nil)
	require.NoError(t, err)
	mine := prometheus.NewPedanticRegistry()
	require.NoError(t, mine.Register(own))
	n, err := testutil.GatherAndCount(mine)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing before Register, and no upload yet")
	own.Close()
}

// TestSeveralClients collects two clients of one process in one registry,
// told apart by the client label.
func TestSeveralClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reg := prometheus.NewPedanticRegistry()
		for name, n := range map[string]int{"shop": 2, "backoffice": 3} {
			m, err := promanalytics.New(reg, promanalytics.ClientName(name))
			require.NoError(t, err)
			defer m.Close()
			client, err := analytics.New(writeKey, m.Option(), analytics.WithTransport(scripted(analyticstest.NewRecorder())))
			require.NoError(t, err)
			require.NoError(t, m.Register(client))
			for i := range n {
				require.NoError(t, client.Enqueue(track(i)))
			}
			require.NoError(t, client.Close(ctx))
		}
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tracklane_analytics_messages_delivered_total Messages accepted by the endpoint.
# TYPE tracklane_analytics_messages_delivered_total counter
tracklane_analytics_messages_delivered_total{client="backoffice"} 3
tracklane_analytics_messages_delivered_total{client="shop"} 2
`), "tracklane_analytics_messages_delivered_total"))
		problems, err := testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}
