// linrec::Runtime: one CUDA device — NVRTC compile with a module cache, cubin loading, device memory.
#pragma once

#include <cuda.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "linrec/Expected.h"
#include "linrec/runtime/CompileCache.h"
#include "linrec/runtime/CudaDriver.h"
#include "linrec/runtime/Kernel.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec {

namespace detail {
class DeviceContext;
}

/// What the runtime knows about its device (also the GPU identity of tuning records, DESIGN.md §5).
struct DeviceInfo {
  int ordinal = 0;
  std::string name;  ///< "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int smem_per_block = 0;        ///< bytes without opting in (48 KiB)
  int smem_per_block_optin = 0;  ///< bytes a kernel may opt in to
  int max_threads_per_block = 0;
  size_t total_memory = 0;  ///< bytes
  int driver_version = 0;   ///< e.g. 13000
  /// "sm_90", or "sm_90a" with `arch_specific` (sm_90 and newer).
  std::string arch(bool arch_specific = false) const;
};

/// The process's ProgrammaticLaunch as LINREC_PDL spells it, as it acts on `dev`: "0" where the device
/// cannot launch programmatically (before sm_90). What the tuner records with a timing and the bench reports.
const char* programmaticLaunchName(const DeviceInfo& dev);

/// How `Runtime::compile` builds a module.
struct CompileOptions {
  /// Compile for sm_XYa. Unset: when the source uses wgmma/setmaxnreg/tcgen05.
  std::optional<bool> arch_specific;
  std::string source_name = "generated.cu";
  bool line_info = false;
  /// Extra NVRTC options (part of the cache key).
  std::vector<std::string> extra;
};

/// A module loaded into the device's primary context; unloaded when the last holder lets go.
class Module {
 public:
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();
  /// The __global__ function `name` (extern "C" names are unmangled).
  Expected<CUfunction> function(const std::string& name) const;
  /// NVRTC's output (cubin, log, ptxas stats) when the module was compiled here; null for loaded cubins.
  const CubinResult* compileInfo() const { return compiled_.get(); }
  /// The device this module lives on.
  const std::shared_ptr<detail::DeviceContext>& context() const { return ctx_; }

 private:
  friend class Runtime;
  Module(std::shared_ptr<detail::DeviceContext> ctx, CUmodule mod, std::shared_ptr<const CubinResult> compiled)
      : ctx_(std::move(ctx)), mod_(mod), compiled_(std::move(compiled)) {}
  std::shared_ptr<detail::DeviceContext> ctx_;
  CUmodule mod_ = nullptr;
  std::shared_ptr<const CubinResult> compiled_;
};

/// The result of `Runtime::compile`.
struct CompiledModule {
  std::shared_ptr<Module> module;
  std::string cache_key;  ///< sha256 of (source, options, arch, NVRTC version, kernel headers)
  bool from_cache = false;  ///< this runtime had compiled or loaded the source before (same module)
  bool from_disk = false;   ///< the cubin came from the disk cache (CompileCache), not from NVRTC
  const CubinResult& cubin() const { return *module->compileInfo(); }
};

/// Device memory owned by RAII (tests, tools and the per-stream workspaces use it).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  /// Allocates `bytes` on the context's device (cuMemAlloc: 256-byte aligned).
  static Expected<DeviceBuffer> allocate(const std::shared_ptr<detail::DeviceContext>& ctx, size_t bytes);
  CUdeviceptr address() const { return ptr_; }
  void* ptr() const { return reinterpret_cast<void*>(static_cast<uintptr_t>(ptr_)); }
  size_t size() const { return size_; }
  /// Synchronous copies (for tests and tools; not for hot paths).
  Status upload(const void* host, size_t bytes, size_t offset = 0) const;
  Status download(void* host, size_t bytes, size_t offset = 0) const;
  Status fill(unsigned char byte) const;

 private:
  void release();
  std::shared_ptr<detail::DeviceContext> ctx_;
  CUdeviceptr ptr_ = 0;
  size_t size_ = 0;
};

/// The entry point: owns its use of one device's primary context, compiles generated CUDA source with
/// NVRTC for that device (cached in memory), loads cubins and makes Kernels. Thread-safe.
///
///     auto rt = linrec::Runtime::create();        // "no CUDA device: ..." without a GPU
///     auto k = (*rt)->load(source, descriptor_json);
///     Status s = k->forward(args, stream);
class Runtime {
 public:
  /// Opens device `device`. Without a usable GPU the error starts with "no CUDA device:".
  static Expected<std::unique_ptr<Runtime>> create(int device = 0);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const DeviceInfo& device() const;
  const CudaDriver& driver() const;
  const std::shared_ptr<detail::DeviceContext>& context() const { return ctx_; }

  /// Compiles `source` for this device (sm_XY or sm_XYa) and loads it. The result is cached in memory by
  /// (sha256 of the source, options, arch, NVRTC version, embedded kernel headers): compiling the same
  /// source again returns the same module. Threads compiling the same source at once may each run NVRTC;
  /// all get the first module stored. Cubins are also kept on disk under the same key (CompileCache;
  /// $LINREC_CACHE_DIR, "off" to disable), so the next process loads them instead of running NVRTC.
  Expected<CompiledModule> compile(const std::string& source, const CompileOptions& options = {});
  /// Loads a cubin (e.g. from the kernel DB or a pack). Not cached.
  Expected<std::shared_ptr<Module>> loadCubin(const void* data, size_t size);
  Expected<std::shared_ptr<Module>> loadCubin(const std::vector<char>& cubin) {
    return loadCubin(cubin.data(), cubin.size());
  }
  /// compile() + Kernel::create(): the usual way to get a kernel from codegen output.
  Expected<Kernel> load(const std::string& source, const std::string& descriptor_json,
                        const CompileOptions& options = {});
  /// loadCubin() + Kernel::create().
  Expected<Kernel> loadCubinKernel(const std::vector<char>& cubin, const std::string& descriptor_json);

  /// Device memory on this runtime's device.
  Expected<DeviceBuffer> allocate(size_t bytes) const;
  /// Waits for `stream` (null: the legacy default stream).
  Status synchronize(CUstream stream = nullptr) const;
  /// The device's primary context (retained by this runtime), for code that calls the driver directly.
  CUcontext cuContext() const;
  /// Makes the primary context current on the calling thread; linrec's own calls never need this.
  Status makeCurrent() const;

  /// Modules in the compile cache.
  size_t cacheSize() const;
  void clearCache();
  /// The disk cache's directory (default: CompileCache::defaultDirectory()); nullopt turns it off.
  void setDiskCache(std::optional<std::string> directory);
  std::optional<std::string> diskCacheDirectory() const;

 private:
  explicit Runtime(std::shared_ptr<detail::DeviceContext> ctx);
  Expected<std::shared_ptr<Module>> loadModule(const void* data, size_t size,
                                               std::shared_ptr<const CubinResult> compiled);

  std::shared_ptr<detail::DeviceContext> ctx_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, CompiledModule> cache_;
  std::optional<CompileCache> disk_;
};

}  // namespace linrec
