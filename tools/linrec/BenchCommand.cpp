// `linrec bench [FILE...]`: time the kernel linrec would run for each (variant, shape) — a tuned record from the
// kernel DB, a fresh in-process tuning run, or the per-arch default — after checking it against the float64
// reference, and report it against the memory-bandwidth floor (and, with --decode, per-step decode times with
// and without launch overhead). Its JSON is what bench/compare_fla.py puts side by side with fla.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "Check.h"
#include "Commands.h"
#include "linrec/dsl/Parser.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/tuner/KernelBuild.h"
#include "linrec/tuner/Tuner.h"

#ifndef LINREC_SOURCE_DIR
#define LINREC_SOURCE_DIR "."
#endif

namespace linrec::cli {

namespace {

using Clock = std::chrono::steady_clock;

// The families issue 6 compares with fla, in fla_bench.py's order; decode only for the two fla has
// recurrent-step kernels for.
const char* const kDefaultFamilies[] = {"linear_attn", "retention",        "simple_gla", "gla",
                                        "delta_rule",  "gated_delta_rule", "kda"};
const char* const kDefaultDecodeFamilies[] = {"simple_gla", "gated_delta_rule"};
// Decode rows use fla_bench.py's decode shape.
constexpr int kDecodeH = 16, kDecodeK = 128, kDecodeV = 128;

struct BenchOptionsCli {
  std::vector<std::string> files;
  std::vector<std::string> shapes{"32,1024,16,128,128", "8,4096,16,128,128", "2,16384,16,128,128",
                                  "1,65536,16,128,128"};
  std::string dtype = "bf16";
  std::string db;
  double tune_budget_s = 0;
  bool decode = false;
  bool no_prefill = false;
  std::vector<int> decode_batches{1, 64, 256};
  int decode_steps = 2000;
  double peak_tbps = 3.0;
  std::string json_out;
  int warmup = 10;
  int min_reps = 30;
  int max_reps = 200;
  double max_seconds = 1.0;
  int device = 0;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string firstLine(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// The bundled file for a family: relative to the working directory (the repo root on the GPU machine, where
// the binary is not in its build tree), else relative to the source tree this binary was built from.
std::string bundledVariant(const std::string& family) {
  const std::string rel = "variants/" + family + ".toml";
  if (::access(rel.c_str(), R_OK) == 0) return rel;
  const std::string abs = std::string(LINREC_SOURCE_DIR) + "/" + rel;
  if (::access(abs.c_str(), R_OK) == 0) return abs;
  return rel;  // parseSpecFile reports the missing file
}

// The config chosen for one (variant, shape, mode), and where it came from.
struct Chosen {
  codegen::TuningConfig config;
  std::string source;  // "db", "tuned" or "default"
  std::string note;    // one line: which record, how the tuning went, or why the default
};

// The newest record for exactly this shape's bucket on this GPU (name, compute capability, SM count; a record
// from this driver version wins over one from another, as in LibraryIndex::resolve). Nearby buckets are not
// used: a benchmark row should be timed with the config tuned for it or say that it was not.
std::optional<kdb::TuningRecord> findRecord(kdb::KernelDb& db, const dsl::Spec& spec, const DeviceInfo& dev,
                                            codegen::DType dtype, const tuner::Shape& sh, codegen::Mode mode,
                                            std::string& error) {
  auto all = db.tunings(spec.hash());
  if (!all) {
    error = all.error();
    return std::nullopt;
  }
  const bool decode = mode == codegen::Mode::Decode;
  const int64_t bh = kdb::bucketOf(int64_t(sh.B) * sh.H), t = decode ? 1 : kdb::bucketOf(sh.T);
  std::optional<kdb::TuningRecord> best;
  for (const kdb::TuningRecord& r : *all) {
    const kdb::TuningKey& k = r.key;
    if (k.gpu.name != dev.name || k.gpu.cc_major != dev.cc_major || k.gpu.cc_minor != dev.cc_minor ||
        k.gpu.sm_count != dev.sm_count || k.dtype != codegen::dtypeName(dtype) || k.key_dim != sh.K ||
        k.value_dim != sh.V || k.mode != tuner::tuningModeOf(mode) || k.bh_bucket != bh || k.t_bucket != t)
      continue;
    auto rank = [&](const kdb::TuningRecord& x) {
      return std::make_pair(x.key.gpu.driver_version == dev.driver_version, x.created_at);
    };
    if (!best || rank(r) > rank(*best)) best = r;
  }
  return best;
}

// What linrec serves without a tuning record (LibraryIndex::resolve on a pack or DB built by `linrec pack`):
// the per-arch fused default, or the state-passing default when the fused kernel's CTAs cannot fill the SMs
// and each sequence has at least 8 chunks.
Expected<Chosen> defaultChoice(const dsl::Spec& spec, const tuner::Shape& sh, codegen::DType dtype, codegen::Mode mode,
                               const tuner::DeviceLimits& limits) {
  const codegen::HeadDims dims{sh.K, sh.V};
  auto fused = tuner::pickDefault(spec, dims, dtype, mode, codegen::Strategy::Fused, limits);
  if (!fused) return Error{"no default config fits: " + fused.error()};
  Chosen c{fused->config, "default", limits.arch + " default"};
  if (mode == codegen::Mode::Prefill && spec.rule == dsl::UpdateRule::Additive) {
    auto sp = tuner::pickDefault(spec, dims, dtype, mode, codegen::Strategy::StatePassing, limits);
    if (sp) {
      const int64_t ctas = int64_t(sh.B) * sh.H * ceilDiv(sh.V, fused->config.block_v);
      if (ctas < limits.sm_count && ceilDiv(sh.T, sp->config.chunk) >= 8) {
        c.config = sp->config;
        c.note = limits.arch + " state-passing default (" + std::to_string(ctas) + " fused CTAs cannot fill " +
                 std::to_string(limits.sm_count) + " SMs)";
      }
    }
  }
  return c;
}

// The decode measurements beyond the event-timed median.
struct DecodeExtras {
  double wall_us = 0;  // host clock over back-to-back step() calls, launch included
  std::optional<double> graph_us, graph_wall_us;
  bool capturable = false;
  std::string graph_error;
};

// RAII for the events and graph objects of the decode measurements.
struct DriverObjects {
  const CudaDriver& d;
  std::vector<CUevent> events;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  ~DriverObjects() {
    for (CUevent e : events) d.cuEventDestroy(e);
    if (exec) d.cuGraphExecDestroy(exec);
    if (graph) d.cuGraphDestroy(graph);
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// (a) `steps` step() calls enqueued back to back on `stream` (one sync at the end): per-step wall time including
// the launch, which is what a serving loop without graphs pays; (c) one step captured into a CUDA graph with the
// driver API, replays event-timed one by one (median) and back to back (host clock). A failed capture is a
// result (capturable = false, with the reason), not an error: the eager numbers still stand.
Expected<DecodeExtras> measureDecode(Runtime& rt, CUstream stream, const Kernel& kernel, const tuner::Workload& work,
                                     int steps, const tuner::TimingOptions& topts) {
  const CudaDriver& d = rt.driver();
  if (Status s = rt.makeCurrent(); !s) return Error{s.error()};
  DecodeExtras x;
  for (int i = 0; i < topts.warmup; ++i)
    if (Status s = kernel.step(work.step(i), stream); !s) return Error{s.error()};
  if (Status s = d.check(d.cuStreamSynchronize(stream), "decode warm-up"); !s) return Error{s.error()};
  auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i)
    if (Status s = kernel.step(work.step(i), stream); !s) return Error{s.error()};
  if (Status s = d.check(d.cuStreamSynchronize(stream), "decode steps"); !s) return Error{s.error()};
  x.wall_us = secondsSince(t0) * 1e6 / steps;

  DriverObjects o{d, {}, nullptr, nullptr};
  if (!d.cuStreamBeginCapture || !d.cuStreamEndCapture || !d.cuGraphInstantiate || !d.cuGraphLaunch ||
      !d.cuGraphDestroy || !d.cuGraphExecDestroy) {
    x.graph_error = "this CUDA driver lacks the graph API";
    return x;
  }
  if (Status s = d.check(d.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL), "cuStreamBeginCapture"); !s) {
    x.graph_error = s.error();
    return x;
  }
  Status captured = kernel.step(work.step(0), stream);
  // End the capture whatever happened: a stream left capturing would fail every later call on it.
  Status ended = d.check(d.cuStreamEndCapture(stream, &o.graph), "cuStreamEndCapture");
  if (!captured || !ended) {
    x.graph_error = !captured ? "step() during capture: " + captured.error() : ended.error();
    return x;
  }
  if (Status s = d.check(d.cuGraphInstantiate(&o.exec, o.graph, 0), "cuGraphInstantiate"); !s) {
    o.exec = nullptr;
    x.graph_error = s.error();
    return x;
  }
  x.capturable = true;
  for (int i = 0; i < topts.warmup; ++i)
    if (Status s = d.check(d.cuGraphLaunch(o.exec, stream), "cuGraphLaunch"); !s) return Error{s.error()};
  if (Status s = d.check(d.cuStreamSynchronize(stream), "graph warm-up"); !s) return Error{s.error()};

  const int reps = std::max(topts.min_reps, std::min(topts.max_reps, 1000));
  o.events.resize(2 * size_t(reps), nullptr);
  for (CUevent& e : o.events)
    if (Status s = d.check(d.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate"); !s) return Error{s.error()};
  for (int r = 0; r < reps; ++r) {
    if (Status s = d.check(d.cuEventRecord(o.events[2 * size_t(r)], stream), "cuEventRecord"); !s)
      return Error{s.error()};
    if (Status s = d.check(d.cuGraphLaunch(o.exec, stream), "cuGraphLaunch"); !s) return Error{s.error()};
    if (Status s = d.check(d.cuEventRecord(o.events[2 * size_t(r) + 1], stream), "cuEventRecord"); !s)
      return Error{s.error()};
  }
  if (Status s = d.check(d.cuStreamSynchronize(stream), "graph replays"); !s) return Error{s.error()};
  std::vector<double> us(reps);
  for (int r = 0; r < reps; ++r) {
    float t = 0;
    if (Status s = d.check(d.cuEventElapsedTime(&t, o.events[2 * size_t(r)], o.events[2 * size_t(r) + 1]),
                           "cuEventElapsedTime");
        !s)
      return Error{s.error()};
    us[r] = 1000.0 * t;
  }
  x.graph_us = median(us);
  t0 = Clock::now();
  for (int i = 0; i < steps; ++i)
    if (Status s = d.check(d.cuGraphLaunch(o.exec, stream), "cuGraphLaunch"); !s) return Error{s.error()};
  if (Status s = d.check(d.cuStreamSynchronize(stream), "graph replays"); !s) return Error{s.error()};
  x.graph_wall_us = secondsSince(t0) * 1e6 / steps;
  return x;
}

nlohmann::json orNull(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

// Everything one row needs from the command line and the session.
struct Session {
  Runtime& rt;
  tuner::EventTimer& timer;
  kdb::KernelDb* db;
  tuner::DeviceLimits limits;
  codegen::DType dtype;
  tuner::TimingOptions timing;
  const BenchOptionsCli& o;
};

// The DB's prefill configs are known before any row runs: compile them all at once, on every core, and the
// runtime's cache serves each row's check and timing (one NVRTC compile per row, one row after another, took
// most of a 28-row bench's minutes on the H100). Failures are left for the rows to report.
void precompileRecords(Session& s, const std::vector<dsl::Spec>& specs, const std::vector<tuner::Shape>& shapes) {
  if (!s.db) return;
  struct Job {
    const dsl::Spec* spec;
    codegen::HeadDims dims;
    codegen::TuningConfig config;
  };
  std::vector<Job> jobs;
  for (const dsl::Spec& spec : specs)
    for (const tuner::Shape& sh : shapes) {
      std::string err;
      auto rec = findRecord(*s.db, spec, s.rt.device(), s.dtype, sh, codegen::Mode::Prefill, err);
      if (!rec) continue;
      auto kc = kdb::KernelConfig::fromJson(rec->config_json);
      if (!kc) continue;
      jobs.push_back({&spec, {sh.K, sh.V}, tuner::fromKernelConfig(*kc, s.rt.device().smem_per_block_optin)});
    }
  if (jobs.empty()) return;
  const auto t0 = std::chrono::steady_clock::now();
  tuner::parallelFor(jobs.size(), 0, [&](size_t i) {
    const Job& j = jobs[i];
    auto gen = codegen::generate(*j.spec, j.dims, j.config, codegen::Mode::Prefill, s.dtype);
    if (!gen) return llvm::consumeError(gen.takeError());
    (void)s.rt.load(gen->source, gen->descriptor_json);
  });
  std::fprintf(stderr, "linrec bench: %zu DB configs compiled in %.1f s\n", jobs.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

// One row: choose, check, time. Never throws away a row: failures come back as a row with "error".
nlohmann::json benchRow(Session& s, const dsl::Spec& spec, const tuner::Shape& sh, codegen::Mode mode) {
  const bool decode = mode == codegen::Mode::Decode;
  const DeviceInfo& dev = s.rt.device();
  nlohmann::json row = {{"family", spec.name},
                        {"B", sh.B},
                        {"T", decode ? 1 : sh.T},
                        {"H", sh.H},
                        {"K", sh.K},
                        {"V", sh.V},
                        {"mode", decode ? "decode" : "prefill"},
                        {"dtype", codegen::dtypeName(s.dtype)},
                        {"linrec_ms", nullptr}};
  const std::string head = spec.name + " " + sh.label() + (decode ? " decode" : " prefill");
  auto fail = [&](const std::string& why) {
    row["error"] = why;
    std::printf("%s: ERROR %s\n", head.c_str(), firstLine(why).c_str());
    std::fflush(stdout);
    return row;
  };

  // 1. The config: a DB record for this bucket, else a fresh tuning run, else the default.
  std::optional<Chosen> chosen;
  std::string notes;
  if (s.db) {
    std::string err;
    auto rec = findRecord(*s.db, spec, dev, s.dtype, sh, mode, err);
    if (!err.empty()) {
      notes = "DB lookup failed: " + err + "; ";
    } else if (rec) {
      auto kc = kdb::KernelConfig::fromJson(rec->config_json);
      if (kc) {
        chosen =
            Chosen{tuner::fromKernelConfig(*kc, dev.smem_per_block_optin), "db", "tuning record in " + s.db->path()};
        // A winner timed under another launch mode may not be this mode's (docs/performance.md: the delta
        // rules' value tile at 16k); say so rather than retune behind the user's back.
        const std::string timed = tuner::timedLaunch(rec->candidates_json);
        const char* now = programmaticLaunchName(dev);
        if (!timed.empty() && timed != now)
          notes += "the record was timed under launch mode " + timed + ", this run uses " + now + "; ";
      } else
        notes = "unreadable record config (" + kc.error() + "); ";
    } else {
      notes = "no DB record for this bucket; ";
    }
  }
  if (!chosen && s.o.tune_budget_s > 0) {
    tuner::TuneOptions topts;
    topts.dtype = s.dtype;
    topts.mode = mode;
    topts.budget_s = s.o.tune_budget_s;
    std::fprintf(stderr, "[%s] tuning (budget %.0f s)...\n", head.c_str(), s.o.tune_budget_s);
    auto res = tuner::tune(s.rt, spec, decode ? tuner::Shape{sh.B, 1, sh.H, sh.K, sh.V} : sh, topts, s.db);
    if (!res) {
      notes += "tuning failed: " + firstLine(res.error()) + "; ";
    } else if (!res->winner) {
      notes += "tuning timed no candidate; ";
    } else {
      size_t timed = 0;
      for (const auto& c : res->candidates) timed += c.status == tuner::CandidateStatus::Timed;
      chosen = Chosen{res->candidates[*res->winner].config, "tuned",
                      "winner of " + std::to_string(timed) + " timed (" + std::to_string(res->candidates.size()) +
                          " configs) in " + fmt("%.1f", res->elapsed_s) + " s" +
                          (res->stored ? ", stored in " + s.db->path() : "")};
    }
  }
  if (!chosen) {
    auto d = defaultChoice(spec, sh, s.dtype, mode, s.limits);
    if (!d) return fail(d.error());
    chosen = *d;
  }
  chosen->note = notes + chosen->note;
  const codegen::TuningConfig& cfg = chosen->config;
  row["source"] = chosen->source;
  row["source_note"] = chosen->note;
  row["config"] = tuner::describeConfig(cfg);
  row["config_json"] = nlohmann::json::parse(tuner::toKernelConfig(cfg).toJson());
  if (!decode) row["chunk"] = cfg.chunk;

  // 2. Correct before fast: the same config (chunk and tiles as chosen, not replaced by the defaults) against
  //    the float64 reference on a small shape with T % C != 0 and an initial state. The source does not depend
  //    on B or T, so the module the check compiles is the one timed below (the runtime's cache).
  check::CheckCase cc;
  cc.B = 2;
  cc.T = decode ? 8 : 200;
  cc.H = 2;
  cc.K = sh.K;
  cc.V = sh.V;
  cc.initial_state = true;
  cc.dtype = s.dtype;
  cc.config = cfg;
  cc.auto_tiles = false;
  cc.seed = 17;
  cc.decode_steps = decode ? 3 : 0;
  auto checked = check::runCheck(s.rt, spec, cc);
  if (!checked) return fail("check could not run (" + tuner::describeConfig(cfg) + "): " + firstLine(checked.error()));
  row["check_error"] = std::max({checked->o_err, checked->state_err, checked->z_err});
  row["check_tolerance"] = checked->tolerance;
  if (!checked->pass) return fail("check failed (" + tuner::describeConfig(cfg) + "): " + checked->detail);

  // 3. Time it.
  auto gen = codegen::generate(spec, {sh.K, sh.V}, cfg, mode, s.dtype);
  if (!gen) return fail("codegen: " + firstLine(llvm::toString(gen.takeError())));
  auto kernel = s.rt.load(gen->source, gen->descriptor_json);
  if (!kernel) return fail(firstLine(kernel.error()));
  auto work = tuner::Workload::create(s.rt, spec, sh, s.dtype, mode, s.timing);
  if (!work) return fail(work.error());
  auto t = s.timer.time(*kernel, *work, s.timing);
  if (!t) return fail("timing: " + firstLine(t.error()));
  const double floor_bytes = work->floorBytes();
  const double floor_ms = floor_bytes / (s.o.peak_tbps * 1e12) * 1e3;
  row["linrec_ms"] = t->median_ms;
  row["min_ms"] = t->min_ms;
  row["max_ms"] = t->max_ms;
  row["reps"] = t->reps;
  row["rotating_sets"] = work->sets();
  row["floor_bytes"] = floor_bytes;
  row["floor_ms"] = floor_ms;
  row["tbps"] = floor_bytes / (t->median_ms * 1e-3) / 1e12;
  row["pct_floor"] = floor_ms / t->median_ms * 100;
  if (!decode) {
    const double C = cfg.chunk, K = sh.K, V = sh.V;
    const double flops = 2.0 * sh.B * sh.H * double(sh.T) * (C * K + C * V + 2 * K * V);
    row["flops"] = flops;
    row["tflops"] = flops / (t->median_ms * 1e-3) / 1e12;
  } else {
    row["tflops"] = nullptr;
    const double state_bytes = 2.0 * sh.B * sh.H * spec.featureWidth(sh.K) * sh.V * 4;
    auto x = measureDecode(s.rt, s.timer.stream(), *kernel, *work, s.o.decode_steps, s.timing);
    if (!x) return fail("decode timing: " + firstLine(x.error()));
    auto tb = [&](double us) { return state_bytes / (us * 1e-6) / 1e12; };
    const double event_us = t->median_ms * 1e3;
    row["steps"] = s.o.decode_steps;
    row["state_bytes"] = state_bytes;
    row["step_wall_us"] = x->wall_us;
    row["step_event_us"] = event_us;
    row["graph_step_us"] = orNull(x->graph_us);
    row["graph_wall_us"] = orNull(x->graph_wall_us);
    row["graph_capturable"] = x->capturable;
    if (!x->graph_error.empty()) row["graph_error"] = x->graph_error;
    row["state_tbps_wall"] = tb(x->wall_us);
    row["state_tbps_event"] = tb(event_us);
    row["state_tbps_graph"] = x->graph_us ? nlohmann::json(tb(*x->graph_us)) : nlohmann::json();
  }
  std::printf("%s: %s %s -> %s ms (%s TB/s, %s%% of floor)%s\n", head.c_str(), chosen->source.c_str(),
              tuner::describeConfig(cfg).c_str(), formatMs(t->median_ms).c_str(),
              fmt("%.2f", row["tbps"].get<double>()).c_str(), fmt("%.1f", row["pct_floor"].get<double>()).c_str(),
              chosen->note.empty() ? "" : ("  [" + chosen->note + "]").c_str());
  if (decode)
    std::printf(
        "    step: %.2f us wall (launch incl.), %.2f us event, graph %s (capturable: %s)\n",
        row["step_wall_us"].get<double>(), row["step_event_us"].get<double>(),
        row["graph_step_us"].is_null() ? "-" : (fmt("%.2f", row["graph_step_us"].get<double>()) + " us").c_str(),
        row["graph_capturable"].get<bool>() ? "true" : "false");
  std::fflush(stdout);
  return row;
}

std::string cell(const nlohmann::json& v, const char* f) {
  return v.is_number() ? fmt(f, v.get<double>()) : std::string("-");
}

void printTable(const nlohmann::json& rows, double peak_tbps) {
  std::printf("\n%-17s %3s %6s %3s %4s %4s %-7s %-8s %-26s %10s %7s %8s %9s %7s\n", "family", "B", "T", "H", "K", "V",
              "mode", "source", "config", "ms", "TB/s", "TFLOP/s", "floor ms", "%floor");
  for (const auto& r : rows) {
    std::printf("%-17s %3d %6d %3d %4d %4d %-7s %-8s %-26s ", r["family"].get<std::string>().c_str(), r["B"].get<int>(),
                r["T"].get<int>(), r["H"].get<int>(), r["K"].get<int>(), r["V"].get<int>(),
                r["mode"].get<std::string>().c_str(), r.value("source", std::string("-")).c_str(),
                r.value("config", std::string("-")).c_str());
    if (r.contains("error")) {
      std::printf("ERROR: %s\n", firstLine(r["error"].get<std::string>()).c_str());
      continue;
    }
    std::printf("%10s %7s %8s %9s %7s\n", formatMs(r["linrec_ms"].get<double>()).c_str(),
                cell(r["tbps"], "%.2f").c_str(), cell(r["tflops"], "%.1f").c_str(), cell(r["floor_ms"], "%.4f").c_str(),
                cell(r["pct_floor"], "%.1f").c_str());
  }
  bool any_decode = false;
  for (const auto& r : rows) any_decode = any_decode || (r["mode"] == "decode" && !r.contains("error"));
  if (any_decode) {
    std::printf("\n%-17s %3s %10s %10s %10s %10s %10s  %s\n", "decode", "B", "wall us", "event us", "graph us",
                "graph wall", "state TB/s", "graph_capturable");
    for (const auto& r : rows) {
      if (r["mode"] != "decode" || r.contains("error")) continue;
      std::printf("%-17s %3d %10.2f %10.2f %10s %10s %10s  %s\n", r["family"].get<std::string>().c_str(),
                  r["B"].get<int>(), r["step_wall_us"].get<double>(), r["step_event_us"].get<double>(),
                  cell(r["graph_step_us"], "%.2f").c_str(), cell(r["graph_wall_us"], "%.2f").c_str(),
                  cell(r["state_tbps_graph"].is_null() ? r["state_tbps_event"] : r["state_tbps_graph"], "%.2f").c_str(),
                  r["graph_capturable"].get<bool>() ? "true" : "false");
    }
  }
  std::printf(
      "\nfloor = bytes a launch must move / %.2f TB/s; TFLOP/s counts the chunkwise form "
      "2*B*H*T*(C*K + C*V + 2*K*V) with the row's chunk C\n",
      peak_tbps);
  if (any_decode)
    std::printf(
        "decode: wall = back-to-back step() calls / N (launch included); state TB/s = 2*B*H*K'*V*4 bytes / the "
        "graph step (the event step when not capturable)\n");
}

// Written next to the target and renamed over it, so a reader never sees half a file.
Status writeAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return Error{"cannot write " + path + " (creating " + tmp + " failed)"};
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{"cannot write " + path};
  }
  return Status::success();
}

}  // namespace

Runner addBenchCommand(CLI::App& app) {
  auto o = std::make_shared<BenchOptionsCli>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Benchmark the kernels linrec would run (needs a CUDA device): per variant and shape, the tuned config "
      "from --db, else a tuning run of --tune-budget-s, else the per-arch default; checked against the float64 "
      "reference first, then timed (CUDA events, median, warm-up, rotating input sets larger than L2). Reports "
      "ms, achieved TB/s (the bytes a launch must move / time), TFLOP/s (the chunkwise count "
      "2*B*H*T*(C*K + C*V + 2*K*V) with the row's chunk C) and the floor (those bytes at --peak-tbps)");
  cmd->add_option("files", o->files,
                  "Variant TOML files (default: variants/{linear_attn,retention,simple_gla,gla,delta_rule,"
                  "gated_delta_rule,kda}.toml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--shapes", o->shapes,
                  "Prefill shapes B,T,H,K,V (several after one --shapes, or --shapes repeated; replaces the "
                  "default list)")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "Dtype of q, k, v, o: bf16, fp16, fp32")->capture_default_str();
  cmd->add_option("--db", o->db,
                  "Kernel DB: use its tuning record for each row's bucket when it has one (and store the "
                  "records of --tune-budget-s runs there)");
  cmd->add_option("--tune-budget-s", o->tune_budget_s,
                  "Rows without a DB record: tune in-process for this many seconds each (0: use the default "
                  "config)")
      ->capture_default_str();
  cmd->add_flag("--decode", o->decode,
                "Also time decode steps (H=16 K=V=128, fp32 state): per step wall time over back-to-back launches, "
                "event-timed median, and CUDA-graph replays; for simple_gla and gated_delta_rule, or every "
                "variant given");
  cmd->add_flag("--no-prefill", o->no_prefill, "Only the decode rows (with --decode)");
  cmd->add_option("--decode-batches", o->decode_batches, "Batch sizes of the decode rows, comma-separated")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--decode-steps", o->decode_steps, "Back-to-back steps for the wall-clock per-step time")
      ->capture_default_str();
  cmd->add_option("--peak-tbps", o->peak_tbps,
                  "Memory bandwidth of the floor in TB/s (3.0: the H100's measured copy ceiling)")
      ->capture_default_str();
  cmd->add_option("--json-out", o->json_out, "Also write the rows as JSON to this file (written atomically)");
  cmd->add_option("--warmup", o->warmup, "Untimed launches before timing")->capture_default_str();
  cmd->add_option("--min-reps", o->min_reps, "Timed launches at least")->capture_default_str();
  cmd->add_option("--max-reps", o->max_reps, "Timed launches at most")->capture_default_str();
  cmd->add_option("--max-seconds", o->max_seconds, "Stop adding launches after this long (past --min-reps)")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "CUDA device ordinal")->capture_default_str();
  return [o]() {
    auto bad = [](const std::string& msg) {
      std::cerr << "linrec bench: error: " << msg << "\n";
      return static_cast<int>(kBadInput);
    };
    // Everything about the command line is checked before the GPU is touched, so a typo is exit 2 anywhere.
    // `--shapes` takes every value up to the next option, so variant files written after it land there:
    // a shape never ends in .toml, so those are files.
    std::vector<std::string> files = o->files, shape_args;
    for (const auto& s : o->shapes)
      (s.size() > 5 && s.compare(s.size() - 5, 5, ".toml") == 0 ? files : shape_args).push_back(s);
    const bool defaults = files.empty();
    if (defaults)
      for (const char* f : kDefaultFamilies) files.push_back(bundledVariant(f));
    std::vector<dsl::Spec> specs;
    for (const auto& f : files) {
      dsl::ParseResult r = dsl::parseSpecFile(f);
      if (!r.ok()) {
        std::cerr << r.errorText();
        if (defaults) std::cerr << "linrec bench: run from the repository root, or name the variant files\n";
        return static_cast<int>(kBadInput);
      }
      specs.push_back(*r.spec);
    }
    std::vector<tuner::Shape> shapes;
    if (shape_args.empty()) return bad("--shapes: no shape given");
    for (const auto& s : shape_args) {
      auto sh = tuner::Shape::parse(s);
      if (!sh) return bad("--shapes: " + sh.error());
      shapes.push_back(*sh);
    }
    codegen::DType dtype;
    if (!tuner::parseDType(o->dtype, dtype)) return bad("--dtype must be bf16, fp16 or fp32 (got '" + o->dtype + "')");
    if (!(o->peak_tbps > 0) || !std::isfinite(o->peak_tbps)) return bad("--peak-tbps must be positive");
    if (!(o->tune_budget_s >= 0) || !std::isfinite(o->tune_budget_s))
      return bad("--tune-budget-s must be 0 (no tuning) or positive");
    for (int b : o->decode_batches)
      if (b <= 0) return bad("--decode-batches: " + std::to_string(b) + " is not a positive batch size");
    if (o->decode_steps <= 0) return bad("--decode-steps must be positive");
    if (o->warmup < 0 || o->min_reps <= 0 || o->max_reps < o->min_reps || !(o->max_seconds > 0))
      return bad("need --warmup >= 0, 0 < --min-reps <= --max-reps and --max-seconds > 0");
    if (o->no_prefill && !o->decode) return bad("--no-prefill leaves nothing to time without --decode");
    // Without a tuning run the DB is only read: a missing file is a typo, not an empty DB to create.
    if (!o->db.empty() && o->tune_budget_s == 0 && ::access(o->db.c_str(), R_OK) != 0)
      return bad("--db: " + o->db + " does not exist (it is created only with --tune-budget-s)");

    auto rt = Runtime::create(o->device);
    if (!rt) {
      std::cerr << "linrec bench: " << rt.error() << "\n";
      return static_cast<int>(kFailure);
    }
    std::optional<kdb::KernelDb> db;
    if (!o->db.empty()) {
      auto opened =
          kdb::KernelDb::open(o->db, o->tune_budget_s > 0 ? kdb::OpenMode::ReadWrite : kdb::OpenMode::ReadOnly);
      if (!opened) {
        std::cerr << "linrec bench: " << opened.error() << "\n";
        return static_cast<int>(kFailure);
      }
      db.emplace(std::move(*opened));
    }
    auto timer = tuner::EventTimer::create(**rt);
    if (!timer) {
      std::cerr << "linrec bench: " << timer.error() << "\n";
      return static_cast<int>(kFailure);
    }
    tuner::TimingOptions timing;
    timing.warmup = o->warmup;
    timing.min_reps = o->min_reps;
    timing.max_reps = o->max_reps;
    timing.max_seconds = o->max_seconds;
    const DeviceInfo& dev = (*rt)->device();
    Session s{**rt, **timer, db ? &*db : nullptr, tuner::DeviceLimits::fromRuntime(**rt), dtype, timing, *o};
    std::fprintf(stderr, "linrec bench: %s (%s, %d SMs), %s; configs from %s; floor at %.2f TB/s\n", dev.name.c_str(),
                 dev.arch().c_str(), dev.sm_count, o->dtype.c_str(),
                 (std::string(db ? "the DB " + db->path() + ", else " : "") +
                  (o->tune_budget_s > 0 ? "a " + fmt("%.0f", o->tune_budget_s) + " s tuning run" : "the default"))
                     .c_str(),
                 o->peak_tbps);

    const char* commit = std::getenv("LINREC_COMMIT");
    nlohmann::json doc = {{"device", dev.name},
                          {"sm", dev.arch()},
                          {"sm_count", dev.sm_count},
                          {"driver_version", dev.driver_version},
                          {"linrec_version", LINREC_VERSION},
                          {"kernel_build", kernelBuildTag()},
                          {"commit", commit && *commit ? nlohmann::json(commit) : nlohmann::json()},
                          {"dtype", o->dtype},
                          {"peak_tbps", o->peak_tbps},
                          {"timing",
                           {{"warmup", o->warmup},
                            {"min_reps", o->min_reps},
                            {"max_reps", o->max_reps},
                            {"max_seconds", o->max_seconds}}},
                          {"tune_budget_s", o->tune_budget_s},
                          // LINREC_PDL (linrec::ProgrammaticLaunch): whether delta-rule state passing may
                          // overlap its output kernel with the scan; "0" where the device cannot.
                          {"programmatic_launch", programmaticLaunchName(dev)},
                          {"complete", false},
                          {"rows", nlohmann::json::array()}};
    // Rewritten after every row, so a run cut short (a device call's time limit) still leaves what it measured;
    // "complete" says whether it got to the end.
    std::string write_error;
    auto add = [&](nlohmann::json row) {
      doc["rows"].push_back(std::move(row));
      if (o->json_out.empty()) return;
      if (Status st = writeAtomically(o->json_out, doc.dump(2) + "\n"); !st && write_error.empty())
        write_error = st.error();
    };
    if (!o->no_prefill) {
      precompileRecords(s, specs, shapes);
      for (const dsl::Spec& spec : specs)
        for (const tuner::Shape& sh : shapes) add(benchRow(s, spec, sh, codegen::Mode::Prefill));
    }
    if (o->decode)
      for (const dsl::Spec& spec : specs) {
        if (defaults && std::find(std::begin(kDefaultDecodeFamilies), std::end(kDefaultDecodeFamilies), spec.name) ==
                            std::end(kDefaultDecodeFamilies))
          continue;
        for (int b : o->decode_batches)
          add(benchRow(s, spec, {b, 1, kDecodeH, kDecodeK, kDecodeV}, codegen::Mode::Decode));
      }

    int rc = kOk;
    for (const auto& r : doc["rows"])
      if (r.contains("error")) rc = kFailure;
    printTable(doc["rows"], o->peak_tbps);
    if (!o->json_out.empty()) {
      doc["complete"] = true;
      Status st = writeAtomically(o->json_out, doc.dump(2) + "\n");
      if (!st && write_error.empty()) write_error = st.error();
      if (!write_error.empty()) {
        std::cerr << "linrec bench: " << write_error << "\n";
        rc = kFailure;
      }
    }
    return rc;
  };
}

}  // namespace linrec::cli
