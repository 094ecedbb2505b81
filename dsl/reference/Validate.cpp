// Shape checks of a reference call: every tensor against the Spec and the Problem, with messages that say what to pass.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "Prepare.h"
#include "linrec/reference/Reference.h"

namespace linrec::reference {
namespace {

/// Sizes stay far below this, so products of up to five dimensions never overflow int64.
constexpr int64_t kMaxElements = int64_t{1} << 48;

using Dims = std::vector<std::pair<const char*, int64_t>>;

/// "[B,T,H] = [2,50,1] = 100", or -1 in `total` when the product is absurdly large.
std::string describe(const Dims& dims, int64_t& total) {
  std::string names = "[", values = "[";
  total = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    names += (i ? "," : "") + std::string(dims[i].first);
    values += (i ? "," : "") + std::to_string(dims[i].second);
    if (total >= 0) total = dims[i].second > 0 && total > kMaxElements / dims[i].second ? -1 : total * dims[i].second;
  }
  return names + "] = " + values + "] = " + std::to_string(total);
}

Status checkSize(const std::string& what, const std::vector<double>& t, const Dims& dims,
                 const std::string& hint = "") {
  int64_t total = 0;
  const std::string shape = describe(dims, total);
  if (total < 0) return Error{what + ": expected shape " + shape + " is too large"};
  if (static_cast<int64_t>(t.size()) != total) {
    return Error{what + " has " + std::to_string(t.size()) + " elements, expected " + shape + hint};
  }
  return Status::success();
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

}  // namespace

Status validate(const dsl::Spec& spec, const Problem& p, const Inputs& in) {
  if (p.B < 1 || p.H < 1 || p.K < 1 || p.V < 1 || p.T < 0) {
    return Error{"problem sizes must be B, H, K, V >= 1 and T >= 0, got B=" + std::to_string(p.B) +
                 " T=" + std::to_string(p.T) + " H=" + std::to_string(p.H) + " K=" + std::to_string(p.K) +
                 " V=" + std::to_string(p.V)};
  }
  if (auto s = detail::checkSpec(spec, p.K); !s) return s;

  if (!p.cu_seqlens.empty()) {
    const auto& cu = p.cu_seqlens;
    if (p.B != 1) return Error{"cu_seqlens given, so B must be 1 (got B=" + std::to_string(p.B) + ")"};
    if (cu.size() < 2) return Error{"cu_seqlens must have N+1 >= 2 entries, got " + std::to_string(cu.size())};
    if (cu.front() != 0) return Error{"cu_seqlens must start at 0, got " + std::to_string(cu.front())};
    for (size_t i = 1; i < cu.size(); ++i) {
      if (cu[i] < cu[i - 1]) {
        return Error{"cu_seqlens must be non-decreasing, but cu_seqlens[" + std::to_string(i) +
                     "] = " + std::to_string(cu[i]) + " < cu_seqlens[" + std::to_string(i - 1) +
                     "] = " + std::to_string(cu[i - 1])};
      }
    }
    if (cu.back() != p.T) {
      return Error{"cu_seqlens must end at T = " + std::to_string(p.T) + ", got " + std::to_string(cu.back())};
    }
  }

  const int64_t B = p.B, T = p.T, H = p.H, K = p.K, V = p.V, N = p.numSequences();
  const int64_t kf = spec.featureWidth(p.K);
  if (auto s = checkSize("q", in.q, {{"B", B}, {"T", T}, {"H", H}, {"K", K}}); !s) return s;
  if (auto s = checkSize("k", in.k, {{"B", B}, {"T", T}, {"H", H}, {"K", K}}); !s) return s;
  if (auto s = checkSize("v", in.v, {{"B", B}, {"T", T}, {"H", H}, {"V", V}}); !s) return s;

  std::vector<std::string> declared;
  for (const auto& d : spec.inputs) declared.push_back(d.name);
  for (const auto& d : spec.inputs) {
    const bool vec = d.kind == dsl::InputDecl::Kind::Vector;
    Dims dims = {{"B", B}, {"T", T}, {"H", H}};
    if (vec) dims.push_back({"K", K});
    const std::string what = "input '" + d.name + "'";
    auto it = in.inputs.find(d.name);
    if (it == in.inputs.end()) {
      int64_t total = 0;
      return Error{what + " is missing; variant '" + spec.name + "' declares it " + (vec ? "vector " : "scalar ") +
                   describe(dims, total)};
    }
    if (auto s = checkSize(what, it->second, dims); !s) return s;
  }
  for (const auto& [name, t] : in.inputs) {
    if (!spec.findInput(name)) {
      return Error{"input '" + name + "' is not declared by variant '" + spec.name +
                   "' (declared inputs: " + joinNames(declared) + ")"};
    }
  }

  declared.clear();
  for (const auto& d : spec.params) declared.push_back(d.name);
  for (const auto& d : spec.params) {
    const bool vec = d.kind == dsl::ParamDecl::Kind::HeadKey;
    Dims dims = {{"H", H}};
    if (vec) dims.push_back({"K", K});
    const std::string what = "param '" + d.name + "'";
    auto it = in.params.find(d.name);
    if (it == in.params.end()) {
      int64_t total = 0;
      return Error{what + " is missing; variant '" + spec.name + "' declares it " + describe(dims, total)};
    }
    if (auto s = checkSize(what, it->second, dims); !s) return s;
  }
  for (const auto& [name, t] : in.params) {
    if (!spec.findParam(name)) {
      return Error{"param '" + name + "' is not declared by variant '" + spec.name +
                   "' (declared params: " + joinNames(declared) + ")"};
    }
  }

  if (!in.initial_state.empty()) {
    if (auto s = checkSize("initial_state", in.initial_state, {{"N", N}, {"H", H}, {"K'", kf}, {"V", V}},
                           " (or empty for zeros)");
        !s) {
      return s;
    }
  }
  if (!in.initial_z.empty()) {
    if (!spec.normalize) {
      return Error{"initial_z is given but variant '" + spec.name + "' has no normalizer; leave it empty"};
    }
    if (auto s = checkSize("initial_z", in.initial_z, {{"N", N}, {"H", H}, {"K'", kf}}, " (or empty for zeros)"); !s) {
      return s;
    }
  }
  return Status::success();
}

}  // namespace linrec::reference
