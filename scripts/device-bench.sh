#!/usr/bin/env bash
# linrec vs flash-linear-attention on one GPU, in one device call, from the repo root with prebuilt binaries
# (no cmake there): (a) `linrec bench` (each row checked against the float64 reference, then timed), (b) fla's
# timing script on the same shapes, if fla was fetched into .peer/, (c) bench/compare_fla.py joining the two.
# Ends with a summary and the comparison table.
#
#   bash scripts/device-bench.sh OUT_DIR
#
# Environment:
#   LINREC_BIN=.devbin        where the `linrec` binary is
#   BENCH_ARGS=...            arguments for `linrec bench` (default: --tune-budget-s $TUNE_S --decode; TUNE_S=6)
#   FLA_SKIP_OPS=a,b          fla ops not to time (fla_bench.py's SKIP_OPS)
#   FLA_FIRST=1               time fla before linrec
#   NO_FLA_LAYERS=1           skip bench/fla_as_layers.py (fla's ops as fla's layers call them, from linrec's
#                             variant inputs: the second fla column of the comparison)
#   FLA_ONE_PROCESS=1         time both fla columns in bench/fla_as_layers.py (OPS_TOO=1) instead of running
#                             fla_bench.py too: fla autotunes once, so all seven families fit one device call
#   NO_LINREC=1 / NO_FLA=1    skip one side; compare with an earlier run's JSON instead:
#   LINREC_JSON=... / FLA_JSON=...   (defaults: OUT_DIR/linrec_bench.json, OUT_DIR/peer_fla.json)
#   LINREC_TIMEOUT_S / FLA_TIMEOUT_S  wall-clock limit for either side (default: none). linrec rewrites its
#                             JSON after every row, so a side cut short still leaves what it measured.
#   LINREC_COMMIT             recorded in the JSON (default: git rev-parse, else the COMMIT file)
#   BENCH_SHAPES='B,T,H,K,V;...'  fla's shapes (default: the four bench shapes); give linrec the same ones
#                             with --shapes in BENCH_ARGS
#
# Time: with TUNE_S=6, linrec takes about 28 prefill + 6 decode rows x (6 s tuning + check + timing), ~5 min;
# fla's first call of each op autotunes (30-60 s each in the 2026-11-23 baseline). If both do not fit one
# device call, run them in two (NO_FLA=1, then NO_LINREC=1 with LINREC_JSON pointing at the first's output
# carried in the working tree).
#
# Everything lands in OUT_DIR (six files, so a device call returns them all): env.txt, logs.txt (every step's
# output and the summary), linrec_bench.json, peer_fla.json, vs-fla-<date>.{json,md}.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

out=${1:?usage: bash scripts/device-bench.sh OUT_DIR}
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
bin=${LINREC_BIN:-.devbin}
shapes=${BENCH_SHAPES:-'32,1024,16,128,128;8,4096,16,128,128;2,16384,16,128,128;1,65536,16,128,128'}
linrec_json=${LINREC_JSON:-$out/linrec_bench.json}
fla_json=${FLA_JSON:-$out/peer_fla.json}
if [ -z "${LINREC_COMMIT:-}" ]; then
  LINREC_COMMIT=$(git rev-parse --short HEAD 2> /dev/null || cat COMMIT 2> /dev/null || true)
fi
export LINREC_COMMIT
declare -A rc

# step NAME TIMEOUT_S COMMAND...: runs a step with its output in OUT/NAME.txt (and on the console), records its
# exit code (124: the timeout hit).
step() {
  local name=$1 limit=$2
  shift 2
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if [ -n "$limit" ]; then
    timeout -k 10 "$limit" "$@" 2>&1 | tee "$out/$name.txt"
  else
    "$@" 2>&1 | tee "$out/$name.txt"
  fi
  rc[$name]=${PIPESTATUS[0]}
  echo "=== $name: exit ${rc[$name]} after $((SECONDS - start)) s"
}

run_linrec() {
  if [ -n "${NO_LINREC:-}" ]; then
    rc[linrec_bench]="skipped (NO_LINREC)"
    return
  fi
  if [ ! -x "$bin/linrec" ]; then
    echo "device-bench.sh: $bin/linrec is missing: build it first (cmake --build build --target linrec)" |
      tee "$out/linrec_bench.txt" >&2
    rc[linrec_bench]="missing binary"
    return
  fi
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of words on purpose
  step linrec_bench "${LINREC_TIMEOUT_S:-}" "$bin/linrec" bench ${BENCH_ARGS:---tune-budget-s ${TUNE_S:-6} --decode} \
    --json-out "$out/linrec_bench.json"
  linrec_json=$out/linrec_bench.json
}

run_fla() {
  if [ -n "${FLA_ONE_PROCESS:-}" ] && [ -z "${NO_FLA:-}" ]; then
    rc[fla_bench]="skipped (FLA_ONE_PROCESS: fla_as_layers.py times its contract)"
    return
  fi
  if [ -n "${NO_FLA:-}" ]; then
    rc[fla_bench]="skipped (NO_FLA)"
    return
  fi
  if [ ! -d .peer/fla ] || [ ! -f .peer/fla_bench.py ]; then
    echo "device-bench.sh: .peer/fla or .peer/fla_bench.py is missing: fla not timed" | tee "$out/fla_bench.txt"
    rc[fla_bench]="skipped (no .peer/fla)"
    return
  fi
  # PYTHONPATH=.peer imports .peer/fla as the package: it must be the repository's fla/ folder, not the
  # repository (a clone there fails with "No module named 'fla.ops'" after the ceilings are measured).
  if [ ! -d .peer/fla/ops ]; then
    echo "device-bench.sh: .peer/fla/ops is missing: .peer/fla must be fla's package folder (the repository's" \
      "fla/ subfolder), e.g. git clone ... /tmp/fla && mv /tmp/fla/fla .peer/fla" | tee "$out/fla_bench.txt"
    rc[fla_bench]="skipped (.peer/fla is not the package)"
    return
  fi
  # NO_BWD: forward only (fla_bench.py times the backward of some ops by default).
  step fla_bench "${FLA_TIMEOUT_S:-}" env OUT="$out" SHAPES="$shapes" NO_BWD=1 SKIP_OPS="${FLA_SKIP_OPS:-}" \
    PYTHONPATH=.peer python3 .peer/fla_bench.py
  fla_json=$out/peer_fla.json
  # fla_bench.py writes its JSON only at the end; a run cut short by FLA_TIMEOUT_S still printed one JSON
  # line per row, so the rows it finished are kept.
  if [ ! -f "$fla_json" ] && [ -f "$out/fla_bench.txt" ]; then
    python3 - "$out/fla_bench.txt" "$fla_json" << 'PY'
import json, subprocess, sys
rows = []
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{") and '"op"' in line:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
try:
    dev = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                         text=True).stdout.strip().splitlines()[0]
except Exception:
    dev = "unknown"
json.dump({"device": dev, "rows": rows, "partial": True}, open(sys.argv[2], "w"), indent=1)
print(f"device-bench.sh: fla was cut short; kept its {len(rows)} finished rows in {sys.argv[2]}")
PY
  fi
}

run_fla_layers() {
  if [ -n "${NO_FLA:-}" ] || [ -n "${NO_FLA_LAYERS:-}" ] || [ ! -d .peer/fla/ops ]; then
    rc[fla_layers]="skipped"
    return
  fi
  step fla_layers "${FLA_TIMEOUT_S:-}" env OUT="$out" SHAPES="$shapes" SKIP_OPS="${FLA_SKIP_OPS:-}" \
    OPS_TOO="${FLA_ONE_PROCESS:-}" PYTHONPATH=.peer python3 bench/fla_as_layers.py
  if [ -n "${FLA_ONE_PROCESS:-}" ]; then
    fla_json=$out/peer_fla_ops.json
  fi
}

{
  echo "device-bench.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), commit ${LINREC_COMMIT:-unknown}"
  [ -x "$bin/linrec" ] && "$bin/linrec" --version
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  echo "nproc $(nproc); linrec args: ${BENCH_ARGS:---tune-budget-s ${TUNE_S:-6} --decode}"
} 2>&1 | tee "$out/env.txt"

if [ -n "${FLA_FIRST:-}" ]; then
  run_fla
  run_fla_layers
  run_linrec
else
  run_linrec
  run_fla
  run_fla_layers
fi

compare_md=""
if [ -f "$linrec_json" ] && [ -f "$fla_json" ]; then
  day=$(date -u +%Y-%m-%d)
  layers_arg=()
  [ -f "$out/peer_fla_layers.json" ] && layers_arg=(--fla-layers "$out/peer_fla_layers.json")
  step compare "" python3 bench/compare_fla.py "$linrec_json" "$fla_json" "${layers_arg[@]}" --out-dir "$out" \
    --date "$day"
  [ -f "$out/vs-fla-$day.md" ] && compare_md=$out/vs-fla-$day.md
else
  missing=()
  [ -f "$linrec_json" ] || missing+=("$linrec_json")
  [ -f "$fla_json" ] || missing+=("$fla_json")
  echo "device-bench.sh: nothing to compare: missing ${missing[*]}" | tee "$out/compare.txt"
  rc[compare]="skipped"
fi

{
  echo
  echo "==================== summary (details in $out) ===================="
  cat "$out/env.txt"
  for k in linrec_bench fla_bench fla_layers compare; do echo "$k: exit ${rc[$k]:-not run}"; done
  # Rows that failed (linrec: a failed check or launch is an error row, never a number).
  grep -E ': ERROR |^linrec bench: ' "$out/linrec_bench.txt" 2> /dev/null |
    grep -vE '^linrec bench: (.*; configs from |[0-9]+ DB configs compiled)' | sed 's/^/  ! /'
  grep -E '"error"' "$out/fla_bench.txt" 2> /dev/null | sed 's/^/  ! fla: /' | cut -c1-240
  grep -E '"error"' "$out/fla_layers.txt" 2> /dev/null | sed 's/^/  ! fla (layers): /' | cut -c1-240
  if grep -q '^family ' "$out/linrec_bench.txt" 2> /dev/null; then
    echo
    echo "linrec bench table:"
    sed -n '/^family /,$p' "$out/linrec_bench.txt"
  fi
  if [ -n "$compare_md" ]; then
    echo
    cat "$compare_md"
  fi
} 2>&1 | tee "$out/summary.txt"

# A device call returns at most 8 files: the step logs go into one (logs.txt, in run order), leaving
# env.txt, logs.txt, the two side JSONs and vs-fla-<date>.{json,md}.
for f in linrec_bench fla_bench fla_layers compare summary; do
  if [ -f "$out/$f.txt" ]; then
    echo "===== $f.txt"
    cat "$out/$f.txt"
  fi
done > "$out/logs.txt" && rm -f "$out"/{linrec_bench,fla_bench,fla_layers,compare,summary}.txt

status=0
for k in linrec_bench fla_bench fla_layers compare; do
  case "${rc[$k]:-}" in
    0 | skipped*) ;;
    "") ;;
    *) status=1 ;;
  esac
done
exit $status
