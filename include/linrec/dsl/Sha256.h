// SHA-256 (FIPS 180-4), used for spec hashes and cache keys; kept here so the runtime needs no crypto library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace linrec {

/// Streaming SHA-256.
class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t n);
  void update(const std::string& s) { update(s.data(), s.size()); }
  /// Finishes and returns the lowercase hex digest; the object must not be updated afterwards.
  std::string hexDigest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

/// Hex SHA-256 of a string.
std::string sha256Hex(const std::string& s);

}  // namespace linrec
