// linrec::kdb kernel index (schema v2): which cubin and launch descriptor serve a (variant, K, V, dtype, mode,
// config, arch), so a runtime without the compiler can go from "what the caller asks for" to a kernel.
#pragma once

#include <cstdint>
#include <string>

#include "linrec/Expected.h"
#include "linrec/kdb/KernelDb.h"

namespace linrec::kdb {

/// The tunable knobs of one kernel as stored in the DB and in packs: codegen's TuningConfig without the
/// device's shared-memory limit (which only decides whether a config is legal, not what it is).
struct KernelConfig {
  int chunk = 64;
  int block_k = 128;
  int block_v = 64;
  int warps = 4;
  int stages = 2;
  std::string strategy = "fused";  ///< "fused" or "state_passing"

  /// Canonical JSON text (sorted keys, no spaces): the `config` column of the index, compared as text.
  std::string toJson() const;
  /// Parses a JSON object with exactly these fields (other keys are ignored, so records may carry more);
  /// the error names the missing or malformed field.
  static Expected<KernelConfig> fromJson(const std::string& text);
  /// "C=64 BV=64 W=4 fused" (BK and stages only when they differ from the defaults).
  std::string brief() const;
  bool isStatePassing() const { return strategy == "state_passing"; }
  friend bool operator==(const KernelConfig& a, const KernelConfig& b) {
    return a.chunk == b.chunk && a.block_k == b.block_k && a.block_v == b.block_v && a.warps == b.warps &&
           a.stages == b.stages && a.strategy == b.strategy;
  }
  friend bool operator!=(const KernelConfig& a, const KernelConfig& b) { return !(a == b); }
};

/// Parses any config JSON object and returns its canonical text (KernelConfig::toJson).
Expected<std::string> canonicalConfigJson(const std::string& json);

/// One row of the kernel index. Unique on (spec_hash, key_dim, value_dim, dtype, mode, config, arch,
/// kernel.nvrtc_version, kernel.linrec_version); the kernel it names must be stored beside it (in the DB a
/// foreign key with ON DELETE CASCADE enforces that).
struct IndexEntry {
  std::string spec_hash;  ///< canonical spec hash
  std::string variant;    ///< the variant's name (for lookups by name and for messages)
  int64_t key_dim = 0;    ///< K
  int64_t value_dim = 0;  ///< V
  std::string dtype;      ///< "bf16", "fp16", "fp32"
  TuningMode mode = TuningMode::Forward;
  std::string config_json;  ///< canonical KernelConfig text (put canonicalizes it)
  std::string arch;         ///< the cubin's NVRTC target, e.g. "sm_90" or "sm_90a"
  /// The entry a runtime falls back to when no tuning record covers a shape. Per (variant, K, V, dtype,
  /// mode, arch) there is at most one fused default and one state-passing default.
  bool is_default = false;
  KernelKey kernel;             ///< the cubin (kernels table)
  std::string descriptor_json;  ///< the launch descriptor codegen produced with the source
  int64_t created_at = 0;       ///< unix seconds; 0 on put means "now"

  /// "gated_delta_rule bf16 K=128 V=128 fwd sm_90 C=64 BV=64 W=4 fused" for messages.
  std::string describe() const;
};

}  // namespace linrec::kdb
