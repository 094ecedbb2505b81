// The timing harness: random inputs tiled into rotating buffer sets larger than L2, and event-timed launches.
#include "linrec/tuner/Timer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "Safetensors.h"
#include "linrec/reference/Reference.h"

namespace linrec::tuner {

namespace {

const char* storageName(codegen::DType d) {
  switch (d) {
    case codegen::DType::BF16:
      return "BF16";
    case codegen::DType::FP16:
      return "F16";
    default:
      return "F32";
  }
}

DType runtimeDType(codegen::DType d) {
  switch (d) {
    case codegen::DType::BF16:
      return DType::BF16;
    case codegen::DType::FP16:
      return DType::FP16;
    default:
      return DType::FP32;
  }
}

// Fills `bytes` of `buf` by repeating `pattern` (already in the buffer's dtype), starting at a different
// offset of the pattern per set so two sets never hold identical bytes at the same place.
Status fillRepeating(const DeviceBuffer& buf, size_t bytes, const std::vector<uint8_t>& pattern, size_t rotate) {
  if (pattern.empty() || bytes == 0) return Status::success();
  constexpr size_t kStage = size_t(8) << 20;
  std::vector<uint8_t> stage(std::min(bytes, kStage));
  size_t pos = (rotate * 4096) % pattern.size();
  pos -= pos % 16;  // whole elements of any dtype
  for (size_t i = 0; i < stage.size(); ++i) {
    stage[i] = pattern[pos];
    if (++pos == pattern.size()) pos = 0;
  }
  for (size_t off = 0; off < bytes; off += stage.size()) {
    size_t n = std::min(stage.size(), bytes - off);
    if (Status s = buf.upload(stage.data(), n, off); !s) return s;
  }
  return Status::success();
}

std::vector<uint8_t> encode(const std::vector<double>& x, const char* dtype) {
  return io::fromDouble(x, {static_cast<int64_t>(x.size())}, dtype).data;
}

}  // namespace

std::string Shape::label() const {
  std::ostringstream o;
  o << "B=" << B << " T=" << T << " H=" << H << " K=" << K << " V=" << V;
  return o.str();
}

Expected<Shape> Shape::parse(const std::string& text) {
  std::vector<int> v;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    long x = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || x <= 0 || x > (1 << 26))
      return Error{"shape '" + text + "': '" + item + "' is not a positive integer"};
    v.push_back(static_cast<int>(x));
  }
  if (v.size() != 5) return Error{"shape '" + text + "' must be five numbers B,T,H,K,V (e.g. 8,4096,16,128,128)"};
  return Shape{v[0], v[1], v[2], v[3], v[4]};
}

Workload::~Workload() = default;

Expected<Workload> Workload::create(Runtime& rt, const dsl::Spec& spec, const Shape& sh, codegen::DType dtype,
                                    codegen::Mode mode, const TimingOptions& opt) {
  const bool decode = mode == codegen::Mode::Decode;
  const int64_t B = sh.B, T = decode ? 1 : sh.T, H = sh.H, K = sh.K, V = sh.V, KF = spec.featureWidth(sh.K);
  const DType dt = runtimeDType(dtype);
  const size_t ds = dtypeSize(dt);
  const int64_t tokens = B * T;

  Workload w;
  w.mode_ = mode;
  // L2 size from the device; 50 MB (H100) if the driver will not say.
  const CudaDriver& drv = rt.driver();
  CUdevice dev = 0;
  int l2 = 0;
  if (drv.cuDeviceGet(&dev, rt.device().ordinal) != CUDA_SUCCESS ||
      drv.cuDeviceGetAttribute(&l2, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, dev) != CUDA_SUCCESS || l2 <= 0)
    l2 = 50 << 20;
  w.l2_bytes_ = static_cast<size_t>(l2);

  // What one set holds, per tensor: bytes per token (or per set for states).
  const size_t qk = tokens * H * K * ds, vo = tokens * H * V * ds;
  size_t inputs = 0;
  for (const auto& d : spec.inputs) inputs += tokens * H * (d.kind == dsl::InputDecl::Kind::Vector ? K : 1) * 4;
  const size_t state = B * H * KF * V * 4, z = spec.normalize ? B * H * KF * 4 : 0;
  w.bytes_per_set_ = 2 * qk + 2 * vo + inputs + state + z;
  w.floor_bytes_ = decode ? double(2 * qk + 2 * vo + inputs + 2 * state + 2 * z) : double(w.bytes_per_set_);

  size_t sets = (static_cast<size_t>(opt.rotate_l2_multiple * l2) + w.bytes_per_set_ - 1) / w.bytes_per_set_ + 1;
  const size_t cap = std::min(opt.max_bytes, rt.device().total_memory / 4);
  sets = std::clamp<size_t>(sets, 2, 16);
  while (sets > 1 && sets * w.bytes_per_set_ > cap) --sets;
  if (w.bytes_per_set_ > cap)
    return Error{"shape " + sh.label() + " needs " + std::to_string(w.bytes_per_set_ >> 20) +
                 " MiB per input set, more than the " + std::to_string(cap >> 20) + " MiB the tuner may use"};

  auto alloc = [&](size_t bytes) -> Expected<DeviceBuffer*> {
    auto b = rt.allocate(std::max<size_t>(bytes, 16));
    if (!b) return Error{b.error()};
    w.buffers_.push_back(std::move(*b));
    return &w.buffers_.back();
  };
  // Pointers into buffers_ must stay valid while it grows.
  w.buffers_.reserve(sets * 16 + spec.params.size() + 4);

  // Params are per head and read once: one copy for every set.
  const int64_t pattern_t = decode ? 1 : std::min<int64_t>(T, 64);
  reference::Problem p;
  p.B = 1;
  p.T = static_cast<int>(pattern_t);
  p.H = static_cast<int>(H);
  p.K = static_cast<int>(K);
  p.V = static_cast<int>(V);
  reference::Inputs base = reference::randomInputs(spec, p, opt.seed, decode);
  std::vector<TensorRef> params;
  for (const auto& d : spec.params) {
    const bool vec = d.kind == dsl::ParamDecl::Kind::HeadKey;
    std::vector<uint8_t> bytes = encode(base.params[d.name], "F32");
    auto b = alloc(bytes.size());
    if (!b) return Error{b.error()};
    if (Status s = (*b)->upload(bytes.data(), bytes.size()); !s) return Error{s.error()};
    params.push_back(vec ? TensorRef::contiguous((*b)->ptr(), DType::FP32, {H, K})
                         : TensorRef::contiguous((*b)->ptr(), DType::FP32, {H}));
  }

  for (size_t set = 0; set < sets; ++set) {
    reference::Inputs in = reference::randomInputs(spec, p, opt.seed + 1000 * (set + 1), decode);
    auto tensor = [&](const std::vector<double>& pattern, const char* st, size_t bytes, DType t,
                      std::vector<int64_t> shape) -> Expected<TensorRef> {
      auto b = alloc(bytes);
      if (!b) return Error{b.error()};
      if (Status s = fillRepeating(**b, bytes, encode(pattern, st), set); !s) return Error{s.error()};
      return TensorRef::contiguous((*b)->ptr(), t, std::move(shape));
    };
    auto output = [&](size_t bytes, DType t, std::vector<int64_t> shape) -> Expected<TensorRef> {
      auto b = alloc(bytes);
      if (!b) return Error{b.error()};
      if (Status s = (*b)->fill(0); !s) return Error{s.error()};
      return TensorRef::contiguous((*b)->ptr(), t, std::move(shape));
    };
    const char* st = storageName(dtype);
    std::vector<int64_t> qshape = decode ? std::vector<int64_t>{B, H, K} : std::vector<int64_t>{B, T, H, K};
    std::vector<int64_t> vshape = decode ? std::vector<int64_t>{B, H, V} : std::vector<int64_t>{B, T, H, V};
    auto q = tensor(in.q, st, qk, dt, qshape);
    auto k = tensor(in.k, st, qk, dt, qshape);
    auto v = tensor(in.v, st, vo, dt, vshape);
    auto o = output(vo, dt, vshape);
    if (!q || !k || !v || !o) return Error{!q ? q.error() : !k ? k.error() : !v ? v.error() : o.error()};
    std::vector<TensorRef> ins;
    for (const auto& d : spec.inputs) {
      const bool vec = d.kind == dsl::InputDecl::Kind::Vector;
      std::vector<int64_t> shape = decode ? std::vector<int64_t>{B, H} : std::vector<int64_t>{B, T, H};
      if (vec) shape.push_back(K);
      auto t = tensor(in.inputs[d.name], "F32", tokens * H * (vec ? K : 1) * 4, DType::FP32, shape);
      if (!t) return Error{t.error()};
      ins.push_back(*t);
    }
    if (!decode) {
      ForwardArgs a;
      a.q = *q;
      a.k = *k;
      a.v = *v;
      a.o = *o;
      a.inputs = ins;
      a.params = params;
      auto ht = output(state, DType::FP32, {B, H, KF, V});
      if (!ht) return Error{ht.error()};
      a.ht = *ht;
      if (spec.normalize) {
        auto zt = output(z, DType::FP32, {B, H, KF});
        if (!zt) return Error{zt.error()};
        a.zt = *zt;
      }
      w.forward_.push_back(std::move(a));
    } else {
      StepArgs a;
      a.q = *q;
      a.k = *k;
      a.v = *v;
      a.o = *o;
      a.inputs = ins;
      a.params = params;
      // The state is updated in place every step: small random values keep it finite over many steps.
      auto s = tensor(in.initial_state, "F32", state, DType::FP32, {B, H, KF, V});
      if (!s) return Error{s.error()};
      a.state = *s;
      if (spec.normalize) {
        auto zz = tensor(in.initial_z, "F32", z, DType::FP32, {B, H, KF});
        if (!zz) return Error{zz.error()};
        a.z = *zz;
      }
      w.step_.push_back(std::move(a));
    }
  }
  return w;
}

Expected<std::unique_ptr<EventTimer>> EventTimer::create(Runtime& rt) {
  const CudaDriver& d = rt.driver();
  if (!d.cuEventCreate || !d.cuEventRecord || !d.cuEventSynchronize || !d.cuEventElapsedTime || !d.cuEventDestroy)
    return Error{"this CUDA driver lacks the event API (cuEventCreate/Record/ElapsedTime) the tuner times with"};
  if (Status s = rt.makeCurrent(); !s) return Error{s.error()};
  std::unique_ptr<EventTimer> t(new EventTimer(rt));
  if (Status s = d.check(d.cuStreamCreate(&t->stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate"); !s)
    return Error{s.error()};
  return t;
}

EventTimer::~EventTimer() {
  const CudaDriver& d = rt_.driver();
  (void)rt_.makeCurrent();
  for (CUevent e : events_) d.cuEventDestroy(e);
  if (stream_) d.cuStreamDestroy(stream_);
}

Expected<Timing> EventTimer::time(const Kernel& kernel, const Workload& work, const TimingOptions& opt) {
  const CudaDriver& d = rt_.driver();
  if (Status s = rt_.makeCurrent(); !s) return Error{s.error()};
  const int max_reps = std::max(opt.max_reps, std::max(opt.min_reps, 1));
  while (events_.size() < 2 * static_cast<size_t>(max_reps)) {
    CUevent e = nullptr;
    if (Status s = d.check(d.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate"); !s) return Error{s.error()};
    events_.push_back(e);
  }
  const bool decode = work.mode() == codegen::Mode::Decode;
  size_t launch = 0;
  auto run = [&]() -> Status {
    size_t i = launch++;
    return decode ? kernel.step(work.step(i), stream_) : kernel.forward(work.forward(i), stream_);
  };
  for (int i = 0; i < opt.warmup; ++i)
    if (Status s = run(); !s) return Error{s.error()};
  if (Status s = d.check(d.cuStreamSynchronize(stream_), "warm-up"); !s) return Error{"kernel execution: " + s.error()};

  const auto start = std::chrono::steady_clock::now();
  int reps = 0;
  while (reps < max_reps) {
    // Batches keep the GPU busy between host checks of the wall-clock limit.
    const int batch = std::min(10, max_reps - reps);
    for (int b = 0; b < batch; ++b, ++reps) {
      if (Status s = d.check(d.cuEventRecord(events_[2 * size_t(reps)], stream_), "cuEventRecord"); !s)
        return Error{s.error()};
      if (Status s = run(); !s) return Error{s.error()};
      if (Status s = d.check(d.cuEventRecord(events_[2 * size_t(reps) + 1], stream_), "cuEventRecord"); !s)
        return Error{s.error()};
    }
    if (Status s = d.check(d.cuStreamSynchronize(stream_), "timed launches"); !s)
      return Error{"kernel execution: " + s.error()};
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (reps >= opt.min_reps && wall > opt.max_seconds) break;
  }
  std::vector<double> ms(reps);
  for (int r = 0; r < reps; ++r) {
    float t = 0;
    if (Status s =
            d.check(d.cuEventElapsedTime(&t, events_[2 * size_t(r)], events_[2 * size_t(r) + 1]), "cuEventElapsedTime");
        !s)
      return Error{s.error()};
    ms[r] = t;
  }
  std::sort(ms.begin(), ms.end());
  Timing out;
  out.reps = reps;
  out.launch = programmaticLaunchName(rt_.device());
  out.min_ms = ms.front();
  out.max_ms = ms.back();
  out.median_ms = reps % 2 ? ms[reps / 2] : 0.5 * (ms[reps / 2 - 1] + ms[reps / 2]);
  return out;
}

}  // namespace linrec::tuner
