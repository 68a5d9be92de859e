//go:build unix

package analytics

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on f: a second Client on
// the same directory, in this process or another, gets ErrSpoolLocked. The
// kernel drops the lock when the process dies, so a crash never leaves the
// directory locked.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrSpoolLocked
	}
	if err != nil {
		return fmt.Errorf("%w: lock: %w", ErrSpool, err)
	}
	return nil
}

func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
