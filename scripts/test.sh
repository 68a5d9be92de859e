#!/usr/bin/env bash
# The repository's test command: `go test -race -count=1 ./...` in every Go
# module of the repository (the library and the modules of their own that
# keep dependencies out of its import graph), one after the other. Extra
# arguments go to every `go test` (for example `-run TestX` or `-short`).
# Without a C compiler, set RACE= to run without the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."
race=${RACE--race}
status=0
# internal/tools holds only the pinned linter: it has no tests.
for mod in $(git ls-files '*go.mod' | grep -v '^internal/tools/' | xargs -n1 dirname | sort); do
  echo "== go test $race -count=1 ./... in $mod"
  if ! (cd "$mod" && go test $race -count=1 "$@" ./...); then
    status=1
  fi
done
exit $status
