//go:build unix

package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// child runs the test binary again as a child process running only test,
// with env set; it returns the command and its stdout.
func child(t *testing.T, test string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// A second process on the same directory is refused with ErrLocked, naming
// the lock file; nothing on disk changes; once the holder dies the lock is
// free.
func TestSecondProcessIsRefused(t *testing.T) {
	if dir := os.Getenv("JOURNAL_HOLD_DIR"); dir != "" {
		l, _, err := Open(dir, Options{MaxBytes: MinBytes})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if _, err := l.Append(payload(1)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("holding")
		_, _ = io.Copy(io.Discard, os.Stdin) // until killed
		runtime.KeepAlive(l)                 // an unreachable Log's lock file is finalized, and unlocked
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd, out := child(t, "TestSecondProcessIsRefused", "JOURNAL_HOLD_DIR="+dir)
	require.True(t, out.Scan())
	require.Equal(t, "holding", out.Text())
	before := segFiles(t, dir, ".log")

	_, _, err := Open(dir, Options{MaxBytes: MinBytes})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), filepath.Join(dir, "LOCK"))
	assert.Equal(t, before, segFiles(t, dir, ".log"), "nothing on disk changed")

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	replays(t, dir, []int{1}, "the holder's record is there")
}

func TestSecondOpenInTheSameProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	_, _, err := Open(dir, Options{MaxBytes: MinBytes})
	require.ErrorIs(t, err, ErrLocked)
	require.NoError(t, l.Close())
	l, _ = open(t, dir, Options{})
	require.NoError(t, l.Close())
}

// denyFS is the real file system, but reading one file fails with EACCES,
// as chmod 000 does for a user other than root (tests run as root in CI).
type denyFS struct {
	osFS
	deny string
}

func (d denyFS) ReadFile(name string) ([]byte, error) {
	if name == d.deny {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return d.osFS.ReadFile(name)
}

// An unreadable segment or ack file makes Open fail with ErrIO naming it,
// and leaves every file as it was.
func TestUnreadableFile(t *testing.T) {
	for _, suffix := range []string{".log", ".ack"} {
		t.Run(suffix, func(t *testing.T) {
			dir := t.TempDir()
			l, _ := open(t, dir, Options{})
			seq, err := l.Append(payload(1))
			require.NoError(t, err)
			_, err = l.Append(payload(2))
			require.NoError(t, err)
			require.NoError(t, l.Ack(seq))
			require.NoError(t, l.Close())
			path := segFiles(t, dir, suffix)[0]
			var fsys FS = denyFS{deny: path}
			if os.Geteuid() != 0 {
				require.NoError(t, os.Chmod(path, 0))
				fsys = nil
			}
			_, _, err = Open(dir, Options{MaxBytes: MinBytes, FS: fsys})
			require.ErrorIs(t, err, ErrIO)
			require.ErrorIs(t, err, os.ErrPermission)
			assert.Contains(t, err.Error(), path)
			require.NoError(t, os.Chmod(path, 0o600))
			replays(t, dir, []int{2}, "data left on disk")
		})
	}
}

// A directory where a segment should be makes Open fail with ErrIO naming
// it; the segments beside it are untouched.
func TestDirectoryWhereASegmentShouldBe(t *testing.T) {
	dir := t.TempDir()
	l, _ := open(t, dir, Options{})
	_, err := l.Append(payload(1))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	logs := segFiles(t, dir, ".log")
	bogus := filepath.Join(dir, "seg-00000000000000000001.log")
	require.NoError(t, os.Mkdir(bogus, 0o700))
	_, _, err = Open(dir, Options{MaxBytes: MinBytes})
	require.ErrorIs(t, err, ErrIO)
	assert.Contains(t, err.Error(), bogus)
	require.NoError(t, os.Remove(bogus))
	assert.Equal(t, logs, segFiles(t, dir, ".log"))
	replays(t, dir, []int{1})
}

// A directory where the journal's directory should be, and a file there.
func TestDirectoryIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, _, err := Open(file, Options{MaxBytes: MinBytes})
	require.ErrorIs(t, err, ErrIO)
	assert.Contains(t, err.Error(), file)
}

// killChild is the child of TestSIGKILLUnderLoad: four goroutines append
// records numbered from JOURNAL_KILL_START, print "ok N" once Append
// returned, and acknowledge them in batches of 20 as a consumer would,
// printing "ack N..." before the Ack; the replayed records are
// acknowledged first. It runs until it is killed.
func killChild(dir string, start int) {
	l, rep, err := Open(dir, Options{MaxBytes: 8 << 20, SegmentBytes: 32 << 10})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex // orders "ack" lines before the Ack of them
	ack := func(ids []int, seqs []uint64) {
		var b strings.Builder
		b.WriteString("ack")
		for _, id := range ids {
			fmt.Fprintf(&b, " %d", id)
		}
		mu.Lock()
		fmt.Println(b.String())
		mu.Unlock()
		if err := l.Ack(seqs...); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	var ids []int
	var seqs []uint64
	for _, r := range rep.Records {
		id, err := parsePayload(r.Data)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		ids, seqs = append(ids, id), append(seqs, r.Seq)
	}
	ack(ids, seqs)
	fmt.Println("open")
	for g := range 4 {
		go func() {
			var ids []int
			var seqs []uint64
			for i := start + g; ; i += 4 {
				seq, err := l.Append(payload(i))
				if errors.Is(err, ErrFull) {
					continue
				}
				if err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
				fmt.Println("ok", i)
				ids, seqs = append(ids, i), append(seqs, seq)
				if len(ids) == 20 && i%3 != 0 { // some batches stay unacknowledged
					ack(ids, seqs)
				}
				if len(ids) >= 20 {
					ids, seqs = ids[:0], seqs[:0]
				}
			}
		}()
	}
	for {
		if err := l.Sync(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
}

// TestSIGKILLUnderLoad kills a child process appending and acknowledging
// under load with SIGKILL, 25 times, at random moments, on the same
// directory; after each kill a fresh journal must replay every record the
// child had been told was appended and had not started to acknowledge.
func TestSIGKILLUnderLoad(t *testing.T) {
	if dir := os.Getenv("JOURNAL_KILL_DIR"); dir != "" {
		start, _ := strconv.Atoi(os.Getenv("JOURNAL_KILL_START"))
		killChild(dir, start)
		return
	}
	dir := t.TempDir()
	accepted, acked := map[int]bool{}, map[int]bool{}
	rnd := rand.New(rand.NewPCG(1, 2))
	const kills = 25
	totalDups, totalRequired := 0, 0
	for k := range kills {
		cmd, out := child(t, "TestSIGKILLUnderLoad", "JOURNAL_KILL_DIR="+dir, fmt.Sprint("JOURNAL_KILL_START=", k*1_000_000))
		limit := 200 + rnd.IntN(3000)
		n, killed := 0, false
		for out.Scan() {
			f := strings.Fields(out.Text())
			switch {
			case len(f) == 0:
			case f[0] == "error":
				t.Fatalf("child: %s", out.Text())
			case f[0] == "ok" && len(f) == 2:
				id, err := strconv.Atoi(f[1])
				require.NoError(t, err)
				accepted[id] = true
				n++
			case f[0] == "ack":
				for _, s := range f[1:] {
					id, err := strconv.Atoi(s)
					require.NoError(t, err)
					acked[id] = true
				}
			}
			if n >= limit && !killed {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				killed = true // read on: what it printed before dying counts
			}
		}
		require.True(t, killed, "the child stopped by itself")
		_ = cmd.Wait()

		l, rep := open(t, dir, Options{MaxBytes: 8 << 20})
		got := map[int]bool{}
		for _, r := range rep.Records {
			id := payloadID(t, r.Data)
			got[id] = true
			if acked[id] {
				totalDups++
			}
		}
		required := 0
		for id := range accepted {
			if !acked[id] {
				required++
				require.True(t, got[id], "kill %d: record %d was appended, never acknowledged, and is lost", k, id)
			}
		}
		totalRequired += required
		for _, loss := range rep.Lost {
			require.ErrorIs(t, loss.Err, ErrTorn, "kill %d: %+v", k, loss)
		}
		require.NoError(t, l.Close())
	}
	t.Logf("%d kills; %d records accepted, %d acknowledged; %d unacknowledged records checked after the kills, 0 lost; %d replayed although acknowledged (duplicates)",
		kills, len(accepted), len(acked), totalRequired, totalDups)
}
