// LinrecAttrs.td: the `linrec` dialect's enums, attributes (declarations, tuning, problem) and tile type.
#ifndef LINREC_ATTRS_TD
#define LINREC_ATTRS_TD

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "linrec/codegen/Dialect/LinrecDialect.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

class Linrec_I32Enum<string name, string summary, list<I32EnumAttrCase> cases>
    : I32EnumAttr<name, summary, cases> {
  let cppNamespace = "::linrec::ir";
  let genSpecializedAttr = 0;
}

def Linrec_FeatureMapKind : Linrec_I32Enum<"FeatureMapKind", "feature map", [
  I32EnumAttrCase<"Identity", 0, "identity">,
  I32EnumAttrCase<"L2Norm", 1, "l2norm">,
  I32EnumAttrCase<"Taylor2", 2, "taylor2">,
  I32EnumAttrCase<"Hedgehog", 3, "hedgehog">]>;

def Linrec_DecayKind : Linrec_I32Enum<"DecayKind", "how the log-decay g varies", [
  I32EnumAttrCase<"None", 0, "none">,
  I32EnumAttrCase<"Constant", 1, "constant">,
  I32EnumAttrCase<"Scalar", 2, "scalar">,
  I32EnumAttrCase<"Vector", 3, "vector">]>;

def Linrec_UpdateRule : Linrec_I32Enum<"UpdateRule", "state update rule", [
  I32EnumAttrCase<"Additive", 0, "additive">,
  I32EnumAttrCase<"Delta", 1, "delta">]>;

def Linrec_InputKind : Linrec_I32Enum<"InputKind", "shape of a declared per-token input", [
  I32EnumAttrCase<"Scalar", 0, "scalar">,
  I32EnumAttrCase<"Vector", 1, "vector">]>;

def Linrec_ParamKind : Linrec_I32Enum<"ParamKind", "shape of a declared per-head parameter", [
  I32EnumAttrCase<"Head", 0, "head">,
  I32EnumAttrCase<"HeadKey", 1, "head_key">]>;

def Linrec_Strategy : Linrec_I32Enum<"Strategy", "how chunks are scheduled", [
  I32EnumAttrCase<"Fused", 0, "fused">,
  I32EnumAttrCase<"StatePassing", 1, "state_passing">]>;

def Linrec_DType : Linrec_I32Enum<"DType", "dtype of q, k, v and o", [
  I32EnumAttrCase<"BF16", 0, "bf16">,
  I32EnumAttrCase<"F16", 1, "fp16">,
  I32EnumAttrCase<"F32", 2, "fp32">]>;

/// Functions without an `arith`/`math` counterpart; lowered to the `linrec_*` device helpers.
def Linrec_Fn : I32EnumAttr<"Fn", "elementwise function", [
  I32EnumAttrCase<"Sigmoid", 0, "sigmoid">,
  I32EnumAttrCase<"LogSigmoid", 1, "logsigmoid">,
  I32EnumAttrCase<"Softplus", 2, "softplus">,
  I32EnumAttrCase<"Relu", 3, "relu">,
  I32EnumAttrCase<"Elu", 4, "elu">,
  I32EnumAttrCase<"Silu", 5, "silu">]> {
  let cppNamespace = "::linrec::ir";
}

def Linrec_QK : I32EnumAttr<"QK", "q or k", [
  I32EnumAttrCase<"Q", 0, "q">,
  I32EnumAttrCase<"K", 1, "k">]> {
  let cppNamespace = "::linrec::ir";
}

def Linrec_Gate : I32EnumAttr<"Gate", "per-token gate", [
  I32EnumAttrCase<"Decay", 0, "decay">,
  I32EnumAttrCase<"Beta", 1, "beta">]> {
  let cppNamespace = "::linrec::ir";
}

def Linrec_ScoreMask : I32EnumAttr<"ScoreMask", "causal mask of intra-chunk scores", [
  I32EnumAttrCase<"Strict", 0, "strict">,
  I32EnumAttrCase<"Inclusive", 1, "inclusive">]> {
  let cppNamespace = "::linrec::ir";
}

def Linrec_TileDim : Linrec_I32Enum<"TileDim", "symbolic tile extent", [
  I32EnumAttrCase<"C", 0, "C">,      // chunk length (1 in a decode step)
  I32EnumAttrCase<"K", 1, "K">,      // feature width K'
  I32EnumAttrCase<"V", 2, "V">,      // value width
  I32EnumAttrCase<"One", 3, "1">]>;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class Linrec_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Linrec_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Linrec_FeatureMapAttr : EnumAttr<Linrec_Dialect, Linrec_FeatureMapKind, "feature_map"> {
  let assemblyFormat = "`<` $value `>`";
}
def Linrec_DecayKindAttr : EnumAttr<Linrec_Dialect, Linrec_DecayKind, "decay"> {
  let assemblyFormat = "`<` $value `>`";
}
def Linrec_UpdateRuleAttr : EnumAttr<Linrec_Dialect, Linrec_UpdateRule, "rule"> {
  let assemblyFormat = "`<` $value `>`";
}
def Linrec_StrategyAttr : EnumAttr<Linrec_Dialect, Linrec_Strategy, "strategy"> {
  let assemblyFormat = "`<` $value `>`";
}
def Linrec_DTypeAttr : EnumAttr<Linrec_Dialect, Linrec_DType, "dtype"> {
  let assemblyFormat = "`<` $value `>`";
}

def Linrec_InputDeclAttr : Linrec_Attr<"InputDecl", "input"> {
  let summary = "A declared per-token input: `#linrec.input<\"a\", scalar>`";
  let description = [{
    A per-token fp32 tensor besides q, k, v: `scalar` is `[B,T,H]`, `vector` is `[B,T,H,K]`.
  }];
  let parameters = (ins StringRefParameter<"input name">:$name,
                        EnumParameter<Linrec_InputKind>:$kind);
  let assemblyFormat = "`<` $name `,` $kind `>`";
}

def Linrec_ParamDeclAttr : Linrec_Attr<"ParamDecl", "param"> {
  let summary = "A declared per-head parameter: `#linrec.param<\"A_log\", head>`";
  let description = [{
    A per-head fp32 constant: `head` is `[H]`, `head_key` is `[H,K]`.
  }];
  let parameters = (ins StringRefParameter<"parameter name">:$name,
                        EnumParameter<Linrec_ParamKind>:$kind);
  let assemblyFormat = "`<` $name `,` $kind `>`";
}

def Linrec_ProblemAttr : Linrec_Attr<"Problem", "problem"> {
  let summary = "What a kernel is specialised for: head dims and the dtype of q/k/v/o";
  let description = [{
    `#linrec.problem<head_k = 128, head_v = 128, dtype = bf16>`. `head_k` is the input key width K (the
    feature width K' follows from the feature map), `head_v` the value width V.
  }];
  let parameters = (ins "int64_t":$head_k, "int64_t":$head_v,
                        EnumParameter<Linrec_DType>:$dtype);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Linrec_TuningAttr : Linrec_Attr<"Tuning", "tuning"> {
  let summary = "Tile sizes and schedule of a kernel (a TuningConfig)";
  let description = [{
    `#linrec.tuning<chunk = 64, block_k = 128, block_v = 64, warps = 4, stages = 2, strategy = fused>`.
    The values the hand-written building blocks accept (their static_asserts): chunk C ∈ {16, 32, 64,
    128}; BK a multiple of 16 in [16, 256]; BV ∈ {16, 32, 64, 128}; warps ∈ {2, 4, 8}; stages ∈ [1, 4].
    Checks that depend on the recurrence (state passing is additive-only, shared memory) are made by
    `linrec-apply-tuning`.
  }];
  let parameters = (ins "int64_t":$chunk, "int64_t":$block_k, "int64_t":$block_v, "int64_t":$warps,
                        "int64_t":$stages, EnumParameter<Linrec_Strategy>:$strategy);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

// Extents print as `C`, `K`, `V` or the integer `1` (which the default enum parser, keywords only, would
// not read back).
def Linrec_TileDimParameter : EnumParameter<Linrec_TileDim> {
  let parser = "::linrec::ir::parseTileDim($_parser)";
  let printer = "::linrec::ir::printTileDim($_printer, $_self)";
}

def Linrec_TileType : TypeDef<Linrec_Dialect, "Tile"> {
  let mnemonic = "tile";
  let summary = "A per-chunk tile of a kernel: `!linrec.tile<C, K, f32>`";
  let description = [{
    A 2-D tile whose extents are symbolic: `C` (chunk length; 1 in a decode step), `K` (feature width
    K'), `V` (value width) or `1`. Extents become numbers only with `#linrec.problem` and
    `#linrec.tuning`; the element type is what the tile is held in on chip (f32, or the I/O dtype).
  }];
  let parameters = (ins Linrec_TileDimParameter:$rows, Linrec_TileDimParameter:$cols,
                        "::mlir::Type":$elementType);
  let assemblyFormat = "`<` $rows `,` $cols `,` $elementType `>`";
  let genVerifyDecl = 1;
}

#endif  // LINREC_ATTRS_TD
