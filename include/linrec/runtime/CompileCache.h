// linrec::CompileCache: NVRTC's cubins on disk, so a process that starts finds the kernels an earlier one
// compiled (a tuning run's candidates, a program's JIT kernels) instead of compiling them again.
#pragma once

#include <optional>
#include <string>

#include "linrec/Expected.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec {

/// One file per compile, named by the runtime's cache key (a sha256 that covers the source, the NVRTC
/// options and version, the embedded kernel headers and the linrec version), so an entry never needs to be
/// invalidated: a changed input is a different name. Each file carries the sha256 of its own payload; an
/// entry that is truncated, foreign or corrupt is a miss (and is replaced by the next store), never an
/// error. Stores write a temporary file and rename it, so readers see a whole entry or none, and processes
/// that store the same key at once leave one of their identical files.
class CompileCache {
 public:
  /// The directory the runtime uses: $LINREC_CACHE_DIR if set ("off" or empty: no disk cache), else
  /// $XDG_CACHE_HOME/linrec/nvrtc, else $HOME/.cache/linrec/nvrtc; nullopt when caching is off or no
  /// directory can be named.
  static std::optional<std::string> defaultDirectory();

  explicit CompileCache(std::string directory) : dir_(std::move(directory)) {}
  const std::string& directory() const { return dir_; }

  /// The entry stored under `key` (64 hex digits), or nullopt: none, unreadable or corrupt.
  std::optional<CubinResult> load(const std::string& key) const;
  /// Stores `result` under `key`, creating the directory if needed. An error says what failed (the
  /// runtime ignores it: a cache that cannot be written only costs compile time).
  Status store(const std::string& key, const CubinResult& result) const;
  /// The path of `key`'s entry.
  std::string path(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace linrec
