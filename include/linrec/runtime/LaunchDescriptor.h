// The launch descriptor: what codegen/ says about the kernels in a generated module (docs/kernel-abi.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/runtime/LaunchExpr.h"
#include "linrec/runtime/Tensor.h"

namespace linrec {

/// Most declared inputs / params a kernel can take (the sizes of FwdParams::inputs / params).
constexpr int kMaxKernelInputs = 8;
constexpr int kMaxKernelParams = 8;

/// How a forward pass is split into kernels (DESIGN.md §3).
enum class Strategy : uint8_t { Fused, StatePassing };
const char* strategyName(Strategy s);

/// The role of one kernel of a module. Forward stages run in the order the descriptor lists them.
/// SegmentState and SegmentScan run before a fused kernel that splits sequences into segments (its grid z);
/// with one segment their grids are empty and they are not launched.
enum class Stage : uint8_t { Fused, ChunkLocal, StateScan, ChunkOutput, Decode, SegmentState, SegmentScan };
const char* stageName(Stage s);

/// One __global__ function of the module and how to launch it.
struct KernelLaunchSpec {
  std::string name;  ///< extern "C" symbol
  Stage stage = Stage::Fused;
  LaunchExpr grid[3];      ///< x, y, z as formulas over the launch variables
  int block_threads = 0;   ///< 1-D block
  int64_t smem_bytes = 0;  ///< dynamic shared memory per block
  /// May start while the previous kernel of the launch runs (programmatic stream serialization, sm_90):
  /// it waits for what it reads itself. The runtime uses it where the device and driver allow and
  /// Runtime::programmaticLaunch() is on; otherwise the kernels run one after another, which is also correct.
  bool programmatic = false;
  /// When the launch overlaps (programmatic launches on), this kernel may go first, before the one listed
  /// before it, which then starts programmatically beside it: it waits for that kernel chunk by chunk. The
  /// runtime does so only where its whole grid fits the device at once (it waits for a kernel launched after
  /// it). The delta rules' scan, ahead of their prep.
  bool leads = false;
};

/// A declared per-token input: scalar [B,T,H] or vector [B,T,H,K], fp32.
struct InputSlot {
  enum class Kind : uint8_t { Scalar, Vector };
  std::string name;
  Kind kind = Kind::Scalar;
};

/// A declared per-head parameter: [H] or [H,K], fp32.
struct ParamSlot {
  enum class Kind : uint8_t { Head, HeadKey };
  std::string name;
  Kind kind = Kind::Head;
};

/// Everything the runtime needs to validate arguments for, and launch, the kernels of one generated
/// module. Formulas may use B, T, H, N (sequences), K, V, KF, C (chunk), NC (total chunks over all
/// sequences), MC (the most chunks of any one sequence) and the entries of `constants`; forward grids may
/// also use SMS (the launching device's SM count; the workspace size may not, so that it does not depend on
/// the device). A grid with a dimension of 0 is not launched. Decode formulas may use only B, H, N (= B),
/// K, V, KF and the constants.
struct LaunchDescriptor {
  int version = 1;
  std::string name;                  ///< informational (variant name)
  std::string spec_hash;             ///< informational (canonical spec hash)
  DType dtype = DType::BF16;         ///< dtype of q, k, v, o
  int K = 0;                         ///< key width of q and k
  int V = 0;                         ///< value width
  int KF = 0;                        ///< feature width K' (state rows)
  int chunk = 0;                     ///< chunk length C; required when there are forward kernels
  bool normalize = false;            ///< the kernel keeps a normalizer state z [N,H,K']
  std::optional<double> scale;       ///< default readout scale; absent: K^-1/2
  std::vector<InputSlot> inputs;     ///< canonical (sorted) order
  std::vector<ParamSlot> params;     ///< canonical (sorted) order
  std::optional<Strategy> strategy;  ///< forward strategy; absent for decode-only modules
  bool arch_specific = false;        ///< compile for sm_XYa (wgmma, setmaxnreg)
  LaunchVars constants;              ///< tile sizes etc., usable in formulas
  LaunchExpr workspace_bytes;        ///< state-passing scratch bytes (formula); "0" when none
  std::vector<KernelLaunchSpec> kernels;

  /// Parses and validates the JSON text; the error names the key at fault.
  static Expected<LaunchDescriptor> fromJson(const std::string& text);
  /// Canonical JSON text (parses back to an equal descriptor).
  std::string toJson(int indent = 2) const;
  /// Checks internal consistency (called by fromJson; call it when building a descriptor in code).
  Status validate() const;

  /// The scale used when the caller gives none.
  double defaultScale() const;
  /// True when the module has forward kernels.
  bool hasForward() const;
  /// The decode kernel, or null.
  const KernelLaunchSpec* decodeKernel() const;
};

}  // namespace linrec
