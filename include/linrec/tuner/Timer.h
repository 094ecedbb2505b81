// The timing harness: device inputs rotated through more memory than L2 holds, CUDA events around every
// launch, warm-up, and the median of many launches.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/codegen/Codegen.h"
#include "linrec/dsl/Spec.h"
#include "linrec/runtime/Kernel.h"
#include "linrec/runtime/LaunchArgs.h"
#include "linrec/runtime/Runtime.h"

namespace linrec::tuner {

/// A problem shape in fla's layout (decode uses B, H, K, V; T is the prefill length it stands for).
struct Shape {
  int B = 1, T = 1, H = 1, K = 128, V = 128;
  /// "B=8 T=4096 H=16 K=128 V=128".
  std::string label() const;
  /// Parses "B,T,H,K,V" (five positive integers); the error says what is wrong.
  static Expected<Shape> parse(const std::string& text);
};

/// How candidates are timed.
struct TimingOptions {
  int warmup = 5;                      ///< launches before timing (also allocates state-passing workspaces)
  int min_reps = 10;                   ///< timed launches at least ...
  int max_reps = 100;                  ///< ... and at most
  double max_seconds = 0.5;            ///< stop adding launches after this much wall time (past min_reps)
  double rotate_l2_multiple = 2.0;     ///< input sets total more than this many times the L2 size
  size_t max_bytes = size_t(8) << 30;  ///< but at most this much device memory (and at most 16 sets)
  uint64_t seed = 1;                   ///< of the random inputs
};

/// The result of timing one kernel.
struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int reps = 0;
  /// How the launches were ordered: linrec::programmaticLaunchName of the process's mode (LINREC_PDL), "0"
  /// where the device cannot launch programmatically. A delta rule's best value tile differs between the
  /// output kernel beside the scan and after it (docs/performance.md), so a record keeps it.
  std::string launch;
};

/// Device inputs and outputs for one shape: `sets()` independent copies (each with fresh random data)
/// cycled through launch by launch, so no launch finds its inputs in L2 from the one before.
class Workload {
 public:
  /// Allocates and fills the sets for `shape` (prefill: ForwardArgs with q, k, v, inputs, params, o and a
  /// final state; decode: StepArgs with token tensors, params and a state). Values come from
  /// reference::randomInputs (the distributions the correctness checks use), tiled over the buffers.
  static Expected<Workload> create(Runtime& rt, const dsl::Spec& spec, const Shape& shape, codegen::DType dtype,
                                   codegen::Mode mode, const TimingOptions& options);
  Workload(Workload&&) noexcept = default;
  Workload& operator=(Workload&&) noexcept = default;
  ~Workload();

  size_t sets() const { return forward_.empty() ? step_.size() : forward_.size(); }
  size_t bytesPerSet() const { return bytes_per_set_; }
  size_t l2Bytes() const { return l2_bytes_; }
  codegen::Mode mode() const { return mode_; }
  const ForwardArgs& forward(size_t i) const { return forward_[i % forward_.size()]; }
  const StepArgs& step(size_t i) const { return step_[i % step_.size()]; }
  /// Bytes a launch must move at least (inputs read once, outputs and the final state written once):
  /// the roofline floor that achieved bandwidth is measured against (DESIGN.md §3).
  double floorBytes() const { return floor_bytes_; }

 private:
  Workload() = default;
  codegen::Mode mode_ = codegen::Mode::Prefill;
  std::vector<DeviceBuffer> buffers_;
  std::vector<ForwardArgs> forward_;
  std::vector<StepArgs> step_;
  size_t bytes_per_set_ = 0;
  size_t l2_bytes_ = 0;
  double floor_bytes_ = 0;
};

/// CUDA events and a stream for timing, created in the runtime's context.
class EventTimer {
 public:
  static Expected<std::unique_ptr<EventTimer>> create(Runtime& rt);
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  /// Launches `kernel` on `work` (set i for launch i): `warmup` untimed launches, then launches bracketed
  /// by their own pair of events until `max_reps`, or `max_seconds` once `min_reps` are done. Returns
  /// the median, min and max of the per-launch event times.
  Expected<Timing> time(const Kernel& kernel, const Workload& work, const TimingOptions& options);
  CUstream stream() const { return stream_; }

 private:
  explicit EventTimer(Runtime& rt) : rt_(rt) {}
  Runtime& rt_;
  CUstream stream_ = nullptr;
  std::vector<CUevent> events_;  // 2 per timed launch
};

}  // namespace linrec::tuner
