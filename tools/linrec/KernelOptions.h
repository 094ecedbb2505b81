// Command-line options shared by the commands that generate kernels (compile, check, run).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "linrec/codegen/Codegen.h"

namespace linrec::cli {

/// Tuning and type knobs as flags; `resolve` turns them into codegen values or an error message.
struct KernelOptions {
  int chunk = 64, block_k = 128, block_v = 64, warps = 4, stages = 2;
  std::string strategy = "fused";
  std::string dtype = "bf16";
  int K = 128, V = 128;
  CLI::Option* chunk_opt = nullptr;
  CLI::Option* block_v_opt = nullptr;
  CLI::Option* warps_opt = nullptr;
  /// True when the user set neither --chunk nor --block-v: the commands then take the largest tiles
  /// that fit (codegen::defaultConfig).
  bool autoTiles() const { return chunk_opt && block_v_opt && chunk_opt->count() == 0 && block_v_opt->count() == 0; }
  /// With autoTiles: --warps was given, so the default's warps do not replace it.
  bool warpsGiven() const { return warps_opt && warps_opt->count() > 0; }

  void add(CLI::App* cmd, bool with_dims = true);
  /// Fills `config`, `dims` and `dt`; false with `err` set when a value is not one the compiler knows.
  bool resolve(codegen::TuningConfig& config, codegen::HeadDims& dims, codegen::DType& dt, std::string& err) const;
};

/// Parses "bf16", "fp16", "fp32" (and float32/bfloat16/half spellings).
bool parseCodegenDType(const std::string& s, codegen::DType& out);

}  // namespace linrec::cli
