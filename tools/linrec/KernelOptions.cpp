// Shared kernel flags: the same names and defaults in compile, check and run.
#include "KernelOptions.h"

namespace linrec::cli {

void KernelOptions::add(CLI::App* cmd, bool with_dims) {
  chunk_opt = cmd->add_option("--chunk", chunk, "Chunk size C (16, 32, 64, 128; default: the largest that fits)");
  cmd->add_option("--block-k", block_k, "Key tile BK")->capture_default_str();
  block_v_opt = cmd->add_option("--block-v", block_v, "Value tile BV (16, 32, 64, 128; default: the largest that fits)");
  warps_opt = cmd->add_option("--warps", warps, "Warps per CTA (2, 4, 8; with neither --chunk nor --block-v: the "
                                                "default's, 8 for GLA-like rules)")
                  ->capture_default_str();
  cmd->add_option("--stages", stages, "Pipeline stages (1-4)")->capture_default_str();
  cmd->add_option("--strategy", strategy, "fused or state_passing")->capture_default_str();
  cmd->add_option("--dtype", dtype, "Dtype of q, k, v, o: bf16, fp16, fp32")->capture_default_str();
  if (with_dims) {
    cmd->add_option("--K", K, "Key width")->capture_default_str();
    cmd->add_option("--V", V, "Value width")->capture_default_str();
  }
}

bool parseCodegenDType(const std::string& s, codegen::DType& out) {
  if (s == "bf16" || s == "bfloat16") out = codegen::DType::BF16;
  else if (s == "fp16" || s == "float16" || s == "half") out = codegen::DType::FP16;
  else if (s == "fp32" || s == "float32" || s == "float") out = codegen::DType::FP32;
  else return false;
  return true;
}

bool KernelOptions::resolve(codegen::TuningConfig& config, codegen::HeadDims& dims, codegen::DType& dt,
                            std::string& err) const {
  config.chunk = chunk;
  config.block_k = block_k;
  config.block_v = block_v;
  config.warps = warps;
  config.stages = stages;
  if (strategy == "fused") config.strategy = codegen::Strategy::Fused;
  else if (strategy == "state_passing" || strategy == "state-passing") config.strategy = codegen::Strategy::StatePassing;
  else {
    err = "--strategy must be fused or state_passing (got '" + strategy + "')";
    return false;
  }
  if (!parseCodegenDType(dtype, dt)) {
    err = "--dtype must be bf16, fp16 or fp32 (got '" + dtype + "')";
    return false;
  }
  dims.K = K;
  dims.V = V;
  return true;
}

}  // namespace linrec::cli
