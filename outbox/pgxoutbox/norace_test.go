//go:build !race

package pgxoutbox_test

const raceEnabled = false
