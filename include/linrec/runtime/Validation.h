// Launch-argument checks (dtypes, shapes, strides, alignment, aliasing) as pure functions: no GPU needed.
#pragma once

#include <cstdint>

#include "linrec/Expected.h"
#include "linrec/runtime/LaunchArgs.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/runtime/LaunchExpr.h"

namespace linrec {

/// Pointer alignment every tensor must have (vector loads in the kernels).
constexpr uint64_t kTensorAlignment = 16;

/// The sizes a valid forward call implies.
struct ForwardShape {
  int64_t B = 0, T = 0, H = 0;
  int64_t N = 0;    ///< sequences: B, or len(cu_seqlens) - 1
  int64_t NC = -1;  ///< chunks over all sequences; -1 when cu_seqlens is given without its host copy
  int64_t MC = -1;  ///< the most chunks any one sequence has; -1 likewise
  float scale = 0;
  int64_t workspace_bytes = -1;  ///< -1 when NC is unknown
};

/// Checks `args` against `desc` and returns the implied sizes. Every failure names the tensor and says
/// what was expected and what was given.
Expected<ForwardShape> checkForward(const LaunchDescriptor& desc, const ForwardArgs& args);
/// checkForward without the result.
Status validateForward(const LaunchDescriptor& desc, const ForwardArgs& args);

/// The sizes a valid decode step implies.
struct StepShape {
  int64_t B = 0, H = 0;
  float scale = 0;
};

/// Checks `args` against `desc` (which must have a decode kernel).
Expected<StepShape> checkStep(const LaunchDescriptor& desc, const StepArgs& args);
Status validateStep(const LaunchDescriptor& desc, const StepArgs& args);

/// The variables forward formulas see: B, T, H, N, K, V, KF, C, NC, MC and the descriptor's constants.
LaunchVars forwardLaunchVars(const LaunchDescriptor& desc, const ForwardShape& s);
/// The variables decode formulas see: B, H, N (= B), K, V, KF and the constants.
LaunchVars stepLaunchVars(const LaunchDescriptor& desc, const StepShape& s);

}  // namespace linrec
