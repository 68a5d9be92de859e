//go:build !unix

package journal

import (
	"fmt"
	"io"
	"runtime"
)

// lockFile: the journal's directory lock needs flock, which only unix
// systems have; elsewhere Open fails with ErrUnsupported rather than run
// unlocked.
func lockFile(name string) (io.Closer, error) {
	return nil, fmt.Errorf("%w: no flock on %s, cannot lock %s", ErrUnsupported, runtime.GOOS, name)
}
