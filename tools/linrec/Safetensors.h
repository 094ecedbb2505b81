// Reading and writing safetensors files (a JSON header plus raw little-endian data), validated strictly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "linrec/Expected.h"

namespace linrec::io {

/// One tensor: dtype as safetensors spells it ("F32", "F64", "BF16", "F16", "I64", "I32"), shape, raw bytes.
struct Tensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  int64_t numel() const;
};

using TensorMap = std::map<std::string, Tensor>;

/// Bytes per element of a safetensors dtype; 0 when linrec does not handle it.
int dtypeSize(const std::string& dtype);

/// Reads and validates a file: header size, JSON, dtypes, shapes, offsets inside the data and covering it
/// exactly once. Any problem is an Error naming the file and the tensor.
Expected<TensorMap> readSafetensors(const std::string& path);
/// Parses an in-memory image of a file (`what` names it in errors).
Expected<TensorMap> parseSafetensors(const std::vector<uint8_t>& bytes, const std::string& what);

/// Writes tensors (sorted by name) to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file.
Status writeSafetensors(const std::string& path, const TensorMap& tensors);

/// Converts any supported floating or integer dtype to float64.
std::vector<double> toDouble(const Tensor& t);
/// Builds a tensor of `dtype` (F64, F32, BF16 with round-to-nearest-even, F16, I64) from float64 values.
Tensor fromDouble(const std::vector<double>& values, std::vector<int64_t> shape, const std::string& dtype);

}  // namespace linrec::io
