#!/usr/bin/env bash
# Session 19, call 2: the overlap taken apart. linrec bench of the three delta families at the four bench
# shapes under LINREC_PDL=0, 1, flags (hand-over flags, launches in sequence), nolead (beside, scan never
# first), then 0 again (drift), one DB of configs.
set -u
O=$OUT/s19c2; mkdir -p $O
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
cp .devbin/kernels.db $O/kernels.db
V="variants/delta_rule.toml variants/gated_delta_rule.toml variants/kda.toml"
S="--shapes 32,1024,16,128,128 --shapes 8,4096,16,128,128 --shapes 2,16384,16,128,128 --shapes 1,65536,16,128,128"
T0=$SECONDS
for m in 0 1 flags nolead 0b; do
  LINREC_PDL=${m%b} timeout 150 .devbin/linrec bench $V $S --db $O/kernels.db --json-out $O/pdl_$m.json > $O/pdl_$m.txt 2>&1
  echo "mode $m rc=$? $((SECONDS-T0)) s"
done
python3 - $O <<'PY'
import json,sys,os
d=sys.argv[1]; modes=["0","1","flags","nolead","0b"]
R={}
for m in modes:
    try: R[m]={(r["family"],r["B"],r["T"]):r for r in json.load(open(os.path.join(d,"pdl_%s.json"%m)))["rows"]}
    except Exception as e: print(m,e); R[m]={}
print("| family | B | T | config | off ms | on/off | flags/off | nolead/off | off2/off |")
print("|---|---|---|---|---|---|---|---|---|")
for k,r in R["0"].items():
    x=r.get("linrec_ms")
    f=lambda m: ("%.3f"%(R[m][k]["linrec_ms"]/x)) if x and k in R[m] and R[m][k].get("linrec_ms") else "-"
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |"%(k[0],k[1],k[2],r.get("config"),"%.3f"%x if x else r.get("error"),f("1"),f("flags"),f("nolead"),f("0b")))
PY
(cd $O && tar czf $OUT/s19c2.tgz .)
