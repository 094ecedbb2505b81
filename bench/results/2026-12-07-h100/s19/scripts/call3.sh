#!/usr/bin/env bash
# Session 19, call 3: after "prep flags only where the scan leads": correctness (EndToEndOverlap), then the
# three delta families at the four bench shapes under LINREC_PDL modes x LINREC_FLAG_TOKENS, one DB.
set -u
O=$OUT/s19c3; mkdir -p $O
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
cp .devbin/kernels.db $O/kernels.db
T0=$SECONDS
timeout 200 .devbin/e2e_gpu_test --gtest_filter='EndToEndOverlap.*' --gtest_color=no > $O/overlap_test.txt 2>&1
echo "overlap test rc=$? $((SECONDS-T0)) s"; grep -E "^\[overlap\]|FAILED" $O/overlap_test.txt | tail -8
V="variants/delta_rule.toml variants/gated_delta_rule.toml variants/kda.toml"
S="--shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128"
RUNS="0:128 1:128 nolead:128 flags:128 1:256 nolead:256 flags:256 1:512 nolead:512 1:1024 0:128b"
for r in $RUNS; do
  m=${r%%:*}; ft=${r#*:}; ft=${ft%b}
  LINREC_PDL=$m LINREC_NVRTC_EXTRA="-DLINREC_FLAG_TOKENS=$ft" timeout 150 .devbin/linrec bench $V $S --db $O/kernels.db \
    --json-out "$O/r_${r/:/_}.json" > "$O/r_${r/:/_}.txt" 2>&1
  echo "run $r rc=$? $((SECONDS-T0)) s"
done
python3 - $O "$RUNS" <<'PY'
import json,sys,os
d=sys.argv[1]; runs=sys.argv[2].split()
R={}
for m in runs:
    try: R[m]={(r["family"],r["B"],r["T"]):r for r in json.load(open(os.path.join(d,"r_%s.json"%m.replace(":","_"))))["rows"]}
    except Exception as e: print(m,e); R[m]={}
base=runs[0]
print("| family | B | T | config | off ms | " + " | ".join(runs[1:]) + " |")
print("|---|---|---|---|---|" + "---|"*(len(runs)-1))
for k,r in R[base].items():
    x=r.get("linrec_ms")
    f=lambda m: ("%.3f"%(R[m][k]["linrec_ms"]/x)) if x and k in R[m] and R[m][k].get("linrec_ms") else "-"
    print("| %s | %s | %s | %s | %s | %s |"%(k[0],k[1],k[2],r.get("config"),"%.3f"%x if x else r.get("error")," | ".join(f(m) for m in runs[1:])))
PY
(cd $O && tar czf $OUT/s19c3.tgz .)
