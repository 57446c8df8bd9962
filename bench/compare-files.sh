#!/usr/bin/env bash
# Issue 5's comparisons against the real kernel's tmpfs, interleaved so that model and kernel see
# the same load: ROUNDS rounds of
#   page_fault3, 1 and 2 workers:  ./mmlab run page-fault3   vs bench/c/run-page-fault3.sh
#   pwrite/pread, 1 MiB and 4 KiB blocks of a 64 MiB file:  ./mmlab run file-rw  vs bench/c/run-file-rw.sh
# each run SECONDS long. Prints one line per run; docs/BENCHMARKS.md §9 has the results.
#   bench/compare-files.sh [ROUNDS [SECONDS]]      (default 3 rounds of 5 s: about 4 minutes)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-3}"
secs="${2:-5}"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  for n in 1 2; do
    echo "round $r page_fault3 x$n model:  $(./mmlab run page-fault3 --threads "$n" --seconds "$secs" | grep '^total')"
    echo "round $r page_fault3 x$n kernel: $(bench/c/run-page-fault3.sh "$n" "$secs" | tail -1)"
  done
  for b in 1048576 4096; do
    echo "round $r file-rw $b model:  $(./mmlab run file-rw --seconds "$secs" --block "$b" --size 64M | grep '^total')"
    echo "round $r file-rw $b kernel: $(bench/c/run-file-rw.sh 1 "$secs" "$b" 67108864 | tail -1)"
  done
  echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
