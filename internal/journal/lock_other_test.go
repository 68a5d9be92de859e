//go:build !unix

package journal

import (
	"errors"
	"testing"
)

// Without flock, Open refuses to run unlocked and says so.
func TestOpenUnsupported(t *testing.T) {
	_, _, err := Open(t.TempDir(), Options{MaxBytes: MinBytes})
	if !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Open = %v, want ErrUnsupported", err)
	}
}
