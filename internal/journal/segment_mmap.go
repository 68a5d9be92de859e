//go:build linux || darwin

package journal

import (
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"unsafe"
)

// mmapSegment is a preallocated segment file mapped shared into memory:
// WriteAt is a copy into the page cache, no system call, and what it
// copied survives the death of the process as a write(2) would.
type mmapSegment struct {
	f   *os.File
	mem []byte
}

func createSegment(name string, size int64) (Segment, error) {
	if size <= 0 || size > 1<<40 {
		return nil, fmt.Errorf("segment size %d out of range", size)
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: a path the journal built in its own directory
	if err != nil {
		return nil, err
	}
	fail := func(err error) (Segment, error) {
		_ = f.Close()
		_ = os.Remove(name) //nolint:gosec // G703: the file just created
		return nil, err
	}
	if err := preallocate(f, size); err != nil {
		return fail(err)
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return fail(fmt.Errorf("mmap: %w", err))
	}
	return &mmapSegment{f: f, mem: mem}, nil
}

// WriteAt copies p into the mapping. A fault (an I/O error of the page
// cache) is returned as an error rather than crash the process.
func (s *mmapSegment) WriteAt(p []byte, off int64) (err error) {
	if off < 0 || off+int64(len(p)) > int64(len(s.mem)) {
		return fmt.Errorf("write of %d bytes at %d past the segment's %d", len(p), off, len(s.mem))
	}
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if r := recover(); r != nil {
			err = fmt.Errorf("fault writing the mapped segment: %v", r)
		}
	}()
	copy(s.mem[off:], p)
	return nil
}

func (s *mmapSegment) Sync() error {
	addr := uintptr(unsafe.Pointer(&s.mem[0])) //nolint:gosec // G103: msync needs the mapping's address
	if _, _, e := syscall.Syscall(syscall.SYS_MSYNC, addr, uintptr(len(s.mem)), syscall.MS_SYNC); e != 0 {
		return fmt.Errorf("msync: %w", e)
	}
	return s.f.Sync()
}

func (s *mmapSegment) Close() error {
	err := syscall.Munmap(s.mem)
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}
