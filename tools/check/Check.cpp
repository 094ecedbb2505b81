// GPU-vs-reference comparisons: random inputs rounded to the kernel dtype, NaN-poisoned outputs, one launch.
#include "Check.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "Safetensors.h"
#include "linrec/reference/Reference.h"

namespace linrec::check {

namespace {

const char* dtypeSafetensorsName(codegen::DType d) {
  switch (d) {
    case codegen::DType::BF16: return "BF16";
    case codegen::DType::FP16: return "F16";
    default: return "F32";
  }
}

// Rounds values through the kernel's dtype so that the reference sees exactly what the kernel reads.
std::vector<double> roundTo(const std::vector<double>& x, const char* dtype) {
  return io::toDouble(io::fromDouble(x, {static_cast<int64_t>(x.size())}, dtype));
}

struct DeviceTensor {
  DeviceBuffer buf;
  TensorRef ref;
};

Expected<DeviceTensor> upload(Runtime& rt, const std::vector<double>& host, const char* st_dtype, DType dtype,
                              std::vector<int64_t> shape) {
  io::Tensor t = io::fromDouble(host, shape, st_dtype);
  auto buf = rt.allocate(std::max<size_t>(t.data.size(), 16));
  if (!buf) return Error{buf.error()};
  if (!t.data.empty()) {
    Status s = buf->upload(t.data.data(), t.data.size());
    if (!s) return Error{s.error()};
  }
  DeviceTensor d;
  d.ref = TensorRef::contiguous(buf->ptr(), dtype, std::move(shape));
  d.buf = std::move(*buf);
  return d;
}

// An output buffer filled with 0xFF bytes: NaN in fp32, bf16 and fp16, so unwritten elements cannot pass.
Expected<DeviceTensor> poisoned(Runtime& rt, size_t elems, DType dtype, std::vector<int64_t> shape) {
  auto buf = rt.allocate(std::max<size_t>(elems * dtypeSize(dtype), 16));
  if (!buf) return Error{buf.error()};
  Status s = buf->fill(0xFF);
  if (!s) return Error{s.error()};
  DeviceTensor d;
  d.ref = TensorRef::contiguous(buf->ptr(), dtype, std::move(shape));
  d.buf = std::move(*buf);
  return d;
}

Expected<std::vector<double>> download(const DeviceTensor& d, size_t elems, const char* st_dtype) {
  io::Tensor t;
  t.dtype = st_dtype;
  t.shape = {static_cast<int64_t>(elems)};
  t.data.resize(elems * io::dtypeSize(st_dtype));
  if (!t.data.empty()) {
    Status s = d.buf.download(t.data.data(), t.data.size());
    if (!s) return Error{s.error()};
  }
  return io::toDouble(t);
}

bool hasNaN(const std::vector<double>& x) {
  for (double v : x)
    if (!std::isfinite(v)) return true;
  return false;
}

// Gathers token t of every sequence of a [B,T,H,W] tensor into a contiguous [B,H,W] block.
std::vector<double> tokenSlice(const std::vector<double>& x, int B, int T, int H, int W, int t) {
  std::vector<double> out(static_cast<size_t>(B) * H * W);
  for (int b = 0; b < B; ++b)
    std::memcpy(&out[static_cast<size_t>(b) * H * W], &x[(static_cast<size_t>(b) * T + t) * H * W],
                sizeof(double) * H * W);
  return out;
}

}  // namespace

std::string CheckCase::label() const {
  std::ostringstream o;
  o << codegen::dtypeName(dtype) << " B=" << B << " T=" << T << " H=" << H << " K=" << K << " V=" << V;
  if (!cu_seqlens.empty()) o << " varlen(" << cu_seqlens.size() - 1 << ")";
  if (initial_state) o << " h0";
  o << " C=" << config.chunk << " BV=" << config.block_v << " " << codegen::strategyName(config.strategy);
  if (decode_steps) o << " decode=" << decode_steps;
  return o.str();
}

double toleranceFor(codegen::DType dtype) {
  switch (dtype) {
    case codegen::DType::FP32: return 1e-5;
    case codegen::DType::FP16: return 5e-3;
    default: return 2e-2;
  }
}

DType runtimeDType(codegen::DType d) {
  switch (d) {
    case codegen::DType::BF16: return DType::BF16;
    case codegen::DType::FP16: return DType::FP16;
    default: return DType::FP32;
  }
}

Expected<CheckResult> runCheck(Runtime& rt, const dsl::Spec& spec, const CheckCase& c) {
  const bool decode = c.decode_steps > 0;
  const int KF = spec.featureWidth(c.K);
  reference::Problem p;
  p.B = c.B;
  p.T = c.T + (decode ? c.decode_steps : 0);
  p.H = c.H;
  p.K = c.K;
  p.V = c.V;
  p.cu_seqlens = c.cu_seqlens;
  if (decode && !p.cu_seqlens.empty()) return Error{"a decode check takes no cu_seqlens"};
  reference::Inputs in = reference::randomInputs(spec, p, c.seed, c.initial_state);
  const char* st = dtypeSafetensorsName(c.dtype);
  in.q = roundTo(in.q, st);
  in.k = roundTo(in.k, st);
  in.v = roundTo(in.v, st);
  for (auto& [n, x] : in.inputs) x = roundTo(x, "F32");
  for (auto& [n, x] : in.params) x = roundTo(x, "F32");
  in.initial_state = roundTo(in.initial_state, "F32");
  in.initial_z = roundTo(in.initial_z, "F32");
  auto ref = reference::runRecurrent(spec, p, in);
  if (!ref) return Error{"reference: " + ref.error()};

  // Prefill over the first T tokens (all of them for a prefill check).
  const int N = p.numSequences();
  const int T0 = c.T;
  auto firstTokens = [&](const std::vector<double>& x, int W) {
    if (!decode) return x;
    std::vector<double> out(static_cast<size_t>(c.B) * T0 * c.H * W);
    for (int b = 0; b < c.B; ++b)
      std::memcpy(&out[static_cast<size_t>(b) * T0 * c.H * W], &x[static_cast<size_t>(b) * p.T * c.H * W],
                  sizeof(double) * T0 * c.H * W);
    return out;
  };
  const DType dt = runtimeDType(c.dtype);
  codegen::HeadDims dims{c.K, c.V};
  codegen::TuningConfig config = c.config;
  if (c.auto_tiles) {
    auto d = codegen::defaultConfig(spec, dims, codegen::Mode::Prefill, c.dtype, config.smem_limit);
    if (!d) return Error{"codegen: " + llvm::toString(d.takeError())};
    codegen::applyDefaultTiles(config, *d, c.keep_warps);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto gen = codegen::generate(spec, dims, config, codegen::Mode::Prefill, c.dtype);
  if (!gen) return Error{"codegen: " + llvm::toString(gen.takeError())};
  auto kernel = rt.load(gen->source, gen->descriptor_json);
  if (!kernel) return Error{kernel.error()};
  CheckResult res;
  res.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  res.tolerance = toleranceFor(c.dtype);
  res.config = config;

  std::vector<DeviceTensor> keep;
  auto up = [&](const std::vector<double>& x, const char* sd, DType d, std::vector<int64_t> shape) -> Expected<TensorRef> {
    auto t = upload(rt, x, sd, d, std::move(shape));
    if (!t) return Error{t.error()};
    keep.push_back(std::move(*t));
    return keep.back().ref;
  };
  ForwardArgs a;
  const int64_t B = c.B, T = T0, H = c.H, K = c.K, V = c.V;
  auto q = up(firstTokens(in.q, c.K), st, dt, {B, T, H, K});
  auto k = up(firstTokens(in.k, c.K), st, dt, {B, T, H, K});
  auto v = up(firstTokens(in.v, c.V), st, dt, {B, T, H, V});
  if (!q || !k || !v) return Error{"upload failed"};
  a.q = *q;
  a.k = *k;
  a.v = *v;
  for (const auto& decl : spec.inputs) {
    const bool vec = decl.kind == dsl::InputDecl::Kind::Vector;
    auto t = vec ? up(firstTokens(in.inputs[decl.name], c.K), "F32", DType::FP32, {B, T, H, K})
                 : up(firstTokens(in.inputs[decl.name], 1), "F32", DType::FP32, {B, T, H});
    if (!t) return Error{t.error()};
    a.inputs.push_back(*t);
  }
  for (const auto& decl : spec.params) {
    const bool vec = decl.kind == dsl::ParamDecl::Kind::HeadKey;
    auto t = vec ? up(in.params[decl.name], "F32", DType::FP32, {H, K}) : up(in.params[decl.name], "F32", DType::FP32, {H});
    if (!t) return Error{t.error()};
    a.params.push_back(*t);
  }
  std::vector<int64_t> cu_host = c.cu_seqlens;
  if (!c.cu_seqlens.empty()) {
    auto t = up(std::vector<double>(cu_host.begin(), cu_host.end()), "I64", DType::I64,
                {static_cast<int64_t>(cu_host.size())});
    if (!t) return Error{t.error()};
    a.cu_seqlens = *t;
    a.cu_seqlens_host = cu_host.data();
  }
  if (c.initial_state) {
    auto h0 = up(in.initial_state, "F32", DType::FP32, {N, H, KF, V});
    if (!h0) return Error{h0.error()};
    a.h0 = *h0;
    if (spec.normalize) {
      auto z0 = up(in.initial_z, "F32", DType::FP32, {N, H, KF});
      if (!z0) return Error{z0.error()};
      a.z0 = *z0;
    }
  }
  const size_t o_elems = static_cast<size_t>(B) * T * H * V, s_elems = static_cast<size_t>(N) * H * KF * V,
               z_elems = static_cast<size_t>(N) * H * KF;
  auto o = poisoned(rt, o_elems, dt, {B, T, H, V});
  auto ht = poisoned(rt, s_elems, DType::FP32, {N, H, KF, V});
  if (!o || !ht) return Error{"allocation failed"};
  a.o = o->ref;
  a.ht = ht->ref;
  Expected<DeviceTensor> zt = Error{""};
  if (spec.normalize) {
    zt = poisoned(rt, z_elems, DType::FP32, {N, H, KF});
    if (!zt) return Error{zt.error()};
    a.zt = zt->ref;
  }
  Status s = kernel->forward(a, nullptr);
  if (!s) return Error{s.error()};
  s = rt.synchronize(nullptr);
  if (!s) return Error{"kernel execution: " + s.error()};

  if (!decode) {
    auto go = download(*o, o_elems, st);
    auto gs = download(*ht, s_elems, "F32");
    if (!go || !gs) return Error{"download failed"};
    res.o_err = reference::relativeError(*go, ref->o);
    res.state_err = reference::relativeError(*gs, ref->final_state);
    if (spec.normalize) {
      auto gz = download(*zt, z_elems, "F32");
      if (!gz) return Error{gz.error()};
      res.z_err = reference::relativeError(*gz, ref->final_z);
    }
    if (hasNaN(*go) || hasNaN(*gs)) res.detail = "output has NaN/inf (unwritten or overflowed elements)";
  } else {
    // Decode: continue from the prefill's final state, one step per token, comparing every step's output.
    auto dec = codegen::generate(spec, dims, config, codegen::Mode::Decode, c.dtype);
    if (!dec) return Error{"codegen (decode): " + llvm::toString(dec.takeError())};
    auto dk = rt.load(dec->source, dec->descriptor_json);
    if (!dk) return Error{dk.error()};
    std::vector<double> all_o;
    double worst_o = 0;
    for (int step = 0; step < c.decode_steps; ++step) {
      const int t = T0 + step;
      StepArgs sa;
      auto sq = up(tokenSlice(in.q, c.B, p.T, c.H, c.K, t), st, dt, {B, H, K});
      auto sk = up(tokenSlice(in.k, c.B, p.T, c.H, c.K, t), st, dt, {B, H, K});
      auto sv = up(tokenSlice(in.v, c.B, p.T, c.H, c.V, t), st, dt, {B, H, V});
      if (!sq || !sk || !sv) return Error{"upload failed"};
      sa.q = *sq;
      sa.k = *sk;
      sa.v = *sv;
      for (const auto& decl : spec.inputs) {
        const bool vec = decl.kind == dsl::InputDecl::Kind::Vector;
        auto x = vec ? up(tokenSlice(in.inputs[decl.name], c.B, p.T, c.H, c.K, t), "F32", DType::FP32, {B, H, K})
                     : up(tokenSlice(in.inputs[decl.name], c.B, p.T, c.H, 1, t), "F32", DType::FP32, {B, H});
        if (!x) return Error{x.error()};
        sa.inputs.push_back(*x);
      }
      sa.params = a.params;
      sa.state = ht->ref;
      if (spec.normalize) sa.z = zt->ref;
      auto so = poisoned(rt, static_cast<size_t>(B) * H * V, dt, {B, H, V});
      if (!so) return Error{so.error()};
      sa.o = so->ref;
      s = dk->step(sa, nullptr);
      if (!s) return Error{s.error()};
      s = rt.synchronize(nullptr);
      if (!s) return Error{"decode step: " + s.error()};
      auto go = download(*so, static_cast<size_t>(B) * H * V, st);
      if (!go) return Error{go.error()};
      std::vector<double> want = tokenSlice(ref->o, c.B, p.T, c.H, c.V, t);
      worst_o = std::max(worst_o, reference::relativeError(*go, want));
      if (hasNaN(*go)) res.detail = "decode output has NaN/inf at step " + std::to_string(step);
      keep.resize(keep.size() - 3 - spec.inputs.size());  // free this step's token buffers
    }
    res.o_err = worst_o;
    auto gs = download(*ht, s_elems, "F32");
    if (!gs) return Error{gs.error()};
    res.state_err = reference::relativeError(*gs, ref->final_state);
    if (spec.normalize) {
      auto gz = download(*zt, z_elems, "F32");
      if (!gz) return Error{gz.error()};
      res.z_err = reference::relativeError(*gz, ref->final_z);
    }
  }
  res.pass = res.detail.empty() && res.o_err <= res.tolerance && res.state_err <= res.tolerance &&
             res.z_err <= res.tolerance;
  if (!res.pass && res.detail.empty()) {
    std::ostringstream o;
    o << "error above tolerance " << res.tolerance << " (o " << res.o_err << ", state " << res.state_err;
    if (spec.normalize) o << ", z " << res.z_err;
    o << ")";
    res.detail = o.str();
  }
  return res;
}

Expected<io::TensorMap> runOnTensors(Runtime& rt, const dsl::Spec& spec, const io::TensorMap& in,
                                     const codegen::TuningConfig& requested, codegen::DType dtype, bool auto_tiles,
                                     bool keep_warps) {
  auto shapeText = [](const std::vector<int64_t>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? "," : "") + std::to_string(s[i]);
    return t + "]";
  };
  auto need = [&](const std::string& name, const std::vector<int64_t>& shape, bool required,
                  const char* what) -> Expected<const io::Tensor*> {
    auto it = in.find(name);
    if (it == in.end()) {
      if (required) return Error{"missing tensor '" + name + "' (" + what + ", shape " + shapeText(shape) + ")"};
      return static_cast<const io::Tensor*>(nullptr);
    }
    if (!shape.empty() && it->second.shape != shape)
      return Error{"tensor '" + name + "' has shape " + shapeText(it->second.shape) + ", expected " + what + " " +
                   shapeText(shape)};
    return &it->second;
  };
  auto qi = in.find("q"), vi = in.find("v");
  if (qi == in.end() || vi == in.end()) return Error{"the inputs need at least q [B,T,H,K] and v [B,T,H,V]"};
  if (qi->second.shape.size() != 4) return Error{"tensor 'q' must be [B,T,H,K], got " + shapeText(qi->second.shape)};
  if (vi->second.shape.size() != 4) return Error{"tensor 'v' must be [B,T,H,V], got " + shapeText(vi->second.shape)};
  const int64_t B = qi->second.shape[0], T = qi->second.shape[1], H = qi->second.shape[2], K = qi->second.shape[3];
  const int64_t V = vi->second.shape[3];
  if (vi->second.shape[0] != B || vi->second.shape[1] != T || vi->second.shape[2] != H)
    return Error{"tensor 'v' has shape " + shapeText(vi->second.shape) + ", expected [B,T,H,V] = [" +
                 std::to_string(B) + "," + std::to_string(T) + "," + std::to_string(H) + ",V] from q"};
  auto k = need("k", {B, T, H, K}, true, "[B,T,H,K]");
  if (!k) return Error{k.error()};
  const char* st = dtypeSafetensorsName(dtype);
  const DType dt = runtimeDType(dtype);
  std::vector<DeviceTensor> keep;
  auto up = [&](const io::Tensor& t, const char* sd, DType d) -> Expected<TensorRef> {
    auto u = upload(rt, io::toDouble(t), sd, d, t.shape);
    if (!u) return Error{u.error()};
    keep.push_back(std::move(*u));
    return keep.back().ref;
  };
  ForwardArgs a;
  auto q_ref = up(qi->second, st, dt), k_ref = up(**k, st, dt), v_ref = up(vi->second, st, dt);
  if (!q_ref || !k_ref || !v_ref) return Error{"upload failed"};
  a.q = *q_ref;
  a.k = *k_ref;
  a.v = *v_ref;
  for (const auto& decl : spec.inputs) {
    const bool vec = decl.kind == dsl::InputDecl::Kind::Vector;
    auto t = vec ? need(decl.name, {B, T, H, K}, true, "declared vector input [B,T,H,K]")
                 : need(decl.name, {B, T, H}, true, "declared scalar input [B,T,H]");
    if (!t) return Error{t.error()};
    auto r = up(**t, "F32", DType::FP32);
    if (!r) return Error{r.error()};
    a.inputs.push_back(*r);
  }
  for (const auto& decl : spec.params) {
    const bool vec = decl.kind == dsl::ParamDecl::Kind::HeadKey;
    auto t = vec ? need(decl.name, {H, K}, true, "declared head_key param [H,K]")
                 : need(decl.name, {H}, true, "declared head param [H]");
    if (!t) return Error{t.error()};
    auto r = up(**t, "F32", DType::FP32);
    if (!r) return Error{r.error()};
    a.params.push_back(*r);
  }
  std::vector<int64_t> cu;
  auto cu_t = need("cu_seqlens", {}, false, "");
  if (!cu_t) return Error{cu_t.error()};
  if (*cu_t) {
    const io::Tensor& c = **cu_t;
    if (c.dtype != "I64" && c.dtype != "I32") return Error{"tensor 'cu_seqlens' must be I64 or I32, got " + c.dtype};
    if (c.shape.size() != 1 || c.shape[0] < 2) return Error{"tensor 'cu_seqlens' must be [N+1] with N >= 1"};
    for (double x : io::toDouble(c)) cu.push_back(static_cast<int64_t>(x));
    if (B != 1) return Error{"with cu_seqlens, q must have B = 1 (got B = " + std::to_string(B) + ")"};
    auto r = up(c, "I64", DType::I64);
    if (!r) return Error{r.error()};
    a.cu_seqlens = *r;
    a.cu_seqlens_host = cu.data();
  }
  const int64_t N = cu.empty() ? B : static_cast<int64_t>(cu.size()) - 1;
  const int64_t KF = spec.featureWidth(static_cast<int>(K));
  auto h0 = need("initial_state", {N, H, KF, V}, false, "initial state [N,H,K',V]");
  if (!h0) return Error{h0.error()};
  if (*h0) {
    auto r = up(**h0, "F32", DType::FP32);
    if (!r) return Error{r.error()};
    a.h0 = *r;
  }
  auto z0 = need("initial_z", {N, H, KF}, false, "initial normalizer state [N,H,K']");
  if (!z0) return Error{z0.error()};
  if (*z0 && !spec.normalize) return Error{"tensor 'initial_z' given, but " + spec.name + " has no normalizer"};
  if (*z0) {
    auto r = up(**z0, "F32", DType::FP32);
    if (!r) return Error{r.error()};
    a.z0 = *r;
  }
  for (const auto& [name, t] : in) {
    static const std::vector<std::string> fixed = {"q", "k", "v", "cu_seqlens", "initial_state", "initial_z"};
    if (std::find(fixed.begin(), fixed.end(), name) == fixed.end() && !spec.findInput(name) && !spec.findParam(name))
      return Error{"tensor '" + name + "' is not used by " + spec.name + " (remove it or check its name)"};
  }
  const codegen::HeadDims dims{static_cast<int>(K), static_cast<int>(V)};
  codegen::TuningConfig config = requested;
  if (auto_tiles) {
    auto d = codegen::defaultConfig(spec, dims, codegen::Mode::Prefill, dtype, config.smem_limit);
    if (!d) return Error{"codegen: " + llvm::toString(d.takeError())};
    codegen::applyDefaultTiles(config, *d, keep_warps);
  }
  auto gen = codegen::generate(spec, dims, config, codegen::Mode::Prefill, dtype);
  if (!gen) return Error{"codegen: " + llvm::toString(gen.takeError())};
  auto kernel = rt.load(gen->source, gen->descriptor_json);
  if (!kernel) return Error{kernel.error()};
  const size_t o_elems = static_cast<size_t>(B * T * H * V), s_elems = static_cast<size_t>(N * H * KF * V);
  auto o = poisoned(rt, o_elems, dt, {B, T, H, V});
  auto ht = poisoned(rt, s_elems, DType::FP32, {N, H, KF, V});
  if (!o || !ht) return Error{"allocation failed"};
  a.o = o->ref;
  a.ht = ht->ref;
  Expected<DeviceTensor> zt = Error{""};
  if (spec.normalize) {
    zt = poisoned(rt, static_cast<size_t>(N * H * KF), DType::FP32, {N, H, KF});
    if (!zt) return Error{zt.error()};
    a.zt = zt->ref;
  }
  Status s = kernel->forward(a, nullptr);
  if (!s) return Error{s.error()};
  s = rt.synchronize(nullptr);
  if (!s) return Error{"kernel execution: " + s.error()};
  io::TensorMap out;
  auto go = download(*o, o_elems, st);
  auto gs = download(*ht, s_elems, "F32");
  if (!go || !gs) return Error{"download failed"};
  out["o"] = io::fromDouble(*go, {B, T, H, V}, st);
  out["final_state"] = io::fromDouble(*gs, {N, H, KF, V}, "F32");
  if (spec.normalize) {
    auto gz = download(*zt, static_cast<size_t>(N * H * KF), "F32");
    if (!gz) return Error{gz.error()};
    out["final_z"] = io::fromDouble(*gz, {N, H, KF}, "F32");
  }
  return out;
}

}  // namespace linrec::check
