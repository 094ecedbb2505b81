#!/usr/bin/env bash
# The delta rules' state passing with the output kernel beside the scan (LINREC_PDL, docs/kernel-abi.md), on a
# GPU from prebuilt binaries, in one device call:
#   1. EndToEndOverlap (e2e_gpu_test): delta_rule, gated_delta_rule and kda against the float64 reference with
#      programmatic launches on (Lead and Beside);
#   2. linrec bench of the same variants and shapes with LINREC_PDL=0, then =$PDL_ON (default auto), the configs
#      from one DB (so the two runs differ only in the launch), and a table of the ratio per row.
#
#   bash scripts/device-overlap.sh OUT_DIR [DB]
#
# Environment: LINREC_BIN (default .devbin, where linrec and e2e_gpu_test are), SHAPES (linrec bench --shapes
# values; default the 16k and 64k bench shapes), VARIANTS (default the three delta families), PDL_ON.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: bash scripts/device-overlap.sh OUT_DIR [DB]}
db=${2:-}
mkdir -p "$out" || exit 1
bin=${LINREC_BIN:-.devbin}
shapes=${SHAPES:-"2,16384,16,128,128 1,65536,16,128,128"}
variants=${VARIANTS:-"variants/delta_rule.toml variants/gated_delta_rule.toml variants/kda.toml"}
on=${PDL_ON:-auto}  # the LINREC_PDL mode set against 0 (auto, 1 or lead: linrec::ProgrammaticLaunch)
status=0

if [ -x "$bin/e2e_gpu_test" ]; then
  timeout 300 "$bin/e2e_gpu_test" --gtest_filter='EndToEndOverlap.*' --gtest_color=no > "$out/overlap_test.txt" 2>&1
  rc=$?
  echo "EndToEndOverlap: exit $rc"
  grep -E '^\[overlap|FAILED|PASSED|SKIPPED' "$out/overlap_test.txt" | tail -30
  [ $rc -eq 0 ] || status=1
else
  echo "device-overlap.sh: $bin/e2e_gpu_test is missing: the correctness test did not run" >&2
  status=1
fi

dbargs=()
[ -n "$db" ] && dbargs=(--db "$db")
shape_args=()
for s in $shapes; do shape_args+=(--shapes "$s"); done
for pdl in 0 "$on"; do
  # shellcheck disable=SC2086  # variants is a list of words on purpose
  LINREC_PDL=$pdl timeout 240 "$bin/linrec" bench $variants "${shape_args[@]}" "${dbargs[@]}" \
    --json-out "$out/bench_pdl_$pdl.json" > "$out/bench_pdl_$pdl.txt" 2>&1
  rc=$?
  echo "linrec bench LINREC_PDL=$pdl: exit $rc"
  [ $rc -eq 0 ] || status=1
done

python3 - "$out/bench_pdl_0.json" "$out/bench_pdl_$on.json" << 'PY' | tee "$out/overlap_table.md"
import json, sys
try:
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
except (OSError, ValueError) as e:
    sys.exit("no table: %s" % e)
key = lambda r: (r.get("family"), r.get("B"), r.get("T"), r.get("mode"))
rb = {key(r): r for r in b["rows"]}
print("programmatic launch: %s / %s (device %s)" % (a.get("programmatic_launch"), b.get("programmatic_launch"),
                                                    b.get("device")))
print("| family | B | T | config | off ms | on ms | off/on |")
print("|---|---|---|---|---|---|---|")
for r in a["rows"]:
    s = rb.get(key(r))
    x, y = r.get("linrec_ms"), s.get("linrec_ms") if s else None
    print("| %s | %s | %s | %s | %s | %s | %s |" % (r.get("family"), r.get("B"), r.get("T"), r.get("config"),
          "%.3f" % x if x else r.get("error", "-"), "%.3f" % y if y else (s or {}).get("error", "-"),
          "%.2f" % (x / y) if x and y else "-"))
PY
exit $status
