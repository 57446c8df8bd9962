#!/usr/bin/env bash
# Issue 4's command over 10 master seeds, one fresh JVM each: does the rcu-only variant of seed
# 001 give its use-after-free, and how fast (elapsedMs: exploration, shrinking and replay check,
# inside the JVM)? Extra arguments go to every run (e.g. --strategy pct, --first-verdict).
#   bench/seed001-first-bug.sh [ARGS...]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="$(mktemp -d)"
echo "# $(date -u +%FT%TZ) $(nproc) cpus, load: $(cut -d' ' -f1-3 /proc/loadavg); extra args: $*"
for seed in 0x6d6d6c6162 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8 0x9; do
  ./mmlab explore vma-lock-vs-munmap --variant fault-locking=rcu-only --seed "$seed" --json \
      --replay-dir "$out" "$@" > "$out/r.json"
  code=$?
  python3 - "$seed" "$code" "$out/r.json" <<'PY'
import json, sys
seed, code, path = sys.argv[1], sys.argv[2], sys.argv[3]
m = json.load(open(path))
others = ", ".join(f"{o['verdict']}@{o['execution']}" for o in m.get("alsoFound", []))
print(f"{seed:>14} exit {code} {m['verdict']:<15} at {m['bugAtExecution']!s:>6} "
      f"{m['elapsedMs']:>6} ms, {m.get('preemptions')} preemptions, replayIdentical {m.get('replayIdentical')}"
      + (f"; also found {others}" if others else ""))
PY
done
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$out"
