#!/usr/bin/env bash
# Builds bench/c/file_rw.c into /tmp with gcc and runs it on the real kernel's /dev/shm.
#   bench/c/run-file-rw.sh N SECONDS BLOCK SIZE     (bytes, e.g. 1048576 67108864)
# The counterpart of `./mmlab run file-rw --threads N --seconds S --block B --size Z` (docs/BENCHMARKS.md §9).
set -euo pipefail
here="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${TMPDIR:-/tmp}/mmlab-file_rw"
gcc -O2 -o "$bin" "$here/file_rw.c"
exec "$bin" "$@"
