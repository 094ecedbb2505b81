#!/usr/bin/env bash
# Regenerates docs/compiler.md: the walk from a TOML file through every pass, with the real IR of each stage.
set -euo pipefail
cd "$(dirname "$0")/.."
linrec=${LINREC:-build/bin/linrec}
v=variants/gated_delta_rule.toml
stage() { "$linrec" compile "$v" --K 128 --V 128 --emit-mlir "$1"; }
{
cat <<'DOC'
# The compiler, pass by pass

This page follows one variant, `variants/gated_delta_rule.toml`, from its TOML to the CUDA that NVRTC compiles.
Every IR block below is real output (`scripts/gen-compiler-doc.sh` regenerates this page from
`linrec compile --emit-mlir STAGE`). Each pass has a lit test named after its flag in `tests/codegen/`, and
`linrec-opt` runs any of them on textual IR.

```toml
DOC
cat "$v"
cat <<'DOC'
```

The DSL front end (`dsl/`) parses and validates this into a canonical `Spec` (docs/dsl.md); the compiler
never sees TOML text except for source locations, which it keeps so that its own diagnostics point into the
file (`variants/based.toml:6:5: error: tuning ... needs 266624 bytes of shared memory ...`).

## 1. `--linrec-import-spec`: Spec → `linrec.recurrence`

One op carries the recurrence's structure as attributes (feature maps, decay kind, update rule, declared
inputs and params, the spec hash) and one region per elementwise expression (`q_pre`, `k_pre`, `decay`,
`beta`). Expression bodies are ordinary `arith`/`math` ops over leaf ops that read one element of the token's
context (`linrec.qk_elem`, `linrec.input`, `linrec.param`, `linrec.head`); the stable non-standard functions
(sigmoid, softplus, ...) are `linrec.fn`.

```mlir
DOC
stage import
cat <<'DOC'
```

## 2. `--linrec-canonicalize-exprs`: fold, CSE, classify

Constant subexpressions are folded (only where the value cannot change), repeated subexpressions shared,
and the decay re-classified from what its region reads: none, constant per head, per-token scalar, or a
per-token vector over K. A β that folds to 1 is dropped. For this variant nothing changes:

```mlir
DOC
stage canonicalize
cat <<'DOC'
```

## 3. `--linrec-derive-chunkwise`: the chunkwise form (DESIGN.md §3)

The recurrence becomes explicit chunk algebra on `!linrec.tile` values: features, gates, the in-chunk
cumulative log-decay, masked intra-chunk scores, the triangular solve and WY representation of the delta
rule, the corrected values U = Ũ − W S, the output, and the state update. The state S is the block argument,
so the chunk's transition stays visible as an affine map of S (what a future sequence-parallel pass composes
across devices). Decode (`mode=decode`) derives a `linrec.step` instead.

```mlir
DOC
stage chunkwise
cat <<'DOC'
```

## 4. `--linrec-apply-tuning`: problem and tuning attributes

The head dimensions, dtype and a `#linrec.tuning` (chunk, key/value tiles, warps, stages, strategy) are
attached and checked against what the hand-written kernels accept — tile sizes, the strategy (state passing
is additive-only), and the exact shared memory each kernel will request, computed with the same
`layout.cuh` functions the kernels use — so a configuration that cannot launch is a diagnostic here, never
invalid CUDA.

```mlir
DOC
stage tuned | grep -E "linrec.chunkwise"
cat <<'DOC'
```

## 5. `--linrec-lower-to-emitc`: EmitC

Each expression region becomes an `emitc.func` (`__device__ static` member of a `Variant` struct) whose
leaves call the token-context accessors; the attributes become `constexpr` members of `Variant` and `Config`;
each kernel becomes an `extern "C" __global__` function instantiating a hand-written template from
`runtime/kernels/include/linrec/kernel/`. The launch descriptor (grid formulas, block size, dynamic shared
memory, argument slots) rides along as a module attribute.

```mlir
DOC
stage emitc
cat <<'DOC'
```

## 6. `translateToCpp`: the CUDA the runtime compiles

```cpp
DOC
"$linrec" compile "$v" --K 128 --V 128 --no-nvrtc -o /tmp/linrec-doc >/dev/null
cat /tmp/linrec-doc/*.cu
cat <<'DOC'
```

NVRTC compiles it with the kernel headers supplied from memory. `linrec compile` prints what ptxas reports:

```
DOC
"$linrec" compile "$v" --K 128 --V 128 --arch sm_80,sm_90
cat <<'DOC'
```
DOC
} > docs/compiler.md.tmp
mv docs/compiler.md.tmp docs/compiler.md
echo "wrote docs/compiler.md"
