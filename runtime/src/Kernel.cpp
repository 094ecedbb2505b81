// Kernel: resolve the descriptor's functions, validate arguments, fill FwdParams/DecodeParams, launch.
#include "linrec/runtime/Kernel.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "DeviceContext.h"
#include "linrec/runtime/KernelAbi.h"
#include "linrec/runtime/Runtime.h"

namespace linrec {

namespace detail {

class KernelImpl {
 public:
  std::shared_ptr<Module> module;
  LaunchDescriptor desc;
  std::vector<CUfunction> fns;  // parallel to desc.kernels
  int decode = -1;              // index of the decode kernel
  // Blocks per SM of each `leads` kernel (occupancy API, asked once at load); 0 where unknown or not leading.
  std::vector<int> lead_blocks_per_sm;

  // Workspaces for state-passing kernels, one per stream: launches on one stream are ordered, so a
  // buffer is never used by two forward passes at once.
  std::mutex ws_mu;
  std::map<CUstream, DeviceBuffer> workspaces;

  ~KernelImpl() {
    if (workspaces.empty()) return;
    // Work still queued may use the buffers; wait for it before they are freed.
    const DeviceContext& c = *module->context();
    ScopedContext scope(c);
    c.drv->cuCtxSynchronize();
  }

  const DeviceContext& ctx() const { return *module->context(); }
};

}  // namespace detail

using detail::DeviceContext;
using detail::KernelImpl;
using detail::ScopedContext;

namespace {

/// The process's ProgrammaticLaunch, or (LINREC_PDL=flags, kFlagsOnly) a timing mode that keeps Beside's
/// hand-over flags but launches in sequence: what the flags and fences cost without the overlap.
constexpr int kFlagsOnly = 100;
std::atomic<int>& programmaticSetting() {
  static std::atomic<int> mode{[] {
    const char* e = std::getenv("LINREC_PDL");
    const std::string v = e != nullptr ? e : "";
    const ProgrammaticLaunch m = v == "0"      ? ProgrammaticLaunch::Off
                                 : v == "1"    ? ProgrammaticLaunch::Beside
                                 : v == "lead" ? ProgrammaticLaunch::Lead
                                               : ProgrammaticLaunch::Auto;
    return v == "flags" ? kFlagsOnly : static_cast<int>(m);
  }()};
  return mode;
}

/// Whether this device can launch kernels programmatically at all.
bool canLaunchProgrammatically(const DeviceContext& c) {
  return c.info.cc_major >= 9 && c.drv->cuLaunchKernelEx != nullptr;
}

/// A new FwdParams::epoch per forward: the hand-over flags hold it, so none needs clearing. The base is
/// random per process, so a workspace left by another process (or a fresh allocation) does not hold it. Even
/// and never 0: bit 0 is the forward's own (prep_runs_beside in abi.cuh).
unsigned long long nextEpoch() {
  static std::atomic<unsigned long long> next{[] {
    std::random_device rd;
    const unsigned long long x = (static_cast<unsigned long long>(rd()) << 32) ^ rd();
    return x & ~1ull;
  }()};
  unsigned long long e = next.fetch_add(2, std::memory_order_relaxed);
  return e != 0 ? e : next.fetch_add(2, std::memory_order_relaxed);
}

/// Whether work queued on `stream` is being captured into a CUDA graph (or cannot be told). A captured
/// forward replays with the FwdParams::epoch it was captured with, so from the second replay on the flags
/// would already hold it and the output kernel would read chunks the scan has not written: such forwards
/// launch in sequence.
bool capturing(const DeviceContext& c, CUstream stream) {
  if (c.drv->cuStreamIsCapturing == nullptr) return true;
  CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
  return c.drv->cuStreamIsCapturing(stream, &st) != CUDA_SUCCESS || st != CU_STREAM_CAPTURE_STATUS_NONE;
}

/// Blocks of kernel `k`'s grid, or 0 where it cannot be evaluated (launch() reports that).
int64_t gridBlocks(const KernelLaunchSpec& k, const LaunchVars& vars) {
  int64_t n = 1;
  for (int a = 0; a < 3; ++a) {
    auto v = k.grid[a].evaluate(vars);
    if (!v || *v < 0) return 0;
    n *= *v;
  }
  return n;
}

/// Whether every block of kernel `k` (blocks_per_sm of them fit an SM) can be resident at once, with room to
/// spare: only then may it go before a kernel it waits for (KernelLaunchSpec::leads), which can start only
/// once all of them run. Half the device's capacity, so that work of other streams on some SMs does not hold
/// the last blocks back for long. (A device whose SMs are capped below its count, MPS with an active-thread
/// limit, could still hold them back for good: do not use ProgrammaticLaunch::Lead there.)
bool fitsAtOnce(const DeviceContext& c, int blocks_per_sm, const KernelLaunchSpec& k, const LaunchVars& vars) {
  const int64_t blocks = gridBlocks(k, vars);
  return blocks > 0 && 2 * blocks <= static_cast<int64_t>(blocks_per_sm) * c.info.sm_count;
}

/// Launches kernel `k`; `programmatic`: with programmatic stream serialization (the caller's LaunchPlan
/// said so and told the kernels, FwdParams::epoch).
Status launch(const DeviceContext& c, CUfunction fn, const KernelLaunchSpec& k, const LaunchVars& vars, void* params,
              CUstream stream, const char* what, bool programmatic = false) {
  int64_t g[3];
  for (int a = 0; a < 3; ++a) {
    auto v = k.grid[a].evaluate(vars);
    if (!v) return Error{std::string(what) + ": kernel " + k.name + ": grid." + "xyz"[a] + ": " + v.error()};
    int64_t limit = a == 0 ? 2147483647 : 65535;
    if (*v == 0) return {};  // an empty grid: the stage has nothing to do for this shape
    if (*v < 0 || *v > limit)
      return Error{std::string(what) + ": kernel " + k.name + ": grid." + "xyz"[a] + " = \"" + k.grid[a].text() +
                   "\" = " + std::to_string(*v) + ", outside [1, " + std::to_string(limit) + "]"};
    g[a] = *v;
  }
  void* args[] = {params};
  CUresult r;
  if (programmatic) {
    // The kernel may start once every block of the one before has run griddepcontrol.launch_dependents
    // (or finished); it waits for the data it reads through the workspace's flags.
    CUlaunchAttribute attr{};
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig cfg{};
    cfg.gridDimX = static_cast<unsigned>(g[0]);
    cfg.gridDimY = static_cast<unsigned>(g[1]);
    cfg.gridDimZ = static_cast<unsigned>(g[2]);
    cfg.blockDimX = static_cast<unsigned>(k.block_threads);
    cfg.blockDimY = cfg.blockDimZ = 1;
    cfg.sharedMemBytes = static_cast<unsigned>(k.smem_bytes);
    cfg.hStream = stream;
    cfg.attrs = &attr;
    cfg.numAttrs = 1;
    r = c.drv->cuLaunchKernelEx(&cfg, fn, args, nullptr);
  } else {
    r = c.drv->cuLaunchKernel(fn, static_cast<unsigned>(g[0]), static_cast<unsigned>(g[1]), static_cast<unsigned>(g[2]),
                              static_cast<unsigned>(k.block_threads), 1, 1, static_cast<unsigned>(k.smem_bytes), stream,
                              args, nullptr);
  }
  if (r != CUDA_SUCCESS)
    return Error{std::string(what) + ": launching " + k.name + " (grid [" + std::to_string(g[0]) + ", " +
                 std::to_string(g[1]) + ", " + std::to_string(g[2]) + "], block " + std::to_string(k.block_threads) +
                 ", smem " + std::to_string(k.smem_bytes) + "): " + c.drv->errorString(r)};
  return {};
}

}  // namespace

void setProgrammaticLaunch(ProgrammaticLaunch mode) {
  programmaticSetting().store(static_cast<int>(mode), std::memory_order_relaxed);
}

ProgrammaticLaunch programmaticLaunch() {
  const int m = programmaticSetting().load(std::memory_order_relaxed);
  return m == kFlagsOnly ? ProgrammaticLaunch::Beside : static_cast<ProgrammaticLaunch>(m);
}

const char* programmaticLaunchName(ProgrammaticLaunch mode) {
  switch (mode) {
    case ProgrammaticLaunch::Off:
      return "0";
    case ProgrammaticLaunch::Auto:
      return "auto";
    case ProgrammaticLaunch::Beside:
      return "1";
    case ProgrammaticLaunch::Lead:
      return "lead";
  }
  return "?";
}

Expected<Kernel> Kernel::create(std::shared_ptr<Module> module, LaunchDescriptor descriptor) {
  if (!module) return Error{"Kernel::create: no module"};
  if (Status s = descriptor.validate(); !s) return Error{s.error()};
  auto impl = std::make_shared<KernelImpl>();
  impl->module = std::move(module);
  impl->desc = std::move(descriptor);
  const DeviceContext& c = impl->ctx();
  ScopedContext scope(c);
  if (!scope.status()) return Error{scope.status().error()};
  for (size_t i = 0; i < impl->desc.kernels.size(); ++i) {
    const KernelLaunchSpec& k = impl->desc.kernels[i];
    auto fn = impl->module->function(k.name);
    if (!fn) return Error{"kernel " + k.name + ": " + fn.error()};
    int maxThreads = 0, staticSmem = 0;
    if (Status s = c.drv->check(c.drv->cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, *fn),
                                "cuFuncGetAttribute");
        !s)
      return Error{"kernel " + k.name + ": " + s.error()};
    if (Status s = c.drv->check(c.drv->cuFuncGetAttribute(&staticSmem, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, *fn),
                                "cuFuncGetAttribute");
        !s)
      return Error{"kernel " + k.name + ": " + s.error()};
    if (k.block_threads > maxThreads)
      return Error{"kernel " + k.name + ": the descriptor asks for " + std::to_string(k.block_threads) +
                   " threads per block, the compiled kernel allows " + std::to_string(maxThreads) +
                   " (registers or __launch_bounds__)"};
    int64_t total = k.smem_bytes + staticSmem;
    if (total > c.info.smem_per_block_optin)
      return Error{"kernel " + k.name + ": needs " + std::to_string(k.smem_bytes) + " bytes of dynamic + " +
                   std::to_string(staticSmem) + " bytes of static shared memory; " + c.info.name + " allows " +
                   std::to_string(c.info.smem_per_block_optin) + " per block"};
    // Beyond 48 KiB a kernel must opt in to dynamic shared memory before it is launched with it.
    if (total > c.info.smem_per_block) {
      if (Status s = c.drv->check(c.drv->cuFuncSetAttribute(*fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                                            static_cast<int>(k.smem_bytes)),
                                  "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
          !s)
        return Error{"kernel " + k.name + ": " + s.error()};
    }
    impl->fns.push_back(*fn);
    int per_sm = 0;
    if (k.leads && c.drv->cuOccupancyMaxActiveBlocksPerMultiprocessor != nullptr &&
        c.drv->cuOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, *fn, k.block_threads,
                                                           static_cast<size_t>(k.smem_bytes)) != CUDA_SUCCESS)
      per_sm = 0;
    impl->lead_blocks_per_sm.push_back(per_sm);
    if (k.stage == Stage::Decode) impl->decode = static_cast<int>(i);
  }
  return Kernel(std::move(impl));
}

Expected<Kernel> Kernel::create(std::shared_ptr<Module> module, const std::string& descriptor_json) {
  auto d = LaunchDescriptor::fromJson(descriptor_json);
  if (!d) return Error{d.error()};
  return create(std::move(module), std::move(*d));
}

const LaunchDescriptor& Kernel::descriptor() const {
  return impl_->desc;
}

Expected<size_t> Kernel::workspaceBytes(const ForwardArgs& args) const {
  auto s = checkForward(impl_->desc, args);
  if (!s) return Error{s.error()};
  if (s->workspace_bytes < 0) return Error{"workspaceBytes: needs cu_seqlens_host to count the chunks"};
  return static_cast<size_t>(s->workspace_bytes);
}

Status Kernel::forward(const ForwardArgs& args, CUstream stream) const {
  const LaunchDescriptor& d = impl_->desc;
  const DeviceContext& c = impl_->ctx();
  ScopedContext scope(c);
  if (!scope.status()) return scope.status();

  auto shape = checkForward(d, args);
  if (!shape) return Error{shape.error()};
  ForwardArgs withHost;
  const ForwardArgs* a = &args;
  std::vector<int64_t> host;
  if (args.cu_seqlens.ptr && !args.cu_seqlens_host) {
    // The offsets decide which memory the kernels touch, so they are checked on the host before launch.
    host.resize(static_cast<size_t>(shape->N + 1));
    CUdeviceptr src = reinterpret_cast<uintptr_t>(args.cu_seqlens.ptr);
    if (Status s = c.drv->check(c.drv->cuMemcpyDtoHAsync(host.data(), src, host.size() * sizeof(int64_t), stream),
                                "forward: reading cu_seqlens");
        !s)
      return s;
    if (Status s = c.drv->check(c.drv->cuStreamSynchronize(stream), "forward: reading cu_seqlens"); !s) return s;
    withHost = args;
    withHost.cu_seqlens_host = host.data();
    a = &withHost;
    shape = checkForward(d, *a);
    if (!shape) return Error{shape.error()};
  }

  abi::FwdParams p{};
  p.q = a->q.ptr;
  p.k = a->k.ptr;
  p.v = a->v.ptr;
  p.o = a->o.ptr;
  for (size_t i = 0; i < a->inputs.size(); ++i) p.inputs[i] = static_cast<const float*>(a->inputs[i].ptr);
  for (size_t i = 0; i < a->params.size(); ++i) p.params[i] = static_cast<const float*>(a->params[i].ptr);
  p.h0 = static_cast<const float*>(a->h0.ptr);
  p.ht = static_cast<float*>(a->ht.ptr);
  p.z0 = static_cast<const float*>(a->z0.ptr);
  p.zt = static_cast<float*>(a->zt.ptr);
  p.cu_seqlens = static_cast<const long long*>(a->cu_seqlens.ptr);
  p.B = static_cast<int>(shape->B);
  p.T = static_cast<int>(shape->T);
  p.H = static_cast<int>(shape->H);
  p.N = static_cast<int>(shape->N);
  p.scale = shape->scale;
  p.num_chunks_total = static_cast<int>(shape->NC);
  LaunchVars vars = forwardLaunchVars(d, *shape);
  vars.emplace_back("SMS", c.info.sm_count);
  // One plan for the whole forward (the mode read once, so a concurrent setProgrammaticLaunch cannot split
  // it): which kernels start beside the one before them, and whether a `leads` kernel goes first.
  const int mode_raw = programmaticSetting().load(std::memory_order_relaxed);
  const bool flags_only = mode_raw == kFlagsOnly;
  const auto mode = flags_only ? ProgrammaticLaunch::Beside : static_cast<ProgrammaticLaunch>(mode_raw);
  std::array<PlanKernel, 32> facts{};
  const size_t nk = std::min(d.kernels.size(), facts.size());
  // Nothing to plan (no grids evaluated per forward) where the device cannot launch programmatically.
  const bool may = mode != ProgrammaticLaunch::Off && canLaunchProgrammatically(c);
  for (size_t i = 0; i < nk && may; ++i) {
    const KernelLaunchSpec& k = d.kernels[i];
    facts[i].programmatic = k.programmatic;
    facts[i].leads =
        mode == ProgrammaticLaunch::Lead && k.leads && fitsAtOnce(c, impl_->lead_blocks_per_sm[i], k, vars);
    facts[i].grid_blocks = gridBlocks(k, vars);
  }
  LaunchPlan plan = planLaunch(mode, flags_only, facts.data(), nk, c.info.sm_count);
  if (plan.handover && capturing(c, stream)) plan = LaunchPlan{};
  p.epoch = plan.handover ? nextEpoch() | (plan.prep_beside ? 1ull : 0ull) : 0;

  // Launch order and mode. A `leads` kernel goes before the kernel listed before it, which then starts
  // programmatically beside it (the delta scan ahead of its prep); a `beside` kernel starts programmatically
  // beside whichever kernel precedes it in the stream.
  auto launchOne = [&](size_t j, bool beside) -> Status {
    if (d.kernels[j].stage == Stage::Decode) return {};
    return launch(c, impl_->fns[j], d.kernels[j], vars, &p, stream, "forward", beside);
  };
  auto launchAll = [&]() -> Status {
    for (size_t i = 0; i < d.kernels.size(); ++i) {
      if (plan.leadsAt(i + 1)) {  // kernel i + 1 first, kernel i beside it
        if (Status s = launchOne(i + 1, false); !s) return s;
        if (Status s = launchOne(i, true); !s) return s;
        ++i;
      } else if (Status s = launchOne(i, plan.besideAt(i)); !s) {
        return s;
      }
    }
    return {};
  };

  if (shape->workspace_bytes <= 0 || a->workspace) {
    p.ws = static_cast<float*>(a->workspace);
    return launchAll();
  }
  // The lock is held until the launches are queued, so no other thread can replace this stream's buffer
  // in between.
  std::lock_guard<std::mutex> lock(impl_->ws_mu);
  DeviceBuffer& ws = impl_->workspaces[stream];
  size_t need = static_cast<size_t>(shape->workspace_bytes);
  if (ws.size() < need) {
    // Earlier passes on this stream may still read the old buffer.
    if (ws.size())
      if (Status s = c.drv->check(c.drv->cuStreamSynchronize(stream), "forward: growing the workspace"); !s) return s;
    auto fresh = DeviceBuffer::allocate(impl_->module->context(), need);
    if (!fresh) return Error{"forward: workspace of " + std::to_string(need) + " bytes: " + fresh.error()};
    ws = std::move(*fresh);
  }
  p.ws = static_cast<float*>(ws.ptr());
  return launchAll();
}

Status Kernel::step(const StepArgs& args, CUstream stream) const {
  const LaunchDescriptor& d = impl_->desc;
  auto shape = checkStep(d, args);
  if (!shape) return Error{shape.error()};
  const DeviceContext& c = impl_->ctx();
  ScopedContext scope(c);
  if (!scope.status()) return scope.status();

  abi::DecodeParams p{};
  p.q = args.q.ptr;
  p.k = args.k.ptr;
  p.v = args.v.ptr;
  p.o = args.o.ptr;
  for (size_t i = 0; i < args.inputs.size(); ++i) p.inputs[i] = static_cast<const float*>(args.inputs[i].ptr);
  for (size_t i = 0; i < args.params.size(); ++i) p.params[i] = static_cast<const float*>(args.params[i].ptr);
  p.state = static_cast<float*>(args.state.ptr);
  p.z = static_cast<float*>(args.z.ptr);
  p.B = static_cast<int>(shape->B);
  p.H = static_cast<int>(shape->H);
  p.scale = shape->scale;
  return launch(c, impl_->fns[impl_->decode], d.kernels[impl_->decode], stepLaunchVars(d, *shape), &p, stream, "step");
}

}  // namespace linrec
