// The CUDA driver API, loaded with dlopen at run time: nothing links libcuda, so a machine without a GPU
// can load linrec and get a clean "no CUDA device" error instead of a loader failure.
#pragma once

#include <cuda.h>

#include <string>

#include "linrec/Expected.h"

namespace linrec {

// Functions the runtime cannot work without. Names go through cuda.h's macros, so `cuMemAlloc` resolves
// to the `cuMemAlloc_v2` symbol exactly as in code compiled against libcuda.
// clang-format off
#define LINREC_CUDA_REQUIRED_FUNCTIONS(X) \
  X(cuInit)                               \
  X(cuDriverGetVersion)                   \
  X(cuDeviceGet)                          \
  X(cuDeviceGetCount)                     \
  X(cuDeviceGetAttribute)                 \
  X(cuDeviceGetName)                      \
  X(cuDeviceTotalMem)                     \
  X(cuDevicePrimaryCtxRetain)             \
  X(cuDevicePrimaryCtxRelease)            \
  X(cuCtxSetCurrent)                      \
  X(cuCtxGetCurrent)                      \
  X(cuCtxPushCurrent)                     \
  X(cuCtxPopCurrent)                      \
  X(cuCtxSynchronize)                     \
  X(cuModuleLoadData)                     \
  X(cuModuleUnload)                       \
  X(cuModuleGetFunction)                  \
  X(cuFuncSetAttribute)                   \
  X(cuFuncGetAttribute)                   \
  X(cuLaunchKernel)                       \
  X(cuMemAlloc)                           \
  X(cuMemFree)                            \
  X(cuMemcpyHtoD)                         \
  X(cuMemcpyDtoH)                         \
  X(cuMemcpyDtoHAsync)                    \
  X(cuMemsetD8)                           \
  X(cuStreamCreate)                       \
  X(cuStreamDestroy)                      \
  X(cuStreamSynchronize)                  \
  X(cuGetErrorString)                     \
  X(cuGetErrorName)

// Functions used only by tests and the tuner, or where present (cuLaunchKernelEx: programmatic launches);
// null when the driver lacks them.
#define LINREC_CUDA_OPTIONAL_FUNCTIONS(X) \
  X(cuEventCreate)                        \
  X(cuEventDestroy)                       \
  X(cuEventRecord)                        \
  X(cuEventSynchronize)                   \
  X(cuEventElapsedTime)                   \
  X(cuStreamBeginCapture)                 \
  X(cuStreamEndCapture)                   \
  X(cuStreamIsCapturing)                  \
  X(cuGraphInstantiate)                   \
  X(cuGraphLaunch)                        \
  X(cuGraphDestroy)                       \
  X(cuGraphExecDestroy)                   \
  X(cuLaunchKernelEx)                     \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor)
// clang-format on

/// Pointers to the driver functions. One instance per process, loaded on first use and never unloaded
/// while the process runs (CUDA itself cannot be re-initialised).
class CudaDriver {
 public:
  /// Loads libcuda.so.1 (or $LINREC_LIBCUDA) and calls cuInit(0), once per process. Failure is an
  /// error "no CUDA device: <why>", and is remembered.
  static Expected<const CudaDriver*> load();

  /// "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory".
  std::string errorString(CUresult r) const;
  /// Success, or an error "<what>: <errorString(r)>".
  Status check(CUresult r, const std::string& what) const;

  std::string library;     ///< the path or soname that was loaded
  int driver_version = 0;  ///< cuDriverGetVersion, e.g. 13000

#define LINREC_CUDA_DECLARE(fn) decltype(&::fn) fn = nullptr;
  LINREC_CUDA_REQUIRED_FUNCTIONS(LINREC_CUDA_DECLARE)
  LINREC_CUDA_OPTIONAL_FUNCTIONS(LINREC_CUDA_DECLARE)
#undef LINREC_CUDA_DECLARE

  CudaDriver(const CudaDriver&) = delete;
  CudaDriver& operator=(const CudaDriver&) = delete;
  ~CudaDriver();

 private:
  CudaDriver() = default;
  void* handle_ = nullptr;  // dlopen handle, closed in the destructor
  friend struct CudaDriverLoader;
};

/// A name for a CUresult when the driver cannot provide one (e.g. the stub library).
const char* cudaResultName(CUresult r);

}  // namespace linrec
