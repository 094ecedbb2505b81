// Device tensor descriptors passed to launches: a pointer plus dtype, shape and strides (fla's layout).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace linrec {

/// Element types the runtime understands. Kernel inputs q/k/v/o are BF16, FP16 or FP32; gates, params and
/// states are FP32; cu_seqlens is I64.
enum class DType : uint8_t { BF16, FP16, FP32, I64 };

/// "bf16", "fp16", "fp32", "int64".
const char* dtypeName(DType t);
/// Bytes per element.
size_t dtypeSize(DType t);
/// Parses "bf16"/"bfloat16", "fp16"/"float16"/"half", "fp32"/"float32"/"float", "int64"/"i64".
std::optional<DType> parseDType(const std::string& s);

/// A view of device memory. `strides` are in elements (as in torch), one per dim; an empty `strides`
/// means contiguous (row-major). A null `ptr` means "not given" for optional tensors.
struct TensorRef {
  void* ptr = nullptr;
  DType dtype = DType::FP32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;

  /// A contiguous tensor (row-major strides filled in).
  static TensorRef contiguous(void* ptr, DType dtype, std::vector<int64_t> shape);
  /// A device address (CUdeviceptr) as a tensor.
  static TensorRef contiguous(uint64_t dev_ptr, DType dtype, std::vector<int64_t> shape) {
    return contiguous(reinterpret_cast<void*>(static_cast<uintptr_t>(dev_ptr)), dtype, std::move(shape));
  }
  bool defined() const { return ptr != nullptr; }
  /// Number of elements (product of the shape; 1 for rank 0).
  int64_t numel() const;
  /// "bf16[2, 64, 4, 128]" — for error messages.
  std::string describe() const;
};

/// Row-major strides (in elements) for `shape`.
std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape);

}  // namespace linrec
