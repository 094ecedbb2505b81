// Test support: the hand-written generated translation units, their TOML specs, and how tests specialise them.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace linrec::kerneltest {

/// One family of tests/kernels/generated: its TU file and a TOML spec meaning the same recurrence.
struct Family {
  std::string name;  ///< also the TU's file stem
  std::string toml;
};

/// Every family with a hand-written TU, in a fixed order.
const std::vector<Family>& families();
const Family* findFamily(const std::string& name);

/// The repository root (LINREC_SOURCE_DIR, or the directory this test was configured from).
std::string sourceRoot();
/// Reads a whole file; empty string (and `ok` false) when it cannot.
std::string readFile(const std::string& path, bool* ok = nullptr);
/// tests/kernels/generated/<family>.cu.
std::string tuPath(const std::string& family);

/// The Variant's K, V, K' and the Config of a TU.
struct TuShape {
  int K = 0, V = 0, KF = 0;
  int C = 0, BK = 0, BV = 0, Warps = 0, Stages = 0;
  std::string dtype;  ///< "BF16", "FP16" or "FP32"
};

/// Reads the shape lines of a TU; false when they are not in the documented form.
bool parseTuShape(const std::string& tu, TuShape& out);
/// Rewrites the Variant dims line and the Config lines of a TU (the substitution the tests and the
/// emulated-module build use; KF is taken as given).
std::string specialize(const std::string& tu, const TuShape& s);
/// K' for a feature map named as in FeatureMapKind ("Identity", ...), read from the TU's kQMap line.
int featureWidthOf(const std::string& tu, int K);

/// The extern "C" entry of a TU whose name starts with linrec_<kind>_ (kind: fwd, sp_local, sp_scan,
/// sp_output, decode); empty when the TU has none.
std::string kernelName(const std::string& tu, const std::string& kind);

/// Whether a TU of shape s runs the register-state fused kernel (layout.cuh fused_regs_applies): it has the
/// entries codegen emits only then (the segment stages for additive rules, chunk_fwd_wy's for delta rules),
/// and the shape and recurrence qualify (the TUs' maps are raw or l2norm). Segments exist only with
/// delta = false.
bool takesRegisterPath(const std::string& tu, const TuShape& s, bool normalize, bool vectorDecay, bool delta = false);

/// Every kernel header as (include name "linrec/kernel/x.cuh", text), read from runtime/kernels/include.
std::vector<std::pair<std::string, std::string>> kernelHeaders();

}  // namespace linrec::kerneltest
