// The autotuner's run: enumerate, compile in parallel, check against the reference, time, choose, store.
#include "linrec/tuner/Tuner.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <tuple>

#include <nlohmann/json.hpp>

#include "Check.h"
#include "linrec/kdb/KernelIndex.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/tuner/KernelBuild.h"

namespace linrec::tuner {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string firstLine(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// Everything a candidate needs between the compile and the timing phase.
struct Slot {
  size_t result = 0;  // index into TuneResult::candidates
  const Candidate* candidate = nullptr;
  std::shared_ptr<Module> module;
  std::shared_ptr<const CubinResult> cubin;
};

nlohmann::json configJson(const codegen::TuningConfig& c) {
  return nlohmann::json::parse(toKernelConfig(c).toJson());
}

nlohmann::json candidateJson(const CandidateResult& c) {
  nlohmann::json j = {{"config", configJson(c.config)}, {"status", candidateStatusName(c.status)}};
  if (c.is_default) j["default"] = true;
  if (!c.reason.empty()) j["reason"] = c.reason;
  if (c.status == CandidateStatus::Timed) {
    j["median_ms"] = c.timing.median_ms;
    j["min_ms"] = c.timing.min_ms;
    j["max_ms"] = c.timing.max_ms;
    j["reps"] = c.timing.reps;
    if (!c.timing.launch.empty()) j["launch"] = c.timing.launch;
  }
  if (c.check_error >= 0) j["check_error"] = c.check_error;
  if (c.registers > 0) {
    j["registers"] = c.registers;
    j["spill_bytes"] = c.spill_bytes;
  }
  if (c.compile_ms > 0) j["compile_ms"] = c.compile_ms;
  return j;
}

Status storeKernel(kdb::KernelDb& db, const dsl::Spec& spec, const Shape& shape, const TuneOptions& o, const Slot& slot,
                   bool is_default) {
  const Candidate& c = *slot.candidate;
  kdb::KernelRecord rec = kernelRecordFor(c.kernel.source, *slot.cubin, c.kernel.kernel_names);
  kdb::IndexEntry e = indexEntryFor(spec, {shape.K, shape.V}, o.dtype, o.mode, c.config, c.kernel, rec.key,
                                    slot.cubin->arch, is_default);
  return db.putIndexedKernel(rec, {e});
}

}  // namespace

const char* candidateStatusName(CandidateStatus s) {
  switch (s) {
    case CandidateStatus::Timed:
      return "timed";
    case CandidateStatus::Pruned:
      return "pruned";
    case CandidateStatus::CompileFailed:
      return "compile-failed";
    case CandidateStatus::PtxasRejected:
      return "ptxas";
    case CandidateStatus::Wrong:
      return "wrong";
    case CandidateStatus::Failed:
      return "failed";
    case CandidateStatus::Skipped:
      return "skipped";
  }
  return "skipped";
}

std::optional<size_t> selectWinner(const std::vector<CandidateResult>& cs, double tolerance) {
  std::optional<double> best;
  for (const auto& c : cs)
    if (c.status == CandidateStatus::Timed && (!best || c.timing.median_ms < *best)) best = c.timing.median_ms;
  if (!best) return std::nullopt;
  std::optional<size_t> win;
  for (size_t i = 0; i < cs.size(); ++i) {
    const auto& c = cs[i];
    if (c.status != CandidateStatus::Timed || c.timing.median_ms > *best * (1 + tolerance)) continue;
    // Among ties the simplest config wins; equal configs (never produced by the tuner) by time, then index.
    if (!win || simplerThan(c.config, cs[*win].config) ||
        (!simplerThan(cs[*win].config, c.config) && c.timing.median_ms < cs[*win].timing.median_ms))
      win = i;
  }
  return win;
}

std::string candidatesJson(const std::vector<CandidateResult>& cs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : cs) a.push_back(candidateJson(c));
  return a.dump();
}

std::string timedLaunch(const std::string& candidates_json) {
  const nlohmann::json a = nlohmann::json::parse(candidates_json, nullptr, false);
  if (!a.is_array()) return {};
  for (const auto& c : a) {
    if (!c.is_object() || c.value("status", "") != candidateStatusName(CandidateStatus::Timed)) continue;
    const auto it = c.find("launch");
    return it != c.end() && it->is_string() ? it->get<std::string>() : std::string();
  }
  return {};
}

std::string resultJson(const TuneResult& r, int indent) {
  nlohmann::json j;
  j["variant"] = r.variant;
  j["spec_hash"] = r.spec_hash;
  j["shape"] = {{"B", r.shape.B}, {"T", r.shape.T}, {"H", r.shape.H}, {"K", r.shape.K}, {"V", r.shape.V}};
  j["dtype"] = codegen::dtypeName(r.dtype);
  j["mode"] = kdb::tuningModeName(tuningModeOf(r.mode));
  j["gpu"] = {{"name", r.gpu.name},
              {"cc", std::to_string(r.gpu.cc_major) + "." + std::to_string(r.gpu.cc_minor)},
              {"sm_count", r.gpu.sm_count},
              {"driver_version", r.gpu.driver_version}};
  j["elapsed_s"] = r.elapsed_s;
  j["enumerated"] = r.enumerated;
  j["floor_bytes"] = r.floor_bytes;
  auto summary = [&](size_t i) {
    const CandidateResult& c = r.candidates[i];
    nlohmann::json s = {{"config", configJson(c.config)}, {"median_ms", c.timing.median_ms}};
    if (c.timing.median_ms > 0) s["gbps"] = r.floor_bytes / (c.timing.median_ms * 1e6);
    return s;
  };
  j["winner"] = r.winner ? summary(*r.winner) : nlohmann::json();
  if (r.default_fused && r.candidates[*r.default_fused].status == CandidateStatus::Timed) {
    j["default"] = summary(*r.default_fused);
    if (r.winner)
      j["speedup_vs_default"] =
          r.candidates[*r.default_fused].timing.median_ms / r.candidates[*r.winner].timing.median_ms;
  }
  j["stored"] = r.stored;
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : r.candidates) a.push_back(candidateJson(c));
  j["candidates"] = a;
  return j.dump(indent);
}

std::vector<size_t> timingOrder(const std::vector<Candidate>& candidates, const Shape& shape, codegen::Mode mode,
                                int sm_count, bool phase_fused_last) {
  auto rank = [](int v, std::initializer_list<int> best) {
    int i = 0;
    for (int b : best) {
      if (v == b) return i;
      ++i;
    }
    return i;
  };
  const int64_t fused_blocks = int64_t(shape.B) * shape.H * ((shape.V + 63) / 64);
  const bool fused_starved = mode == codegen::Mode::Prefill && fused_blocks < sm_count;
  // A fused kernel with segment stages (the register-state kernel) splits long sequences itself, so it is
  // never starved.
  auto segmented = [](const Candidate& c) {
    auto d = LaunchDescriptor::fromJson(c.kernel.descriptor_json);
    return d && std::any_of(d->kernels.begin(), d->kernels.end(),
                            [](const KernelLaunchSpec& k) { return k.stage == Stage::SegmentState; });
  };
  // The phase-by-phase fused kernel is a module's only kernel; the register-state ones follow a WY or
  // segment stage.
  auto phaseByPhase = [](const Candidate& c) {
    auto d = LaunchDescriptor::fromJson(c.kernel.descriptor_json);
    return d && d->kernels.size() == 1 && d->kernels[0].stage == Stage::Fused;
  };
  auto key = [&](const Candidate& c) {
    const codegen::TuningConfig& t = c.config;
    const int rc = rank(t.chunk, {64, 32, 128, 16}), rb = rank(t.block_v, {64, 128, 32, 16}),
              rw = rank(t.warps, {4, 8, 2});
    const bool fused = t.strategy == codegen::Strategy::Fused;
    const bool prefill = mode == codegen::Mode::Prefill;
    const int starved_last =
        fused && ((fused_starved && !segmented(c)) || (prefill && phase_fused_last && phaseByPhase(c))) ? 1 : 0;
    return std::make_tuple(c.is_default ? 0 : 1, starved_last, rc + rb + rw, fused ? 0 : 1, rc, rb, rw);
  };
  std::vector<decltype(key(candidates.front()))> keys;
  for (const Candidate& c : candidates) keys.push_back(key(c));
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  return order;
}

Expected<TuneResult> tune(Runtime& rt, const dsl::Spec& spec, const Shape& shape, const TuneOptions& o,
                          kdb::KernelDb* db) {
  const auto start = Clock::now();
  const DeviceInfo& info = rt.device();
  const DeviceLimits limits = DeviceLimits::fromRuntime(rt);
  const codegen::HeadDims dims{shape.K, shape.V};
  const bool decode = o.mode == codegen::Mode::Decode;
  auto overBudget = [&] { return secondsSince(start) > o.budget_s; };
  // New compiles stop at half the budget, so that the other half is left for timing them: on the H100 a
  // process's first shape spent a 12 s budget compiling ~80 candidates (nothing cached yet) and timed only
  // the defaults. Later shapes find the modules in the runtime's cache and are not affected.
  auto overCompileBudget = [&] { return secondsSince(start) > 0.5 * o.budget_s; };

  TuneResult r;
  r.variant = spec.name;
  r.spec_hash = spec.hash();
  r.shape = shape;
  r.dtype = o.dtype;
  r.mode = o.mode;
  r.gpu = {info.name, info.cc_major, info.cc_minor, info.sm_count, info.driver_version};

  SearchSpace space = enumerateSearchSpace(spec, dims, o.dtype, o.mode, limits, o.space);
  r.enumerated = space.enumerated;
  if (space.candidates.empty()) {
    std::string why;
    for (size_t i = 0; i < space.pruned.size() && i < 3; ++i)
      why += "\n  " + describeConfig(space.pruned[i].config) + ": " + space.pruned[i].reason;
    return Error{spec.name + " " + shape.label() + ": no config survived pruning on " + info.name + " (" +
                 std::to_string(space.enumerated) + " enumerated)" + why};
  }

  // One row per config, candidates and pruned alike, in simplicity order.
  for (const PrunedConfig& p : space.pruned) {
    CandidateResult c;
    c.config = p.config;
    c.status = CandidateStatus::Pruned;
    c.reason = p.stage + ": " + p.reason;
    r.candidates.push_back(std::move(c));
  }
  for (const Candidate& cand : space.candidates) {
    CandidateResult c;
    c.config = cand.config;
    c.is_default = cand.is_default;
    r.candidates.push_back(std::move(c));
  }
  std::stable_sort(r.candidates.begin(), r.candidates.end(),
                   [](const CandidateResult& a, const CandidateResult& b) { return simplerThan(a.config, b.config); });
  std::vector<Slot> slots;
  const bool phase_fused_last = spec.rule == dsl::UpdateRule::Delta && spec.decay == dsl::DecayKind::Vector;
  for (size_t k : timingOrder(space.candidates, shape, o.mode, limits.sm_count, phase_fused_last)) {
    const Candidate& cand = space.candidates[k];
    Slot s;
    s.candidate = &cand;
    for (size_t i = 0; i < r.candidates.size(); ++i)
      if (r.candidates[i].status != CandidateStatus::Pruned && !simplerThan(r.candidates[i].config, cand.config) &&
          !simplerThan(cand.config, r.candidates[i].config))
        s.result = i;
    slots.push_back(std::move(s));
  }
  for (const Slot& s : slots)
    if (s.candidate->is_default && s.candidate->config.strategy == codegen::Strategy::Fused) r.default_fused = s.result;

  // Compile through the runtime, in parallel: its module cache then serves the correctness check too.
  std::mutex mu;
  size_t compiled = 0;
  parallelFor(slots.size(), o.compile_threads, [&](size_t i) {
    Slot& s = slots[i];
    CandidateResult& c = r.candidates[s.result];
    bool skip;
    {
      std::lock_guard<std::mutex> lock(mu);
      skip = overCompileBudget() && !s.candidate->is_default;
    }
    if (skip) {
      c.status = CandidateStatus::Skipped;
      c.reason = "budget: not compiled";
    } else {
      // Exactly the options Runtime::load uses (its cache key includes them), so check::runCheck, which
      // loads the same source, finds this module instead of compiling again.
      CompileOptions copts;
      if (Expected<LaunchDescriptor> d = LaunchDescriptor::fromJson(s.candidate->kernel.descriptor_json);
          d && d->arch_specific)
        copts.arch_specific = true;
      Expected<CompiledModule> m = rt.compile(s.candidate->kernel.source, copts);
      if (!m) {
        c.status = CandidateStatus::CompileFailed;
        c.reason = firstLine(m.error());
      } else {
        s.module = m->module;
        s.cubin = std::make_shared<const CubinResult>(m->cubin());
        c.compile_ms = s.cubin->compile_ms;
        for (const KernelStats& st : s.cubin->stats) {
          c.registers = std::max(c.registers, st.registers);
          c.spill_bytes = std::max(c.spill_bytes, static_cast<int>(st.spill_stores + st.spill_loads));
        }
        if (std::string why = ptxasVerdict(*s.cubin, s.candidate->config, limits); !why.empty()) {
          c.status = CandidateStatus::PtxasRejected;
          c.reason = why;
        }
        // The decode check runs a prefill with the same config first: compile that here too, in parallel.
        if (decode && c.status == CandidateStatus::Skipped) {
          auto pre = codegen::generate(spec, dims, s.candidate->config, codegen::Mode::Prefill, o.dtype);
          if (pre)
            (void)rt.load(pre->source, pre->descriptor_json);
          else
            llvm::consumeError(pre.takeError());
        }
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    ++compiled;
    if (o.progress) {
      TuneProgress p;
      p.phase = "compile";
      p.index = compiled;
      p.total = slots.size();
      o.progress(p);
    }
  });

  Expected<Workload> work = Workload::create(rt, spec, shape, o.dtype, o.mode, o.timing);
  if (!work) return Error{spec.name + " " + shape.label() + ": " + work.error()};
  r.floor_bytes = work->floorBytes();
  Expected<std::unique_ptr<EventTimer>> timer = EventTimer::create(rt);
  if (!timer) return Error{timer.error()};

  const CandidateResult* best = nullptr;
  size_t index = 0;
  for (Slot& s : slots) {
    ++index;
    CandidateResult& c = r.candidates[s.result];
    if (c.status != CandidateStatus::Skipped || !s.module) continue;  // compile or ptxas verdict already given
    if (overBudget() && !s.candidate->is_default) {
      c.reason = "budget: not timed";
      continue;
    }
    // Correct before fast: a candidate that disagrees with the reference can never win.
    check::CheckCase cc;
    cc.B = o.check_B;
    cc.T = o.check_T;
    cc.H = o.check_H;
    cc.K = shape.K;
    cc.V = shape.V;
    cc.initial_state = true;
    cc.dtype = o.dtype;
    cc.config = s.candidate->config;
    cc.auto_tiles = false;  // check the candidate's own chunk and tiles, not the default's
    cc.seed = 17;
    if (decode) {
      cc.T = 8;
      cc.decode_steps = 3;
    }
    Expected<check::CheckResult> checked = check::runCheck(rt, spec, cc);
    if (!checked) {
      c.status = CandidateStatus::Wrong;
      c.reason = "check could not run: " + firstLine(checked.error());
    } else {
      c.check_error = std::max({checked->o_err, checked->state_err, checked->z_err});
      if (!checked->pass) {
        c.status = CandidateStatus::Wrong;
        c.reason = "check failed: " + checked->detail;
      }
    }
    if (c.status == CandidateStatus::Skipped) {
      Expected<Kernel> kernel = Kernel::create(s.module, s.candidate->kernel.descriptor_json);
      Expected<Timing> t = kernel ? (*timer)->time(*kernel, *work, o.timing) : Expected<Timing>(Error{kernel.error()});
      if (!t) {
        c.status = CandidateStatus::Failed;
        c.reason = firstLine(t.error());
      } else {
        c.status = CandidateStatus::Timed;
        c.timing = *t;
        if (!best || c.timing.median_ms < best->timing.median_ms) best = &c;
      }
    }
    if (o.progress) {
      TuneProgress p;
      p.phase = "time";
      p.index = index;
      p.total = slots.size();
      p.current = &c;
      p.best = best;
      o.progress(p);
    }
  }
  for (CandidateResult& c : r.candidates)
    if (c.status == CandidateStatus::Skipped && c.reason.empty()) c.reason = "budget: not timed";

  r.winner = selectWinner(r.candidates, o.tie_tolerance);
  r.elapsed_s = secondsSince(start);
  if (!r.winner) return r;

  r.record.key = kdb::TuningKey::forShape(r.spec_hash, r.gpu, codegen::dtypeName(o.dtype), shape.K, shape.V,
                                          int64_t(shape.B) * shape.H, decode ? 1 : shape.T, tuningModeOf(o.mode));
  r.record.config_json = toKernelConfig(r.candidates[*r.winner].config).toJson();
  r.record.candidates_json = candidatesJson(r.candidates);
  if (db) {
    // Kernels first: a record whose kernel is missing would send the runtime to its default anyway, but a
    // kernel without a record is harmless.
    for (const Slot& s : slots) {
      const CandidateResult& c = r.candidates[s.result];
      const bool winner = s.result == *r.winner;
      // Defaults are stored when they work (checked), so the runtime's fallback never needs a compiler.
      const bool usable_default = s.candidate->is_default && c.status == CandidateStatus::Timed;
      if (!winner && !usable_default) continue;
      if (Status st = storeKernel(*db, spec, shape, o, s, usable_default); !st)
        return Error{"storing the kernels in " + db->path() + ": " + st.error()};
    }
    if (Status st = db->putTuning(r.record); !st)
      return Error{"storing the tuning record in " + db->path() + ": " + st.error()};
    r.stored = true;
  }
  r.elapsed_s = secondsSince(start);
  return r;
}

}  // namespace linrec::tuner
