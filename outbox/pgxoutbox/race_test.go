//go:build race

package pgxoutbox_test

// raceEnabled: the race detector slows this process about 15 times.
const raceEnabled = true
