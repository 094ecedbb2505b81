// Test support: runs a TU's kernels on a device (CPU emulator or GPU) and compares them with the float64 reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "KernelSources.h"
#include "linrec/dsl/Spec.h"

namespace linrec::kerneltest {

/// A device address space and launcher. The emulator hands out host memory, the GPU device memory; every
/// method returns "" or an error description.
class Device {
 public:
  virtual ~Device() = default;
  virtual std::string alloc(size_t bytes, void** out) = 0;
  virtual std::string upload(void* dst, const void* src, size_t bytes) = 0;
  virtual std::string download(void* dst, const void* src, size_t bytes) = 0;
  virtual void release(void* p) = 0;
  /// Launches entry `kernel` of the currently loaded TU with Warps * 32 threads; `params` points at the
  /// host image of a FwdParams or DecodeParams (by value).
  virtual std::string launch(const std::string& kernel, unsigned gx, unsigned gy, unsigned gz, unsigned threads,
                             unsigned smem_bytes, const void* params, size_t params_bytes) = 0;
  virtual std::string synchronize() = 0;
};

/// The problem of one test case.
struct Case {
  int B = 1, T = 64, H = 2;
  std::vector<int64_t> cu_seqlens;  ///< non-empty: varlen (B = 1, T = the total)
  bool initial_state = false;
  bool state_passing = false;  ///< the state-passing kernels (gate pre-pass, scan, output) instead of the fused one
  int segments = 1;  ///< fused only: > 1 splits each sequence into this many segments (the seg_state and seg_scan
                     ///< stages first, then the fused kernel with grid z = segments)
  uint64_t seed = 1;
  std::string describe() const;
};

/// What a case produced: relative errors against the reference, and the raw bytes of o and the final state
/// (so two runs can be compared bit for bit).
struct Outcome {
  std::string error;  ///< non-empty: the case could not run
  double err_o = 0.0, err_state = 0.0, err_z = 0.0;
  std::vector<unsigned char> raw_o, raw_state;
};

/// Relative tolerance per dtype: fp32 1e-5, bf16 / fp16 2e-2.
double tolerance(const std::string& dtype);

/// Prefill on the device vs runRecurrent; `tu` is the TU text as loaded (its kernel names are used).
Outcome runPrefill(Device& dev, const dsl::Spec& spec, const std::string& tu, const TuShape& shape, const Case& c);

/// Fused prefill of the first `prefix` tokens of every sequence (B sequences of length T, no varlen), then
/// one decode launch per remaining token; compares every decoded output and the final state (and z) with
/// the reference over the whole sequence.
Outcome runPrefillThenDecode(Device& dev, const dsl::Spec& spec, const std::string& tu, const TuShape& shape,
                             const Case& c, int prefix);

}  // namespace linrec::kerneltest
