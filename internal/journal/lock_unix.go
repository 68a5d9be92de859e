//go:build unix

package journal

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockFile takes an exclusive, non-blocking flock on name. flock locks
// belong to the open file description, so a second Open in the same
// process is refused as well as one in another process; the kernel drops
// the lock when the process dies, so a crash never leaves it held.
func lockFile(name string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Clean(name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by another journal (this or another process)", ErrLocked, name)
		}
		return nil, fmt.Errorf("flock %s: %w", name, err)
	}
	return f, nil // closing the file releases the lock
}
