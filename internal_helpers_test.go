package analytics

// Helpers of the package's own tests (package analytics) that more than
// one file uses.

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// blocked starts call in a goroutine and fails t with why when call has
// returned once the bubble is idle (it must be waiting); the channel gets
// its result.
func blocked(t *testing.T, why string, call func() error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	synctest.Wait()
	select {
	case <-done:
		t.Fatal(why)
	default:
	}
	return done
}

// requireField checks that err is a *ValidationError of the sentinel
// kind (ErrInvalidValue, ErrPropertyConflict, ...) about field, and
// returns it.
func requireField(t *testing.T, err, kind error, field string) *ValidationError {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, field, ve.Field)
	return ve
}
