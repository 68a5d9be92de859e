package journal

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the file system the journal uses: exactly the operations it
// performs, so that a test can fail or crash any one of them. Paths are
// those the journal builds with filepath.Join from Open's dir.
type FS interface {
	// MkdirAll creates a directory and its parents, like os.MkdirAll.
	MkdirAll(dir string, perm fs.FileMode) error
	// Lock takes an exclusive lock on the file name (creating it), held
	// until the returned Closer is closed or the process dies. It returns
	// an error wrapping ErrLocked when another holder has it, and one
	// wrapping ErrUnsupported where locking is not available.
	Lock(name string) (io.Closer, error)
	// ReadDir lists the names in dir (no order required).
	ReadDir(dir string) ([]string, error)
	// ReadFile returns the whole content of a file, like os.ReadFile.
	ReadFile(name string) ([]byte, error)
	// OpenFile opens an ack file for appending, like os.OpenFile (the
	// journal passes os.O_WRONLY|os.O_APPEND|os.O_CREATE).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// CreateSegment creates the file name, which must not exist, with
	// size bytes allocated on disk (zeros), open for WriteAt. A full disk
	// is an error here.
	CreateSegment(name string, size int64) (Segment, error)
	// Remove removes a file, like os.Remove.
	Remove(name string) error
	// Rename renames a file, like os.Rename.
	Rename(oldname, newname string) error
	// SyncDir makes the creation and removal of files in dir durable
	// (fsync of the directory).
	SyncDir(dir string) error
}

// File is an open journal file.
type File interface {
	// Write appends p with one write call, like (*os.File).Write.
	Write(p []byte) (int, error)
	// Sync makes the written bytes durable (fsync).
	Sync() error
	// Close closes the file.
	Close() error
}

// Segment is a segment file open for writing, preallocated.
type Segment interface {
	// WriteAt writes p at off (within the preallocated size) so that a
	// crash of the process after it returns cannot lose it. An error may
	// leave part of p written.
	WriteAt(p []byte, off int64) error
	// Sync makes what was written durable.
	Sync() error
	// Close releases the file.
	Close() error
}

// osFS is the real file system.
type osFS struct{}

func (osFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osFS) Lock(name string) (io.Closer, error) { return lockFile(name) }

func (osFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (osFS) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Clean(name))
}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(filepath.Clean(name), flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) CreateSegment(name string, size int64) (Segment, error) {
	return createSegment(filepath.Clean(name), size)
}

func (osFS) Remove(name string) error { return os.Remove(name) }

func (osFS) Rename(oldname, newname string) error {
	return os.Rename(oldname, newname) //nolint:gosec // G703: paths the journal built in its own directory
}

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// preallocate writes zeros over the whole file, so that its blocks are
// allocated (writing through the mapping never needs a block the disk
// does not have, which would be a SIGBUS) and its pages are in the page
// cache (the first store into each is a cheap fault). It is usually a
// journal's spare segment, made by Sync, so this does not delay Append.
func preallocate(f *os.File, size int64) error {
	zeros := make([]byte, min(size, 256<<10))
	for off := int64(0); off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return nil
}
