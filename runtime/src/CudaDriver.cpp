// dlopen/dlsym of libcuda.so.1 and cuInit, once per process, with a clean error when there is no GPU.
#include "linrec/runtime/CudaDriver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#define LINREC_STR2(x) #x
#define LINREC_STR(x) LINREC_STR2(x)

namespace linrec {

struct CudaDriverLoader {
  static Expected<std::unique_ptr<CudaDriver>> load() {
    std::unique_ptr<CudaDriver> d(new CudaDriver());
    const char* env = std::getenv("LINREC_LIBCUDA");
    d->library = env && *env ? env : "libcuda.so.1";
    dlerror();
    d->handle_ = dlopen(d->library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!d->handle_) {
      const char* why = dlerror();
      return Error{"no CUDA device: cannot load the CUDA driver " + d->library + " (" +
                   (why ? why : "unknown dlopen error") + "); is an NVIDIA driver installed?"};
    }
#define LINREC_CUDA_LOAD_REQUIRED(fn)                                           \
  d->fn = reinterpret_cast<decltype(d->fn)>(dlsym(d->handle_, LINREC_STR(fn))); \
  if (!d->fn)                                                                   \
    return Error{"no CUDA device: the CUDA driver " + d->library + " lacks " LINREC_STR(fn) " (driver too old?)"};
    LINREC_CUDA_REQUIRED_FUNCTIONS(LINREC_CUDA_LOAD_REQUIRED)
#undef LINREC_CUDA_LOAD_REQUIRED
#define LINREC_CUDA_LOAD_OPTIONAL(fn) d->fn = reinterpret_cast<decltype(d->fn)>(dlsym(d->handle_, LINREC_STR(fn)));
    LINREC_CUDA_OPTIONAL_FUNCTIONS(LINREC_CUDA_LOAD_OPTIONAL)
#undef LINREC_CUDA_LOAD_OPTIONAL

    CUresult r = d->cuInit(0);
    if (r != CUDA_SUCCESS) return Error{"no CUDA device: cuInit failed: " + d->errorString(r)};
    r = d->cuDriverGetVersion(&d->driver_version);
    if (r != CUDA_SUCCESS) return Error{"no CUDA device: cuDriverGetVersion failed: " + d->errorString(r)};
    return d;
  }
};

CudaDriver::~CudaDriver() {
  if (handle_) dlclose(handle_);
}

Expected<const CudaDriver*> CudaDriver::load() {
  // Loaded once even when several threads create runtimes at the same time. A successful load is kept
  // for the life of the process on purpose: objects with static storage (a user's global Runtime) may
  // still call the driver during exit, after any static of ours would have been destroyed. A failed load
  // is unloaded at once by the loader's unique_ptr.
  static std::once_flag once;
  static const CudaDriver* driver = nullptr;
  static std::string* failure = nullptr;
  std::call_once(once, [] {
    auto r = CudaDriverLoader::load();
    if (r)
      driver = r->release();
    else
      failure = new std::string(r.error());
  });
  if (!driver) return Error{*failure};
  return driver;
}

const char* cudaResultName(CUresult r) {
  switch (r) {
    case CUDA_SUCCESS:
      return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE:
      return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_OUT_OF_MEMORY:
      return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_NOT_INITIALIZED:
      return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_DEINITIALIZED:
      return "CUDA_ERROR_DEINITIALIZED";
    case CUDA_ERROR_STUB_LIBRARY:
      return "CUDA_ERROR_STUB_LIBRARY";
    case CUDA_ERROR_NO_DEVICE:
      return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE:
      return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_INVALID_IMAGE:
      return "CUDA_ERROR_INVALID_IMAGE";
    case CUDA_ERROR_INVALID_CONTEXT:
      return "CUDA_ERROR_INVALID_CONTEXT";
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
      return "CUDA_ERROR_NO_BINARY_FOR_GPU";
    case CUDA_ERROR_NOT_FOUND:
      return "CUDA_ERROR_NOT_FOUND";
    case CUDA_ERROR_ILLEGAL_ADDRESS:
      return "CUDA_ERROR_ILLEGAL_ADDRESS";
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
      return "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES";
    case CUDA_ERROR_LAUNCH_FAILED:
      return "CUDA_ERROR_LAUNCH_FAILED";
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
      return "CUDA_ERROR_UNSUPPORTED_PTX_VERSION";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
      return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
      return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
      return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    default:
      return nullptr;
  }
}

std::string CudaDriver::errorString(CUresult r) const {
  const char* name = nullptr;
  const char* desc = nullptr;
  // The stub library answers every call with CUDA_ERROR_STUB_LIBRARY, so the driver's own strings may be
  // unavailable; fall back to ours.
  if (cuGetErrorName && cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
  if (cuGetErrorString && cuGetErrorString(r, &desc) != CUDA_SUCCESS) desc = nullptr;
  if (!name) name = cudaResultName(r);
  std::string s = name ? name : "CUDA error";
  s += " (" + std::to_string(static_cast<int>(r)) + ")";
  if (desc)
    s += std::string(": ") + desc;
  else if (r == CUDA_ERROR_STUB_LIBRARY)
    s += ": the CUDA driver stub library was loaded instead of a real driver";
  return s;
}

Status CudaDriver::check(CUresult r, const std::string& what) const {
  if (r == CUDA_SUCCESS) return {};
  return Error{what + ": " + errorString(r)};
}

}  // namespace linrec
