// safetensors I/O: strict header validation and atomic writes, with host-side bf16/fp16 conversion.
#include "Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace linrec::io {

namespace {

// Headers larger than this are refused: real ones are a few KiB, and a corrupt size must not allocate GiBs.
constexpr uint64_t kMaxHeader = 100u << 20;

float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return 0x7fc0;
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);  // round to nearest, ties to even
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float f16ToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

uint16_t floatToF16(float f) {
  // Via the nearest representable value: exact for everything an fp16 tensor can hold.
  uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  float a = std::fabs(f);
  if (std::isnan(f)) return 0x7e00;
  if (a >= 65520.0f) return sign | 0x7c00;
  if (a < std::ldexp(1.0f, -24) * 0.5f) return sign;
  int e;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exp16 = e - 1 + 15;
  if (exp16 <= 0) return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  float scaled = std::ldexp(a, 10 - (e - 1));  // in [1024, 2048)
  uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
  if (m == 2048) {
    m = 1024;
    ++exp16;
  }
  if (exp16 >= 31) return sign | 0x7c00;
  return sign | static_cast<uint16_t>(exp16 << 10) | static_cast<uint16_t>(m - 1024);
}

Error fail(const std::string& what, const std::string& msg) { return Error{what + ": " + msg}; }

}  // namespace

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int dtypeSize(const std::string& d) {
  if (d == "F64" || d == "I64") return 8;
  if (d == "F32" || d == "I32") return 4;
  if (d == "BF16" || d == "F16") return 2;
  return 0;
}

Expected<TensorMap> parseSafetensors(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.size() < 8) return fail(what, "too short for a safetensors file (no 8-byte header size)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > kMaxHeader || n > bytes.size() - 8)
    return fail(what, "header size " + std::to_string(n) + " does not fit in the file (" +
                          std::to_string(bytes.size()) + " bytes)");
  nlohmann::json header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n), nullptr,
                                                /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return fail(what, "header is not a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const uint8_t* data = bytes.data() + 8 + n;
  TensorMap out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string where = "tensor '" + it.key() + "'";
    const auto& t = it.value();
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      return fail(what, where + " needs dtype, shape and data_offsets");
    if (!t["dtype"].is_string()) return fail(what, where + ": dtype must be a string");
    Tensor x;
    x.dtype = t["dtype"].get<std::string>();
    int es = dtypeSize(x.dtype);
    if (es == 0) return fail(what, where + ": unsupported dtype " + x.dtype + " (use F32, F64, BF16, F16, I64, I32)");
    if (!t["shape"].is_array()) return fail(what, where + ": shape must be an array");
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        return fail(what, where + ": shape entries must be integers >= 0");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t(1) << 50) / v) return fail(what, where + ": shape is too large");
      numel *= v;
      x.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return fail(what, where + ": data_offsets must be [begin, end]");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      return fail(what, where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                            "] are outside the data (" + std::to_string(data_size) + " bytes)");
    if (e - b != numel * static_cast<uint64_t>(es))
      return fail(what, where + ": data_offsets span " + std::to_string(e - b) + " bytes, but " + x.dtype +
                            " with that shape needs " + std::to_string(numel * es));
    x.data.assign(data + b, data + e);
    ranges.emplace_back(b, e);
    out.emplace(it.key(), std::move(x));
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t cursor = 0;
  for (auto& [b, e] : ranges) {
    if (b != cursor) return fail(what, b < cursor ? "tensors overlap in the data" : "the data has a gap between tensors");
    cursor = e;
  }
  if (cursor != data_size) return fail(what, "the data has " + std::to_string(data_size - cursor) + " trailing bytes");
  return out;
}

Expected<TensorMap> readSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path, "cannot open the file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parseSafetensors(bytes, path);
}

Status writeSafetensors(const std::string& path, const TensorMap& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (dtypeSize(t.dtype) == 0) return fail(path, "tensor '" + name + "' has unsupported dtype " + t.dtype);
    if (static_cast<uint64_t>(t.numel()) * dtypeSize(t.dtype) != t.data.size())
      return fail(path, "tensor '" + name + "' has " + std::to_string(t.data.size()) + " bytes, its shape needs " +
                            std::to_string(t.numel() * dtypeSize(t.dtype)));
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';  // keep the data 8-byte aligned, as other writers do
  const std::string tmp = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fail(path, "cannot write (temporary file " + tmp + ")");
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& [name, t] : tensors) out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return fail(path, "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(path, std::string("cannot move the finished file into place: ") + std::strerror(errno));
  }
  return Status::success();
}

std::vector<double> toDouble(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<double> out(static_cast<size_t>(n));
  const uint8_t* p = t.data.data();
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == "F64") { double v; std::memcpy(&v, p + 8 * i, 8); out[i] = v; }
    else if (t.dtype == "F32") { float v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; }
    else if (t.dtype == "I64") { int64_t v; std::memcpy(&v, p + 8 * i, 8); out[i] = static_cast<double>(v); }
    else if (t.dtype == "I32") { int32_t v; std::memcpy(&v, p + 4 * i, 4); out[i] = v; }
    else { uint16_t v; std::memcpy(&v, p + 2 * i, 2); out[i] = t.dtype == "BF16" ? bf16ToFloat(v) : f16ToFloat(v); }
  }
  return out;
}

Tensor fromDouble(const std::vector<double>& values, std::vector<int64_t> shape, const std::string& dtype) {
  Tensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  const int es = dtypeSize(dtype);
  t.data.resize(values.size() * es);
  uint8_t* p = t.data.data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == "F64") std::memcpy(p + 8 * i, &values[i], 8);
    else if (dtype == "F32") { float v = static_cast<float>(values[i]); std::memcpy(p + 4 * i, &v, 4); }
    else if (dtype == "I64") { int64_t v = static_cast<int64_t>(values[i]); std::memcpy(p + 8 * i, &v, 8); }
    else if (dtype == "I32") { int32_t v = static_cast<int32_t>(values[i]); std::memcpy(p + 4 * i, &v, 4); }
    else {
      uint16_t v = dtype == "BF16" ? floatToBf16(static_cast<float>(values[i])) : floatToF16(static_cast<float>(values[i]));
      std::memcpy(p + 2 * i, &v, 2);
    }
  }
  return t;
}

}  // namespace linrec::io
