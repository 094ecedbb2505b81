// The C API: opaque handles over Runtime/Kernel, int status codes and a thread-local error message.
#include "linrec/runtime/linrec.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "linrec/runtime/Runtime.h"

struct linrec_runtime {
  std::unique_ptr<linrec::Runtime> rt;
};

struct linrec_kernel {
  linrec::Kernel kernel;
};

namespace {

thread_local std::string g_last_error;

int fail(int code, std::string msg) {
  g_last_error = std::move(msg);
  return code;
}

int ok() {
  g_last_error.clear();
  return LINREC_OK;
}

/// Sorts a runtime error into a status code by the phase that produced it.
int codeFor(const std::string& msg, int dflt) {
  if (msg.rfind("no CUDA device", 0) == 0) return LINREC_ERROR_NO_DEVICE;
  if (msg.rfind("NVRTC", 0) == 0) return LINREC_ERROR_COMPILE;
  if (msg.rfind("launch descriptor", 0) == 0) return LINREC_ERROR_INVALID_ARGUMENT;
  return dflt;
}

bool toTensor(const linrec_tensor& c, const char* name, linrec::TensorRef& out, std::string& err) {
  out = linrec::TensorRef{};
  if (!c.data) return true;  // not given
  if (c.dtype < LINREC_DTYPE_BF16 || c.dtype > LINREC_DTYPE_INT64) {
    err = std::string(name) + ": unknown dtype code " + std::to_string(c.dtype);
    return false;
  }
  if (c.ndim < 0 || c.ndim > 8 || (c.ndim > 0 && !c.shape)) {
    err = std::string(name) + ": bad ndim/shape";
    return false;
  }
  out.ptr = c.data;
  out.dtype = static_cast<linrec::DType>(c.dtype);
  out.shape.assign(c.shape, c.shape + c.ndim);
  if (c.strides) out.strides.assign(c.strides, c.strides + c.ndim);
  return true;
}

bool toTensorList(const linrec_tensor* list, int32_t n, const char* what, std::vector<linrec::TensorRef>& out,
                  std::string& err) {
  out.clear();
  if (n < 0 || (n > 0 && !list)) {
    err = std::string(what) + ": bad count or null array";
    return false;
  }
  for (int32_t i = 0; i < n; ++i) {
    out.emplace_back();
    std::string name = std::string(what) + "[" + std::to_string(i) + "]";
    if (!toTensor(list[i], name.c_str(), out.back(), err)) return false;
  }
  return true;
}

bool toForwardArgs(const linrec_forward_args* a, linrec::ForwardArgs& f, std::string& err) {
  if (!a) {
    err = "forward: args is null";
    return false;
  }
  if (!toTensor(a->q, "q", f.q, err) || !toTensor(a->k, "k", f.k, err) || !toTensor(a->v, "v", f.v, err) ||
      !toTensor(a->o, "o", f.o, err) || !toTensorList(a->inputs, a->num_inputs, "inputs", f.inputs, err) ||
      !toTensorList(a->params, a->num_params, "params", f.params, err) || !toTensor(a->h0, "h0", f.h0, err) ||
      !toTensor(a->ht, "ht", f.ht, err) || !toTensor(a->z0, "z0", f.z0, err) || !toTensor(a->zt, "zt", f.zt, err) ||
      !toTensor(a->cu_seqlens, "cu_seqlens", f.cu_seqlens, err)) {
    err = "forward: " + err;
    return false;
  }
  f.cu_seqlens_host = a->cu_seqlens_host;
  if (a->has_scale) f.scale = a->scale;
  f.workspace = a->workspace;
  f.workspace_bytes = a->workspace_bytes;
  return true;
}

bool toStepArgs(const linrec_step_args* a, linrec::StepArgs& s, std::string& err) {
  if (!a) {
    err = "step: args is null";
    return false;
  }
  if (!toTensor(a->q, "q", s.q, err) || !toTensor(a->k, "k", s.k, err) || !toTensor(a->v, "v", s.v, err) ||
      !toTensor(a->o, "o", s.o, err) || !toTensorList(a->inputs, a->num_inputs, "inputs", s.inputs, err) ||
      !toTensorList(a->params, a->num_params, "params", s.params, err) || !toTensor(a->state, "state", s.state, err) ||
      !toTensor(a->z, "z", s.z, err)) {
    err = "step: " + err;
    return false;
  }
  if (a->has_scale) s.scale = a->scale;
  return true;
}

}  // namespace

extern "C" {

const char* linrec_last_error(void) {
  return g_last_error.c_str();
}

const char* linrec_status_name(int status) {
  switch (status) {
    case LINREC_OK:
      return "LINREC_OK";
    case LINREC_ERROR_INVALID_ARGUMENT:
      return "LINREC_ERROR_INVALID_ARGUMENT";
    case LINREC_ERROR_NO_DEVICE:
      return "LINREC_ERROR_NO_DEVICE";
    case LINREC_ERROR_COMPILE:
      return "LINREC_ERROR_COMPILE";
    case LINREC_ERROR_CUDA:
      return "LINREC_ERROR_CUDA";
    case LINREC_ERROR_INTERNAL:
      return "LINREC_ERROR_INTERNAL";
    default:
      return "LINREC_UNKNOWN_STATUS";
  }
}

int linrec_runtime_create(int device, linrec_runtime** out) try {
  if (!out) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_runtime_create: out is null");
  *out = nullptr;
  auto rt = linrec::Runtime::create(device);
  if (!rt) return fail(codeFor(rt.error(), LINREC_ERROR_CUDA), rt.error());
  *out = new linrec_runtime{std::move(*rt)};
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

void linrec_runtime_destroy(linrec_runtime* rt) {
  delete rt;
}

int linrec_runtime_device_info(const linrec_runtime* rt, const char** name, int* cc_major, int* cc_minor,
                               int* sm_count) {
  if (!rt) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_runtime_device_info: runtime is null");
  const linrec::DeviceInfo& d = rt->rt->device();
  if (name) *name = d.name.c_str();
  if (cc_major) *cc_major = d.cc_major;
  if (cc_minor) *cc_minor = d.cc_minor;
  if (sm_count) *sm_count = d.sm_count;
  return ok();
}

int linrec_kernel_create(linrec_runtime* rt, const char* source, const char* descriptor_json, linrec_kernel** out) try {
  if (!out) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_create: out is null");
  *out = nullptr;
  if (!rt || !source || !descriptor_json)
    return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_create: null runtime, source or descriptor");
  auto k = rt->rt->load(source, descriptor_json);
  if (!k) return fail(codeFor(k.error(), LINREC_ERROR_CUDA), k.error());
  *out = new linrec_kernel{std::move(*k)};
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

int linrec_kernel_create_from_cubin(linrec_runtime* rt, const void* cubin, size_t size, const char* descriptor_json,
                                    linrec_kernel** out) try {
  if (!out) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_create_from_cubin: out is null");
  *out = nullptr;
  if (!rt || !cubin || !size || !descriptor_json)
    return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_create_from_cubin: null runtime, cubin or descriptor");
  const char* p = static_cast<const char*>(cubin);
  auto k = rt->rt->loadCubinKernel(std::vector<char>(p, p + size), descriptor_json);
  if (!k) return fail(codeFor(k.error(), LINREC_ERROR_CUDA), k.error());
  *out = new linrec_kernel{std::move(*k)};
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

void linrec_kernel_destroy(linrec_kernel* k) {
  delete k;
}

int linrec_kernel_forward(const linrec_kernel* k, const linrec_forward_args* args, void* stream) try {
  if (!k) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_forward: kernel is null");
  linrec::ForwardArgs f;
  std::string err;
  if (!toForwardArgs(args, f, err)) return fail(LINREC_ERROR_INVALID_ARGUMENT, err);
  // Validation first, so argument errors and CUDA errors get different codes.
  if (linrec::Status s = linrec::validateForward(k->kernel.descriptor(), f); !s)
    return fail(LINREC_ERROR_INVALID_ARGUMENT, s.error());
  if (linrec::Status s = k->kernel.forward(f, static_cast<CUstream>(stream)); !s)
    return fail(codeFor(s.error(), LINREC_ERROR_CUDA), s.error());
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

int linrec_kernel_step(const linrec_kernel* k, const linrec_step_args* args, void* stream) try {
  if (!k) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_kernel_step: kernel is null");
  linrec::StepArgs s;
  std::string err;
  if (!toStepArgs(args, s, err)) return fail(LINREC_ERROR_INVALID_ARGUMENT, err);
  if (linrec::Status st = linrec::validateStep(k->kernel.descriptor(), s); !st)
    return fail(LINREC_ERROR_INVALID_ARGUMENT, st.error());
  if (linrec::Status st = k->kernel.step(s, static_cast<CUstream>(stream)); !st)
    return fail(LINREC_ERROR_CUDA, st.error());
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

int linrec_validate_forward(const char* descriptor_json, const linrec_forward_args* args) try {
  if (!descriptor_json) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_validate_forward: descriptor is null");
  auto d = linrec::LaunchDescriptor::fromJson(descriptor_json);
  if (!d) return fail(LINREC_ERROR_INVALID_ARGUMENT, d.error());
  linrec::ForwardArgs f;
  std::string err;
  if (!toForwardArgs(args, f, err)) return fail(LINREC_ERROR_INVALID_ARGUMENT, err);
  if (linrec::Status s = linrec::validateForward(*d, f); !s) return fail(LINREC_ERROR_INVALID_ARGUMENT, s.error());
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

int linrec_validate_step(const char* descriptor_json, const linrec_step_args* args) try {
  if (!descriptor_json) return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_validate_step: descriptor is null");
  auto d = linrec::LaunchDescriptor::fromJson(descriptor_json);
  if (!d) return fail(LINREC_ERROR_INVALID_ARGUMENT, d.error());
  linrec::StepArgs s;
  std::string err;
  if (!toStepArgs(args, s, err)) return fail(LINREC_ERROR_INVALID_ARGUMENT, err);
  if (linrec::Status st = linrec::validateStep(*d, s); !st) return fail(LINREC_ERROR_INVALID_ARGUMENT, st.error());
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

int linrec_compile_cubin(const char* source, const char* arch, void** cubin, size_t* size) try {
  if (!source || !arch || !cubin || !size)
    return fail(LINREC_ERROR_INVALID_ARGUMENT, "linrec_compile_cubin: null argument");
  *cubin = nullptr;
  *size = 0;
  linrec::NvrtcOptions o;
  o.arch = arch;
  auto r = linrec::compileToCubin(source, o);
  if (!r) return fail(LINREC_ERROR_COMPILE, r.error());
  void* buf = std::malloc(r->cubin.size());
  if (!buf) return fail(LINREC_ERROR_INTERNAL, "linrec_compile_cubin: out of memory");
  std::memcpy(buf, r->cubin.data(), r->cubin.size());
  *cubin = buf;
  *size = r->cubin.size();
  return ok();
} catch (const std::exception& e) {
  return fail(LINREC_ERROR_INTERNAL, e.what());
}

void linrec_free(void* p) {
  std::free(p);
}

}  // extern "C"
