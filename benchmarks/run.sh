#!/usr/bin/env bash
# Runs every benchmark of this module and writes RESULTS.md.
#
#   ./run.sh                       # full run: 5 runs of everything, about 4 minutes on an idle 2-core machine
#   RUNS=1 N=20000 DEAD_N=5000 BENCHTIME=100ms ./run.sh   # quick smoke run (RESULTS.md is then not comparable)
#
# Raw outputs (bench.txt, e2e.jsonl, profiles, binaries) go to results/ (git-ignored).
# Only loopback addresses are used; the peers come from the Go module proxy via go.mod.
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-5}
N=${N:-200000}
DEAD_N=${DEAD_N:-50000}
BENCHTIME=${BENCHTIME:-1s}
CLOSE_DEADLINE=${CLOSE_DEADLINE:-2s}
CLOSE_CAP=${CLOSE_CAP:-60s}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
OUT=results
BIN=$OUT/bin

rm -rf "$OUT"
mkdir -p "$BIN" "$OUT/prof"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

echo "== build"
go vet ./...
go build -o "$BIN/" ./cmd/e2e ./cmd/sink
go test -c -o "$BIN/benchmarks.test" .
go run "$BENCHSTAT" -h >/dev/null 2>&1 || true   # fetch benchstat before timing anything

BENCH_CMD="$BIN/benchmarks.test -test.run '^\$' -test.bench . -test.benchmem -test.count $RUNS -test.benchtime $BENCHTIME"
E2E_CMD="$BIN/e2e -runs $RUNS -n $N -dead-n $DEAD_N -close-deadline $CLOSE_DEADLINE -close-cap $CLOSE_CAP -json $OUT/e2e.jsonl -md $OUT/e2e.md"
STAT_CMD="go run $BENCHSTAT -col /sdk $OUT/bench.txt"

echo "== Enqueue benchmarks: $BENCH_CMD"
eval "$BENCH_CMD" | tee "$OUT/bench.txt"
eval "$STAT_CMD" > "$OUT/benchstat.txt"

echo "== end-to-end and dead endpoint: $E2E_CMD"
eval "$E2E_CMD"

echo "== profiles of tracklane (separate runs, not counted above)"
PROF_E2E_CMD="$BIN/e2e -runs 1 -n $N -dead-n $DEAD_N -sdks tracklane -dead-sdks tracklane -close-deadline $CLOSE_DEADLINE -close-cap $CLOSE_CAP -profile-dir $OUT/prof -md /dev/null"
PROF_BENCH_CMD="$BIN/benchmarks.test -test.run '^\$' -test.bench '^BenchmarkEnqueue\$/^sdk=tracklane\$' -test.benchtime 2s -test.cpuprofile $OUT/prof/enqueue.cpu.pprof"
PPROF_BENCH="go tool pprof -top -cum -focus 'analytics\.\(\*Client\)\.Enqueue' -nodecount 25 $BIN/benchmarks.test $OUT/prof/enqueue.cpu.pprof"
PPROF_LIVE="go tool pprof -top -cum -nodecount 30 $BIN/e2e $OUT/prof/tracklane-live.cpu.pprof"
PPROF_DEAD="go tool pprof -sample_index=inuse_space -top -nodecount 12 $BIN/e2e $OUT/prof/tracklane-dead.heap.pprof"
eval "$PROF_E2E_CMD"
eval "$PROF_BENCH_CMD" > /dev/null
{
  echo 'Produced by (from `benchmarks/`):'
  echo; echo '```sh'
  echo "$PROF_E2E_CMD"
  echo "$PROF_BENCH_CMD"
  echo '```'; echo
  echo 'Enqueue benchmark, single goroutine, CPU samples under `Client.Enqueue` (the benchmark loop and the loopback server are outside the focus):'
  echo; echo '```text'
  echo "\$ $PPROF_BENCH"
  eval "$PPROF_BENCH" 2>/dev/null | sed -n '/flat%/,$p'
  echo '```'; echo
  echo 'End-to-end live run, whole client process (CPU profile written by the child with `-profile-dir`):'
  echo; echo '```text'
  echo "\$ $PPROF_LIVE"
  eval "$PPROF_LIVE" 2>/dev/null | sed -n '/^Duration/p;/flat%/,$p'
  echo '```'; echo
  echo 'Dead endpoint, heap in use (as of the last GC) when the last event was enqueued:'
  echo; echo '```text'
  echo "\$ $PPROF_DEAD"
  eval "$PPROF_DEAD" 2>/dev/null | sed -n '/^Showing nodes/p;/flat%/,$p'
  echo '```'
} > "$OUT/profiles.md"

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "## Machine and commands"
  echo
  echo "- Date (UTC): $started"
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc: $(nproc)"
  echo "- Go: $(go version)"
  echo "- Contenders: tracklane/analytics at $(git -C .. rev-parse --short HEAD)$(git -C .. diff --quiet HEAD -- . ':!benchmarks' || echo ' (root with uncommitted changes)'), $(go list -m github.com/segmentio/analytics-go/v3), $(go list -m github.com/posthog/posthog-go)"
  echo "- Load average (1/5/15 min) before: $load_before; after: $load_after. (nproc $(nproc); a 1-minute load well above the 2 this run itself generates means other work competed for the CPUs)."
  echo "- Runs: $RUNS of each measurement, interleaved; medians, with [min–max] where shown."
  echo
  echo "Commands (from \`benchmarks/\`; \`./run.sh\` does all of this):"
  echo
  echo '```sh'
  echo "go build -o $BIN/ ./cmd/e2e ./cmd/sink && go test -c -o $BIN/benchmarks.test ."
  echo "$BENCH_CMD"
  echo "$STAT_CMD"
  echo "$E2E_CMD"
  echo '```'
} > "$OUT/meta.md"

go run ./cmd/report -bench "$OUT/bench.txt" -benchstat "$OUT/benchstat.txt" -e2e "$OUT/e2e.jsonl" \
  -meta "$OUT/meta.md" -profiles "$OUT/profiles.md" -fastpath FASTPATH.md -close-deadline "$CLOSE_DEADLINE" -close-cap "$CLOSE_CAP" \
  -out RESULTS.md
