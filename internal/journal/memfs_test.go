package journal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// errCrash is what every operation returns once the simulated process died.
var errCrash = errors.New("memfs: crashed")

// memFS is an in-memory file system that models durability: file contents
// become durable at File.Sync, the creation and removal of names at
// SyncDir. It can crash at its k-th operation (every later operation
// fails), and reboot as after a process crash (everything written stays)
// or a machine crash (only what was synced stays).
type memFS struct {
	mu      sync.Mutex
	files   map[string]*inode // the namespace now
	durable map[string]*inode // the namespace as of the last SyncDir
	locks   map[string]bool
	ops     int
	crashAt int      // crash at this operation (1-based); 0: never
	torn    tornMode // what a Write that crashes leaves
	crashed bool
	fail    func(op, name string) error // injected faults; nil: none
	trace   []string
}

type tornMode int

const (
	tornNone tornMode = iota // the crashing write left nothing
	tornHalf                 // it left its first half
	tornAll                  // it completed, but did not return
)

type inode struct {
	data, synced []byte
	dir          bool
}

func newMemFS() *memFS {
	return &memFS{files: map[string]*inode{}, durable: map[string]*inode{}, locks: map[string]bool{}}
}

// op counts an operation; it returns errCrash at and after the crash
// point, or the injected fault.
func (m *memFS) op(kind, name string) error {
	if m.crashed {
		return errCrash
	}
	m.ops++
	m.trace = append(m.trace, kind+" "+filepath.Base(name))
	if m.crashAt > 0 && m.ops >= m.crashAt {
		m.crashed = true
		return errCrash
	}
	if m.fail != nil {
		return m.fail(kind, name)
	}
	return nil
}

// reboot returns the file system a new process sees after the crash.
// machine: only synced contents and synced names survive.
func (m *memFS) reboot(machine bool) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := newMemFS()
	src := m.files
	if machine {
		src = m.durable
	}
	for name, ino := range src {
		data := ino.data
		if machine {
			data = ino.synced
		}
		c := &inode{data: slices.Clone(data), synced: slices.Clone(ino.synced), dir: ino.dir}
		n.files[name] = c
		n.durable[name] = c
	}
	return n
}

func (m *memFS) MkdirAll(dir string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.op("mkdir", dir)
}

type memLock struct {
	m    *memFS
	name string
}

func (l memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	delete(l.m.locks, l.name)
	return nil
}

func (m *memFS) Lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("lock", name); err != nil {
		return nil, err
	}
	if m.locks[name] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	m.locks[name] = true
	if m.files[name] == nil {
		m.files[name] = &inode{}
	}
	return memLock{m, name}, nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("readdir", dir); err != nil {
		return nil, err
	}
	var names []string
	for name := range m.files {
		if filepath.Dir(name) == dir {
			names = append(names, filepath.Base(name))
		}
	}
	return names, nil
}

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("read", name); err != nil {
		return nil, err
	}
	ino, ok := m.files[name]
	switch {
	case !ok:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case ino.dir:
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return slices.Clone(ino.data), nil
}

func (m *memFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("open", name); err != nil {
		return nil, err
	}
	ino, ok := m.files[name]
	switch {
	case ok && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case ok && ino.dir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		ino = &inode{}
		m.files[name] = ino
	}
	return &memFile{m: m, name: name, ino: ino}, nil
}

func (m *memFS) CreateSegment(name string, size int64) (Segment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("create", name); err != nil {
		return nil, err
	}
	if _, ok := m.files[name]; ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	}
	ino := &inode{data: make([]byte, size)}
	m.files[name] = ino
	return &memFile{m: m, name: name, ino: ino}, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("remove", name); err != nil {
		return err
	}
	if _, ok := m.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, name)
	return nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("rename", oldname); err != nil {
		return err
	}
	ino, ok := m.files[oldname]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(m.files, oldname)
	m.files[newname] = ino
	return nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.op("syncdir", dir); err != nil {
		return err
	}
	for name := range m.durable {
		if filepath.Dir(name) == dir {
			delete(m.durable, name)
		}
	}
	for name, ino := range m.files {
		if filepath.Dir(name) == dir {
			m.durable[name] = ino
		}
	}
	return nil
}

// names lists the files, for failure messages.
func (m *memFS) names() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s []string
	for name, ino := range m.files {
		s = append(s, fmt.Sprintf("%s(%d)", filepath.Base(name), len(ino.data)))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}

type memFile struct {
	m      *memFS
	name   string
	ino    *inode
	closed bool
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	if err := f.m.op("write", f.name); err != nil {
		if errors.Is(err, errCrash) {
			switch f.m.torn {
			case tornHalf:
				f.ino.data = append(f.ino.data, p[:len(p)/2]...)
			case tornAll:
				f.ino.data = append(f.ino.data, p...)
			}
			return 0, err
		}
		var pe *partialError
		if errors.As(err, &pe) {
			n := min(pe.n, len(p))
			f.ino.data = append(f.ino.data, p[:n]...)
			return n, pe.err
		}
		return 0, err
	}
	f.ino.data = append(f.ino.data, p...)
	return len(p), nil
}

// WriteAt models a store into a shared mapping: a crash may leave a
// prefix of it.
func (f *memFile) WriteAt(p []byte, off int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	dst := f.ino.data[off : off+int64(len(p))]
	if err := f.m.op("write", f.name); err != nil {
		switch {
		case errors.Is(err, errCrash) && f.m.torn == tornHalf:
			copy(dst, p[:len(p)/2])
		case errors.Is(err, errCrash) && f.m.torn == tornAll:
			copy(dst, p)
		}
		var pe *partialError
		if errors.As(err, &pe) {
			copy(dst, p[:min(pe.n, len(p))])
		}
		return err
	}
	copy(dst, p)
	return nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	if err := f.m.op("fsync", f.name); err != nil {
		return err
	}
	f.ino.synced = slices.Clone(f.ino.data)
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return os.ErrClosed
	}
	f.closed = true
	return f.m.op("close", f.name)
}

// partialError makes an injected Write store its first n bytes, then fail.
type partialError struct {
	n   int
	err error
}

func (e *partialError) Error() string {
	return fmt.Sprintf("partial write of %d bytes: %v", e.n, e.err)
}
func (e *partialError) Unwrap() error { return e.err }
