// DType names and sizes, and TensorRef helpers.
#include "linrec/runtime/Tensor.h"

#include <algorithm>
#include <cctype>

namespace linrec {

const char* dtypeName(DType t) {
  switch (t) {
    case DType::BF16:
      return "bf16";
    case DType::FP16:
      return "fp16";
    case DType::FP32:
      return "fp32";
    case DType::I64:
      return "int64";
  }
  return "?";
}

size_t dtypeSize(DType t) {
  switch (t) {
    case DType::BF16:
    case DType::FP16:
      return 2;
    case DType::FP32:
      return 4;
    case DType::I64:
      return 8;
  }
  return 0;
}

std::optional<DType> parseDType(const std::string& s) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "bf16" || l == "bfloat16") return DType::BF16;
  if (l == "fp16" || l == "float16" || l == "half" || l == "f16") return DType::FP16;
  if (l == "fp32" || l == "float32" || l == "float" || l == "f32") return DType::FP32;
  if (l == "int64" || l == "i64" || l == "long") return DType::I64;
  return std::nullopt;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

TensorRef TensorRef::contiguous(void* ptr, DType dtype, std::vector<int64_t> shape) {
  TensorRef t;
  t.ptr = ptr;
  t.dtype = dtype;
  t.strides = contiguousStrides(shape);
  t.shape = std::move(shape);
  return t;
}

int64_t TensorRef::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorRef::describe() const {
  std::string s = dtypeName(dtype);
  s += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

}  // namespace linrec
