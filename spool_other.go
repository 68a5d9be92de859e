//go:build !unix

package analytics

import (
	"fmt"
	"os"
)

// lockFile: the spool needs flock, available on unix systems only.
func lockFile(*os.File) error {
	return fmt.Errorf("%w: not supported on this platform", ErrSpool)
}

func unlockFile(*os.File) {}
