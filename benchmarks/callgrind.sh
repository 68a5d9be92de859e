#!/usr/bin/env bash
# Instructions per operation of one benchmark of a test binary, counted by
# valgrind (callgrind): unlike wall time, repeatable on a loaded machine.
#
#   go test -c -o /tmp/new.test ..            # from benchmarks/, a root-package test binary
#   ./callgrind.sh /tmp/new.test BenchmarkEnqueueOrderCompleted [N1 N2]
#
# It runs the benchmark for exactly N1 and N2 iterations (default 10000 and
# 30000) with GOMAXPROCS=1 and prints (Ir(N2) - Ir(N1)) / (N2 - N1): the
# marginal instructions of one operation, every goroutine included (the
# caller's path, the dispatcher, the no-op uploads, the GC), start-up and
# set-up excluded. Async preemption is off (callgrind does not survive Go's
# preemption signals); --fair-sched keeps the goroutines' threads taking turns.
set -euo pipefail
bin=$1 bench=$2 n1=${3:-10000} n2=${4:-30000}
ir() {
  GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file=/dev/null \
    "$bin" -test.run '^$' -test.bench "^$bench\$" -test.benchtime "${1}x" -test.cpu 1 2>&1 |
    grep Collected | grep -o '[0-9]*$'
}
a=$(ir "$n1")
b=$(ir "$n2")
echo "$bench $(basename "$bin"): Ir($n1)=$a Ir($n2)=$b instructions/op=$(((b - a) / (n2 - n1)))"
