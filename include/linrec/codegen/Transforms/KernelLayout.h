// What a tuned kernel op becomes: its stages (one __global__ each), their shared memory and launch grids.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlir/IR/Operation.h"

#include "linrec/codegen/Dialect/LinrecOps.h"

namespace linrec::ir {

/// The roles of generated kernels; names match the launch descriptor's `stage` (runtime LaunchDescriptor).
enum class KernelStage { Fused, ChunkLocal, StateScan, ChunkOutput, Decode, SegmentState, SegmentScan };
const char* stageName(KernelStage s);

/// The Variant-level facts of a kernel op, read off its body (not re-derived from the recurrence), so the
/// generated `Variant` says exactly what the derived IR computes.
struct KernelTraits {
  bool decode = false;       ///< linrec.step (else linrec.chunkwise)
  bool delta = false;        ///< the body solves the delta rule (solve_tril / delta_values)
  bool hasBeta = false;      ///< the body reads β
  bool hasDecay = false;     ///< the body has a decay gate
  bool vectorDecay = false;  ///< the decay gate is a tile over K'
  bool normalize = false;
  /// q~ / k~ are the raw rows or their L2 normalisation (q_pre / k_pre read the element; identity or l2norm
  /// map): what the register-state fused kernel loads as is (layout.cuh fused_regs_applies).
  bool rawQ = false, rawK = false;
  int64_t K = 0, V = 0, KF = 0;  ///< from #linrec.problem and the feature map
  int elemBytes = 4;             ///< bytes of a q/k/v element on chip: 2 for bf16/fp16 (layout.cuh's elem_bytes)
  bool bf16 = false;             ///< q/k/v are bf16 (the register-state kernel takes a per-key decay only then)
};

/// Reads the traits of a tuned `linrec.chunkwise` / `linrec.step` whose recurrence is `rec`.
KernelTraits kernelTraits(mlir::Operation* kernel, RecurrenceOp rec, ProblemAttr problem);

/// One __global__ function a kernel op lowers to.
struct StagePlan {
  KernelStage stage;
  std::string tag;        ///< short name used in the symbol: fwd, fwdgates, fwdscan, fwdout, dec
  std::string entry;      ///< the building block it instantiates (linrec::kern::...)
  std::string header;     ///< the header that declares it
  std::string grid[3];    ///< launch-descriptor formulas
  int64_t smemBytes = 0;  ///< dynamic shared memory (from linrec/kernel/layout.cuh)
  int64_t threads = 0;    ///< block size; 0: the tuning's warps * 32
  int64_t minBlocks = 1;  ///< __launch_bounds__'s blocks per SM (a register cap for ptxas)
  /// The launch may start while the previous stage runs (programmatic stream serialization): the kernel
  /// waits for what it reads itself (layout.cuh sp_chunk_flags_apply).
  bool programmatic = false;
  /// The launch may put this kernel before the one listed before it (LaunchDescriptor's `leads`).
  bool leads = false;
};

/// Whether the fused strategy takes the register-state kernel (layout.cuh fused_regs_applies), which splits
/// long sequences into segments: two more stages run before it.
bool fusedInRegisters(const KernelTraits& t, TuningAttr tuning);

/// The stages of a kernel op with traits `t` and tuning `tuning`, in launch order.
std::vector<StagePlan> planStages(const KernelTraits& t, TuningAttr tuning);

/// Bytes of the workspace as a launch-descriptor formula: state passing's, or the segments' of the
/// register-state fused kernel; "0" when the kernels need none.
std::string workspaceFormula(const KernelTraits& t, TuningAttr tuning);

}  // namespace linrec::ir
