//go:build race

package analytics

// raceEnabled: under the race detector sync.Pool drops pooled values at
// random, so allocation counts are not meaningful.
const raceEnabled = true
