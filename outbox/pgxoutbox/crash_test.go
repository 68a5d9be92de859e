package pgxoutbox_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/outbox"
	"github.com/tracklane/analytics/outbox/pgxoutbox"
)

// The crash tests re-execute this test binary as an app or a relay
// process (TestMain dispatches on childEnv) and kill it with SIGKILL.
const childEnv = "TRACKLANE_OUTBOX_CHILD"

// runChild is the body of a child process; its parameters come from the
// environment. It reports progress on stdout, one word a line.
func runChild(role string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 3 }
	url, table := os.Getenv("CHILD_URL"), os.Getenv("CHILD_TABLE")
	client, err := analytics.New("test-key", analytics.WithEndpoint(os.Getenv("CHILD_ENDPOINT")),
		analytics.WithFlushInterval(20*time.Millisecond), analytics.WithLogger(nil))
	if err != nil {
		return fail(err)
	}
	o, err := outbox.New(client, outbox.WithTable(table))
	if err != nil {
		return fail(err)
	}
	switch role {
	case "app": // write an order and its event, then wait to be killed
		db, err := sql.Open("pgx", url)
		if err != nil {
			return fail(err)
		}
		id := os.Getenv("CHILD_ORDER")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fail(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+"_orders (id, total) VALUES ($1, 27.50)", id); err != nil {
			return fail(err)
		}
		ev := order(id)
		ev.MessageID = "order-" + id
		if err := o.Enqueue(ctx, tx, ev); err != nil {
			return fail(err)
		}
		if os.Getenv("CHILD_COMMIT") != "1" {
			fmt.Println("enqueued")
			<-ctx.Done() // SIGKILLed before the commit
			return 4
		}
		if err := tx.Commit(); err != nil {
			return fail(err)
		}
		fmt.Println("committed")
		<-ctx.Done() // SIGKILLed before any relay ran
		return 4
	case "relay":
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			return fail(err)
		}
		defer pool.Close()
		lease, _ := time.ParseDuration(os.Getenv("CHILD_LEASE"))
		r, err := pgxoutbox.NewRelay(o, pool, outbox.WithRelayID(os.Getenv("CHILD_RELAY_ID")), outbox.WithLease(lease), outbox.WithPollInterval(50*time.Millisecond))
		if err != nil {
			return fail(err)
		}
		runDone := make(chan error, 1)
		go func() { runDone <- r.Run(context.Background()) }()
		fmt.Println("ready")
		<-ctx.Done() // SIGTERM: stop gracefully
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Shutdown(sctx); err != nil {
			return fail(err)
		}
		if err := <-runDone; err != nil {
			return fail(err)
		}
		if err := client.Close(sctx); err != nil {
			return fail(err)
		}
		fmt.Println("stopped")
		return 0
	}
	return fail(fmt.Errorf("unknown role %q", role))
}

type child struct {
	cmd   *exec.Cmd
	lines chan string
	once  sync.Once
	state *os.ProcessState
}

// startChild starts this test binary as a child process in role.
func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 16)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		c.wait(t)
	})
	return c
}

// expect waits for the child to print want.
func (c *child) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before printing %q", want)
			}
			if line == want {
				return
			}
		case <-timeout:
			t.Fatalf("child did not print %q", want)
		}
	}
}

func (c *child) wait(t *testing.T) *os.ProcessState {
	t.Helper()
	c.once.Do(func() {
		_ = c.cmd.Wait()
		c.state = c.cmd.ProcessState
	})
	return c.state
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := c.wait(t); st.Success() {
		t.Fatal("child exited normally")
	}
}

func childEnvs(e *env, kv ...string) []string {
	return append([]string{"CHILD_URL=" + e.url, "CHILD_TABLE=" + e.table}, kv...)
}

// The app process dies after its commit, before any delivery: the event is
// delivered once a relay runs again. Killed before the commit, neither the
// order nor its event exists.
func TestAppKilledAfterCommitDeliveredAfterRestart(t *testing.T) {
	e := newEnv(t)
	s := newSink(t)
	e.outbox(t, newClient(t, s.URL())) // the schema

	pre := startChild(t, "app", childEnvs(e, "CHILD_ORDER=pre", "CHILD_COMMIT=0", "CHILD_ENDPOINT=http://127.0.0.1:1")...)
	pre.expect(t, "enqueued")
	pre.kill(t)
	post := startChild(t, "app", childEnvs(e, "CHILD_ORDER=post", "CHILD_COMMIT=1", "CHILD_ENDPOINT=http://127.0.0.1:1")...)
	post.expect(t, "committed")
	post.kill(t)
	// The killed pre-commit transaction is rolled back by the server.
	waitUntil(t, 10*time.Second, "the killed transaction to end", func() bool {
		return e.count(t, "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND datname = current_database()") == 0
	}, nil)
	if n := e.count(t, "SELECT count(*) FROM {t}"); n != 1 {
		t.Fatalf("%d outbox rows after the crashes, want 1", n)
	}

	// The app restarts, with its relay.
	r := startChild(t, "relay", childEnvs(e, "CHILD_ENDPOINT="+s.URL(), "CHILD_RELAY_ID=restarted", "CHILD_LEASE=30s")...)
	r.expect(t, "ready")
	waitUntil(t, 20*time.Second, "the committed event", func() bool { return s.times("order-post") == 1 }, s)
	waitUntil(t, 10*time.Second, "the row to be removed", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, nil)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "stopped")
	if st := r.wait(t); !st.Success() {
		t.Errorf("relay process: %v", st)
	}
	if n := s.times("order-pre"); n != 0 {
		t.Errorf("the uncommitted event was delivered %d times", n)
	}
	if n := e.count(t, "SELECT count(*) FROM {t}_orders"); n != 1 {
		t.Errorf("%d orders, want the committed one", n)
	}
}

// insertRows commits n events in one transaction and returns their ids.
func insertRows(t testing.TB, e *env, o *outbox.Outbox, prefix string, n int) []string {
	t.Helper()
	tx, err := e.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	ids := make([]string, n)
	for i := range n {
		ev := order(prefix + strconv.Itoa(i))
		ev.MessageID = prefix + strconv.Itoa(i)
		ids[i] = ev.MessageID
		if err := o.Enqueue(t.Context(), tx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// A relay process is killed while it sends a batch: another relay delivers
// its rows once the lease has passed (not before), each once.
func TestRelayKilledMidBatch(t *testing.T) {
	const lease = 2 * time.Second
	e := newEnv(t)
	hung := newSink(t)
	release := hung.holdRequests()
	defer release()
	good := newSink(t)
	o := e.outbox(t, newClient(t, good.URL()))
	ids := insertRows(t, e, o, "mid-", 200)

	a := startChild(t, "relay", childEnvs(e, "CHILD_ENDPOINT="+hung.URL(), "CHILD_RELAY_ID=doomed", "CHILD_LEASE="+lease.String())...)
	a.expect(t, "ready")
	waitUntil(t, 20*time.Second, "the doomed relay to send", func() bool { return hung.requestCount() > 0 }, hung)
	if n := e.count(t, "SELECT count(*) FROM {t} WHERE claimed_by = 'doomed'"); n != 200 {
		t.Fatalf("the doomed relay holds %d rows, want 200", n)
	}
	a.kill(t)
	var leaseEnd float64
	if err := e.db.QueryRowContext(t.Context(), "SELECT extract(epoch FROM max(claimed_until))::float8 FROM "+e.table).Scan(&leaseEnd); err != nil {
		t.Fatal(err)
	}
	firstAt := make(chan time.Time, 1)
	hook := func([]string) {
		select {
		case firstAt <- time.Now():
		default:
		}
	}
	good.before.Store(&hook)
	killed := time.Now()

	e.pgxRelay(t, o, outbox.WithPollInterval(50*time.Millisecond), outbox.WithLease(lease))
	waitUntil(t, 20*time.Second, "the other relay to deliver every row", func() bool { u, _ := good.stats(); return u == len(ids) }, good)
	if took := time.Since(killed); took > lease+5*time.Second {
		t.Errorf("took %v after the kill, lease %v", took, lease)
	}
	if at := float64((<-firstAt).UnixNano()) / 1e9; at < leaseEnd-0.05 {
		t.Errorf("rows sent %.3fs before the dead relay's lease ended", leaseEnd-at)
	}
	if _, dup := good.stats(); dup != 0 {
		t.Errorf("%d duplicates", dup)
	}
	if u, _ := hung.stats(); u != 0 {
		t.Errorf("the hung endpoint accepted %d", u)
	}
	waitUntil(t, 10*time.Second, "the rows to be removed", func() bool { return e.count(t, "SELECT count(*) FROM {t}") == 0 }, nil)
}

// A relay process is killed after the endpoint accepted a batch, before it
// could remove the rows: they are delivered again, with the same
// messageIds and bytes (at-least-once; Segment deduplicates on messageId).
func TestRelayKilledAfterDeliveryBeforeAck(t *testing.T) {
	const lease = time.Second
	e := newEnv(t)
	first := newSink(t)
	good := newSink(t)
	o := e.outbox(t, newClient(t, good.URL()))
	ids := insertRows(t, e, o, "ack-", 50)

	a := startChild(t, "relay", childEnvs(e, "CHILD_ENDPOINT="+first.URL(), "CHILD_RELAY_ID=doomed", "CHILD_LEASE="+lease.String())...)
	kill := func([]string) { _ = a.cmd.Process.Kill(); a.wait(t) } // recorded, then the relay dies before the answer
	first.before.Store(&kill)
	a.expect(t, "ready")
	waitUntil(t, 20*time.Second, "the first delivery", func() bool { u, _ := first.stats(); return u > 0 }, first)
	a.wait(t)

	e.pgxRelay(t, o, outbox.WithPollInterval(50*time.Millisecond), outbox.WithLease(lease))
	waitUntil(t, 20*time.Second, "every row", func() bool { u, _ := good.stats(); return u == len(ids) }, good)
	first.mu.Lock()
	good.mu.Lock()
	for id, raw := range first.raw {
		if string(good.raw[id]) != string(raw) {
			t.Errorf("%s sent again with other bytes:\n%s\n%s", id, raw, good.raw[id])
		}
	}
	n := len(first.raw)
	good.mu.Unlock()
	first.mu.Unlock()
	if n == 0 {
		t.Fatal("nothing reached the first endpoint")
	}
	t.Logf("%d messages delivered twice, by the killed relay and by the next", n)
}
