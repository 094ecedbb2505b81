// Test support: runs a TU's kernels on a device (CPU emulator or GPU) and compares them with the float64 reference.
#include "KernelHarness.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <sstream>

#include "linrec/kernel/layout.cuh"
#include "linrec/reference/Reference.h"
#include "linrec/runtime/KernelAbi.h"

namespace linrec::kerneltest {
namespace {

// ---- element encodings (what the kernels read and write)

uint16_t toBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float fromBf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t toFp16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u, absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (absu >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  float a;
  std::memcpy(&a, &absu, 4);
  if (absu < 0x38800000u) return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  uint32_t e = (absu >> 23) - 127 + 15, m = (absu & 0x7fffffu) >> 13;
  const uint32_t rest = absu & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (m & 1u))) {
    if (++m == 0x400u) {
      m = 0;
      ++e;
    }
  }
  return static_cast<uint16_t>(sign | (e << 10) | m);
}
float fromFp16(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  float f;
  if (e == 0) {
    f = std::ldexp(static_cast<float>(m), -24);
    return sign ? -f : f;
  }
  uint32_t u = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112) << 23) | (m << 13));
  std::memcpy(&f, &u, 4);
  return f;
}

size_t elemBytes(const std::string& dtype) {
  return dtype == "FP32" ? 4 : 2;
}

/// Rounds values to what the kernel will see in `dtype`, so the reference runs on the same numbers.
void quantize(std::vector<double>& x, const std::string& dtype) {
  for (double& v : x) {
    const float f = static_cast<float>(v);
    v = dtype == "BF16" ? fromBf16(toBf16(f)) : dtype == "FP16" ? fromFp16(toFp16(f)) : f;
  }
}

std::vector<unsigned char> encode(const std::vector<double>& x, const std::string& dtype) {
  std::vector<unsigned char> out(x.size() * elemBytes(dtype));
  for (size_t i = 0; i < x.size(); ++i) {
    const float f = static_cast<float>(x[i]);
    if (dtype == "FP32") {
      std::memcpy(&out[4 * i], &f, 4);
    } else {
      const uint16_t h = dtype == "BF16" ? toBf16(f) : toFp16(f);
      std::memcpy(&out[2 * i], &h, 2);
    }
  }
  return out;
}

std::vector<double> decode(const std::vector<unsigned char>& b, const std::string& dtype) {
  const size_t n = b.size() / elemBytes(dtype);
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (dtype == "FP32") {
      float f;
      std::memcpy(&f, &b[4 * i], 4);
      out[i] = f;
    } else {
      uint16_t h;
      std::memcpy(&h, &b[2 * i], 2);
      out[i] = dtype == "BF16" ? fromBf16(h) : fromFp16(h);
    }
  }
  return out;
}

std::vector<unsigned char> encodeF32(const std::vector<double>& x) {
  return encode(x, "FP32");
}

/// A device buffer released on scope exit.
class Buffer {
 public:
  explicit Buffer(Device& d) : dev_(d) {}
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (ptr_) dev_.release(ptr_);
  }
  /// Allocates and uploads `bytes`; an empty image allocates nothing (ptr() stays null).
  std::string upload(const std::vector<unsigned char>& bytes) {
    if (bytes.empty()) return {};
    if (std::string e = dev_.alloc(bytes.size(), &ptr_); !e.empty()) return e;
    size_ = bytes.size();
    return dev_.upload(ptr_, bytes.data(), bytes.size());
  }
  /// Allocates `bytes` filled with 0xff (NaN in every float format), so unwritten outputs fail.
  std::string poison(size_t bytes) { return upload(std::vector<unsigned char>(bytes, 0xff)); }
  std::string download(std::vector<unsigned char>& out) const {
    out.resize(size_);
    return size_ ? dev_.download(out.data(), ptr_, size_) : std::string();
  }
  void* ptr() const { return ptr_; }

 private:
  Device& dev_;
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

struct Layouts {
  bool vec, delta, norm, decay;
};

Layouts flags(const dsl::Spec& spec) {
  return {spec.decay == dsl::DecayKind::Vector, spec.rule == dsl::UpdateRule::Delta, spec.normalize,
          spec.decay != dsl::DecayKind::None};
}

int ceilDiv(int64_t a, int64_t b) {
  return static_cast<int>((a + b - 1) / b);
}

/// Everything a forward launch needs on the device, built from reference inputs.
struct ForwardBuffers {
  explicit ForwardBuffers(Device& d) : q(d), k(d), v(d), o(d), h0(d), ht(d), z0(d), zt(d), cu(d), ws(d) {
    for (int i = 0; i < abi::kMaxInputs; ++i) ins.emplace_back(new Buffer(d));
    for (int i = 0; i < abi::kMaxParams; ++i) pars.emplace_back(new Buffer(d));
  }
  Buffer q, k, v, o, h0, ht, z0, zt, cu, ws;
  std::vector<std::unique_ptr<Buffer>> ins, pars;
};

#define LINREC_TRY(expr)                                 \
  do {                                                   \
    if (std::string _e = (expr); !_e.empty()) return _e; \
  } while (0)

/// Uploads inputs, launches the fused or state-passing kernels, leaves outputs in `b`.
std::string forward(Device& dev, const dsl::Spec& spec, const std::string& tu, const TuShape& s,
                    const reference::Problem& prob, const reference::Inputs& in, bool state_passing, int segments,
                    ForwardBuffers& b) {
  const int N = prob.numSequences(), H = prob.H, K = s.K, V = s.V, KF = s.KF;
  const int64_t BT = static_cast<int64_t>(prob.B) * prob.T;
  LINREC_TRY(b.q.upload(encode(in.q, s.dtype)));
  LINREC_TRY(b.k.upload(encode(in.k, s.dtype)));
  LINREC_TRY(b.v.upload(encode(in.v, s.dtype)));
  LINREC_TRY(b.o.poison(BT * H * V * elemBytes(s.dtype)));
  abi::FwdParams p{};
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    LINREC_TRY(b.ins[i]->upload(encodeF32(in.inputs.at(spec.inputs[i].name))));
    p.inputs[i] = static_cast<const float*>(b.ins[i]->ptr());
  }
  for (size_t i = 0; i < spec.params.size(); ++i) {
    LINREC_TRY(b.pars[i]->upload(encodeF32(in.params.at(spec.params[i].name))));
    p.params[i] = static_cast<const float*>(b.pars[i]->ptr());
  }
  LINREC_TRY(b.h0.upload(encodeF32(in.initial_state)));
  LINREC_TRY(b.ht.poison(static_cast<size_t>(N) * H * KF * V * 4));
  if (spec.normalize) {
    LINREC_TRY(b.z0.upload(encodeF32(in.initial_z)));
    LINREC_TRY(b.zt.poison(static_cast<size_t>(N) * H * KF * 4));
  }
  std::vector<unsigned char> cu(prob.cu_seqlens.size() * 8);
  if (!cu.empty()) std::memcpy(cu.data(), prob.cu_seqlens.data(), cu.size());
  LINREC_TRY(b.cu.upload(cu));
  p.q = b.q.ptr();
  p.k = b.k.ptr();
  p.v = b.v.ptr();
  p.o = b.o.ptr();
  p.h0 = static_cast<const float*>(b.h0.ptr());
  p.ht = static_cast<float*>(b.ht.ptr());
  p.z0 = static_cast<const float*>(b.z0.ptr());
  p.zt = static_cast<float*>(b.zt.ptr());
  p.cu_seqlens = static_cast<const long long*>(b.cu.ptr());
  p.B = prob.B;
  p.T = prob.T;
  p.H = H;
  p.N = N;
  p.scale = static_cast<float>(spec.scaleFor(K));
  int64_t nct = 0;
  for (int n = 0; n < N; ++n) {
    const int64_t len = prob.cu_seqlens.empty() ? prob.T : prob.cu_seqlens[n + 1] - prob.cu_seqlens[n];
    nct += ceilDiv(len, s.C);
  }
  p.num_chunks_total = static_cast<int>(nct);
  // The chunk hand-over of delta-rule state passing runs in every case: the kernels run one after another
  // here, so a chunk the prep or the scan did not flag stops an emulated case (flags_wait traps) instead of
  // passing. Not a value the poisoned workspace holds.
  p.epoch = 0x5ca1ab1e0ddba11ull;
  const Layouts f = flags(spec);
  const int eb = static_cast<int>(elemBytes(s.dtype));  // the kernels' exact shared memory, as codegen passes it
  const unsigned threads = static_cast<unsigned>(s.Warps * 32);
  const unsigned gx = static_cast<unsigned>(N * H), gy = static_cast<unsigned>(ceilDiv(V, s.BV));
  if (!state_passing) {
    const std::string name = kernelName(tu, "fwd");
    if (name.empty()) return "TU has no fused forward entry";
    const bool regs = takesRegisterPath(tu, s, f.norm, f.vec, f.delta);
    const int smem = regs ? kern::fused_regs_layout(KF, s.C, s.BV, f.vec, f.delta).total
                          : kern::fused_smem_bytes(K, KF, s.C, s.BV, s.Warps, f.vec, f.delta, f.norm, eb);
    if (regs && f.delta) {  // chunk_fwd_wy solves every chunk's W and U into the workspace first
      const std::string wy = kernelName(tu, "wy");
      LINREC_TRY(b.ws.poison(static_cast<size_t>(kern::fused_wy_ws(BT, H, K, V, eb).bytes())));
      p.ws = static_cast<float*>(b.ws.ptr());
      const int smem_wy = kern::wy_layout(K, V, s.C, s.Warps).total;
      LINREC_TRY(dev.launch(wy, gx, static_cast<unsigned>(std::max(1, ceilDiv(prob.T, s.C))), 1, threads,
                            static_cast<unsigned>(smem_wy), &p, sizeof(p)));
    }
    if (segments > 1) {
      const std::string state = kernelName(tu, "seg_state"), scan = kernelName(tu, "seg_scan");
      if (state.empty() || scan.empty()) return "TU has no seg_state / seg_scan entries";
      LINREC_TRY(b.ws.poison(static_cast<size_t>(kern::segment_ws(N, segments, H, KF, V, f.vec ? KF : 1).bytes())));
      p.ws = static_cast<float*>(b.ws.ptr());
      LINREC_TRY(dev.launch(state, gx, gy, static_cast<unsigned>(segments - 1), threads,
                            static_cast<unsigned>(kern::fused_regs_state_layout(KF, s.C, s.BV, f.vec).total), &p,
                            sizeof(p)));
      LINREC_TRY(dev.launch(scan, gx, static_cast<unsigned>(ceilDiv(static_cast<int64_t>(KF) * V, threads)), 1,
                            threads, 0, &p, sizeof(p)));
    }
    LINREC_TRY(dev.launch(name, gx, gy, static_cast<unsigned>(std::max(1, segments)), threads,
                          static_cast<unsigned>(smem), &p, sizeof(p)));
    return dev.synchronize();
  }
  // Delta rules run the WY prep kernel where additive rules with a decay run the gate pre-pass.
  const std::string scan = kernelName(tu, "sp_scan"), output = kernelName(tu, "sp_output"),
                    gates = kernelName(tu, f.delta ? "sp_prep" : "sp_gates");
  if (scan.empty() || output.empty()) return "TU has no state-passing entries";
  if (f.delta && gates.empty()) return "TU has no sp_prep entry (delta-rule state passing needs the WY prep)";
  if (f.decay && gates.empty()) return "TU has no sp_gates entry (state passing with a decay needs the pre-pass)";
  const kern::StatePassingWs w = kern::state_passing_ws(nct, H, KF, V, f.norm, eb, s.C, f.decay, f.vec, f.delta);
  LINREC_TRY(b.ws.poison(static_cast<size_t>(w.bytes())));
  p.ws = static_cast<float*>(b.ws.ptr());
  const unsigned gz = static_cast<unsigned>(std::max(1, ceilDiv(prob.T, s.C)));
  const unsigned gk = f.delta ? 1u : static_cast<unsigned>(ceilDiv(KF, s.BK));
  const int smem_scan =
      kern::chunk_layout(kern::ChunkKernel::Scan, K, KF, s.C, s.BV, s.Warps, f.vec, f.delta, f.norm, eb, s.BK, s.Stages)
          .bytes();
  const int out_bv = kern::output_block_v(K, KF, s.C, s.BV, V, s.Warps, f.vec, f.norm, eb);
  // Either output body (raw q/k or not), as for the prep below.
  const int smem_out =
      std::max(kern::output_smem_bytes(K, KF, V, s.C, out_bv, s.Warps, f.delta, true, true, f.vec, f.norm, eb),
               kern::output_smem_bytes(K, KF, V, s.C, out_bv, s.Warps, f.delta, false, false, f.vec, f.norm, eb));
  if (f.decay || f.delta) {
    const int smem_gates =
        // Either prep body (raw k or not): the larger launch suits both (the harness does not know k's map).
        f.delta ? std::max(kern::delta_prep_smem_bytes(K, KF, V, s.C, s.Warps, true, true, f.vec, f.norm, eb, out_bv),
                           kern::delta_prep_smem_bytes(K, KF, V, s.C, s.Warps, false, false, f.vec, f.norm, eb, out_bv))
                : kern::chunk_layout(kern::ChunkKernel::Gates, K, KF, s.C, s.BV, s.Warps, f.vec, f.delta, f.norm, eb)
                      .bytes();
    LINREC_TRY(dev.launch(gates, gx, gz, 1, threads, static_cast<unsigned>(smem_gates), &p, sizeof(p)));
  }
  const unsigned scan_threads =
      static_cast<unsigned>(kern::state_scan_threads(eb, f.delta, f.norm, KF, s.C, s.BV, s.Warps));
  LINREC_TRY(dev.launch(scan, gx, gy, gk, scan_threads, static_cast<unsigned>(smem_scan), &p, sizeof(p)));
  LINREC_TRY(dev.launch(output, gx, static_cast<unsigned>(ceilDiv(V, out_bv)), gz, threads,
                        static_cast<unsigned>(smem_out), &p, sizeof(p)));
  return dev.synchronize();
}

void roundInputs(reference::Inputs& in, const std::string& dtype) {
  quantize(in.q, dtype);
  quantize(in.k, dtype);
  quantize(in.v, dtype);
  for (auto& [name, x] : in.inputs) quantize(x, "FP32");
  for (auto& [name, x] : in.params) quantize(x, "FP32");
  quantize(in.initial_state, "FP32");
  quantize(in.initial_z, "FP32");
}

}  // namespace

std::string Case::describe() const {
  std::ostringstream s;
  s << "B=" << B << " T=" << T << " H=" << H;
  if (!cu_seqlens.empty()) {
    s << " cu_seqlens=[";
    for (size_t i = 0; i < cu_seqlens.size(); ++i) s << (i ? "," : "") << cu_seqlens[i];
    s << "]";
  }
  s << (initial_state ? " h0" : "") << (state_passing ? " state-passing" : " fused");
  if (segments > 1) s << " segments=" << segments;
  s << " seed=" << seed;
  return s.str();
}

double tolerance(const std::string& dtype) {
  return dtype == "FP32" ? 1e-5 : 2e-2;
}

Outcome runPrefill(Device& dev, const dsl::Spec& spec, const std::string& tu, const TuShape& shape, const Case& c) {
  Outcome out;
  reference::Problem prob;
  prob.B = c.B;
  prob.T = c.T;
  prob.H = c.H;
  prob.K = shape.K;
  prob.V = shape.V;
  prob.cu_seqlens = c.cu_seqlens;
  reference::Inputs in = reference::randomInputs(spec, prob, c.seed, c.initial_state);
  roundInputs(in, shape.dtype);
  auto ref = reference::runRecurrent(spec, prob, in);
  if (!ref) {
    out.error = "reference: " + ref.error();
    return out;
  }
  ForwardBuffers b(dev);
  out.error = forward(dev, spec, tu, shape, prob, in, c.state_passing, c.segments, b);
  if (!out.error.empty()) return out;
  std::vector<unsigned char> zt;
  if (std::string e = b.o.download(out.raw_o); !e.empty()) out.error = e;
  if (std::string e = b.ht.download(out.raw_state); !e.empty()) out.error = e;
  if (spec.normalize)
    if (std::string e = b.zt.download(zt); !e.empty()) out.error = e;
  if (!out.error.empty()) return out;
  out.err_o = reference::relativeError(decode(out.raw_o, shape.dtype), ref->o);
  out.err_state = reference::relativeError(decode(out.raw_state, "FP32"), ref->final_state);
  if (spec.normalize) out.err_z = reference::relativeError(decode(zt, "FP32"), ref->final_z);
  return out;
}

Outcome runPrefillThenDecode(Device& dev, const dsl::Spec& spec, const std::string& tu, const TuShape& shape,
                             const Case& c, int prefix) {
  Outcome out;
  const int B = c.B, T = c.T, H = c.H, K = shape.K, V = shape.V, KF = shape.KF;
  reference::Problem prob;
  prob.B = B;
  prob.T = T;
  prob.H = H;
  prob.K = K;
  prob.V = V;
  reference::Inputs in = reference::randomInputs(spec, prob, c.seed, c.initial_state);
  roundInputs(in, shape.dtype);
  auto ref = reference::runRecurrent(spec, prob, in);
  if (!ref) {
    out.error = "reference: " + ref.error();
    return out;
  }
  // Token slices [B, t0:t1, H, w] of a [B, T, H, w] tensor.
  auto slice = [&](const std::vector<double>& x, int w, int t0, int t1) {
    std::vector<double> s;
    s.reserve(static_cast<size_t>(B) * (t1 - t0) * H * w);
    for (int b = 0; b < B; ++b)
      for (int t = t0; t < t1; ++t) {
        const size_t at = ((static_cast<size_t>(b) * T + t) * H) * w;
        s.insert(s.end(), x.begin() + at, x.begin() + at + static_cast<size_t>(H) * w);
      }
    return s;
  };
  auto sliceInputs = [&](const reference::Inputs& src, int t0, int t1) {
    reference::Inputs r;
    r.q = slice(src.q, K, t0, t1);
    r.k = slice(src.k, K, t0, t1);
    r.v = slice(src.v, V, t0, t1);
    for (const dsl::InputDecl& d : spec.inputs)
      r.inputs[d.name] = slice(src.inputs.at(d.name), d.kind == dsl::InputDecl::Kind::Vector ? K : 1, t0, t1);
    r.params = src.params;
    return r;
  };
  std::vector<double> o_all(static_cast<size_t>(B) * T * H * V, std::numeric_limits<double>::quiet_NaN());
  Buffer state(dev), z(dev);
  std::vector<unsigned char> state_img, z_img;
  if (prefix > 0) {
    reference::Problem pp = prob;
    pp.T = prefix;
    reference::Inputs pin = sliceInputs(in, 0, prefix);
    pin.initial_state = in.initial_state;
    pin.initial_z = in.initial_z;
    ForwardBuffers b(dev);
    out.error = forward(dev, spec, tu, shape, pp, pin, false, 1, b);
    if (!out.error.empty()) return out;
    std::vector<unsigned char> o_raw;
    if (std::string e = b.o.download(o_raw); !e.empty()) return out.error = e, out;
    if (std::string e = b.ht.download(state_img); !e.empty()) return out.error = e, out;
    if (spec.normalize)
      if (std::string e = b.zt.download(z_img); !e.empty()) return out.error = e, out;
    const std::vector<double> o_pre = decode(o_raw, shape.dtype);
    for (int bb = 0; bb < B; ++bb)
      for (int t = 0; t < prefix; ++t)
        for (int j = 0; j < H * V; ++j)
          o_all[((static_cast<size_t>(bb) * T + t) * H) * V + j] =
              o_pre[((static_cast<size_t>(bb) * prefix + t) * H) * V + j];
  } else {
    std::vector<double> s0 = in.initial_state, z0 = in.initial_z;
    s0.resize(static_cast<size_t>(B) * H * KF * V, 0.0);
    state_img = encodeF32(s0);
    if (spec.normalize) {
      z0.resize(static_cast<size_t>(B) * H * KF, 0.0);
      z_img = encodeF32(z0);
    }
  }
  if (std::string e = state.upload(state_img); !e.empty()) return out.error = e, out;
  if (spec.normalize)
    if (std::string e = z.upload(z_img); !e.empty()) return out.error = e, out;
  const std::string name = kernelName(tu, "decode");
  if (name.empty()) return out.error = "TU has no decode entry", out;
  const unsigned gy = spec.normalize ? 1u : static_cast<unsigned>(ceilDiv(V, shape.BV));
  const int smem = kern::decode_smem_bytes(K, KF, shape.Warps);
  for (int t = prefix; t < T; ++t) {
    reference::Inputs tin = sliceInputs(in, t, t + 1);
    Buffer q(dev), k(dev), v(dev), o(dev);
    std::vector<std::unique_ptr<Buffer>> ins, pars;
    abi::DecodeParams p{};
    if (std::string e = q.upload(encode(tin.q, shape.dtype)); !e.empty()) return out.error = e, out;
    if (std::string e = k.upload(encode(tin.k, shape.dtype)); !e.empty()) return out.error = e, out;
    if (std::string e = v.upload(encode(tin.v, shape.dtype)); !e.empty()) return out.error = e, out;
    if (std::string e = o.poison(static_cast<size_t>(B) * H * V * elemBytes(shape.dtype)); !e.empty())
      return out.error = e, out;
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      ins.emplace_back(new Buffer(dev));
      if (std::string e = ins.back()->upload(encodeF32(tin.inputs.at(spec.inputs[i].name))); !e.empty())
        return out.error = e, out;
      p.inputs[i] = static_cast<const float*>(ins.back()->ptr());
    }
    for (size_t i = 0; i < spec.params.size(); ++i) {
      pars.emplace_back(new Buffer(dev));
      if (std::string e = pars.back()->upload(encodeF32(tin.params.at(spec.params[i].name))); !e.empty())
        return out.error = e, out;
      p.params[i] = static_cast<const float*>(pars.back()->ptr());
    }
    p.q = q.ptr();
    p.k = k.ptr();
    p.v = v.ptr();
    p.o = o.ptr();
    p.state = static_cast<float*>(state.ptr());
    p.z = static_cast<float*>(z.ptr());
    p.B = B;
    p.H = H;
    p.scale = static_cast<float>(spec.scaleFor(K));
    if (std::string e = dev.launch(name, static_cast<unsigned>(B * H), gy, 1, static_cast<unsigned>(shape.Warps * 32),
                                   static_cast<unsigned>(smem), &p, sizeof(p));
        !e.empty())
      return out.error = e, out;
    if (std::string e = dev.synchronize(); !e.empty()) return out.error = e, out;
    std::vector<unsigned char> o_raw;
    if (std::string e = o.download(o_raw); !e.empty()) return out.error = e, out;
    const std::vector<double> ot = decode(o_raw, shape.dtype);
    for (int bb = 0; bb < B; ++bb)
      for (int j = 0; j < H * V; ++j)
        o_all[((static_cast<size_t>(bb) * T + t) * H) * V + j] = ot[static_cast<size_t>(bb) * H * V + j];
  }
  std::vector<unsigned char> s_raw, z_raw;
  if (std::string e = state.download(s_raw); !e.empty()) return out.error = e, out;
  if (spec.normalize)
    if (std::string e = z.download(z_raw); !e.empty()) return out.error = e, out;
  out.err_o = reference::relativeError(o_all, ref->o);
  out.err_state = reference::relativeError(decode(s_raw, "FP32"), ref->final_state);
  if (spec.normalize) out.err_z = reference::relativeError(decode(z_raw, "FP32"), ref->final_z);
  out.raw_state = s_raw;
  return out;
}

}  // namespace linrec::kerneltest
