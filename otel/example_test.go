package otelanalytics_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/analyticstest"
	otelanalytics "github.com/tracklane/analytics/otel"
)

func Example() {
	ctx := context.Background()
	srv := analyticstest.NewServer("write-key") // a fake Segment endpoint
	defer srv.Close()
	reader := sdkmetric.NewManualReader() // in production: a periodic reader and an exporter
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)

	// The three lines.
	m, err := otelanalytics.New(provider, otelanalytics.ClientName("shop"))
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

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, met := range rm.ScopeMetrics[0].Metrics {
		if met.Name == "messaging.client.sent.messages" {
			for _, p := range met.Data.(metricdata.Sum[int64]).DataPoints {
				if _, failed := p.Attributes.Value("error.type"); !failed {
					fmt.Println("delivered:", p.Value)
				}
			}
		}
	}
	// Output: delivered: 1
}
