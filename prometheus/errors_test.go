package promanalytics_test

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
