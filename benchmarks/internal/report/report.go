// Package report holds the records of the end-to-end program and turns them,
// with the Enqueue benchmark output, into the tables of RESULTS.md.
package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tracklane/analytics"
	"github.com/tracklane/analytics/benchmarks/internal/contender"
	"github.com/tracklane/analytics/benchmarks/internal/sink"
)

// stat is the median of a sample, with its range.
type stat struct{ med, lo, hi float64 }

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{m, s[0], s[len(s)-1]}
}

// f formats the median with its range; prec is the number of decimals.
func (s stat) f(prec int) string {
	if math.IsNaN(s.med) {
		return "n/a"
	}
	return fmt.Sprintf("%.*f [%.*f–%.*f]", prec, s.med, prec, s.lo, prec, s.hi)
}

func pick(rs []Record, sdk, mode string) []Record {
	var out []Record
	for _, r := range rs {
		if r.SDK == sdk && r.Mode == mode {
			out = append(out, r)
		}
	}
	return out
}

func each(rs []Record, f func(*Record) float64) []float64 {
	out := make([]float64, len(rs))
	for i := range rs {
		out[i] = f(&rs[i])
	}
	return out
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func evPerSec(r *Record) float64 { return float64(r.Sink.Messages) / r.TotalSec }
func cpuPerEv(r *Record) float64 { return (r.UserSec + r.SysSec) / float64(r.N) * 1e6 }
func rssMiB(r *Record) float64   { return float64(r.MaxRSSKiB) / 1024 }

// Summarize returns the Markdown tables of the live and dead runs: medians
// with their range, and ratios against analytics-go.
func Summarize(rs []Record, live, dead []string, n, deadN int, closeDead, closeCap time.Duration) string {
	var b strings.Builder
	base := contender.AnalyticsGo
	baseLive := pick(rs, base, "live")
	baseEv := stats(each(baseLive, evPerSec)).med
	baseCPU := stats(each(baseLive, cpuPerEv)).med
	runs := len(baseLive)

	fmt.Fprintf(&b, "### End-to-end: %d events enqueued, then Close (median [min–max] of %d runs)\n\n", n, runs)
	b.WriteString("| SDK | delivered events/s | vs analytics-go | client CPU µs/event | vs analytics-go | peak RSS MiB | wire body B/event | headers B/event | requests | queue-full waits | arrived |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, sdk := range live {
		rr := pick(rs, sdk, "live")
		if len(rr) == 0 {
			continue
		}
		ev, cpu := stats(each(rr, evPerSec)), stats(each(rr, cpuPerEv))
		body := stats(each(rr, func(r *Record) float64 { return float64(r.Sink.WireBytes) / float64(max(r.Sink.Messages, 1)) }))
		hdr := stats(each(rr, func(r *Record) float64 { return float64(r.Sink.HeaderBytes) / float64(max(r.Sink.Messages, 1)) }))
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sdk,
			ev.f(0), ratio(ev.med, baseEv), cpu.f(2), ratio(cpu.med, baseCPU),
			stats(each(rr, rssMiB)).f(0), body.f(0), hdr.f(0),
			stats(each(rr, func(r *Record) float64 { return float64(r.Sink.Requests) })).f(0),
			stats(each(rr, func(r *Record) float64 { return float64(r.QueueFullWaits) })).f(0),
			arrived(rr))
	}
	b.WriteString("\nGzip: only tracklane can compress (`WithGzip(true)`, the `tracklane-gzip` row); analytics-go v3.3.0 and posthog-go v1.5.2 always send plain JSON.\n")
	fmt.Fprintf(&b, "\"queue-full waits\": tracklane never blocks; when its queue (default %d events / %d MiB) is full Enqueue returns ErrQueueFull and this producer waits for the next delivery report, then enqueues again. The peers block inside Enqueue instead.\n\n", analytics.DefaultMaxQueueMessages, analytics.DefaultMaxQueueBytes>>20)

	fmt.Fprintf(&b, "### Dead endpoint: %d events against an endpoint answering 500, then Close (median [min–max] of %d runs)\n\n", deadN, runs)
	fmt.Fprintf(&b, "tracklane: `Close(ctx)` with a %s deadline. analytics-go and posthog-go: `Close()` takes no context; it is timed, and cut off after %s.\n\n", closeDead, closeCap)
	b.WriteString("| SDK | peak RSS MiB | Close s | reported lost / N | of which refused at Enqueue | requests to the dead endpoint | every undelivered event reported |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for _, sdk := range dead {
		rr := pick(rs, sdk, "dead")
		if len(rr) == 0 {
			continue
		}
		closeS := stats(each(rr, func(r *Record) float64 { return r.CloseSec })).f(2)
		if c := count(rr, func(r *Record) bool { return r.CloseCap }); c > 0 {
			closeS = fmt.Sprintf("> %.0f (cut off in %d/%d runs)", closeCap.Seconds(), c, len(rr))
		}
		lost := stats(each(rr, func(r *Record) float64 { return float64(r.EnqueueErrors + r.CBFailed) }))
		fmt.Fprintf(&b, "| %s | %s | %s | %s / %d | %s | %s | %s |\n", sdk,
			stats(each(rr, rssMiB)).f(0), closeS, lost.f(0), deadN,
			stats(each(rr, func(r *Record) float64 { return float64(r.EnqueueErrors) })).f(0),
			stats(each(rr, func(r *Record) float64 { return float64(r.Sink.Requests) })).f(0),
			allReported(rr))
	}
	b.WriteString("\n\"reported lost\": events refused by Enqueue (an error returned) plus events the SDK's callback reported failed. Nothing can be delivered, so every one of the N events should be reported.\n")
	return b.String()
}

func count(rs []Record, f func(*Record) bool) int {
	n := 0
	for i := range rs {
		if f(&rs[i]) {
			n++
		}
	}
	return n
}

func arrived(rs []Record) string {
	exact := count(rs, func(r *Record) bool { return r.Sink.Messages == int64(r.N) && r.Sink.Malformed == 0 })
	if exact == len(rs) {
		return fmt.Sprintf("exactly N in %d/%d runs", exact, len(rs))
	}
	var got []string
	for _, r := range rs {
		got = append(got, strconv.FormatInt(r.Sink.Messages, 10))
	}
	return fmt.Sprintf("**exactly N in %d/%d runs** (arrived: %s)", exact, len(rs), strings.Join(got, ", "))
}

func allReported(rs []Record) string {
	ok := count(rs, func(r *Record) bool { return !r.CloseCap && r.EnqueueErrors+r.CBFailed == int64(r.N) })
	if ok == len(rs) {
		return fmt.Sprintf("yes, %d/%d runs", ok, len(rs))
	}
	var got []string
	for _, r := range rs {
		s := strconv.FormatInt(r.EnqueueErrors+r.CBFailed, 10)
		if r.CloseCap {
			s += " (cut off)"
		}
		got = append(got, s)
	}
	return fmt.Sprintf("**no: %d/%d runs** (reported: %s)", ok, len(rs), strings.Join(got, ", "))
}

// BenchResults reads `go test -bench` output: name (without the -GOMAXPROCS
// suffix) -> unit -> values.
func BenchResults(path string) (map[string]map[string][]float64, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	out := map[string]map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 4 || !strings.HasPrefix(fs[0], "Benchmark") {
			continue
		}
		name := fs[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if out[name] == nil {
			out[name] = map[string][]float64{}
			order = append(order, name)
		}
		for i := 2; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err != nil {
				continue
			}
			out[name][fs[i+1]] = append(out[name][fs[i+1]], v)
		}
	}
	return out, order, sc.Err()
}

// Record is one child's result with what the sink saw during it.
type Record struct {
	ChildResult
	Run  int         `json:"run"`
	Sink sink.Counts `json:"sink"`
}

// ChildResult is what one client process measured about itself.
type ChildResult struct {
	SDK  string `json:"sdk"`
	Mode string `json:"mode"` // "live" or "dead"
	N    int    `json:"n"`

	EnqueueSec float64 `json:"enqueue_sec"` // building and enqueuing the N events
	CloseSec   float64 `json:"close_sec"`   // Close, until it returned (or the cap)
	TotalSec   float64 `json:"total_sec"`   // first Enqueue to Close returned
	CloseCap   bool    `json:"close_capped,omitempty"`
	CloseErr   string  `json:"close_err,omitempty"`

	UserSec   float64 `json:"cpu_user_sec"` // getrusage(RUSAGE_SELF), New to Close returned
	SysSec    float64 `json:"cpu_sys_sec"`
	MaxRSSKiB int64   `json:"maxrss_kib"` // ru_maxrss: peak RSS of this process

	EnqueueErrors   int64             `json:"enqueue_errors"`   // events Enqueue refused (and we did not retry)
	QueueFullWaits  int64             `json:"queue_full_waits"` // live mode: ErrQueueFull answered by waiting for space
	CBDelivered     int64             `json:"cb_delivered"`     // events reported delivered by the SDK's callback
	CBFailed        int64             `json:"cb_failed"`        // accepted events reported failed by the callback
	CBRefused       int64             `json:"cb_refused"`       // events reported refused by the callback
	SDKStats        map[string]uint64 `json:"sdk_stats,omitempty"`
	FirstEnqueueErr string            `json:"first_enqueue_err,omitempty"`
}

// ReadRecords reads the JSON lines written by cmd/e2e -json.
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	var out []Record
	dec := json.NewDecoder(f)
	for dec.More() {
		var r Record
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Enqueue returns the Markdown table of the Enqueue benchmarks (medians of
// the -count runs), with ratios against analytics-go.
func Enqueue(bench map[string]map[string][]float64, order []string) string {
	var b strings.Builder
	b.WriteString("| benchmark | ns/op | vs analytics-go | B/op | allocs/op | queuefull/op | runs |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, name := range order {
		m := bench[name]
		baseName := name[:strings.LastIndex(name, "sdk=")+4] + contender.AnalyticsGo
		base := stats(bench[baseName]["ns/op"]).med
		ns := stats(m["ns/op"])
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.0f | %.3f | %d |\n", name, ns.f(0), ratio(ns.med, base),
			stats(m["B/op"]).med, stats(m["allocs/op"]).med, stats(m["queuefull/op"]).med, len(m["ns/op"]))
	}
	return b.String()
}

// Targets returns the Markdown table of issue 6's targets, each judged on
// the medians of this run.
func Targets(bench map[string]map[string][]float64, rs []Record, deadN int) string {
	var b strings.Builder
	b.WriteString("| target (issue 6) | analytics-go | tracklane | measured | met? |\n|---|---:|---:|---:|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	for _, bn := range []string{"BenchmarkEnqueue", "BenchmarkEnqueueParallel"} {
		ag := stats(bench[bn+"/sdk="+contender.AnalyticsGo]["ns/op"]).med
		tl := stats(bench[bn+"/sdk="+contender.Tracklane]["ns/op"]).med
		fmt.Fprintf(&b, "| %s ns/op ≤ 1/10 of analytics-go | %.0f | %.0f | %s | %s |\n", bn, ag, tl, ratio(tl, ag), yes(tl*10 <= ag))
		al := stats(bench[bn+"/sdk="+contender.Tracklane]["allocs/op"]).med
		agAl := stats(bench[bn+"/sdk="+contender.AnalyticsGo]["allocs/op"]).med
		fmt.Fprintf(&b, "| %s allocs/op ≤ 10 | %.0f | %.0f | %.0f | %s |\n", bn, agAl, al, al, yes(al <= 10))
	}
	agL, tlL := pick(rs, contender.AnalyticsGo, "live"), pick(rs, contender.Tracklane, "live")
	agEv, tlEv := stats(each(agL, evPerSec)).med, stats(each(tlL, evPerSec)).med
	fmt.Fprintf(&b, "| end-to-end delivered events/s ≥ 5x analytics-go | %.0f | %.0f | %s | %s |\n", agEv, tlEv, ratio(tlEv, agEv), yes(tlEv >= 5*agEv))
	agC, tlC := stats(each(agL, cpuPerEv)).med, stats(each(tlL, cpuPerEv)).med
	fmt.Fprintf(&b, "| end-to-end client CPU/event ≤ 1/8 of analytics-go (µs) | %.2f | %.2f | %s | %s |\n", agC, tlC, ratio(tlC, agC), yes(tlC*8 <= agC))
	agD, tlD := pick(rs, contender.AnalyticsGo, "dead"), pick(rs, contender.Tracklane, "dead")
	agR, tlR := stats(each(agD, rssMiB)), stats(each(tlD, rssMiB))
	fmt.Fprintf(&b, "| dead endpoint: peak RSS ≤ 64 MiB (queue bound: default %d MiB of encoded events) | %.0f MiB | %.0f MiB (max %.0f) | %s | %s |\n",
		analytics.DefaultMaxQueueBytes>>20, agR.med, tlR.med, tlR.hi, ratio(tlR.med, agR.med), yes(tlR.hi <= 64))
	allOK := len(tlD) > 0 && count(tlD, func(r *Record) bool { return !r.CloseCap && r.EnqueueErrors+r.CBFailed == int64(r.N) }) == len(tlD)
	agOK := count(agD, func(r *Record) bool { return !r.CloseCap && r.EnqueueErrors+r.CBFailed == int64(r.N) })
	fmt.Fprintf(&b, "| dead endpoint: every undelivered event reported (of %d) | %d/%d runs | %d/%d runs | | %s |\n",
		deadN, agOK, len(agD), count(tlD, func(r *Record) bool { return r.EnqueueErrors+r.CBFailed == int64(r.N) }), len(tlD), yes(allOK))
	return b.String()
}

// HandKept is the line of RESULTS.md after which everything was measured by
// hand (with the commands it gives); run.sh regenerates what stands before
// it and keeps what follows.
const HandKept = "*Everything below this line was measured by hand, each section with its commands; `run.sh` keeps it as it is.*"

// KeepHandSections returns generated followed by the part of old from the
// HandKept line on; without such a line in old, generated and the line.
func KeepHandSections(generated, old string) string {
	if !strings.HasSuffix(generated, "\n") {
		generated += "\n"
	}
	if i := strings.Index(old, HandKept); i >= 0 {
		return generated + "\n" + old[i:]
	}
	return generated + "\n" + HandKept + "\n"
}
