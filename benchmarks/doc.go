// Package benchmarks compares github.com/tracklane/analytics with
// github.com/segmentio/analytics-go/v3 and github.com/posthog/posthog-go on
// one workload (internal/workload). It is its own module so that neither
// peer enters the import graph of the SDK's users. See README.md.
package benchmarks
