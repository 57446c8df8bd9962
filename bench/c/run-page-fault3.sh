#!/usr/bin/env bash
# Builds bench/c/page_fault.c with -DPAGE_FAULT3 (page_fault3) into /tmp with gcc and runs it against the real kernel's tmpfs.
#   bench/c/run-page-fault3.sh [-t] N SECONDS     (-t: N threads in one process; default N processes)
# The counterpart of `./mmlab run page-fault3 --threads N --seconds S` (docs/BENCHMARKS.md §9).
set -euo pipefail
here="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${TMPDIR:-/tmp}/mmlab-page_fault3"
gcc -O2 -pthread -DPAGE_FAULT3 -o "$bin" "$here/page_fault.c"
exec "$bin" "$@"
