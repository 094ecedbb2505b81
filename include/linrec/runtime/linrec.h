/* The linrec C API: the runtime behind opaque handles, for C, ctypes/cffi and other FFI users. */
#ifndef LINREC_RUNTIME_LINREC_H
#define LINREC_RUNTIME_LINREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Status codes; on anything but LINREC_OK, linrec_last_error() says what went wrong. */
typedef enum linrec_status {
  LINREC_OK = 0,
  LINREC_ERROR_INVALID_ARGUMENT = 1, /**< a null handle, a bad descriptor, or a tensor that fails validation */
  LINREC_ERROR_NO_DEVICE = 2,        /**< no usable CUDA device or driver */
  LINREC_ERROR_COMPILE = 3,          /**< NVRTC rejected the source (the message has the log) */
  LINREC_ERROR_CUDA = 4,             /**< a CUDA driver call failed (load, launch, memory) */
  LINREC_ERROR_INTERNAL = 5
} linrec_status;

/** Element types (linrec::DType). */
typedef enum linrec_dtype {
  LINREC_DTYPE_BF16 = 0,
  LINREC_DTYPE_FP16 = 1,
  LINREC_DTYPE_FP32 = 2,
  LINREC_DTYPE_INT64 = 3
} linrec_dtype;

typedef struct linrec_runtime linrec_runtime; /**< one CUDA device */
typedef struct linrec_kernel linrec_kernel;   /**< a loaded module with its launch descriptor */

/** A device tensor: `strides` (in elements) may be NULL for contiguous; `data` NULL means "not given". */
typedef struct linrec_tensor {
  void* data;
  int32_t dtype; /**< linrec_dtype */
  int32_t ndim;
  const int64_t* shape;
  const int64_t* strides;
} linrec_tensor;

/** Forward (prefill) arguments; see linrec::ForwardArgs. Zero-initialise, then fill. */
typedef struct linrec_forward_args {
  linrec_tensor q, k, v, o;
  const linrec_tensor* inputs; /**< canonical order */
  int32_t num_inputs;
  const linrec_tensor* params; /**< canonical order */
  int32_t num_params;
  linrec_tensor h0, ht, z0, zt, cu_seqlens;
  const int64_t* cu_seqlens_host; /**< optional host copy of cu_seqlens */
  int32_t has_scale;
  float scale;
  void* workspace;
  size_t workspace_bytes;
} linrec_forward_args;

/** Decode-step arguments; see linrec::StepArgs. */
typedef struct linrec_step_args {
  linrec_tensor q, k, v, o;
  const linrec_tensor* inputs;
  int32_t num_inputs;
  const linrec_tensor* params;
  int32_t num_params;
  linrec_tensor state; /**< fp32 [B,H,K',V], updated in place (required) */
  linrec_tensor z;     /**< fp32 [B,H,K'], updated in place (normalizing kernels only) */
  int32_t has_scale;
  float scale;
} linrec_step_args;

/** The message of the last failed call on this thread ("" if none). Valid until the next call. */
const char* linrec_last_error(void);
/** "LINREC_OK", "LINREC_ERROR_NO_DEVICE", ... */
const char* linrec_status_name(int status);

/** Opens CUDA device `device`. Without a GPU: LINREC_ERROR_NO_DEVICE. */
int linrec_runtime_create(int device, linrec_runtime** out);
void linrec_runtime_destroy(linrec_runtime* rt);
/** Device name, compute capability and SM count. */
int linrec_runtime_device_info(const linrec_runtime* rt, const char** name, int* cc_major, int* cc_minor,
                               int* sm_count);

/** Compiles generated source with NVRTC (cached) and loads it with its launch descriptor (JSON). */
int linrec_kernel_create(linrec_runtime* rt, const char* source, const char* descriptor_json, linrec_kernel** out);
/** Loads a prebuilt cubin with its launch descriptor. */
int linrec_kernel_create_from_cubin(linrec_runtime* rt, const void* cubin, size_t size, const char* descriptor_json,
                                    linrec_kernel** out);
void linrec_kernel_destroy(linrec_kernel* k);

/** Validates and launches a forward pass on `stream` (a CUstream; NULL = default stream). */
int linrec_kernel_forward(const linrec_kernel* k, const linrec_forward_args* args, void* stream);
/** Validates and launches one decode step (no allocation, no sync: graph-capturable). */
int linrec_kernel_step(const linrec_kernel* k, const linrec_step_args* args, void* stream);

/** Checks forward arguments against a descriptor without a GPU (LINREC_ERROR_INVALID_ARGUMENT on mismatch). */
int linrec_validate_forward(const char* descriptor_json, const linrec_forward_args* args);
/** Checks decode arguments against a descriptor without a GPU. */
int linrec_validate_step(const char* descriptor_json, const linrec_step_args* args);

/** Compiles source for `arch` ("sm_90a") without a GPU; the cubin is returned in a buffer to release with
 *  linrec_free. LINREC_ERROR_COMPILE carries the NVRTC log in linrec_last_error(). */
int linrec_compile_cubin(const char* source, const char* arch, void** cubin, size_t* size);
void linrec_free(void* p);

#ifdef __cplusplus
}
#endif

#endif /* LINREC_RUNTIME_LINREC_H */
