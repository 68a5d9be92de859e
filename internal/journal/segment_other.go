//go:build !linux && !darwin

package journal

import (
	"fmt"
	"os"
)

// fileSegment writes with pwrite(2) where the journal does not map
// segments; the file is preallocated as on every platform.
type fileSegment struct{ f *os.File }

func createSegment(name string, size int64) (Segment, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := preallocate(f, size); err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		return nil, err
	}
	return fileSegment{f}, nil
}

func (s fileSegment) WriteAt(p []byte, off int64) error {
	n, err := s.f.WriteAt(p, off)
	if err == nil && n != len(p) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(p))
	}
	return err
}

func (s fileSegment) Sync() error  { return s.f.Sync() }
func (s fileSegment) Close() error { return s.f.Close() }
