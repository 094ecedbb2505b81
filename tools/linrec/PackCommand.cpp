// `linrec pack FILE... -o NAME.pack`: prebuilt kernels for machines without a compiler (no GPU needed);
// `linrec startup`: how long the first launch from a pack or a kernel DB takes, against a cold NVRTC compile.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "Commands.h"
#include "linrec/dsl/Parser.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/runtime/NvrtcCompiler.h"
#include "linrec/tuner/PackBuilder.h"
#include "linrec/tuner/SearchSpace.h"
#include "linrec/tuner/Timer.h"

namespace linrec::cli {

namespace {

struct PackOptionsCli {
  std::vector<std::string> files;
  std::string out;
  std::vector<std::string> archs{"sm_80", "sm_90"};
  std::vector<std::string> dtypes{"bf16"};
  std::string dims;
  std::string tuned_from;
  bool no_decode = false;
  bool no_state_passing = false;
  int threads = 0;
  bool json = false;
};

struct StartupOptionsCli {
  std::vector<std::string> files;
  std::string pack;
  std::string db;
  std::string shape = "8,4096,16,128,128";
  std::string dtype = "bf16";
  bool no_cold = false;
  bool json = false;
  std::string json_out;
  int device = 0;
  double first_launch_budget_ms = 50;
  double cold_compile_budget_ms = 2000;
};

std::string mib(size_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f MiB", bytes / 1048576.0);
  return b;
}

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

bool loadSpecs(const std::vector<std::string>& files, std::vector<dsl::Spec>& out) {
  for (const auto& f : files) {
    dsl::ParseResult r = dsl::parseSpecFile(f);
    if (!r.ok()) {
      std::cerr << r.errorText();
      return false;
    }
    out.push_back(*r.spec);
  }
  return true;
}

}  // namespace

Runner addPackCommand(CLI::App& app) {
  auto o = std::make_shared<PackOptionsCli>();
  CLI::App* cmd = app.add_subcommand(
      "pack",
      "Build a kernel pack: one file of prebuilt cubins (+ launch descriptors, + tuning records) that the runtime "
      "loads without a compiler (linrec::loadPack). Needs no GPU. Per variant x dims x dtype x arch it holds "
      "the fused prefill default, the state-passing default and the decode kernel; "
      "combinations the compiler rejects are skipped with a note.");
  cmd->add_option("files", o->files, "Variant TOML files")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", o->out, "The pack to write (atomically), e.g. h100.pack")->required();
  cmd->add_option("--arch", o->archs, "Target arch families (sm_XY; kernels that need sm_XYa get it)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--dtypes", o->dtypes, "Dtypes of q, k, v, o (bf16, fp16, fp32)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--dims", o->dims,
                  "Head dims KxV, comma-separated (default 128x128, and 16x64 for variants whose feature map "
                  "cannot work at K=128, e.g. based)");
  cmd->add_option("--tuned-from", o->tuned_from,
                  "A kernel DB (from `linrec tune`): add its tuning records for these variants and their kernels");
  cmd->add_flag("--no-decode", o->no_decode, "Leave out the decode kernels");
  cmd->add_flag("--no-state-passing", o->no_state_passing, "Leave out the state-passing defaults");
  cmd->add_option("--threads", o->threads, "NVRTC threads (0: one per CPU)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  return [o]() {
    std::vector<dsl::Spec> specs;
    if (!loadSpecs(o->files, specs)) return static_cast<int>(kBadInput);
    tuner::PackOptions po;
    po.archs = o->archs;
    po.dtypes.clear();
    for (const auto& d : o->dtypes) {
      codegen::DType dt;
      if (!tuner::parseDType(d, dt)) {
        std::cerr << "linrec pack: error: --dtypes: '" << d << "' is not bf16, fp16 or fp32\n";
        return static_cast<int>(kBadInput);
      }
      po.dtypes.push_back(dt);
    }
    for (const auto& a : o->archs) {
      int cc = 0;
      if (std::sscanf(a.c_str(), "sm_%d", &cc) != 1 || cc < 70 ||
          a.find_first_not_of("sm_0123456789") != std::string::npos) {
        std::cerr << "linrec pack: error: --arch: '" << a << "' is not an arch like sm_80 or sm_90\n";
        return static_cast<int>(kBadInput);
      }
    }
    if (!o->dims.empty()) {
      auto d = tuner::parseDimsList(o->dims);
      if (!d) {
        std::cerr << "linrec pack: error: --dims: " << d.error() << "\n";
        return static_cast<int>(kBadInput);
      }
      po.dims = *d;
    }
    po.tuned_from = o->tuned_from;
    po.decode = !o->no_decode;
    po.state_passing = !o->no_state_passing;
    po.threads = o->threads;
    const int threads =
        o->threads > 0 ? o->threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const bool tty = ::isatty(STDERR_FILENO) == 1;
    po.note = [](const std::string& n) { std::fprintf(stderr, "note: %s\n", n.c_str()); };
    po.progress = [tty](size_t done, size_t total) {
      if (tty)
        std::fprintf(stderr, "\r\033[Kcompiling %zu/%zu", done, total);
      else if (done == total || done % 10 == 0)
        std::fprintf(stderr, "compiled %zu/%zu\n", done, total);
      if (tty && done == total) std::fprintf(stderr, "\r\033[K");
    };
    std::fprintf(
        stderr, "packing %zu variant(s) for %s with NVRTC %s on %d thread(s)\n", specs.size(),
        [&] {
          std::string s;
          for (const auto& a : o->archs) s += (s.empty() ? "" : ",") + a;
          return s;
        }()
            .c_str(),
        nvrtcVersionString().c_str(), threads);
    auto sum = tuner::buildPack(specs, po, o->out);
    if (!sum) {
      std::cerr << "linrec pack: error: " << sum.error() << "\n";
      return static_cast<int>(kFailure);
    }
    if (o->json) {
      nlohmann::json j;
      j["path"] = o->out;
      j["linrec_version"] = sum->manifest.linrec_version;
      j["nvrtc_version"] = sum->manifest.nvrtc_version;
      j["archs"] = sum->manifest.archs;
      j["file_bytes"] = sum->file_bytes;
      j["compiles"] = sum->compiles;
      j["seconds"] = sum->seconds;
      j["notes"] = sum->notes;
      for (const auto& v : sum->variants)
        j["variants"].push_back({{"variant", v.variant},
                                 {"spec_hash", v.spec_hash},
                                 {"kernels", v.kernels},
                                 {"bytes", v.bytes},
                                 {"tunings", v.tunings},
                                 {"skipped", v.skipped}});
      std::printf("%s\n", j.dump(2).c_str());
      return static_cast<int>(kOk);
    }
    std::printf("%-20s %-14s %8s %8s %8s %12s\n", "variant", "spec", "kernels", "tunings", "skipped", "cubin bytes");
    int kernels = 0, tunings = 0;
    for (const auto& v : sum->variants) {
      std::printf("%-20s %-14s %8d %8d %8d %12s\n", v.variant.c_str(), v.spec_hash.substr(0, 12).c_str(), v.kernels,
                  v.tunings, v.skipped, mib(v.bytes).c_str());
      kernels += v.kernels;
      tunings += v.tunings;
    }
    std::printf("%-20s %-14s %8d %8d %8zu %12s\n", "total", "", kernels, tunings, sum->notes.size(),
                mib(sum->total_bytes).c_str());
    std::string archs;
    for (const auto& a : sum->manifest.archs) archs += (archs.empty() ? "" : " ") + a;
    std::printf("wrote %s (%s): linrec %s, NVRTC %s, archs %s; %d NVRTC compiles in %.1f s on %d thread(s)\n",
                o->out.c_str(), mib(sum->file_bytes).c_str(), sum->manifest.linrec_version.c_str(),
                sum->manifest.nvrtc_version.c_str(), archs.c_str(), sum->compiles, sum->seconds, threads);
    return static_cast<int>(kOk);
  };
}

Runner addStartupCommand(CLI::App& app) {
  auto o = std::make_shared<StartupOptionsCli>();
  CLI::App* cmd = app.add_subcommand(
      "startup",
      "Measure the startup path on the GPU: open a pack (or a kernel DB), time each variant's first launch from "
      "it (cubin read, module load, launch, sync) and its second, and a cold NVRTC compile of the same kernel");
  cmd->add_option("files", o->files, "Variant TOML files (for the inputs they declare)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--pack", o->pack, "A kernel pack")->check(CLI::ExistingFile);
  cmd->add_option("--db", o->db, "A kernel DB (instead of --pack)")->check(CLI::ExistingFile);
  cmd->add_option("--shape", o->shape, "B,T,H,K,V of the launch (K, V fall back to the library's own dims)")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "bf16, fp16 or fp32")->capture_default_str();
  cmd->add_flag("--no-cold", o->no_cold, "Skip the cold NVRTC compile");
  cmd->add_flag("--json", o->json, "Print the measurements as JSON");
  cmd->add_option("--json-out", o->json_out, "Also write the measurements as JSON to this file");
  cmd->add_option("--device", o->device, "CUDA device ordinal")->capture_default_str();
  cmd->add_option("--first-launch-budget-ms", o->first_launch_budget_ms)->capture_default_str();
  cmd->add_option("--cold-compile-budget-ms", o->cold_compile_budget_ms)->capture_default_str();
  return [o]() {
    if (o->pack.empty() == o->db.empty()) {
      std::cerr << "linrec startup: error: give exactly one of --pack or --db\n";
      return static_cast<int>(kBadInput);
    }
    std::vector<dsl::Spec> specs;
    if (!loadSpecs(o->files, specs)) return static_cast<int>(kBadInput);
    auto shape = tuner::Shape::parse(o->shape);
    if (!shape) {
      std::cerr << "linrec startup: error: --shape: " << shape.error() << "\n";
      return static_cast<int>(kBadInput);
    }
    codegen::DType dtype;
    if (!tuner::parseDType(o->dtype, dtype)) {
      std::cerr << "linrec startup: error: --dtype must be bf16, fp16 or fp32\n";
      return static_cast<int>(kBadInput);
    }
    auto t_ctx = std::chrono::steady_clock::now();
    auto rt = Runtime::create(o->device);
    if (!rt) {
      std::cerr << "linrec startup: " << rt.error() << "\n";
      return static_cast<int>(kFailure);
    }
    const double ctx_ms = msSince(t_ctx);
    auto t_open = std::chrono::steady_clock::now();
    const std::string path = o->pack.empty() ? o->db : o->pack;
    auto lib = o->pack.empty() ? KernelLibrary::openDb(**rt, o->db) : loadPack(**rt, o->pack);
    const double open_ms = msSince(t_open);
    if (!lib) {
      std::cerr << "linrec startup: " << lib.error() << "\n";
      return static_cast<int>(kFailure);
    }
    const DeviceInfo& dev = (*rt)->device();
    nlohmann::json rows = nlohmann::json::array();
    int rc = kOk;
    double worst_first = 0, worst_cold = 0, worst_codegen = 0;
    if (!o->json)
      std::printf(
          "startup on %s (%s): %s %s opened in %.1f ms (CUDA context %.0f ms, not counted below)\n\n"
          "%-18s %-12s %-24s %-13s %12s %12s %12s %12s\n",
          dev.name.c_str(), dev.arch().c_str(), o->pack.empty() ? "kernel DB" : "pack", path.c_str(), open_ms, ctx_ms,
          "variant", "K x V", "config", "chosen as", "first ms", "warm ms", "codegen ms", "NVRTC ms");
    for (const dsl::Spec& spec : specs) {
      tuner::Shape sh = *shape;
      KernelRequest req;
      req.variant = spec.name;
      req.K = sh.K;
      req.V = sh.V;
      req.dtype = codegen::dtypeName(dtype);
      req.batch_heads = int64_t(sh.B) * sh.H;
      req.seq_len = sh.T;
      // The library may hold other dims for this variant (based: 16x64): use those rather than fail.
      if (!(*lib)->index().resolve(req, (*lib)->device())) {
        for (const auto& e : (*lib)->index().entries())
          if (e.variant == spec.name && e.dtype == req.dtype && e.mode == kdb::TuningMode::Forward) {
            sh.K = static_cast<int>(e.key_dim);
            sh.V = static_cast<int>(e.value_dim);
            break;
          }
        req.K = sh.K;
        req.V = sh.V;
      }
      tuner::TimingOptions topts;
      topts.rotate_l2_multiple = 0;  // one launch each: no need for more than one buffer set
      auto work = tuner::Workload::create(**rt, spec, sh, dtype, codegen::Mode::Prefill, topts);
      if (!work) {
        std::cerr << "linrec startup: " << spec.name << ": " << work.error() << "\n";
        rc = kFailure;
        continue;
      }
      auto t0 = std::chrono::steady_clock::now();
      Status s = (*lib)->forward(spec.name, work->forward(0), nullptr);
      if (s) s = (*rt)->synchronize(nullptr);
      const double first_ms = msSince(t0);
      if (!s) {
        std::cerr << "linrec startup: " << spec.name << ": " << s.error() << "\n";
        rc = kFailure;
        continue;
      }
      t0 = std::chrono::steady_clock::now();
      s = (*lib)->forward(spec.name, work->forward(1), nullptr);
      if (s) s = (*rt)->synchronize(nullptr);
      const double warm_ms = msSince(t0);
      Resolution how;
      auto k = (*lib)->kernelFor(req, &how);
      if (!s || !k) {
        std::cerr << "linrec startup: " << spec.name << ": " << (!s ? s.error() : k.error()) << "\n";
        rc = kFailure;
        continue;
      }
      const kdb::IndexEntry& entry = (*lib)->index().entries()[how.entry];
      double codegen_ms = -1, nvrtc_ms = -1;
      std::string cold_error;
      if (!o->no_cold) {
        auto kc = kdb::KernelConfig::fromJson(entry.config_json);
        if (kc) {
          t0 = std::chrono::steady_clock::now();
          auto gen = codegen::generate(spec, {sh.K, sh.V}, tuner::fromKernelConfig(*kc, dev.smem_per_block_optin),
                                       codegen::Mode::Prefill, dtype);
          codegen_ms = msSince(t0);
          if (gen) {
            NvrtcOptions no;
            no.arch = entry.arch;
            t0 = std::chrono::steady_clock::now();
            auto cubin = compileToCubin(gen->source, no);
            nvrtc_ms = msSince(t0);
            if (!cubin) cold_error = cubin.error();
          } else {
            cold_error = llvm::toString(gen.takeError());
          }
        }
      }
      worst_first = std::max(worst_first, first_ms);
      worst_cold = std::max(worst_cold, nvrtc_ms);
      worst_codegen = std::max(worst_codegen, codegen_ms);
      if (!cold_error.empty()) rc = kFailure;
      auto kc = kdb::KernelConfig::fromJson(entry.config_json);
      const std::string config = kc ? kc->brief() : entry.config_json;
      rows.push_back({{"variant", spec.name},
                      {"K", sh.K},
                      {"V", sh.V},
                      {"config", config},
                      {"arch", entry.arch},
                      {"chosen_as", resolutionSourceName(how.source)},
                      {"explanation", how.explanation},
                      {"first_launch_ms", first_ms},
                      {"warm_launch_ms", warm_ms},
                      {"cold_codegen_ms", codegen_ms},
                      {"cold_nvrtc_ms", nvrtc_ms}});
      if (!o->json) {
        std::printf("%-18s %-12s %-24s %-13s %12.2f %12.3f %12.1f %12.1f\n", spec.name.c_str(),
                    (std::to_string(sh.K) + " x " + std::to_string(sh.V)).c_str(), config.c_str(),
                    resolutionSourceName(how.source), first_ms, warm_ms, codegen_ms, nvrtc_ms);
      }
      if (!cold_error.empty())
        std::cerr << "linrec startup: cold compile of " << spec.name << ": " << cold_error << "\n";
    }
    const bool first_ok = worst_first <= o->first_launch_budget_ms;
    const bool cold_ok = o->no_cold || worst_cold <= o->cold_compile_budget_ms;
    nlohmann::json j = {{"device", dev.name},
                        {"arch", dev.arch()},
                        {"library", path},
                        {"open_ms", open_ms},
                        {"context_ms", ctx_ms},
                        {"variants", rows},
                        {"first_launch_budget_ms", o->first_launch_budget_ms},
                        {"cold_compile_budget_ms", o->cold_compile_budget_ms},
                        {"max_first_launch_ms", worst_first},
                        {"max_cold_nvrtc_ms", worst_cold},
                        {"max_cold_codegen_ms", worst_codegen},
                        {"first_launch_ok", first_ok},
                        {"cold_compile_ok", cold_ok}};
    if (o->json) {
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf(
          "\nfirst launch (cubin read + module load + launch + sync) <= %.0f ms per variant: %s (max %.2f ms; "
          "the open above is paid once)\n",
          o->first_launch_budget_ms, first_ok ? "PASS" : "FAIL", worst_first);
      if (!o->no_cold)
        std::printf(
            "cold NVRTC compile <= %.0f ms per kernel: %s (max %.0f ms; codegen before it adds up to %.0f ms)\n",
            o->cold_compile_budget_ms, cold_ok ? "PASS" : "FAIL", worst_cold, worst_codegen);
    }
    if (!o->json_out.empty()) {
      std::FILE* f = std::fopen(o->json_out.c_str(), "w");
      if (!f || std::fprintf(f, "%s\n", j.dump(2).c_str()) < 0 || std::fclose(f) != 0) {
        std::cerr << "linrec startup: cannot write " << o->json_out << "\n";
        rc = kFailure;
      }
    }
    if (rc == kOk && (!first_ok || !cold_ok)) rc = kFailure;
    return rc;
  };
}

}  // namespace linrec::cli
