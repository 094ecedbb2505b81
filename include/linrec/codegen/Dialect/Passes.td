// Passes.td: the linrec compiler passes, in pipeline order (Spec → recurrence → chunkwise → EmitC).
#ifndef LINREC_PASSES_TD
#define LINREC_PASSES_TD

include "mlir/Pass/PassBase.td"

def ImportSpec : Pass<"linrec-import-spec", "::mlir::ModuleOp"> {
  let summary = "Parse a TOML variant file and add its `linrec.recurrence` to the module";
  let description = [{
    Runs the DSL parser (dsl/) on `spec` and appends the recurrence it describes. Parse errors are
    reported at their file:line:col. The C++ entry point `linrec::codegen::generate` calls the same
    importer on an already parsed Spec.
  }];
  let options = [Option<"specPath", "spec", "std::string", /*default=*/"\"\"",
                        "path of the variant TOML file">];
  let dependentDialects = ["::linrec::ir::LinrecDialect", "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def CanonicalizeExprs : Pass<"linrec-canonicalize-exprs", "::mlir::ModuleOp"> {
  let summary = "Fold the recurrence's expressions and classify the decay and β";
  let description = [{
    Folds constants and algebraic identities in the expression regions (upstream arith/math folders plus
    `linrec.fn`'s), removes dead and duplicate ops, then classifies each expression by the leaves it
    reads: a decay that folds to 0 becomes `none` (region emptied), one that reads no per-token input is
    `constant` (per head), a per-token one is `scalar` or `vector` (when it reads a vector input, a
    head_key parameter). A β that folds to 1 is dropped. Errors: a vector β, an expression that folds
    to a non-finite constant.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
}

def DeriveChunkwise : Pass<"linrec-derive-chunkwise", "::mlir::ModuleOp"> {
  let summary = "Derive the chunkwise (prefill) and step (decode) kernels of each recurrence";
  let description = [{
    Adds, next to each `linrec.recurrence @r`, a `linrec.chunkwise @r_prefill` whose body is the
    chunkwise algebra of DESIGN.md §3 (cumulative log-decay, masked intra-chunk scores, for the delta
    rule the triangular solve and WY form, output and state update) and/or a `linrec.step @r_decode`
    (decay, update, readout for one token). Reports constructs no kernel implements (e.g. a vector decay
    on a feature map that changes the width, the normalizer with the delta rule, too many inputs).
  }];
  let options = [Option<"mode", "mode", "std::string", /*default=*/"\"all\"",
                        "which kernels to derive: prefill, decode or all">];
}

def ApplyTuning : Pass<"linrec-apply-tuning", "::mlir::ModuleOp"> {
  let summary = "Specialise kernels to a problem (K, V, dtype) and a TuningConfig; check they fit";
  let description = [{
    Attaches `#linrec.problem` and `#linrec.tuning` to every `linrec.chunkwise` / `linrec.step` and
    validates the combination against the hand-written kernels: the tile sizes they support, state
    passing only for additive rules, and the exact dynamic shared memory of every kernel stage (computed
    with `linrec/kernel/layout.cuh`, the functions the kernels carve it with) against `smem-limit`.
  }];
  let options = [
    Option<"headK", "head-k", "int64_t", "128", "input key width K">,
    Option<"headV", "head-v", "int64_t", "128", "value width V">,
    Option<"dtype", "dtype", "std::string", "\"bf16\"", "dtype of q/k/v/o: bf16, fp16 or fp32">,
    Option<"chunk", "chunk", "int64_t", "64", "chunk length C">,
    Option<"blockK", "block-k", "int64_t", "128", "key tile BK">,
    Option<"blockV", "block-v", "int64_t", "64", "value tile BV">,
    Option<"warps", "warps", "int64_t", "4", "warps per CTA">,
    Option<"stages", "stages", "int64_t", "2", "software pipeline stages">,
    Option<"strategy", "strategy", "std::string", "\"fused\"", "fused or state_passing">,
    Option<"smemLimit", "smem-limit", "int64_t", "232448",
           "dynamic shared memory per CTA in bytes (H100: 227 KiB)">,
  ];
}

def LowerToEmitC : Pass<"linrec-lower-to-emitc", "::mlir::ModuleOp"> {
  let summary = "Lower tuned kernels and their recurrence to EmitC (the CUDA translation unit)";
  let description = [{
    Emits the translation unit of docs/kernel-abi.md: the expression regions become `__device__ static`
    EmitC functions of a `Variant` struct (arith via the upstream arith-to-emitc patterns, math and
    `linrec.fn` as calls of the `linrec_*` helpers), the structural choices become its constexprs, the
    tuning becomes `Config`, and each kernel an `extern "C" __global__` instantiation of a hand-written
    building block carrying a `linrec.launch` dictionary for the launch descriptor. Afterwards the module
    holds only EmitC ops, ready for `mlir::emitc::translateToCpp`.
  }];
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
}

#endif  // LINREC_PASSES_TD
