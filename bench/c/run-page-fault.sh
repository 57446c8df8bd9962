#!/usr/bin/env bash
# Builds bench/c/page_fault.c (page_fault1) into /tmp with gcc and runs it against the real kernel.
#   bench/c/run-page-fault.sh [-t] N SECONDS     (-t: N threads in one process; default N processes)
# The counterpart of `./mmlab run page-fault --threads N --seconds S` (docs/BENCHMARKS.md §5).
set -euo pipefail
here="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${TMPDIR:-/tmp}/mmlab-page_fault1"
gcc -O2 -pthread -o "$bin" "$here/page_fault.c"
exec "$bin" "$@"
