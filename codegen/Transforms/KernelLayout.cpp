// Kernel traits from the derived IR, and stage plans sized with the kernels' own layout functions.
#include "linrec/codegen/Transforms/KernelLayout.h"

// The kernels carve shared memory with these constexpr functions; calling the same ones here keeps the
// launch descriptor's smem_bytes equal to what the kernel expects (the header is plain C++17 on the host).
#include "linrec/kernel/layout.cuh"

namespace linrec::ir {

using namespace mlir;

const char* stageName(KernelStage s) {
  switch (s) {
    case KernelStage::Fused:
      return "fused";
    case KernelStage::ChunkLocal:
      return "chunk_local";
    case KernelStage::StateScan:
      return "state_scan";
    case KernelStage::ChunkOutput:
      return "chunk_output";
    case KernelStage::Decode:
      return "decode";
    case KernelStage::SegmentState:
      return "segment_state";
    case KernelStage::SegmentScan:
      return "segment_scan";
  }
  return "?";
}

KernelTraits kernelTraits(Operation* kernel, RecurrenceOp rec, ProblemAttr problem) {
  KernelTraits t;
  t.decode = isa<StepOp>(kernel);
  if (auto c = dyn_cast<ChunkwiseOp>(kernel)) t.normalize = c.getNormalize();
  if (auto s = dyn_cast<StepOp>(kernel)) t.normalize = s.getNormalize();
  kernel->walk([&](Operation* op) {
    if (isa<SolveTrilOp, DeltaValuesOp>(op)) t.delta = true;
    if (auto g = dyn_cast<GateOp>(op)) {
      if (g.getGate() == Gate::Beta)
        t.hasBeta = true;
      else {
        t.hasDecay = true;
        t.vectorDecay = llvm::cast<TileType>(g.getType()).getCols() == TileDim::K;
      }
    }
  });
  // What the generated Variant says with kQRaw / kKRaw (LowerToEmitC.cpp), and the maps that kRowOperand
  // (feature_map.cuh) adds.
  auto raw = [](Region& r) {
    Block& blk = r.front();
    if (blk.getOperations().size() != 2) return false;
    auto y = dyn_cast<YieldOp>(blk.back());
    return y && y.getValues().size() == 1 && y.getValues()[0].getDefiningOp<QKElemOp>() != nullptr;
  };
  auto rowMap = [](FeatureMapKind m) { return m == FeatureMapKind::Identity || m == FeatureMapKind::L2Norm; };
  t.rawQ = raw(rec.getQPre()) && rowMap(rec.getQMap());
  t.rawK = raw(rec.getKPre()) && rowMap(rec.getKMap());
  t.K = problem.getHeadK();
  t.V = problem.getHeadV();
  t.KF = featureWidth(rec.getKMap(), t.K);
  t.elemBytes = problem.getDtype() == DType::F32 ? 4 : 2;
  t.bf16 = problem.getDtype() == DType::BF16;
  return t;
}

bool fusedInRegisters(const KernelTraits& t, TuningAttr tuning) {
  return !t.decode && tuning.getStrategy() == Strategy::Fused &&
         kern::fused_regs_applies(t.elemBytes, t.bf16, t.delta, t.hasBeta, t.normalize, t.rawQ, t.rawK, t.vectorDecay,
                                  static_cast<int>(t.K), static_cast<int>(t.KF), static_cast<int>(t.V),
                                  static_cast<int>(tuning.getChunk()), static_cast<int>(tuning.getBlockV()),
                                  static_cast<int>(tuning.getWarps()));
}

namespace {
/// Segments per sequence for the register-state fused kernel: enough that about kSegmentBlocksPerSm blocks
/// per SM run (SMS, the launching device's SM count), each segment kSegmentMinChunks chunks or more. One
/// segment (the two stages before the kernel launch no blocks and are skipped) while the sequences alone
/// fill the GPU.
std::string segmentsFormula() {
  return "max(1,min(floor(MC/" + std::to_string(kern::kSegmentMinChunks) + "),floor(" +
         std::to_string(kern::kSegmentBlocksPerSm) + "*SMS/(N*H*cdiv(V,BV)))))";
}
/// The most segments that formula can give on any device, which sizes the workspace (it may not depend on
/// the device).
std::string maxSegmentsFormula() {
  return "max(1,floor(MC/" + std::to_string(kern::kSegmentMinChunks) + "))";
}
}  // namespace

std::vector<StagePlan> planStages(const KernelTraits& t, TuningAttr tuning) {
  const int K = static_cast<int>(t.K), KF = static_cast<int>(t.KF);
  const int C = static_cast<int>(tuning.getChunk()), BV = static_cast<int>(tuning.getBlockV());
  const int W = static_cast<int>(tuning.getWarps());
  const int BK = static_cast<int>(tuning.getBlockK());
  const int NS = static_cast<int>(tuning.getStages());
  auto chunkBytes = [&](kern::ChunkKernel kind, int bv) {
    return static_cast<int64_t>(
        kern::chunk_layout(kind, K, KF, C, bv, W, t.vectorDecay, t.delta, t.normalize, t.elemBytes, BK, NS).bytes());
  };
  const char* fwdHeader = "linrec/kernel/chunk_fwd.cuh";
  if (t.decode) {
    // decode.cuh: normalizing variants use one V-tile per (sequence, head) because z is shared.
    StagePlan p{KernelStage::Decode,
                "dec",
                "linrec::kern::decode_step",
                "linrec/kernel/decode.cuh",
                {"N*H", t.normalize ? "1" : "cdiv(V,BV)", "1"},
                kern::decode_smem_bytes(K, KF, W)};
    return {p};
  }
  if (fusedInRegisters(t, tuning) && t.delta) {
    // The WY form of every chunk in parallel (chunk_fwd_wy), then the register
    // kernel's sequential walk over W and U; no segments (fused_regs_applies says why).
    return {StagePlan{KernelStage::ChunkLocal,
                      "wy",
                      "linrec::kern::chunk_fwd_wy",
                      fwdHeader,
                      {"N*H", "cdiv(T,C)", "1"},
                      kern::wy_layout(K, static_cast<int>(t.V), C, W).total},
            StagePlan{KernelStage::Fused,
                      "fwd",
                      "linrec::kern::chunk_fwd_fused",
                      fwdHeader,
                      {"N*H", "cdiv(V,BV)", "1"},
                      kern::fused_regs_layout(KF, C, BV, false, true).total,
                      0,
                      kern::fused_regs_min_blocks(KF, C, BV, W, false, true)}};
  }
  if (fusedInRegisters(t, tuning)) {
    const std::string segs = segmentsFormula();
    // Its own layout, not chunk_layout's cover of both fused paths: with a per-key decay the phase kernel's
    // regions would leave one block per SM.
    const int64_t fused = kern::fused_regs_layout(KF, C, BV, t.vectorDecay).total;
    return {StagePlan{KernelStage::SegmentState,
                      "fwdsegstate",
                      "linrec::kern::chunk_fwd_seg_state",
                      fwdHeader,
                      {"N*H", "cdiv(V,BV)", segs + "-1"},
                      kern::fused_regs_state_layout(KF, C, BV, t.vectorDecay).total},
            StagePlan{KernelStage::SegmentScan,
                      "fwdsegscan",
                      "linrec::kern::chunk_fwd_seg_scan",
                      fwdHeader,
                      {"N*H*min(1," + segs + "-1)", "cdiv(KF*V," + std::to_string(W * 32) + ")", "1"},
                      0},
            StagePlan{KernelStage::Fused, "fwd", "linrec::kern::chunk_fwd_fused", fwdHeader,
                      {"N*H", "cdiv(V,BV)", segs}, fused, 0,
                      kern::fused_regs_min_blocks(KF, C, BV, W, t.vectorDecay, false)}};
  }
  if (tuning.getStrategy() == Strategy::Fused)
    return {StagePlan{KernelStage::Fused,
                      "fwd",
                      "linrec::kern::chunk_fwd_fused",
                      fwdHeader,
                      {"N*H", "cdiv(V,BV)", "1"},
                      chunkBytes(kern::ChunkKernel::Fused, BV)}};
  // State passing: the scan's z axis splits the key rows into BK slices (independent in an additive
  // update; the delta rule's v_new = U - W S reads them all, so it has one); the output's z walks the
  // chunks of the longest sequence, cdiv(T,C) bounding it (with cu_seqlens T is the total token count),
  // and its blocks past a sequence's end return at once.
  std::vector<StagePlan> plans;
  // The output kernel's own (wider) value tile, chunk_fwd.cuh's OutputConfig.
  const int outBV =
      kern::output_block_v(K, KF, C, BV, static_cast<int>(t.V), W, t.vectorDecay, t.normalize, t.elemBytes);
  // The runtime's "chunk_local" stage, once per chunk in parallel: for delta rules the WY prep (gates,
  // Akk, the triangular solve for W and U; the WY kernel's body or the phase kernel's, which solves in
  // slices of its own width); otherwise, with a decay,
  // the gates and their within-chunk cumsum. The later stages load what it wrote from the workspace.
  if (t.delta)
    plans.push_back(
        StagePlan{KernelStage::ChunkLocal,
                  "fwdprep",
                  "linrec::kern::chunk_delta_prep",
                  fwdHeader,
                  {"N*H", "cdiv(T,C)", "1"},
                  kern::delta_prep_smem_bytes(K, KF, static_cast<int>(t.V), C, W, t.rawQ, t.rawK, t.vectorDecay,
                                              t.normalize, t.elemBytes, outBV)});
  else if (t.hasDecay)
    plans.push_back(StagePlan{KernelStage::ChunkLocal,
                              "fwdgates",
                              "linrec::kern::chunk_gates",
                              fwdHeader,
                              {"N*H", "cdiv(T,C)", "1"},
                              chunkBytes(kern::ChunkKernel::Gates, BV)});
  // The delta scan with a warp per 16 value columns launches BV / 2 threads (layout.cuh state_scan_threads).
  plans.push_back(StagePlan{KernelStage::StateScan,
                            "fwdscan",
                            "linrec::kern::chunk_state_scan",
                            fwdHeader,
                            {"N*H", "cdiv(V,BV)", t.delta ? "1" : "cdiv(KF,BK)"},
                            chunkBytes(kern::ChunkKernel::Scan, BV),
                            kern::state_scan_threads(t.elemBytes, t.delta, t.normalize, KF, C, BV, W)});
  plans.push_back(StagePlan{KernelStage::ChunkOutput,
                            "fwdout",
                            "linrec::kern::chunk_output",
                            fwdHeader,
                            {"N*H", "cdiv(V," + std::to_string(outBV) + ")", "cdiv(T,C)"},
                            kern::output_smem_bytes(K, KF, static_cast<int>(t.V), C, outBV, W, t.delta, t.rawQ,
                                                    t.rawK, t.vectorDecay, t.normalize, t.elemBytes)});
  // Chunk flags: the scan reads each chunk once the prep has flagged it and the output kernel once the scan
  // has, so the three may run side by side: the scan first, the prep and the output kernel beside it.
  const bool flags = kern::sp_chunk_flags_apply(t.elemBytes, t.delta, t.rawQ, t.rawK, t.vectorDecay, t.normalize, K,
                                                KF, static_cast<int>(t.V), C, BV, outBV, W);
  plans.back().programmatic = flags;
  plans[plans.size() - 2].leads = flags;
  return plans;
}

std::string workspaceFormula(const KernelTraits& t, TuningAttr tuning) {
  if (fusedInRegisters(t, tuning) && t.delta) {
    // layout.cuh fused_wy_ws: W [B*T][H][K] (16-byte aligned end), then U [B*T][H][V], in the input type.
    const std::string eb = std::to_string(t.elemBytes);
    return "16*cdiv(" + eb + "*B*T*H*K,16)+" + eb + "*B*T*H*V";
  }
  if (fusedInRegisters(t, tuning)) {
    // layout.cuh segment_ws for the most segments: a 256-byte header, then (S - 1) states of K' x V and
    // (S - 1) log decays (K' of them for a per-key decay) per sequence and head, fp32; nothing with one
    // segment.
    const std::string s1 = "(" + maxSegmentsFormula() + "-1)";
    return "min(1," + s1 + ")*(256+4*N*" + s1 + "*H*(KF*V+" + (t.vectorDecay ? "KF" : "1") + "))";
  }
  if (t.decode || tuning.getStrategy() != Strategy::StatePassing) return "0";
  // layout.cuh state_passing_ws: states [NC][H][V][K'] in the input type, 16-byte aligned, then (normalizer)
  // zs [NC][H][K'] fp32.
  // Then the gate pre-pass's b, [NC][H] x gate_ws_chunk_bytes (layout.cuh): each region 16-byte aligned.
  std::string f = "16*cdiv(" + std::to_string(t.elemBytes) + "*NC*H*KF*V,16)";
  if (t.normalize) f += "+16*cdiv(4*NC*H*KF,16)";
  if (t.hasDecay)
    f += t.vectorDecay ? "+4*NC*H*C*16*cdiv(KF,16)" : "+" + std::to_string(t.elemBytes == 2 ? 4 : 8) + "*NC*H*C";
  // Delta rules: the prep kernel's W and k^ [NC][H][C][K'p], U (then v_new) [NC][H][C][V rounded to 16] in
  // the input type, and with a decay Gamma_last [NC][H][K'p] fp32.
  if (t.delta) {
    const std::string eb = std::to_string(t.elemBytes);
    f += "+2*" + eb + "*NC*H*C*16*cdiv(KF,16)+" + eb + "*NC*H*C*16*cdiv(V,16)";
    if (t.hasDecay) f += "+4*NC*H*16*cdiv(KF,16)";
    // The chunk flags (u64): one per chunk slot and 16 value columns, then one per chunk slot (reserved
    // whether or not the kernels use them, as state_passing_ws does).
    f += "+8*NC*H*cdiv(V,16)+8*NC*H";
  }
  return f;
}

}  // namespace linrec::ir
