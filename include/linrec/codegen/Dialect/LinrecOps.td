// LinrecOps.td: the `linrec` ops: the recurrence with its expressions, and its chunkwise/step kernels.
#ifndef LINREC_OPS_TD
#define LINREC_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "linrec/codegen/Dialect/LinrecDialect.td"
include "linrec/codegen/Dialect/LinrecAttrs.td"

// No C++ class on purpose: with one, the declarative printer strips the `!linrec.tile` prefix.
def Linrec_Tile : Type<CPred<"::llvm::isa<::linrec::ir::TileType>($_self)">, "linrec tile">;

//===----------------------------------------------------------------------===//
// The recurrence and its expression language
//===----------------------------------------------------------------------===//

def Linrec_RecurrenceOp : Linrec_Op<"recurrence", [Symbol, IsolatedFromAbove]> {
  let summary = "One linear-attention recurrence: feature maps, decay, update rule, readout, expressions";
  let description = [{
    The recurrence of DESIGN.md §1 for one variant, as the DSL's Spec describes it. The attributes carry
    the structural choices; the four regions carry the variant's elementwise expressions, each a single
    block of f32 `arith`/`math`/`linrec.fn` ops over the leaves `linrec.input`, `linrec.param`,
    `linrec.head` and `linrec.qk_elem`, terminated by `linrec.yield`:

    * `q_pre`, `k_pre`: the elementwise pre-map of q and k (evaluated per key index d); never empty.
    * `decay`: the log-decay g_t; empty when `decay_kind` is `none`.
    * `beta`: β_t; empty when β = 1.

    `linrec-canonicalize-exprs` folds the expressions and recomputes `decay_kind` from the shape of the
    decay expression (constant per head, scalar per token or a vector over K).

    Example:

    ```mlir
    linrec.recurrence @gated_delta_rule attributes {
        decay_kind = #linrec.decay<scalar>, hash = "9f2c...",
        inputs = [#linrec.input<"a", scalar>, #linrec.input<"b", scalar>],
        k_map = #linrec.feature_map<l2norm>, q_map = #linrec.feature_map<l2norm>,
        params = [#linrec.param<"A_log", head>, #linrec.param<"dt_bias", head>],
        rule = #linrec.rule<delta>}
    q_pre {
      %q = linrec.qk_elem q : f32
      linrec.yield %q : f32
    } k_pre {
      %k = linrec.qk_elem k : f32
      linrec.yield %k : f32
    } decay {
      %A = linrec.param "A_log" : f32
      %a = linrec.input "a" : f32
      %dt = linrec.param "dt_bias" : f32
      %0 = math.exp %A : f32
      %1 = arith.negf %0 : f32
      %2 = arith.addf %a, %dt : f32
      %3 = linrec.fn softplus %2 : f32
      %4 = arith.mulf %1, %3 : f32
      linrec.yield %4 : f32
    } beta {
      %b = linrec.input "b" : f32
      %0 = linrec.fn sigmoid %b : f32
      linrec.yield %0 : f32
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       StrAttr:$hash,
                       TypedArrayAttrBase<Linrec_InputDeclAttr, "declared inputs">:$inputs,
                       TypedArrayAttrBase<Linrec_ParamDeclAttr, "declared parameters">:$params,
                       Linrec_FeatureMapAttr:$q_map,
                       Linrec_FeatureMapAttr:$k_map,
                       Linrec_DecayKindAttr:$decay_kind,
                       Linrec_UpdateRuleAttr:$rule,
                       OptionalAttr<F64Attr>:$scale,
                       UnitAttr:$normalize,
                       DefaultValuedAttr<F64Attr, "1e-6">:$norm_eps);
  let regions = (region MaxSizedRegion<1>:$q_pre, MaxSizedRegion<1>:$k_pre, MaxSizedRegion<1>:$decay,
                        MaxSizedRegion<1>:$beta);
  let assemblyFormat = [{
    $sym_name attr-dict-with-keyword `q_pre` $q_pre `k_pre` $k_pre `decay` $decay `beta` $beta
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The declared input `name`, or null.
    ::linrec::ir::InputDeclAttr lookupInput(::llvm::StringRef name);
    /// The declared parameter `name`, or null.
    ::linrec::ir::ParamDeclAttr lookupParam(::llvm::StringRef name);
    /// Position of input / parameter `name` in canonical order, or -1.
    int inputIndex(::llvm::StringRef name);
    int paramIndex(::llvm::StringRef name);
    /// The value a non-empty expression region yields (null for an empty region).
    static ::mlir::Value yieldedValue(::mlir::Region &region);
  }];
}

class Linrec_LeafOp<string mnemonic, list<Trait> traits = []>
    : Linrec_Op<mnemonic, !listconcat(traits, [Pure, HasParent<"RecurrenceOp">])> {
  let results = (outs F32:$result);
}

def Linrec_InputOp : Linrec_LeafOp<"input"> {
  let summary = "A declared per-token input (one element; a vector input at the current key index)";
  let description = [{
    `%a = linrec.input "a" : f32` reads the declared input `a` at the current token (and, for a vector
    input, at the key index the expression is evaluated for).
  }];
  let arguments = (ins StrAttr:$name);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_ParamOp : Linrec_LeafOp<"param"> {
  let summary = "A declared per-head parameter (one element; a head_key parameter at the key index)";
  let description = [{
    `%p = linrec.param "A_log" : f32` reads the parameter `A_log` of the current head.
  }];
  let arguments = (ins StrAttr:$name);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_HeadOp : Linrec_LeafOp<"head"> {
  let summary = "The head index as f32";
  let description = [{
    `%h = linrec.head : f32` is the index of the current head (retention's per-head decay uses it).
  }];
  let assemblyFormat = "attr-dict `:` type($result)";
}

def Linrec_QKElemOp : Linrec_LeafOp<"qk_elem"> {
  let summary = "The raw q or k element at the current key index (only in q_pre / k_pre)";
  let description = [{
    `%q = linrec.qk_elem q : f32`. Allowed only in the `q_pre` region (for `q`) and the `k_pre` region
    (for `k`): gates never read q or k.
  }];
  let arguments = (ins Linrec_QK:$which);
  let assemblyFormat = "$which attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_FnOp : Linrec_Op<"fn", [Pure, SameOperandsAndResultType]> {
  let summary = "An elementwise function without an arith/math counterpart";
  let description = [{
    `%y = linrec.fn softplus %x : f32`. Lowered to the numerically stable `linrec_<fn>` device helpers
    of `linrec/kernel/abi.cuh`; folded when the operand is a constant.
  }];
  let arguments = (ins Linrec_Fn:$fn, F32:$operand);
  let results = (outs F32:$result);
  let assemblyFormat = "$fn $operand attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Linrec_YieldOp : Linrec_Op<"yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["RecurrenceOp", "ChunkwiseOp", "StepOp"]>]> {
  let summary = "Ends an expression region (one f32) or a kernel body (output tile, next state)";
  let description = [{
    In a `linrec.recurrence` region: `linrec.yield %v : f32`. In a `linrec.chunkwise` / `linrec.step`
    body: `linrec.yield %o, %s : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>`.
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
}

//===----------------------------------------------------------------------===//
// Kernels: the chunkwise (prefill) and step (decode) forms
//===----------------------------------------------------------------------===//

class Linrec_KernelOp<string mnemonic> : Linrec_Op<mnemonic, [Symbol, IsolatedFromAbove]> {
  let arguments = (ins SymbolNameAttr:$sym_name,
                       FlatSymbolRefAttr:$recurrence,
                       Linrec_UpdateRuleAttr:$rule,
                       Linrec_DecayKindAttr:$decay_kind,
                       UnitAttr:$normalize,
                       OptionalAttr<Linrec_ProblemAttr>:$problem,
                       OptionalAttr<Linrec_TuningAttr>:$tuning);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name `of` $recurrence attr-dict-with-keyword $body";
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The state entering the chunk (or token): `!linrec.tile<K, V, f32>`.
    ::mlir::BlockArgument getState() { return getBody().front().getArgument(0); }
  }];
}

def Linrec_ChunkwiseOp : Linrec_KernelOp<"chunkwise"> {
  let summary = "The chunkwise (prefill) form of a recurrence: one chunk's computation";
  let description = [{
    The body computes one chunk of C tokens (DESIGN.md §3) from the state S entering it (the block
    argument) and yields the chunk's output tile and the state leaving it. How chunks are scheduled
    (fused sequential or state passing) is the `strategy` of the attached `#linrec.tuning`.

    ```mlir
    linrec.chunkwise @gla_prefill of @gla attributes {decay_kind = #linrec.decay<vector>,
                                                       rule = #linrec.rule<additive>} {
    ^bb0(%S: !linrec.tile<K, V, f32>):
      %q = linrec.chunk.features q : !linrec.tile<C, K, f32>
      %k = linrec.chunk.features k : !linrec.tile<C, K, f32>
      %v = linrec.chunk.values : !linrec.tile<C, V, f32>
      %g = linrec.chunk.gate decay : !linrec.tile<C, K, f32>
      %b = linrec.chunk.cumsum_decay %g : !linrec.tile<C, K, f32>
      %A = linrec.chunk.intra_scores %q, %k decay %b mask inclusive : ...
      %o = linrec.chunk.output %q, %S, %A, %v decay %b : ...
      %S1 = linrec.chunk.state_update %S, %k, %v decay %b : ...
      linrec.yield %o, %S1 : !linrec.tile<C, V, f32>, !linrec.tile<K, V, f32>
    }
    ```
  }];
}

def Linrec_StepOp : Linrec_KernelOp<"step"> {
  let summary = "The recurrent (decode) form of a recurrence: one token's computation";
  let description = [{
    The body applies one step of DESIGN.md §1 to the state S (the block argument): decay, the update
    (delta or additive) and the readout, and yields the output row and the new state.
  }];
}

class Linrec_BodyOp<string mnemonic, list<Trait> traits = []>
    : Linrec_Op<mnemonic, !listconcat(traits, [Pure])>;

def Linrec_FeaturesOp : Linrec_BodyOp<"chunk.features",
    [ParentOneOf<["ChunkwiseOp", "StepOp"]>]> {
  let summary = "Loads q or k for the chunk and applies the pre-map and the feature map";
  let description = [{
    `%q = linrec.chunk.features q : !linrec.tile<C, K, f32>` is φ_q(q_pre(q)) for each token of the
    chunk: the recurrence's `q_pre` expression inlined into the load (fused prologue), then the feature
    map (width K → K').
  }];
  let arguments = (ins Linrec_QK:$which);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$which attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_ValuesOp : Linrec_BodyOp<"chunk.values", [ParentOneOf<["ChunkwiseOp", "StepOp"]>]> {
  let summary = "Loads v for the chunk (a V tile of BV columns)";
  let description = [{ `%v = linrec.chunk.values : !linrec.tile<C, V, f32>` }];
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_GateOp : Linrec_BodyOp<"chunk.gate", [ParentOneOf<["ChunkwiseOp", "StepOp"]>]> {
  let summary = "Evaluates the log-decay g or β for each token of the chunk";
  let description = [{
    `%g = linrec.chunk.gate decay : !linrec.tile<C, 1, f32>` (or `<C, K, f32>` for a vector decay):
    the recurrence's expression inlined per token.
  }];
  let arguments = (ins Linrec_Gate:$gate);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$gate attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Linrec_ScaleRowsOp : Linrec_BodyOp<"chunk.scale_rows", [ParentOneOf<["ChunkwiseOp", "StepOp"]>]> {
  let summary = "Diag(β) V: the values of the additive rule scaled by β";
  let description = [{ `%bv = linrec.chunk.scale_rows %v, %beta : ...` }];
  let arguments = (ins Linrec_Tile:$values, Linrec_Tile:$beta);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$values `,` $beta attr-dict `:` functional-type(operands, results)";
}

def Linrec_CumsumDecayOp : Linrec_BodyOp<"chunk.cumsum_decay",
    [HasParent<"ChunkwiseOp">, SameOperandsAndResultType]> {
  let summary = "b_i = Σ_{s≤i} g_s within the chunk (fp32, log space)";
  let description = [{ `%b = linrec.chunk.cumsum_decay %g : !linrec.tile<C, 1, f32>` }];
  let arguments = (ins Linrec_Tile:$gate);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$gate attr-dict `:` type($result)";
}

def Linrec_IntraScoresOp : Linrec_BodyOp<"chunk.intra_scores", [HasParent<"ChunkwiseOp">]> {
  let summary = "Masked intra-chunk products A = (L Rᵀ ⊙ M), M[i,j] = exp(b_i − b_j)";
  let description = [{
    `%A = linrec.chunk.intra_scores %q, %k decay %b mask inclusive : ...` is the C×C matrix of
    decayed dot products of the rows of the two operands, masked to j ≤ i (`inclusive`) or j < i
    (`strict`). With a vector decay the exponent is per key dim and sits inside the dot product. Without
    `decay` M is the 0/1 causal mask.
  }];
  let arguments = (ins Linrec_Tile:$lhs, Linrec_Tile:$rhs, Optional<Linrec_Tile>:$cumdecay,
                       Linrec_ScoreMask:$mask);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`decay` $cumdecay^)? `mask` $mask attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Linrec_SolveTrilOp : Linrec_BodyOp<"chunk.solve_tril", [HasParent<"ChunkwiseOp">]> {
  let summary = "T = (I + Diag(β) A)^-1 for strictly lower A (delta rule; forward substitution)";
  let description = [{
    `%T = linrec.chunk.solve_tril %A beta %beta : ...`: the unit lower-triangular inverse of the delta
    rule's WY form, solved by forward substitution on 16×16 blocks.
  }];
  let arguments = (ins Linrec_Tile:$scores, Optional<Linrec_Tile>:$beta);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = [{
    $scores (`beta` $beta^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Linrec_WYOp : Linrec_BodyOp<"chunk.wy", [HasParent<"ChunkwiseOp">, AttrSizedOperandSegments]> {
  let summary = "W = T Diag(β) (K ⊙ Γ), Ũ = T Diag(β) V (delta rule)";
  let description = [{
    `%W, %Ut = linrec.chunk.wy %T, %k, %v beta %beta decay %b : ...`
  }];
  let arguments = (ins Linrec_Tile:$solved, Linrec_Tile:$keys, Linrec_Tile:$values,
                       Optional<Linrec_Tile>:$beta, Optional<Linrec_Tile>:$cumdecay);
  let results = (outs Linrec_Tile:$w, Linrec_Tile:$u);
  let assemblyFormat = [{
    $solved `,` $keys `,` $values (`beta` $beta^)? (`decay` $cumdecay^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Linrec_CorrectValuesOp : Linrec_BodyOp<"chunk.correct_values", [HasParent<"ChunkwiseOp">]> {
  let summary = "U = Ũ − W S: the delta rule's values corrected by the state entering the chunk";
  let description = [{ `%U = linrec.chunk.correct_values %Ut, %W, %S : ...` }];
  let arguments = (ins Linrec_Tile:$values, Linrec_Tile:$w, Linrec_Tile:$state);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$values `,` $w `,` $state attr-dict `:` functional-type(operands, results)";
}

def Linrec_OutputOp : Linrec_BodyOp<"chunk.output", [HasParent<"ChunkwiseOp">]> {
  let summary = "O = scale · [(Q ⊙ Γ) S + A U] (inter-chunk plus intra-chunk), optionally normalized";
  let description = [{
    `%o = linrec.chunk.output %q, %S, %A, %u decay %b : ...`. With `normalize` on the kernel, the
    normalizer column (a column of ones appended to V) divides the result.
  }];
  let arguments = (ins Linrec_Tile:$queries, Linrec_Tile:$state, Linrec_Tile:$scores,
                       Linrec_Tile:$values, Optional<Linrec_Tile>:$cumdecay);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = [{
    $queries `,` $state `,` $scores `,` $values (`decay` $cumdecay^)? attr-dict `:`
    functional-type(operands, results)
  }];
}

def Linrec_StateUpdateOp : Linrec_BodyOp<"chunk.state_update", [HasParent<"ChunkwiseOp">]> {
  let summary = "S' = Diag(Γ_last) S + (K ⊙ exp(b_last − b))ᵀ U";
  let description = [{ `%S1 = linrec.chunk.state_update %S, %k, %u decay %b : ...` }];
  let arguments = (ins Linrec_Tile:$state, Linrec_Tile:$keys, Linrec_Tile:$values,
                       Optional<Linrec_Tile>:$cumdecay);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = [{
    $state `,` $keys `,` $values (`decay` $cumdecay^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Linrec_DecayStateOp : Linrec_BodyOp<"step.decay_state", [HasParent<"StepOp">]> {
  let summary = "Diag(α) S with α = exp(g) (decode)";
  let description = [{ `%S1 = linrec.step.decay_state %S, %g : ...` }];
  let arguments = (ins Linrec_Tile:$state, Linrec_Tile:$gate);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$state `,` $gate attr-dict `:` functional-type(operands, results)";
}

def Linrec_DeltaValuesOp : Linrec_BodyOp<"step.delta_values", [HasParent<"StepOp">]> {
  let summary = "u = β (v − Sᵀ k) (decode, delta rule)";
  let description = [{ `%u = linrec.step.delta_values %S, %k, %v beta %beta : ...` }];
  let arguments = (ins Linrec_Tile:$state, Linrec_Tile:$keys, Linrec_Tile:$values,
                       Optional<Linrec_Tile>:$beta);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = [{
    $state `,` $keys `,` $values (`beta` $beta^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Linrec_Rank1UpdateOp : Linrec_BodyOp<"step.rank1_update", [HasParent<"StepOp">]> {
  let summary = "S' = S + k uᵀ (decode)";
  let description = [{ `%S2 = linrec.step.rank1_update %S1, %k, %u : ...` }];
  let arguments = (ins Linrec_Tile:$state, Linrec_Tile:$keys, Linrec_Tile:$values);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$state `,` $keys `,` $values attr-dict `:` functional-type(operands, results)";
}

def Linrec_ReadoutOp : Linrec_BodyOp<"step.readout", [HasParent<"StepOp">]> {
  let summary = "o = scale · Sᵀ q̃ (decode), optionally normalized";
  let description = [{ `%o = linrec.step.readout %S2, %q : ...` }];
  let arguments = (ins Linrec_Tile:$state, Linrec_Tile:$queries);
  let results = (outs Linrec_Tile:$result);
  let assemblyFormat = "$state `,` $queries attr-dict `:` functional-type(operands, results)";
}

#endif  // LINREC_OPS_TD
