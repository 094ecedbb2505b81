// Checks every launch argument before a kernel sees it: a mismatch is an error, never an out-of-bounds access.
#include "linrec/runtime/Validation.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <string>

namespace linrec {

namespace {

struct Dim {
  std::string name;  // "B", "K", ... or "" for a literal 1
  int64_t value;
};

std::string dimsText(const std::vector<Dim>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    if (dims[i].name.empty())
      s += std::to_string(dims[i].value);
    else
      s += dims[i].name + "=" + std::to_string(dims[i].value);
  }
  return s + "]";
}

std::string hexPtr(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

/// A byte range of device memory, for aliasing checks.
struct Span {
  std::string name;
  uintptr_t begin, end;
  bool output;
};

class Checker {
 public:
  explicit Checker(const char* fn) : fn_(fn) {}

  Error fail(const std::string& tensor, const std::string& what) const {
    return Error{std::string(fn_) + ": " + tensor + ": " + what};
  }

  /// Checks presence, dtype, shape, contiguity and alignment of one tensor and records its span.
  Status tensor(const std::string& name, const TensorRef& t, DType dtype, const std::vector<Dim>& dims, bool output,
                const char* dtypeWhy) {
    if (!t.ptr) return fail(name, "required but not given (null pointer)");
    if (t.dtype != dtype)
      return fail(name,
                  std::string("expected dtype ") + dtypeName(dtype) + " (" + dtypeWhy + "), got " + dtypeName(t.dtype));
    bool shapeOk = t.shape.size() == dims.size();
    for (size_t i = 0; shapeOk && i < dims.size(); ++i) shapeOk = t.shape[i] == dims[i].value;
    if (!shapeOk) return fail(name, "expected shape " + dimsText(dims) + ", got " + t.describe());
    if (Status s = layout(name, t, dims); !s) return s;
    uintptr_t b = reinterpret_cast<uintptr_t>(t.ptr);
    spans_.push_back({name, b, b + static_cast<uintptr_t>(t.numel()) * dtypeSize(t.dtype), output});
    return {};
  }

  /// Strides and alignment only (the shape already checked).
  Status layout(const std::string& name, const TensorRef& t, const std::vector<Dim>& dims) const {
    if (!t.strides.empty()) {
      if (t.strides.size() != t.shape.size())
        return fail(name,
                    std::to_string(t.strides.size()) + " strides for " + std::to_string(t.shape.size()) + " dims");
      std::vector<int64_t> want = contiguousStrides(t.shape);
      for (size_t i = 0; i < want.size(); ++i) {
        if (t.shape[i] <= 1 || t.strides[i] == want[i]) continue;  // a size-1 dim's stride is never used
        std::string dn = i < dims.size() && !dims[i].name.empty() ? " (" + dims[i].name + ")" : "";
        return fail(name, "not contiguous: dim " + std::to_string(i) + dn + " has stride " +
                              std::to_string(t.strides[i]) + ", expected " + std::to_string(want[i]) +
                              " (make it contiguous, e.g. .contiguous() in torch)");
      }
    }
    if (reinterpret_cast<uintptr_t>(t.ptr) % kTensorAlignment != 0)
      return fail(name, "pointer " + hexPtr(t.ptr) + " is not " + std::to_string(kTensorAlignment) + "-byte aligned");
    return {};
  }

  /// Outputs may not overlap anything else; the one exception is a state updated in place (`ht` may be
  /// exactly `h0`), which the kernels support.
  Status noAliasing(const std::vector<std::pair<std::string, std::string>>& inPlaceOk) const {
    for (size_t i = 0; i < spans_.size(); ++i)
      for (size_t j = 0; j < spans_.size(); ++j) {
        const Span& a = spans_[i];
        const Span& b = spans_[j];
        if (i == j || !a.output || (b.output && j < i)) continue;
        if (a.end <= b.begin || b.end <= a.begin) continue;
        bool exact = a.begin == b.begin && a.end == b.end;
        bool allowed = false;
        for (const auto& [o, in] : inPlaceOk) allowed |= exact && a.name == o && b.name == in;
        if (allowed) continue;
        return fail(a.name, "overlaps " + b.name + " in memory (outputs must not alias other tensors" +
                                (inPlaceOk.empty() ? std::string(")") : ", except a state updated in place)"));
      }
    return {};
  }

 private:
  const char* fn_;
  std::vector<Span> spans_;
};

constexpr const char* kKernelDType = "the kernel's dtype";
constexpr const char* kFp32 = "gates, params and states are fp32";

bool fitsInt(int64_t v) {
  return v >= 0 && v <= INT_MAX;
}

Status checkScale(const char* fn, const std::optional<float>& scale) {
  if (scale && !std::isfinite(*scale)) return Error{std::string(fn) + ": scale: must be finite"};
  return {};
}

}  // namespace

Expected<ForwardShape> checkForward(const LaunchDescriptor& d, const ForwardArgs& a) {
  Checker c("forward");
  if (!d.hasForward()) return Error{"forward: this module has no forward kernel (it is decode-only)"};
  if (!a.q.ptr) return c.fail("q", "required but not given (null pointer)");
  if (a.q.shape.size() != 4 || a.q.shape[3] != d.K)
    return c.fail("q", "expected shape [B, T, H, K=" + std::to_string(d.K) + "], got " + a.q.describe());
  ForwardShape s;
  s.B = a.q.shape[0];
  s.T = a.q.shape[1];
  s.H = a.q.shape[2];
  if (s.B < 1 || s.T < 1 || s.H < 1)
    return c.fail("q", "empty tensor " + a.q.describe() + ": B, T and H must be at least 1");
  if (!fitsInt(s.B) || !fitsInt(s.T) || !fitsInt(s.H) || !fitsInt(s.B * s.T * s.H))
    return c.fail("q", "too large: B*T*H must fit a 32-bit int (the kernels index tokens with int)");

  const Dim B{"B", s.B}, T{"T", s.T}, H{"H", s.H}, K{"K", d.K}, V{"V", d.V}, KF{"K'", d.KF};
  if (Status st = c.tensor("q", a.q, d.dtype, {B, T, H, K}, false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("k", a.k, d.dtype, {B, T, H, K}, false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("v", a.v, d.dtype, {B, T, H, V}, false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("o", a.o, d.dtype, {B, T, H, V}, true, kKernelDType); !st) return Error{st.error()};

  // Sequences: B of length T, or the cu_seqlens offsets into one packed sequence.
  s.N = s.B;
  std::vector<int64_t> lens;
  if (a.cu_seqlens.ptr) {
    const TensorRef& cu = a.cu_seqlens;
    if (cu.dtype != DType::I64)
      return c.fail("cu_seqlens", std::string("expected dtype int64, got ") + dtypeName(cu.dtype));
    if (cu.shape.size() != 1 || cu.shape[0] < 2)
      return c.fail("cu_seqlens", "expected shape [N+1] with N >= 1, got " + cu.describe());
    if (s.B != 1)
      return c.fail("cu_seqlens",
                    "given with B=" + std::to_string(s.B) + "; variable-length input packs all sequences into B=1");
    s.N = cu.shape[0] - 1;
    if (Status st = c.tensor("cu_seqlens", cu, DType::I64, {{"N+1", s.N + 1}}, false, "offsets"); !st)
      return Error{st.error()};
    if (a.cu_seqlens_host) {
      const int64_t* h = a.cu_seqlens_host;
      if (h[0] != 0) return c.fail("cu_seqlens", "must start at 0, starts at " + std::to_string(h[0]));
      for (int64_t i = 1; i <= s.N; ++i)
        if (h[i] < h[i - 1])
          return c.fail("cu_seqlens", "must not decrease: [" + std::to_string(i - 1) + "]=" + std::to_string(h[i - 1]) +
                                          " > [" + std::to_string(i) + "]=" + std::to_string(h[i]));
      if (h[s.N] != s.T)
        return c.fail("cu_seqlens", "must end at T=" + std::to_string(s.T) + ", ends at " + std::to_string(h[s.N]));
      for (int64_t i = 0; i < s.N; ++i) lens.push_back(h[i + 1] - h[i]);
    }
  } else {
    if (a.cu_seqlens_host) return c.fail("cu_seqlens_host", "given without cu_seqlens");
    lens.assign(static_cast<size_t>(s.B), s.T);
  }
  if (!fitsInt(s.N)) return c.fail("cu_seqlens", "too many sequences");
  const Dim N{"N", s.N};

  if (a.inputs.size() != d.inputs.size())
    return c.fail("inputs", "the kernel declares " + std::to_string(d.inputs.size()) + " input(s), got " +
                                std::to_string(a.inputs.size()));
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    std::string name = "inputs[" + std::to_string(i) + "] (" + d.inputs[i].name + ")";
    std::vector<Dim> dims = {B, T, H};
    if (d.inputs[i].kind == InputSlot::Kind::Vector) dims.push_back(K);
    if (Status st = c.tensor(name, a.inputs[i], DType::FP32, dims, false, kFp32); !st) return Error{st.error()};
  }
  if (a.params.size() != d.params.size())
    return c.fail("params", "the kernel declares " + std::to_string(d.params.size()) + " param(s), got " +
                                std::to_string(a.params.size()));
  for (size_t i = 0; i < d.params.size(); ++i) {
    std::string name = "params[" + std::to_string(i) + "] (" + d.params[i].name + ")";
    std::vector<Dim> dims = {H};
    if (d.params[i].kind == ParamSlot::Kind::HeadKey) dims.push_back(K);
    if (Status st = c.tensor(name, a.params[i], DType::FP32, dims, false, kFp32); !st) return Error{st.error()};
  }

  if (a.h0.ptr)
    if (Status st = c.tensor("h0", a.h0, DType::FP32, {N, H, KF, V}, false, kFp32); !st) return Error{st.error()};
  if (a.ht.ptr)
    if (Status st = c.tensor("ht", a.ht, DType::FP32, {N, H, KF, V}, true, kFp32); !st) return Error{st.error()};
  if (!d.normalize && (a.z0.ptr || a.zt.ptr))
    return c.fail(a.z0.ptr ? "z0" : "zt", "given, but the kernel has no normalizer state");
  if (a.z0.ptr)
    if (Status st = c.tensor("z0", a.z0, DType::FP32, {N, H, KF}, false, kFp32); !st) return Error{st.error()};
  if (a.zt.ptr)
    if (Status st = c.tensor("zt", a.zt, DType::FP32, {N, H, KF}, true, kFp32); !st) return Error{st.error()};
  if (Status st = c.noAliasing({{"ht", "h0"}, {"zt", "z0"}}); !st) return Error{st.error()};

  if (Status st = checkScale("forward", a.scale); !st) return Error{st.error()};
  s.scale = a.scale ? *a.scale : static_cast<float>(d.defaultScale());

  if (!a.cu_seqlens.ptr || a.cu_seqlens_host) {
    s.NC = 0;
    s.MC = 0;
    for (int64_t len : lens) {
      int64_t chunks = (len + d.chunk - 1) / d.chunk;
      s.NC += chunks;
      s.MC = std::max(s.MC, chunks);
    }
    if (!fitsInt(s.NC)) return c.fail("q", "too many chunks for a 32-bit count");
    auto ws = d.workspace_bytes.text().empty() ? Expected<int64_t>(int64_t{0})
                                               : d.workspace_bytes.evaluate(forwardLaunchVars(d, s));
    if (!ws) return Error{"forward: workspace_bytes: " + ws.error()};
    if (*ws < 0) return Error{"forward: workspace_bytes: negative (" + std::to_string(*ws) + ")"};
    s.workspace_bytes = *ws;
  }
  if (a.workspace) {
    if (reinterpret_cast<uintptr_t>(a.workspace) % 256 != 0)
      return c.fail("workspace", "pointer " + hexPtr(a.workspace) + " is not 256-byte aligned");
    if (s.workspace_bytes >= 0 && a.workspace_bytes < static_cast<uint64_t>(s.workspace_bytes))
      return c.fail("workspace", std::to_string(a.workspace_bytes) + " bytes given, " +
                                     std::to_string(s.workspace_bytes) + " needed");
  }
  return s;
}

Status validateForward(const LaunchDescriptor& desc, const ForwardArgs& args) {
  auto r = checkForward(desc, args);
  if (!r) return Error{r.error()};
  return {};
}

Expected<StepShape> checkStep(const LaunchDescriptor& d, const StepArgs& a) {
  Checker c("step");
  if (!d.decodeKernel()) return Error{"step: this module has no decode kernel"};
  if (!a.q.ptr) return c.fail("q", "required but not given (null pointer)");
  const auto& qs = a.q.shape;
  bool rank4 = qs.size() == 4 && qs[1] == 1 && qs[3] == d.K;
  bool rank3 = qs.size() == 3 && qs[2] == d.K;
  if (!rank4 && !rank3)
    return c.fail("q", "expected shape [B, 1, H, K=" + std::to_string(d.K) + "] or [B, H, K=" + std::to_string(d.K) +
                           "] (one token per sequence), got " + a.q.describe());
  StepShape s;
  s.B = qs[0];
  s.H = rank4 ? qs[2] : qs[1];
  if (s.B < 1 || s.H < 1) return c.fail("q", "empty tensor " + a.q.describe() + ": B and H must be at least 1");
  if (!fitsInt(s.B) || !fitsInt(s.H) || !fitsInt(s.B * s.H)) return c.fail("q", "too large: B*H must fit a 32-bit int");

  const Dim B{"B", s.B}, H{"H", s.H}, K{"K", d.K}, V{"V", d.V}, KF{"K'", d.KF};
  // Token tensors use q's form: [B,1,H,*] or [B,H,*].
  auto tok = [&](std::vector<Dim> rest) {
    std::vector<Dim> dims = {B};
    if (rank4) dims.push_back({"", 1});
    dims.push_back(H);
    dims.insert(dims.end(), rest.begin(), rest.end());
    return dims;
  };
  if (Status st = c.tensor("q", a.q, d.dtype, tok({K}), false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("k", a.k, d.dtype, tok({K}), false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("v", a.v, d.dtype, tok({V}), false, kKernelDType); !st) return Error{st.error()};
  if (Status st = c.tensor("o", a.o, d.dtype, tok({V}), true, kKernelDType); !st) return Error{st.error()};
  if (a.inputs.size() != d.inputs.size())
    return c.fail("inputs", "the kernel declares " + std::to_string(d.inputs.size()) + " input(s), got " +
                                std::to_string(a.inputs.size()));
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    std::string name = "inputs[" + std::to_string(i) + "] (" + d.inputs[i].name + ")";
    auto dims = d.inputs[i].kind == InputSlot::Kind::Vector ? tok({K}) : tok({});
    if (Status st = c.tensor(name, a.inputs[i], DType::FP32, dims, false, kFp32); !st) return Error{st.error()};
  }
  if (a.params.size() != d.params.size())
    return c.fail("params", "the kernel declares " + std::to_string(d.params.size()) + " param(s), got " +
                                std::to_string(a.params.size()));
  for (size_t i = 0; i < d.params.size(); ++i) {
    std::string name = "params[" + std::to_string(i) + "] (" + d.params[i].name + ")";
    std::vector<Dim> dims = {H};
    if (d.params[i].kind == ParamSlot::Kind::HeadKey) dims.push_back(K);
    if (Status st = c.tensor(name, a.params[i], DType::FP32, dims, false, kFp32); !st) return Error{st.error()};
  }
  if (Status st = c.tensor("state", a.state, DType::FP32, {B, H, KF, V}, true, kFp32); !st) return Error{st.error()};
  if (d.normalize) {
    if (Status st = c.tensor("z", a.z, DType::FP32, {B, H, KF}, true, kFp32); !st) return Error{st.error()};
  } else if (a.z.ptr) {
    return c.fail("z", "given, but the kernel has no normalizer state");
  }
  if (Status st = c.noAliasing({}); !st) return Error{st.error()};
  if (Status st = checkScale("step", a.scale); !st) return Error{st.error()};
  s.scale = a.scale ? *a.scale : static_cast<float>(d.defaultScale());
  return s;
}

Status validateStep(const LaunchDescriptor& desc, const StepArgs& args) {
  auto r = checkStep(desc, args);
  if (!r) return Error{r.error()};
  return {};
}

LaunchVars forwardLaunchVars(const LaunchDescriptor& d, const ForwardShape& s) {
  LaunchVars v = {{"B", s.B}, {"T", s.T},   {"H", s.H},     {"N", s.N},   {"K", d.K},
                  {"V", d.V}, {"KF", d.KF}, {"C", d.chunk}, {"NC", s.NC}, {"MC", s.MC}};
  v.insert(v.end(), d.constants.begin(), d.constants.end());
  return v;
}

LaunchVars stepLaunchVars(const LaunchDescriptor& d, const StepShape& s) {
  LaunchVars v = {{"B", s.B}, {"H", s.H}, {"N", s.B}, {"K", d.K}, {"V", d.V}, {"KF", d.KF}};
  v.insert(v.end(), d.constants.begin(), d.constants.end());
  return v;
}

}  // namespace linrec
