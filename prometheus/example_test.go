package promanalytics_test

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	promanalytics "github.com/tracklane/analytics/prometheus"
)

func Example() {
	ctx := context.Background()
	srv := analyticstest.NewServer("write-key") // a fake Segment endpoint
	defer srv.Close()
	registry := prometheus.NewRegistry() // in production: prometheus.DefaultRegisterer, served by promhttp

	// The three lines.
	m, err := promanalytics.New(registry, promanalytics.ClientName("shop"))
	if err != nil {
		panic(err)
	}
	client, err := analytics.New("write-key", m.Option(), analytics.WithEndpoint(srv.URL), analytics.WithHTTPClient(srv.Client()))
	if err != nil {
		panic(err)
	}
	if err := m.Register(client); err != nil {
		panic(err)
	}
	defer m.Close()

	_ = client.Enqueue(analytics.Track{Event: "Product Viewed", UserID: "u1"})
	_ = client.Close(ctx)

	mfs, _ := registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "tracklane_analytics_messages_delivered_total" {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	problems, _ := testutil.GatherAndLint(registry)
	fmt.Println("lint problems:", len(problems))
	// Output:
	// tracklane_analytics_messages_delivered_total 1
	// lint problems: 0
}
