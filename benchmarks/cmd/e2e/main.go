// Command e2e is the end-to-end and dead-endpoint benchmark. It starts the
// sink (cmd/sink) in its own process, then runs each SDK in a child process
// of its own (this binary with -child), so that CPU time (getrusage) and
// peak RSS (ru_maxrss) belong to one client alone:
//
//   - live: N events (default 200,000) enqueued then Close; the sink counts
//     what arrived. Delivered events/s, client CPU per event, peak RSS,
//     bytes on the wire per event, and a check that exactly N arrived.
//   - dead: N events (default 50,000) against an endpoint answering 500.
//     Peak RSS, how long Close takes (tracklane: Close(ctx) with a 2 s
//     deadline; the peers' Close has no ctx, so it is cut off after -close-cap),
//     and how many events each SDK reported lost.
//
// Runs are interleaved (run 1 of every SDK, then run 2, ...) with the SDK
// order rotated, so that a noisy neighbour does not hit one SDK only.
// Raw records go to -json (one JSON object a line); medians to -md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tracklane/analytics/benchmarks/internal/contender"
	"github.com/tracklane/analytics/benchmarks/internal/report"
	"github.com/tracklane/analytics/benchmarks/internal/sink"
)

func main() {
	var (
		child     = flag.Bool("child", false, "internal: run one SDK in this process")
		sdk       = flag.String("sdk", "", "internal (-child): contender name")
		mode      = flag.String("mode", "live", "internal (-child): live or dead")
		url       = flag.String("url", "", "internal (-child): sink base URL")
		n         = flag.Int("n", 200_000, "events per live run")
		deadN     = flag.Int("dead-n", 50_000, "events per dead-endpoint run")
		runs      = flag.Int("runs", 5, "runs of each SDK")
		sdks      = flag.String("sdks", strings.Join(contender.Names, ","), "contenders, comma-separated")
		deadSDKs  = flag.String("dead-sdks", "analytics-go,posthog-go,tracklane", "contenders of the dead-endpoint runs")
		sinkBin   = flag.String("sink", "", "sink binary (default: 'sink' beside this binary)")
		jsonOut   = flag.String("json", "", "write raw records here (JSON lines)")
		mdOut     = flag.String("md", "", "write the median tables here (Markdown)")
		closeDead = flag.Duration("close-deadline", 2*time.Second, "Close deadline in dead runs (tracklane's ctx)")
		closeLive = flag.Duration("close-live", 2*time.Minute, "Close deadline in live runs (tracklane's ctx)")
		closeCap  = flag.Duration("close-cap", 60*time.Second, "cut off any Close after this long")
		profDir   = flag.String("profile-dir", "", "write CPU and heap profiles of each child here")
	)
	flag.Parse()
	if *child {
		if err := runChild(*sdk, *mode, *url, *n, *closeDead, *closeLive, *closeCap, *profDir); err != nil {
			log.Fatalf("e2e child %s/%s: %v", *sdk, *mode, err)
		}
		return
	}
	log.SetFlags(0)
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	if *sinkBin == "" {
		*sinkBin = filepath.Join(filepath.Dir(self), "sink")
	}
	base, stopSink, err := startSink(*sinkBin)
	if err != nil {
		log.Fatal(err)
	}
	defer stopSink()

	type job struct {
		sdk, mode string
		n         int
	}
	live, dead := split(*sdks), split(*deadSDKs)
	var records []report.Record
	raw := io.Discard
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			log.Fatal(err)
		}
		defer func() {
			if err := f.Close(); err != nil {
				log.Print(err)
			}
		}()
		raw = f
	}
	for r := range *runs {
		var jobs []job
		for i := range live {
			jobs = append(jobs, job{live[(i+r)%len(live)], "live", *n})
		}
		for i := range dead {
			jobs = append(jobs, job{dead[(i+r)%len(dead)], "dead", *deadN})
		}
		for _, j := range jobs {
			rec, err := runOne(self, base, j.sdk, j.mode, j.n, *closeDead, *closeLive, *closeCap, *profDir)
			if err != nil {
				log.Fatalf("run %d %s/%s: %v", r+1, j.sdk, j.mode, err)
			}
			rec.Run = r + 1
			records = append(records, rec)
			line, _ := json.Marshal(rec)
			_, _ = fmt.Fprintf(raw, "%s\n", line)
			log.Printf("run %d %-14s %-4s %s", r+1, j.sdk, j.mode, brief(&rec))
		}
	}
	md := report.Summarize(records, live, dead, *n, *deadN, *closeDead, *closeCap)
	if *mdOut != "" {
		if err := os.WriteFile(*mdOut, []byte(md), 0o644); err != nil {
			log.Fatal(err)
		}
	} else {
		fmt.Print(md)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// startSink starts the sink process and returns its base URL and a stop
// function (closing its stdin makes it exit; it is killed by pid if not).
func startSink(bin string) (string, func(), error) {
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0") //nolint:noctx // the sink lives until stop() closes its stdin, not for a context
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting sink %s: %w", bin, err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", nil, fmt.Errorf("sink did not start: %q %w", line, err)
	}
	stop := func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "listening ")), stop, nil
}

func sinkCall(method, url string) (*sink.Stats, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	var st sink.Stats
	if method == http.MethodGet {
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

// runOne runs one SDK in a child process and returns its record.
func runOne(self, base, sdk, mode string, n int, closeDead, closeLive, closeCap time.Duration, profDir string) (report.Record, error) {
	if _, err := sinkCall(http.MethodPost, base+"/reset"); err != nil {
		return report.Record{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeCap+3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", "-sdk", sdk, "-mode", mode, "-url", base,
		"-n", fmt.Sprint(n), "-close-deadline", closeDead.String(), "-close-live", closeLive.String(),
		"-close-cap", closeCap.String(), "-profile-dir", profDir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return report.Record{}, fmt.Errorf("%w: %s", err, errb.String())
	}
	var rec report.Record
	if err := json.Unmarshal(out.Bytes(), &rec.ChildResult); err != nil {
		return report.Record{}, fmt.Errorf("child output %q: %w", out.String(), err)
	}
	st, err := sinkCall(http.MethodGet, base+"/stats")
	if err != nil {
		return report.Record{}, err
	}
	rec.Sink = st.Live
	if mode == "dead" {
		rec.Sink = st.Dead
	}
	return rec, nil
}

func brief(r *report.Record) string {
	if r.Mode == "live" {
		return fmt.Sprintf("arrived %d/%d in %.2fs: %.0f ev/s, cpu %.1f µs/ev, rss %.0f MiB, %.0f B/ev wire",
			r.Sink.Messages, r.N, r.TotalSec, float64(r.Sink.Messages)/r.TotalSec,
			(r.UserSec+r.SysSec)/float64(r.N)*1e6, float64(r.MaxRSSKiB)/1024, float64(r.Sink.WireBytes)/float64(max(r.Sink.Messages, 1)))
	}
	return fmt.Sprintf("close %.2fs capped=%v, rss %.0f MiB, lost reported %d (refused %d, failed %d), %d requests to the dead endpoint",
		r.CloseSec, r.CloseCap, float64(r.MaxRSSKiB)/1024, r.EnqueueErrors+r.CBFailed, r.EnqueueErrors, r.CBFailed, r.Sink.Requests)
}
