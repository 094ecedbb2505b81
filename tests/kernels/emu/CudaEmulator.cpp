// The CPU emulator's scheduler: one ucontext fiber per CUDA thread, barriers as switch points (see CudaEmulator.h).
#include "CudaEmulator.h"

#include <ucontext.h>

#include <algorithm>
#include <array>
#include <memory>
#include <random>
#include <vector>

namespace linrec_emu {
namespace {

constexpr size_t kStackBytes = 512 * 1024;
constexpr size_t kGuardBytes = 4096;

enum class FiberState { Runnable, AtBlockBarrier, AtWarpBarrier, Done };

struct Fiber {
  ucontext_t ctx{};
  std::unique_ptr<char[]> stack;
  LinrecEmuDim3 tid;
  FiberState state = FiberState::Runnable;
};

/// Per-warp exchange slots for shuffles and mma fragments.
struct WarpSlots {
  std::array<uint64_t, 32> value{};
  std::array<std::array<unsigned, 4>, 32> a{};
  std::array<std::array<unsigned, 2>, 32> b{};
};

struct BlockRun {
  std::vector<Fiber> fibers;
  std::vector<WarpSlots> warps;
  std::vector<unsigned char> smem;
  ucontext_t scheduler{};
  int current = -1;
  LinrecEmuDim3 bid, bdim, gdim;
  void (*entry)(const void*) = nullptr;
  const void* arg = nullptr;
};

BlockRun* g_run = nullptr;

Fiber& self() {
  return g_run->fibers[g_run->current];
}

void yieldWith(FiberState s) {
  Fiber& f = self();
  f.state = s;
  swapcontext(&f.ctx, &g_run->scheduler);
}

void fiberMain() {
  g_run->entry(g_run->arg);
  self().state = FiberState::Done;
  // Returning switches to uc_link (the scheduler).
}

/// Releases a barrier whose every live participant has arrived; false when none can be released.
bool releaseBarriers(BlockRun& r) {
  const int n = static_cast<int>(r.fibers.size());
  bool released = false;
  // Warp barriers first: a warp whose live lanes all wait at __syncwarp (or a shuffle) proceeds.
  for (int w = 0; w * 32 < n; ++w) {
    int live = 0, waiting = 0;
    for (int l = w * 32; l < std::min(n, w * 32 + 32); ++l) {
      if (r.fibers[l].state != FiberState::Done) ++live;
      if (r.fibers[l].state == FiberState::AtWarpBarrier) ++waiting;
    }
    if (live > 0 && waiting == live) {
      for (int l = w * 32; l < std::min(n, w * 32 + 32); ++l)
        if (r.fibers[l].state == FiberState::AtWarpBarrier) r.fibers[l].state = FiberState::Runnable;
      released = true;
    }
  }
  if (released) return true;
  int live = 0, waiting = 0;
  for (const Fiber& f : r.fibers) {
    if (f.state != FiberState::Done) ++live;
    if (f.state == FiberState::AtBlockBarrier) ++waiting;
  }
  if (live > 0 && waiting == live) {
    for (Fiber& f : r.fibers)
      if (f.state == FiberState::AtBlockBarrier) f.state = FiberState::Runnable;
    return true;
  }
  return false;
}

/// Prepares a fiber to run fiberMain. Kept out of line: getcontext "returns twice", which would make the
/// compiler distrust every local of the caller.
__attribute__((noinline)) void resetFiber(Fiber& f, ucontext_t* scheduler, unsigned tid) {
  f.tid = {tid, 0, 0};
  f.state = FiberState::Runnable;
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = f.stack.get();
  f.ctx.uc_stack.ss_size = kStackBytes;
  f.ctx.uc_link = scheduler;
  makecontext(&f.ctx, fiberMain, 0);
}

}  // namespace

const LinrecEmuDim3& threadIdxRef() {
  return self().tid;
}
const LinrecEmuDim3& blockIdxRef() {
  return g_run->bid;
}
const LinrecEmuDim3& blockDimRef() {
  return g_run->bdim;
}
const LinrecEmuDim3& gridDimRef() {
  return g_run->gdim;
}
void syncthreads() {
  yieldWith(FiberState::AtBlockBarrier);
}
void syncwarp() {
  yieldWith(FiberState::AtWarpBarrier);
}
void* dynamicSmem() {
  return g_run->smem.data();
}

uint64_t warpExchange(uint64_t mine, int src) {
  const int t = static_cast<int>(self().tid.x);
  WarpSlots& ws = g_run->warps[t / 32];
  ws.value[t % 32] = mine;
  syncwarp();
  const uint64_t out = (src < 0 || src > 31) ? mine : ws.value[src];
  syncwarp();
  return out;
}

namespace {
float bf16ToFloat(unsigned short x) {
  const uint32_t u = static_cast<uint32_t>(x) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

void mma16816(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2], bool bf16) {
  const int t = static_cast<int>(self().tid.x);
  const int lane = t % 32;
  WarpSlots& ws = g_run->warps[t / 32];
  for (int i = 0; i < 4; ++i) ws.a[lane][i] = a[i];
  for (int i = 0; i < 2; ++i) ws.b[lane][i] = b[i];
  syncwarp();
  auto cvt = [bf16](unsigned short h) { return bf16 ? bf16ToFloat(h) : halfToFloat(h); };
  // PTX ISA, mma.m16n8k16 (.bf16/.f16): A element (row, col) lives in lane 4*(row%8) + (col%8)/2, register
  // 2*(col/8) + row/8, half col%2; B element (k, n) in lane 4*n + (k%8)/2, register k/8, half k%2.
  float A[16][16], B[16][8];
  for (int row = 0; row < 16; ++row)
    for (int col = 0; col < 16; ++col) {
      const unsigned reg = ws.a[4 * (row % 8) + (col % 8) / 2][2 * (col / 8) + row / 8];
      A[row][col] = cvt(static_cast<unsigned short>((col % 2) ? reg >> 16 : reg & 0xffffu));
    }
  for (int k = 0; k < 16; ++k)
    for (int n = 0; n < 8; ++n) {
      const unsigned reg = ws.b[4 * n + (k % 8) / 2][k / 8];
      B[k][n] = cvt(static_cast<unsigned short>((k % 2) ? reg >> 16 : reg & 0xffffu));
    }
  // C/D element (row, col): lane 4*(row%8) + col/2, register 2*(row/8) + col%2.
  const int g = lane / 4, tq = lane % 4;
  for (int r = 0; r < 4; ++r) {
    const int row = g + 8 * (r / 2), col = 2 * tq + (r % 2);
    double s = d[r];
    for (int k = 0; k < 16; ++k) s += static_cast<double>(A[row][k]) * B[k][col];
    d[r] = static_cast<float>(s);
  }
  syncwarp();
}

float halfToFloat(unsigned short h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      u = sign | ((127 - 15 - e) << 23) | ((m & 0x3ffu) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

unsigned short floatToHalf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return static_cast<unsigned short>(sign | 0x7e00u);   // NaN
  if (absu >= 0x477ff000u) return static_cast<unsigned short>(sign | 0x7c00u);  // rounds to inf
  float a;
  std::memcpy(&a, &absu, 4);
  if (absu < 0x38800000u) {             // subnormal half: multiples of 2^-24, round to nearest even
    const float q = a * 16777216.0f;    // exact scaling by 2^24
    const float r = std::nearbyint(q);  // default rounding mode: nearest even
    return static_cast<unsigned short>(sign | static_cast<uint32_t>(r));
  }
  // normal: keep 10 mantissa bits, round to nearest even
  const uint32_t mant = absu & 0x7fffffu;
  uint32_t exp = (absu >> 23) - 127 + 15;
  uint32_t m = mant >> 13;
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (m & 1u))) {
    ++m;
    if (m == 0x400u) {
      m = 0;
      ++exp;
    }
  }
  return static_cast<unsigned short>(sign | (exp << 10) | m);
}

std::string launch(const LaunchConfig& cfg, void (*entry)(const void*), const void* arg) {
  const int nthreads = static_cast<int>(cfg.block.x * cfg.block.y * cfg.block.z);
  if (cfg.block.y != 1 || cfg.block.z != 1) return "emulator: only 1-D blocks are supported";
  if (nthreads <= 0 || nthreads > 1024) return "emulator: bad block size";
  if (g_run != nullptr) return "emulator: nested launch";
  BlockRun run;
  run.fibers.resize(nthreads);
  for (Fiber& f : run.fibers) f.stack.reset(new char[kStackBytes]);
  run.warps.resize((nthreads + 31) / 32);
  run.bdim = cfg.block;
  run.gdim = cfg.grid;
  run.entry = entry;
  run.arg = arg;
  std::mt19937_64 rng(cfg.seed);
  std::vector<int> order(nthreads);
  std::string error;
  g_run = &run;
  for (unsigned bz = 0; bz < cfg.grid.z && error.empty(); ++bz)
    for (unsigned by = 0; by < cfg.grid.y && error.empty(); ++by)
      for (unsigned bx = 0; bx < cfg.grid.x && error.empty(); ++bx) {
        run.bid = {bx, by, bz};
        // Poison shared memory: a read of something never written is NaN, and NaN never passes a test.
        // A guard zone after the requested bytes catches a kernel that uses more than the launch gave it.
        run.smem.assign(cfg.smem_bytes + kGuardBytes, 0xff);
        for (int t = 0; t < nthreads; ++t) resetFiber(run.fibers[t], &run.scheduler, static_cast<unsigned>(t));
        for (int t = 0; t < nthreads; ++t) order[t] = t;
        if (cfg.schedule == Schedule::Reverse) std::reverse(order.begin(), order.end());
        for (;;) {
          if (cfg.schedule == Schedule::Shuffled) std::shuffle(order.begin(), order.end(), rng);
          bool ran = false;
          for (int t : order) {
            if (run.fibers[t].state != FiberState::Runnable) continue;
            run.current = t;
            swapcontext(&run.scheduler, &run.fibers[t].ctx);
            run.current = -1;
            ran = true;
          }
          bool all_done = true;
          for (const Fiber& f : run.fibers) all_done = all_done && f.state == FiberState::Done;
          if (all_done) break;
          if (!ran && !releaseBarriers(run)) {
            error = "emulator: deadlock in block (" + std::to_string(bx) + "," + std::to_string(by) + "," +
                    std::to_string(bz) + "): threads wait at barriers that not every live thread reaches";
            break;
          }
          if (ran) releaseBarriers(run);
        }
        for (size_t i = cfg.smem_bytes; i < run.smem.size() && error.empty(); ++i)
          if (run.smem[i] != 0xff)
            error = "emulator: block (" + std::to_string(bx) + "," + std::to_string(by) + "," + std::to_string(bz) +
                    ") wrote shared memory beyond the " + std::to_string(cfg.smem_bytes) +
                    " bytes it was launched with";
      }
  g_run = nullptr;
  return error;
}

}  // namespace linrec_emu
