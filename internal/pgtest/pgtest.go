//go:build unix

// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb and
// pg_ctl on a temporary directory, listening only on a unix socket there,
// run as an unprivileged user when the tests run as root (PostgreSQL
// refuses to run as root). When TRACKLANE_TEST_POSTGRES is set, its URL is
// used instead and no cluster is started.
//
// It uses only the standard library: the tests that import it bring their
// own driver.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvURL names the variable that points the tests at an existing server,
// e.g. postgres://user:pass@127.0.0.1:5432/postgres.
const EnvURL = "TRACKLANE_TEST_POSTGRES"

// EnvBin names the variable that sets the directory of initdb and pg_ctl,
// when they are neither in /usr/lib/postgresql/*/bin nor on PATH.
const EnvBin = "TRACKLANE_PG_BIN"

// HowTo says how to make the PostgreSQL tests run.
const HowTo = "install PostgreSQL (Debian: apt-get install -y postgresql; initdb and pg_ctl are found in /usr/lib/postgresql/*/bin or on PATH) or set " + EnvURL + " to a server's URL"

// ErrUnavailable is returned by Start when there is no PostgreSQL to test against.
var ErrUnavailable = errors.New("pgtest: PostgreSQL is not available")

// Cluster is a running PostgreSQL server.
type Cluster struct {
	base    *url.URL // without a database path
	dir     string   // owned cluster: data and socket directory; "" for EnvURL
	bin     string
	cred    *syscall.Credential
	logFile string
}

// Start starts a throwaway cluster, or connects to EnvURL when set. The
// error wraps ErrUnavailable when PostgreSQL is not installed.
func Start() (*Cluster, error) {
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("pgtest: %s: %w", EnvURL, err)
		}
		return &Cluster{base: u}, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgt")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, logFile: filepath.Join(dir, "log")}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// fsync off: the tests never crash the machine, only the server; but
	// synchronous_commit on, so that a commit that returned survives an
	// immediate stop (with it off, TestPostgresRestartWhileRelaysRun lost
	// committed rows to the restart, as a real server would).
	conf := fmt.Sprintf("listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = on\nfull_page_writes = off\nmax_connections = 200\nshared_buffers = 128MB\nlog_min_messages = warning\n", dir)
	if err := appendFile(filepath.Join(c.data(), "postgresql.conf"), conf); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := c.StartServer(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c.base = &url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/", RawQuery: url.Values{"host": {dir}, "sslmode": {"disable"}}.Encode()}
	return c, nil
}

// URL returns the URL of database db (created by the caller).
func (c *Cluster) URL(db string) string {
	u := *c.base
	u.Path = "/" + db
	return u.String()
}

// Owned reports whether this cluster was started by Start (so that it can
// be restarted), rather than given by EnvURL.
func (c *Cluster) Owned() bool { return c.dir != "" }

// StopServer stops the server at once (pg_ctl stop -m immediate: as a
// crash would), keeping its data.
func (c *Cluster) StopServer() error {
	if !c.Owned() {
		return errors.New("pgtest: cannot stop a server given by " + EnvURL)
	}
	if out, err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// StartServer starts the server stopped by StopServer.
func (c *Cluster) StartServer() error {
	if !c.Owned() {
		return errors.New("pgtest: cannot start a server given by " + EnvURL)
	}
	if out, err := c.run("pg_ctl", "-D", c.data(), "-l", c.logFile, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(c.logFile)
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

// Close stops an owned cluster and removes its directory.
func (c *Cluster) Close() error {
	if !c.Owned() {
		return nil
	}
	err := c.StopServer()
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...) //nolint:gosec // initdb and pg_ctl of the PostgreSQL installation, in tests
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// findBin finds the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err != nil { //nolint:gosec // the test runner names the directory
			return "", fmt.Errorf("%w: %s=%s: %w", ErrUnavailable, EnvBin, dir, err)
		}
		return dir, nil
	}
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		for i := len(dirs) - 1; i >= 0; i-- { // the newest version first
			if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
				return dirs[i], nil
			}
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		p, _ = filepath.EvalSymlinks(p)
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("%w: initdb not found", ErrUnavailable)
}

// unprivileged returns the credentials of the postgres user, or nobody.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
		}
	}
	return nil, fmt.Errorf("%w: running as root and no unprivileged user (postgres, nobody) to run the server", ErrUnavailable)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0) //nolint:gosec // the cluster's own postgresql.conf
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

// StartOrSkip is Start for a TestMain. When PostgreSQL is not available
// it returns a nil Cluster and the message the tests skip with (see
// SkipOrFail) or, with CI=true, prints that message and exits with 1: CI
// must run the PostgreSQL tests.
func StartOrSkip() (*Cluster, string) {
	c, err := Start()
	if err == nil {
		return c, ""
	}
	fail, msg := SkipOrFail(err)
	if fail {
		fmt.Fprintln(os.Stderr, "CI=true: "+msg)
		os.Exit(1)
	}
	return nil, msg
}

// SkipOrFail is what a TestMain does when Start failed: with CI=true the
// run must fail, else the tests skip with HowTo.
func SkipOrFail(err error) (fail bool, msg string) {
	msg = "PostgreSQL tests skipped: " + err.Error() + "; to run them, " + HowTo
	return strings.EqualFold(os.Getenv("CI"), "true"), msg
}
