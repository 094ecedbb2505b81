// Test support: the family table (TOML specs matching tests/kernels/generated/*.cu) and TU specialisation.
#include "KernelSources.h"

#include "linrec/kernel/layout.cuh"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#ifndef LINREC_SOURCE_DIR
#define LINREC_SOURCE_DIR "."
#endif

namespace linrec::kerneltest {

const std::vector<Family>& families() {
  // The same recurrences as variants/*.toml; embedded so that the hand-written TUs and their specs cannot
  // drift apart when the variant files change.
  static const std::vector<Family> kFamilies = {
      {"linear_attn", R"toml(
[variant]
name = "linear_attn"
[feature_map]
q = "identity"
k = "identity"
[update]
rule = "additive"
)toml"},
      {"retention", R"toml(
[variant]
name = "retention"
[decay]
log = "log(1 - pow(2, -5 - head))"
[update]
rule = "additive"
)toml"},
      {"simple_gla", R"toml(
[variant]
name = "simple_gla"
[inputs]
a = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
[update]
rule = "additive"
)toml"},
      {"gla", R"toml(
[variant]
name = "gla"
[inputs]
gk = "vector"
[decay]
log = "logsigmoid(gk) / 16"
[update]
rule = "additive"
)toml"},
      {"delta_rule", R"toml(
[variant]
name = "delta_rule"
[inputs]
b = "scalar"
[feature_map]
q = "l2norm"
k = "l2norm"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml"},
      {"gated_delta_rule", R"toml(
[variant]
name = "gated_delta_rule"
[inputs]
a = "scalar"
b = "scalar"
[params]
A_log = "head"
dt_bias = "head"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
log = "-exp(A_log) * softplus(a + dt_bias)"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml"},
      {"kda", R"toml(
[variant]
name = "kda"
[inputs]
g = "vector"
b = "scalar"
[params]
A_log = "head"
dt_bias = "head_key"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
kind = "vector"
log = "-exp(A_log) * softplus(g + dt_bias)"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml"},
      // Not a bundled variant: the delta rule under a constant (per-head) decay, the one decay kind the
      // bundled delta rules do not have (chunk_fwd_wy once read it as none).
      {"delta_retention", R"toml(
[variant]
name = "delta_retention"
[inputs]
b = "scalar"
[feature_map]
q = "l2norm"
k = "l2norm"
[decay]
log = "log(1 - pow(2, -3 - head))"
[update]
rule = "delta"
beta = "sigmoid(b)"
)toml"},
      {"based", R"toml(
[variant]
name = "based"
[feature_map]
q = "taylor2"
k = "taylor2"
[update]
rule = "additive"
[readout]
normalize = true
eps = 1e-6
)toml"},
      {"hedgehog", R"toml(
[variant]
name = "hedgehog"
[feature_map]
q = "hedgehog"
k = "hedgehog"
[update]
rule = "additive"
[readout]
normalize = true
)toml"},
  };
  return kFamilies;
}

const Family* findFamily(const std::string& name) {
  for (const Family& f : families())
    if (f.name == name) return &f;
  return nullptr;
}

std::string sourceRoot() {
  return LINREC_SOURCE_DIR;
}

std::string readFile(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  if (ok) *ok = static_cast<bool>(in);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string tuPath(const std::string& family) {
  return sourceRoot() + "/tests/kernels/generated/" + family + ".cu";
}

namespace {
const std::regex kDimsLine(R"(static constexpr int K = (\d+), V = (\d+), KF = (\d+);)");
const std::regex kConfigLine(
    R"(static constexpr int C = (\d+), BK = (\d+), BV = (\d+), Warps = (\d+), Stages = (\d+);)");
const std::regex kDTypeLine(R"(kDType = linrec::kern::DType::(BF16|FP16|FP32);)");
const std::regex kQMapLine(R"(kQMap = linrec::kern::FeatureMapKind::(\w+);)");
}  // namespace

bool parseTuShape(const std::string& tu, TuShape& out) {
  std::smatch m;
  if (!std::regex_search(tu, m, kDimsLine)) return false;
  out.K = std::stoi(m[1]);
  out.V = std::stoi(m[2]);
  out.KF = std::stoi(m[3]);
  if (!std::regex_search(tu, m, kConfigLine)) return false;
  out.C = std::stoi(m[1]);
  out.BK = std::stoi(m[2]);
  out.BV = std::stoi(m[3]);
  out.Warps = std::stoi(m[4]);
  out.Stages = std::stoi(m[5]);
  if (!std::regex_search(tu, m, kDTypeLine)) return false;
  out.dtype = m[1];
  return true;
}

std::string specialize(const std::string& tu, const TuShape& s) {
  std::string out = std::regex_replace(tu, kDimsLine,
                                       "static constexpr int K = " + std::to_string(s.K) +
                                           ", V = " + std::to_string(s.V) + ", KF = " + std::to_string(s.KF) + ";");
  out = std::regex_replace(out, kConfigLine,
                           "static constexpr int C = " + std::to_string(s.C) + ", BK = " + std::to_string(s.BK) +
                               ", BV = " + std::to_string(s.BV) + ", Warps = " + std::to_string(s.Warps) +
                               ", Stages = " + std::to_string(s.Stages) + ";");
  out = std::regex_replace(out, kDTypeLine, "kDType = linrec::kern::DType::" + s.dtype + ";");
  return out;
}

int featureWidthOf(const std::string& tu, int K) {
  std::smatch m;
  if (!std::regex_search(tu, m, kQMapLine)) return K;
  const std::string map = m[1];
  if (map == "Taylor2") return 1 + K + K * K;
  if (map == "Hedgehog") return 2 * K;
  return K;
}

std::string kernelName(const std::string& tu, const std::string& kind) {
  const std::regex re("\\b(linrec_" + kind + "_[0-9a-f]{12}_\\w+)\\(");
  std::smatch m;
  if (!std::regex_search(tu, m, re)) return {};
  return m[1];
}

bool takesRegisterPath(const std::string& tu, const TuShape& s, bool normalize, bool vectorDecay, bool delta) {
  return !kernelName(tu, delta ? "wy" : "seg_state").empty() &&
         kern::fused_regs_applies(s.dtype == "FP32" ? 4 : 2, s.dtype == "BF16", delta, delta, normalize, true, true,
                                  vectorDecay, s.K, s.KF, s.V, s.C, s.BV, s.Warps);
}

std::vector<std::pair<std::string, std::string>> kernelHeaders() {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string dir = sourceRoot() + "/runtime/kernels/include/linrec/kernel";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".cuh") == 0)
      out.emplace_back("linrec/kernel/" + name, readFile(dir + "/" + name));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace linrec::kerneltest
