// The hand-written kernel headers (runtime/kernels/include/linrec/kernel/*.cuh), embedded at build time.
#pragma once

#include <cstddef>
#include <string_view>

namespace linrec {

/// One embedded header: its include name ("linrec/kernel/abi.cuh") and its bytes. `data` is followed by
/// a NUL (not counted in `size`), so it can be handed to NVRTC as a C string.
struct EmbeddedHeader {
  const char* name;
  const unsigned char* data;
  size_t size;
  std::string_view text() const { return {reinterpret_cast<const char*>(data), size}; }
};

/// The table of embedded headers, sorted by name.
struct EmbeddedHeaderTable {
  const EmbeddedHeader* entries;
  size_t count;
  const EmbeddedHeader* begin() const { return entries; }
  const EmbeddedHeader* end() const { return entries + count; }
  size_t size() const { return count; }
};

/// Every header, sorted by include name.
EmbeddedHeaderTable embeddedKernelHeaders();
/// sha256 over every header's name and digest: part of compile-cache keys, since a header change
/// changes the cubin of unchanged generated source.
const char* embeddedKernelHeadersDigest();
/// The header with this include name, or null.
const EmbeddedHeader* findEmbeddedKernelHeader(std::string_view name);

}  // namespace linrec
