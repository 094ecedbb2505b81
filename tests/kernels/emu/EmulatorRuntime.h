// The CPU emulator's launch API (no CUDA keyword macros): what host test code includes to run emulated kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

/// CUDA's dim3 / uint3 for the built-in index variables.
struct LinrecEmuDim3 {
  unsigned x = 1, y = 1, z = 1;
};

namespace linrec_emu {

/// How fibers are ordered when several are runnable: the tests run the same launch under several orders
/// and require identical results (a data race between barriers shows up as a difference).
enum class Schedule { Forward, Reverse, Shuffled };

/// One kernel launch. `entry` receives the thread's fiber and runs the kernel body for it.
struct LaunchConfig {
  LinrecEmuDim3 grid, block;
  size_t smem_bytes = 0;
  Schedule schedule = Schedule::Forward;
  uint64_t seed = 1;
};

/// Runs entry() once per CUDA thread of every block of cfg.grid (blocks one after another). Returns "" or
/// an error description (deadlock, bad configuration).
std::string launch(const LaunchConfig& cfg, void (*entry)(const void*), const void* arg);

/// Typed helper: runs kernel(params) for every thread.
template <class P>
std::string launchKernel(const LaunchConfig& cfg, void (*kernel)(P), const P& params) {
  struct Pack {
    void (*k)(P);
    const P* p;
  } pack{kernel, &params};
  return launch(
      cfg,
      [](const void* a) {
        const Pack* pk = static_cast<const Pack*>(a);
        pk->k(*pk->p);
      },
      &pack);
}

}  // namespace linrec_emu
