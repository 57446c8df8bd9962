#!/usr/bin/env bash
# Issue 3's fault-throughput goals, measured as ratios within rounds: each round runs, back to
# back, the model on 1 thread, the kernel on 1 process, the model on 2 threads, the kernel on 2
# processes (will-it-scale page_fault1 both), S seconds each, the model after a W-second warm-up.
# Prints every run, then per round and over the rounds (min / median / max):
#   model ÷ kernel on 1 thread (goal ≥ 4), model 2 ÷ 1 threads (goal ≥ 1.8), kernel 2 ÷ 1,
#   and the model's faults per CPU-second, 2 threads (each) ÷ 1 thread.
#   bench/page-fault-rounds.sh [ROUNDS [SECONDS [WARMUP [MAXLOAD]]]]   (defaults 10 10 5 0 = no wait)
# Ten rounds: with five, one slow minute of this machine's host moves the median (BENCHMARKS §5.7).
# The warm-up is 5 s by default: the JIT still recompiles parts of the fault path 3 s in.
# With MAXLOAD > 0 each round first waits (up to 10 minutes) until the 1-minute load average is
# below it. Extra model options can be passed in MODEL_ARGS (e.g. MODEL_ARGS="--memory 148M").
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-10}" secs="${2:-10}" warm="${3:-5}" maxload="${4:-0}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
./mmlab run page-fault --seconds 0.1 --json > /dev/null || exit 2 # builds the jar if needed
echo "# $(date -u +%FT%TZ) $(nproc) cpus; $rounds rounds of ${secs} s (model warm-up ${warm} s); MODEL_ARGS='${MODEL_ARGS:-}'"
for r in $(seq 1 "$rounds"); do
  if [ "$maxload" != 0 ]; then
    for _ in $(seq 1 120); do
      awk -v m="$maxload" '{ exit !($1 < m) }' /proc/loadavg && break
      sleep 5
    done
  fi
  for t in 1 2; do
    echo "$r model $t $(cut -d' ' -f1 /proc/loadavg) $(./mmlab run page-fault --threads "$t" --seconds "$secs" \
        --warmup "$warm" ${MODEL_ARGS:-} --json)" >> "$out/runs"
    echo "$r kernel $t $(cut -d' ' -f1 /proc/loadavg) $(bench/c/run-page-fault.sh "$t" "$secs" | tail -1)" >> "$out/runs"
  done
done
python3 - "$out/runs" <<'PY'
import json, re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r, who, t, load, rest = line.rstrip("\n").split(" ", 4)
    if who == "model":
        m = json.loads(rest)
        rate = m["faultsPerSecond"]
        cpu = [p.get("faultsPerCpuSecond") for p in m["perThread"]]
        ok = m["framesReturned"] and m["failure"] is None
        if m.get("processCpuSeconds") is not None and all(p.get("cpuSeconds") is not None for p in m["perThread"]):
            rest = m["processCpuSeconds"] - sum(p["cpuSeconds"] for p in m["perThread"])
            jit = m.get("jitSeconds")
            extra = f"; beside the workers the JVM used {rest / m['seconds']:.3f} CPUs" + (f" (JIT {jit:.2f} s)" if jit is not None else "")
        else:
            extra = ""
    else:
        rate = float(re.search(r"([0-9.]+) faults/s", rest).group(1))
        cpu, ok, extra = None, True, ""
    runs[(int(r), who, int(t))] = (rate, cpu, load, ok)
    print(f"round {r} {who:6} {t} thread(s), load {load:>6}: {rate:>12,.0f} faults/s"
          + (f", per CPU-second {', '.join(f'{c:,}' for c in cpu if c)}" if cpu else "") + extra + ("" if ok else "  FAILED"))
rows = {"model ÷ kernel, 1 thread (goal ≥ 4)": [], "model 2 ÷ 1 threads (goal ≥ 1.8)": [],
        "kernel 2 ÷ 1 processes": [], "model per CPU-second, 2 (mean) ÷ 1": []}
for r in sorted({k[0] for k in runs}):
    try:
        m1, m2, k1, k2 = (runs[(r, w, t)] for w, t in (("model", 1), ("model", 2), ("kernel", 1), ("kernel", 2)))
    except KeyError:
        continue
    rows["model ÷ kernel, 1 thread (goal ≥ 4)"].append(m1[0] / k1[0])
    rows["model 2 ÷ 1 threads (goal ≥ 1.8)"].append(m2[0] / m1[0])
    rows["kernel 2 ÷ 1 processes"].append(k2[0] / k1[0])
    if m1[1] and m1[1][0] and all(m2[1]):
        rows["model per CPU-second, 2 (mean) ÷ 1"].append(statistics.mean(m2[1]) / m1[1][0])
print()
print("| ratio | " + " | ".join(f"r{r}" for r in sorted({k[0] for k in runs})) + " | min / median / max |")
print("|---" * (len({k[0] for k in runs}) + 2) + "|")
for name, v in rows.items():
    if v:
        print(f"| {name} | " + " | ".join(f"{x:.2f}" for x in v)
              + f" | {min(v):.2f} / **{statistics.median(v):.2f}** / {max(v):.2f} |")
PY
