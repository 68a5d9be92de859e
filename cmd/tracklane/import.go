package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/tracklane/analytics"
	"golang.org/x/term"
)

const importSynopsis = `Usage: tracklane import [flags] FILE|-

Backfills historical data: FILE (or stdin, -) holds NDJSON, one Segment
message per line ({"type":"track","userId":...,"event":...,"timestamp":...}).
Each line is mapped onto the client's typed messages (keeping messageId,
timestamp, context and integrations; context.library and the members a
collector sets, such as sentAt and receivedAt, are written anew), validated
and stamped as any call, and queued with EnqueueContext, which waits for
room instead of dropping: nothing is lost to a full queue. A line without a
messageId gets one derived from its content (the UUIDv5 of its canonical
JSON), so that a re-run sends the same ids and Segment drops the copies.
Segment deduplicates on messageId within a window of about a day (at least
24 hours; https://segment.com/docs/guides/duplicate-data/): re-run a failed
import within it, or resume with --checkpoint or --skip instead.

Bad lines (not JSON, not a Segment message, refused by the client) are
reported with their line number on stderr and never stop the others; so are
messages that could not be delivered. Progress shows on stderr: a bar on a
terminal (lines/s, ETA, delivered, failed), plain lines otherwise. A summary
goes to stdout. Exit status 0 when every line was delivered, 1 when a line
was bad or not delivered (or on interrupt), 2 usage errors.

Resuming: --skip N skips the first N lines. --checkpoint FILE records, about
once a second and at the end, the number of the last line up to which every
line was delivered or reported bad, and a later run with the same FILE
resumes after it (the larger of it and --skip). On an interrupt (Ctrl-C,
SIGTERM), import stops reading, delivers what is queued for 5 more seconds,
reports the rest not delivered and saves the checkpoint.
`

// closeGrace is how long import keeps delivering after an interrupt.
const closeGrace = 5 * time.Second

func cmdImport(ctx context.Context, env *environment, args []string) int {
	fs := newFlagSet(env, "import", importSynopsis)
	var d dest
	d.register(fs)
	var (
		skip       = fs.Int("skip", 0, "skip the first N lines")
		checkpoint = fs.String("checkpoint", "", "resume from, and record progress in, this file")
		progress   = fs.String("progress", "auto", "auto (a bar on a terminal, else plain lines), bar, plain or none")
		every      = fs.Duration("progress-every", 5*time.Second, "interval of plain progress lines")
		timeout    = fs.Duration("timeout", 0, "give up delivering what is queued this long after the input ends (0: no limit)")
	)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return usageCode(err)
	}
	if len(pos) != 1 {
		env.errorf("import: want one FILE or -")
		fs.Usage()
		return exitUsage
	}
	if *skip < 0 {
		env.errorf("import: --skip must not be negative")
		return exitUsage
	}
	switch *progress {
	case "auto", "bar", "plain", "none":
	default:
		env.errorf("import: --progress must be auto, bar, plain or none")
		return exitUsage
	}
	if *checkpoint != "" {
		n, err := readCheckpoint(*checkpoint)
		if err != nil {
			env.errorf("import: %v", err)
			return exitUsage
		}
		*skip = max(*skip, n)
	}
	in, total, closeIn, err := openInput(env, pos[0])
	if err != nil {
		env.errorf("import: %v", err)
		return exitUsage
	}
	defer closeIn()

	im := &importer{env: env, pending: map[string][]int{}, done: map[int]bool{}, low: *skip, firstFailed: -1, ckpt: *checkpoint}
	c, col, err := d.newClient(env, analytics.WithDeliveryCallback(im.report))
	if err != nil {
		env.errorf("import: %v", err)
		return exitUsage
	}
	defer col.close()

	mode := *progress
	if mode == "auto" {
		mode = "plain"
		if f, ok := env.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	if total >= 0 {
		total = max(total-*skip, 0)
	}
	stopProgress := im.showProgress(mode, total, *every)
	start := time.Now()
	interrupted := im.read(ctx, c, in, *skip)

	// Close delivers what is queued; an interrupt (before or during it)
	// leaves it closeGrace more, then what is left is reported not delivered.
	cctx, cancel := contextWithTimeout(context.WithoutCancel(ctx), *timeout)
	stopGrace := context.AfterFunc(ctx, func() { time.AfterFunc(closeGrace, cancel) })
	closeErr := c.Close(cctx)
	stopGrace()
	cancel()
	interrupted = interrupted || ctx.Err() != nil
	stopProgress()
	elapsed := time.Since(start)
	im.saveCheckpoint()

	im.mu.Lock()
	defer im.mu.Unlock()
	fmt.Fprintf(env.stdout, "import: %d lines read (%d skipped, %d blank), %d sent: %d delivered, %d failed, %d bad; %s, %.0f lines/s\n",
		im.lines, im.skipped, im.blank, im.sent, im.delivered, im.failed, im.bad, elapsed.Round(time.Millisecond),
		float64(im.lines-im.skipped)/max(elapsed.Seconds(), 1e-9))
	if im.ckpt != "" {
		fmt.Fprintf(env.stdout, "import: checkpoint %s: every line up to %d done\n", im.ckpt, im.low)
	}
	violations := col.report(env.stdout)
	switch {
	case interrupted:
		env.errorf("import: interrupted at line %d; resume with --skip %d or the same --checkpoint", im.lastRead, im.low)
		return exitFailed
	case im.failed > 0 || im.bad > 0 || violations > 0 || im.sent != im.delivered:
		if closeErr != nil && im.failed == 0 {
			env.errorf("import: %v", closeErr)
		}
		return exitFailed
	}
	return exitOK
}

// openInput opens name ("-" is stdin) and counts its lines when it is a
// regular file (-1 otherwise), for the progress bar.
func openInput(env *environment, name string) (io.Reader, int, func(), error) {
	if name == "-" {
		return env.stdin, -1, func() {}, nil
	}
	f, err := os.Open(filepath.Clean(name)) //nolint:gosec // the file the user names is the input
	if err != nil {
		return nil, 0, nil, err
	}
	total := -1
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		total, err = countLines(f)
		if err != nil {
			_ = f.Close()
			return nil, 0, nil, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			_ = f.Close()
			return nil, 0, nil, err
		}
	}
	return f, total, func() { _ = f.Close() }, nil
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n, last := 0, byte('\n')
	for {
		k, err := r.Read(buf)
		if chunk := buf[:k]; len(chunk) > 0 {
			n += bytes.Count(chunk, []byte{'\n'})
			last = chunk[len(chunk)-1]
		}
		if errors.Is(err, io.EOF) {
			if last != '\n' {
				n++
			}
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// importer tracks every line from reading to its outcome.
type importer struct {
	env  *environment
	ckpt string

	mu          sync.Mutex
	pending     map[string][]int // messageId -> lines queued with it, oldest first
	done        map[int]bool     // lines above low with a final outcome
	low         int              // every line up to low is delivered, bad or skipped
	firstFailed int              // the first line not delivered, -1 if none; low stays below it
	lastRead    int

	lines, skipped, blank, bad, sent, delivered, failed int
}

// read queues every line of in after the first skip and reports whether
// ctx ended first.
func (im *importer) read(ctx context.Context, c *analytics.Client, in io.Reader, skip int) (interrupted bool) {
	lr := newLineReader(in)
	for {
		line, n, err := lr.next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			im.env.errorf("import: %v", err)
			im.mu.Lock()
			im.bad++
			im.mu.Unlock()
			return false
		}
		if ctx.Err() != nil {
			return true
		}
		im.mu.Lock()
		im.lines++
		im.lastRead = n
		if n <= skip {
			im.skipped++
			im.mu.Unlock()
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			im.blank++
			im.finishLocked(n)
			im.mu.Unlock()
			continue
		}
		im.mu.Unlock()
		if err := im.queue(ctx, c, n, line); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				im.mu.Lock()
				im.lines-- // not handled: a resumed run reads it again
				im.mu.Unlock()
				return true
			}
			fmt.Fprintf(im.env.stderr, "line %d: %v\n", n, err)
			im.mu.Lock()
			im.bad++
			im.finishLocked(n)
			im.mu.Unlock()
		}
	}
}

// queue maps line n onto a message and queues it.
func (im *importer) queue(ctx context.Context, c *analytics.Client, n int, line []byte) error {
	m, err := parseLine(line)
	if err != nil {
		return err
	}
	if id, present := m["messageId"]; !present || id == nil || id == "" {
		id, err := deriveID(m)
		if err != nil {
			return err
		}
		m["messageId"] = id
	}
	msg, err := toMessage(m)
	if err != nil {
		return err
	}
	id, _ := m["messageId"].(string)
	im.mu.Lock()
	im.pending[id] = append(im.pending[id], n)
	im.mu.Unlock()
	if err := c.EnqueueContext(ctx, msg); err != nil {
		im.mu.Lock()
		if ls := im.pending[id]; len(ls) > 0 && ls[len(ls)-1] == n {
			if im.pending[id] = ls[:len(ls)-1]; len(im.pending[id]) == 0 {
				delete(im.pending, id)
			}
		}
		im.mu.Unlock()
		return fmt.Errorf("refused: %w", err)
	}
	im.mu.Lock()
	im.sent++
	im.mu.Unlock()
	return nil
}

// report is the client's delivery callback. Refused reports are ignored:
// EnqueueContext returns those refusals to read, which reports them.
func (im *importer) report(r analytics.Report) {
	if r.Outcome != analytics.Delivered && r.Outcome != analytics.Failed {
		return
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, m := range r.Messages {
		ls := im.pending[m.MessageID]
		if len(ls) == 0 {
			continue
		}
		n := ls[0]
		if im.pending[m.MessageID] = ls[1:]; len(ls) == 1 {
			delete(im.pending, m.MessageID)
		}
		if r.Outcome == analytics.Delivered {
			im.delivered++
			im.finishLocked(n)
			continue
		}
		im.failed++
		if im.firstFailed < 0 || n < im.firstFailed {
			im.firstFailed = n
		}
		fmt.Fprintf(im.env.stderr, "line %d: not delivered: %v\n", n, r.Err)
	}
}

// finishLocked records that line n needs nothing more and advances low.
func (im *importer) finishLocked(n int) {
	im.done[n] = true
	for im.done[im.low+1] && (im.firstFailed < 0 || im.low+1 < im.firstFailed) {
		delete(im.done, im.low+1)
		im.low++
	}
}

// saveCheckpoint writes low to the checkpoint file (atomically: a
// temporary file renamed over it).
func (im *importer) saveCheckpoint() {
	if im.ckpt == "" {
		return
	}
	im.mu.Lock()
	low := im.low
	im.mu.Unlock()
	tmp := im.ckpt + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(low)+"\n"), 0o600); err != nil {
		im.env.errorf("import: checkpoint: %v", err)
		return
	}
	if err := os.Rename(tmp, im.ckpt); err != nil {
		im.env.errorf("import: checkpoint: %v", err)
	}
}

// readCheckpoint returns the line number in path, 0 when it does not exist.
func readCheckpoint(path string) (int, error) {
	b, err := os.ReadFile(filepath.Clean(path))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("checkpoint %s: want a line number, got %q", path, strings.TrimSpace(string(b)))
	}
	return n, nil
}

// showProgress shows progress (and saves the checkpoint about once a
// second) until the returned function is called. total is the number of
// lines to import, -1 when unknown.
func (im *importer) showProgress(mode string, total int, every time.Duration) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	snapshot := func() (handled, delivered, failed, bad int) {
		im.mu.Lock()
		defer im.mu.Unlock()
		return im.delivered + im.failed + im.bad + im.blank, im.delivered, im.failed, im.bad
	}
	start := time.Now()
	var bar *progressbar.ProgressBar
	interval := every
	if mode == "bar" {
		bar = progressbar.NewOptions64(int64(total),
			progressbar.OptionSetWriter(im.env.stderr),
			progressbar.OptionSetDescription("importing"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("lines"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(im.env.stderr) }),
		)
		interval = 200 * time.Millisecond
	}
	if interval <= 0 || mode == "none" {
		interval = time.Second
	}
	tick := func(final bool) {
		if mode == "none" {
			return
		}
		handled, delivered, failed, bad := snapshot()
		if bar != nil {
			bar.Describe(fmt.Sprintf("delivered %d, failed %d, bad %d", delivered, failed, bad))
			_ = bar.Set(handled)
			if final {
				_ = bar.Finish()
			}
			return
		}
		secs := time.Since(start).Seconds()
		of := ""
		if total >= 0 {
			of = "/" + strconv.Itoa(total)
		}
		fmt.Fprintf(im.env.stderr, "import: %d%s lines, %d delivered, %d failed, %d bad, %.0f lines/s\n",
			handled, of, delivered, failed, bad, float64(handled)/max(secs, 1e-9))
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				tick(true)
				return
			case <-t.C:
				tick(false)
				im.saveCheckpoint()
			}
		}
	}()
	return func() { close(done); <-finished }
}
