#!/usr/bin/env bash
# Prepared in session 18 (no device was lent then). Call 1: correctness of the overlapped delta output kernel
# (EndToEndOverlap), then linrec bench of the delta families at 16k/64k with LINREC_PDL=0 and =1 on session
# 17's tuned configs (.devbin/kernels.db: 8b797b6's two DBs merged), side by side in this call.
set -u
O=$OUT/s18c1; mkdir -p $O
export LINREC_COMMIT=$(head -1 .devbin/commit)
pack() { (cd $O && tar czf $OUT/s18c1.tgz .); }
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader; nproc
T0=$SECONDS
cp .devbin/kernels.db $O/kernels.db
timeout 560 bash scripts/device-overlap.sh $O/overlap $O/kernels.db 2>&1 | tail -40
echo "overlap rc=$? $((SECONDS-T0)) s"
pack
