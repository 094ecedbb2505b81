// LinrecDialect.td: the `linrec` dialect: linear-attention recurrences and their chunkwise kernels.
#ifndef LINREC_DIALECT_TD
#define LINREC_DIALECT_TD

include "mlir/IR/OpBase.td"

def Linrec_Dialect : Dialect {
  let name = "linrec";
  let cppNamespace = "::linrec::ir";
  let summary = "Linear-attention recurrences, their chunkwise forms and the kernels derived from them.";
  let description = [{
    The `linrec` dialect carries one recurrence of the family in DESIGN.md §1 from its Spec to the CUDA
    kernels that compute it. It has two levels:

    * `linrec.recurrence` states *what* is computed: feature maps, the decay kind, the update rule, the
      readout and the variant's elementwise expressions (q/k pre-maps, log-decay g, β) as regions of
      `arith`/`math`/`linrec` ops over f32 leaves (`linrec.input`, `linrec.param`, `linrec.head`,
      `linrec.qk_elem`).
    * `linrec.chunkwise` (prefill) and `linrec.step` (decode) state *how*: the chunkwise algebra of
      DESIGN.md §3 as a dataflow of `linrec.chunk.*` / `linrec.step.*` ops over `!linrec.tile` values,
      specialised by `#linrec.problem` (K, V, dtype) and `#linrec.tuning` (C, BK, BV, warps, stages,
      strategy).

    Lowering turns the expressions into EmitC device functions of a `Variant` struct and the kernels into
    instantiations of the hand-written building blocks (docs/kernel-abi.md).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect", "::mlir::math::MathDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
}

class Linrec_Op<string mnemonic, list<Trait> traits = []> : Op<Linrec_Dialect, mnemonic, traits>;

#endif  // LINREC_DIALECT_TD
