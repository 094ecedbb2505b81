// Runtime: device discovery, the NVRTC compile cache, module loading and device buffers.
#include "linrec/runtime/Runtime.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "DeviceContext.h"
#include "linrec/dsl/Sha256.h"
#include "linrec/runtime/EmbeddedHeaders.h"

#ifndef LINREC_VERSION_STRING
#define LINREC_VERSION_STRING "unknown"
#endif

namespace linrec {

using detail::DeviceContext;
using detail::ScopedContext;

std::string DeviceInfo::arch(bool arch_specific) const {
  return archForComputeCapability(cc_major, cc_minor, arch_specific);
}

const char* programmaticLaunchName(const DeviceInfo& dev) {
  return dev.cc_major >= 9 ? programmaticLaunchName(programmaticLaunch()) : "0";
}

// ---- Module ----------------------------------------------------------------------------------------

Module::~Module() {
  if (!mod_) return;
  ScopedContext scope(*ctx_);
  ctx_->drv->cuModuleUnload(mod_);
}

Expected<CUfunction> Module::function(const std::string& name) const {
  ScopedContext scope(*ctx_);
  if (!scope.status()) return Error{scope.status().error()};
  CUfunction f = nullptr;
  CUresult r = ctx_->drv->cuModuleGetFunction(&f, mod_, name.c_str());
  if (r == CUDA_SUCCESS) return f;
  std::string msg = "the module has no kernel named '" + name + "'";
  if (compiled_ && !compiled_->stats.empty()) {
    msg += " (it has:";
    for (const auto& s : compiled_->stats) msg += " " + s.name;
    msg += "; use extern \"C\" to keep names unmangled)";
  }
  return Error{msg + ": " + ctx_->drv->errorString(r)};
}

// ---- DeviceBuffer ----------------------------------------------------------------------------------

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    release();
    ctx_ = std::move(o.ctx_);
    ptr_ = o.ptr_;
    size_ = o.size_;
    o.ptr_ = 0;
    o.size_ = 0;
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  release();
}

void DeviceBuffer::release() {
  if (ptr_) {
    ScopedContext scope(*ctx_);
    ctx_->drv->cuMemFree(ptr_);
  }
  ptr_ = 0;
  size_ = 0;
  ctx_.reset();
}

Expected<DeviceBuffer> DeviceBuffer::allocate(const std::shared_ptr<DeviceContext>& ctx, size_t bytes) {
  ScopedContext scope(*ctx);
  if (!scope.status()) return Error{scope.status().error()};
  DeviceBuffer b;
  if (bytes == 0) return b;
  if (Status s =
          ctx->drv->check(ctx->drv->cuMemAlloc(&b.ptr_, bytes), "cuMemAlloc(" + std::to_string(bytes) + " bytes)");
      !s)
    return Error{s.error()};
  b.ctx_ = ctx;
  b.size_ = bytes;
  return b;
}

Status DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > size_) return Error{"DeviceBuffer::upload: out of range"};
  if (!bytes) return {};
  ScopedContext scope(*ctx_);
  return ctx_->drv->check(ctx_->drv->cuMemcpyHtoD(ptr_ + offset, host, bytes), "cuMemcpyHtoD");
}

Status DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  if (offset + bytes > size_) return Error{"DeviceBuffer::download: out of range"};
  if (!bytes) return {};
  ScopedContext scope(*ctx_);
  return ctx_->drv->check(ctx_->drv->cuMemcpyDtoH(host, ptr_ + offset, bytes), "cuMemcpyDtoH");
}

Status DeviceBuffer::fill(unsigned char byte) const {
  if (!size_) return {};
  ScopedContext scope(*ctx_);
  return ctx_->drv->check(ctx_->drv->cuMemsetD8(ptr_, byte, size_), "cuMemsetD8");
}

// ---- Runtime ---------------------------------------------------------------------------------------

Expected<std::unique_ptr<Runtime>> Runtime::create(int device) {
  auto loaded = CudaDriver::load();
  if (!loaded) return Error{loaded.error()};
  const CudaDriver& d = **loaded;
  int count = 0;
  CUresult r = d.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) return Error{"no CUDA device: cuDeviceGetCount failed: " + d.errorString(r)};
  if (count == 0) return Error{"no CUDA device: the driver reports none"};
  if (device < 0 || device >= count)
    return Error{"no CUDA device " + std::to_string(device) + ": there are " + std::to_string(count) +
                 " (ordinals 0.." + std::to_string(count - 1) + ")"};
  CUdevice dev = 0;
  if (Status s = d.check(d.cuDeviceGet(&dev, device), "cuDeviceGet"); !s) return Error{s.error()};

  DeviceInfo info;
  info.ordinal = device;
  char name[256] = {};
  if (Status s = d.check(d.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName"); !s) return Error{s.error()};
  info.name = name;
  struct Attr {
    CUdevice_attribute a;
    int* out;
  };
  const Attr attrs[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.cc_major},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.cc_minor},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.sm_count},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, &info.smem_per_block},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &info.smem_per_block_optin},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &info.max_threads_per_block},
  };
  for (const Attr& at : attrs)
    if (Status s = d.check(d.cuDeviceGetAttribute(at.out, at.a, dev), "cuDeviceGetAttribute"); !s)
      return Error{s.error()};
  if (Status s = d.check(d.cuDeviceTotalMem(&info.total_memory, dev), "cuDeviceTotalMem"); !s) return Error{s.error()};
  info.driver_version = d.driver_version;

  CUcontext ctx = nullptr;
  if (Status s = d.check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain"); !s)
    return Error{s.error()};
  auto dc = std::make_shared<DeviceContext>(&d, dev, ctx, std::move(info));
  return std::unique_ptr<Runtime>(new Runtime(std::move(dc)));
}

Runtime::Runtime(std::shared_ptr<DeviceContext> ctx) : ctx_(std::move(ctx)) {
  if (auto dir = CompileCache::defaultDirectory()) disk_.emplace(std::move(*dir));
}

Runtime::~Runtime() = default;

const DeviceInfo& Runtime::device() const {
  return ctx_->info;
}
const CudaDriver& Runtime::driver() const {
  return *ctx_->drv;
}

Expected<std::shared_ptr<Module>> Runtime::loadModule(const void* data, size_t size,
                                                      std::shared_ptr<const CubinResult> compiled) {
  if (!data || size == 0) return Error{"loadCubin: empty image"};
  ScopedContext scope(*ctx_);
  if (!scope.status()) return Error{scope.status().error()};
  CUmodule mod = nullptr;
  CUresult r = ctx_->drv->cuModuleLoadData(&mod, data);
  if (r != CUDA_SUCCESS) {
    std::string msg = "cannot load the module on " + ctx_->info.name + " (" + ctx_->info.arch() + ")";
    if (compiled) msg += ", compiled for " + compiled->arch;
    if (r == CUDA_ERROR_NO_BINARY_FOR_GPU || r == CUDA_ERROR_INVALID_IMAGE)
      msg += "; a cubin runs only on the arch it was built for";
    return Error{msg + ": " + ctx_->drv->errorString(r)};
  }
  return std::shared_ptr<Module>(new Module(ctx_, mod, std::move(compiled)));
}

Expected<std::shared_ptr<Module>> Runtime::loadCubin(const void* data, size_t size) {
  return loadModule(data, size, nullptr);
}

Expected<CompiledModule> Runtime::compile(const std::string& source, const CompileOptions& options) {
  const DeviceInfo& info = ctx_->info;
  bool archSpecific = options.arch_specific.value_or(sourceNeedsArchSpecific(source));
  NvrtcOptions no;
  no.arch = info.arch(archSpecific);
  no.source_name = options.source_name;
  // LINREC_LINEINFO=1 lets a profiler (ncu's source view) map SASS back to the kernel headers without a rebuild.
  const char* li = std::getenv("LINREC_LINEINFO");
  no.line_info = options.line_info || (li != nullptr && li[0] == '1');
  no.extra = options.extra;
  // LINREC_NVRTC_EXTRA: more NVRTC options (space-separated), for timing runs that try a kernel header's
  // define (e.g. -DLINREC_FLAG_TOKENS=256); they are part of the compile cache's key.
  if (const char* e = std::getenv("LINREC_NVRTC_EXTRA")) {
    std::istringstream words(e);
    for (std::string w; words >> w;) no.extra.push_back(w);
  }

  std::vector<int> archs = nvrtcSupportedArchs();
  int cc = info.cc_major * 10 + info.cc_minor;
  if (!archs.empty() && std::find(archs.begin(), archs.end(), cc) == archs.end()) {
    std::string list;
    for (int a : archs) list += " sm_" + std::to_string(a);
    return Error{"NVRTC " + nvrtcVersionString() + " cannot compile for " + info.name + " (sm_" + std::to_string(cc) +
                 "); it targets" + list};
  }

  // The key spells out everything the cubin depends on. Include directories are left out: they only say
  // where this machine keeps the toolkit headers.
  std::string key = "source " + sha256Hex(source) + "\nname " + no.source_name + "\noptions";
  for (const auto& o : nvrtcOptionList(no))
    if (o.rfind("-I", 0) != 0) key += " " + o;
  for (const auto& o : no.extra) key += " " + o;
  key += "\nnvrtc " + nvrtcVersionString() + "\nheaders " + embeddedKernelHeadersDigest() + "\nlinrec " +
         LINREC_VERSION_STRING + "\n";
  std::string digest = sha256Hex(key);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(digest);
    if (it != cache_.end()) {
      CompiledModule hit = it->second;
      hit.from_cache = true;
      return hit;
    }
  }
  std::optional<CompileCache> disk;
  {
    std::lock_guard<std::mutex> lock(mu_);
    disk = disk_;
  }
  std::shared_ptr<Module> loaded;
  bool from_disk = false;
  // A disk entry that does not load (a driver that rejects it) is compiled again and replaced.
  if (disk)
    if (std::optional<CubinResult> hit = disk->load(digest)) {
      auto shared = std::make_shared<const CubinResult>(std::move(*hit));
      if (auto mod = loadModule(shared->cubin.data(), shared->cubin.size(), shared)) {
        loaded = std::move(*mod);
        from_disk = true;
      }
    }
  if (!loaded) {
    // NVRTC runs outside the lock: compiles of different sources proceed in parallel.
    auto cubin = compileToCubin(source, no);
    if (!cubin) return Error{cubin.error()};
    auto shared = std::make_shared<const CubinResult>(std::move(*cubin));
    auto mod = loadModule(shared->cubin.data(), shared->cubin.size(), shared);
    if (!mod) return Error{mod.error()};
    loaded = std::move(*mod);
    // Best effort: a cache that cannot be written (read-only home, full disk) only costs a later compile.
    if (disk)
      if (Status s = disk->store(digest, *shared); !s && std::getenv("LINREC_LOG"))
        std::fprintf(stderr, "linrec: %s\n", s.error().c_str());
  }
  CompiledModule result{std::move(loaded), digest, false, from_disk};
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = cache_.emplace(digest, result);
  if (!inserted) {
    CompiledModule first = it->second;  // another thread won the race; everyone shares its module
    first.from_cache = true;
    return first;
  }
  return result;
}

Expected<Kernel> Runtime::load(const std::string& source, const std::string& descriptor_json,
                               const CompileOptions& options) {
  auto desc = LaunchDescriptor::fromJson(descriptor_json);
  if (!desc) return Error{desc.error()};
  CompileOptions opts = options;
  if (desc->arch_specific) opts.arch_specific = true;
  auto mod = compile(source, opts);
  if (!mod) return Error{mod.error()};
  return Kernel::create(mod->module, std::move(*desc));
}

Expected<Kernel> Runtime::loadCubinKernel(const std::vector<char>& cubin, const std::string& descriptor_json) {
  auto desc = LaunchDescriptor::fromJson(descriptor_json);
  if (!desc) return Error{desc.error()};
  auto mod = loadCubin(cubin);
  if (!mod) return Error{mod.error()};
  return Kernel::create(std::move(*mod), std::move(*desc));
}

Expected<DeviceBuffer> Runtime::allocate(size_t bytes) const {
  return DeviceBuffer::allocate(ctx_, bytes);
}

Status Runtime::synchronize(CUstream stream) const {
  ScopedContext scope(*ctx_);
  return ctx_->drv->check(ctx_->drv->cuStreamSynchronize(stream), "cuStreamSynchronize");
}

CUcontext Runtime::cuContext() const {
  return ctx_->ctx;
}

Status Runtime::makeCurrent() const {
  return ctx_->drv->check(ctx_->drv->cuCtxSetCurrent(ctx_->ctx), "cuCtxSetCurrent");
}

size_t Runtime::cacheSize() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

void Runtime::clearCache() {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.clear();
}

void Runtime::setDiskCache(std::optional<std::string> directory) {
  std::lock_guard<std::mutex> lock(mu_);
  if (directory)
    disk_.emplace(std::move(*directory));
  else
    disk_.reset();
}

std::optional<std::string> Runtime::diskCacheDirectory() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!disk_) return std::nullopt;
  return disk_->directory();
}

}  // namespace linrec
