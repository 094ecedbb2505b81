// Internal: the retained primary context of one device, shared by Runtime, Module, Kernel and buffers.
#pragma once

#include <cuda.h>

#include "linrec/runtime/CudaDriver.h"
#include "linrec/runtime/Runtime.h"

namespace linrec::detail {

/// Retains the device's primary context for as long as anything made from it is alive, so modules and
/// buffers can be freed after the Runtime itself is gone.
class DeviceContext {
 public:
  DeviceContext(const CudaDriver* drv, CUdevice dev, CUcontext ctx, DeviceInfo info)
      : drv(drv), dev(dev), ctx(ctx), info(std::move(info)) {}
  ~DeviceContext() { drv->cuDevicePrimaryCtxRelease(dev); }
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  const CudaDriver* const drv;
  const CUdevice dev;
  const CUcontext ctx;
  const DeviceInfo info;
};

/// Makes `ctx` current on this thread for a scope and restores the caller's context after, so linrec
/// never leaves an embedding application (e.g. PyTorch) with a different current context.
class ScopedContext {
 public:
  explicit ScopedContext(const DeviceContext& c) : drv_(c.drv) {
    CUcontext cur = nullptr;
    if (drv_->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == c.ctx) return;
    pushed_ = drv_->cuCtxPushCurrent(c.ctx) == CUDA_SUCCESS;
    status_ = pushed_ ? Status{} : Status(Error{"cannot make the CUDA context current"});
  }
  ~ScopedContext() {
    if (pushed_) {
      CUcontext popped = nullptr;
      drv_->cuCtxPopCurrent(&popped);
    }
  }
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;
  const Status& status() const { return status_; }

 private:
  const CudaDriver* drv_;
  bool pushed_ = false;
  Status status_;
};

}  // namespace linrec::detail
