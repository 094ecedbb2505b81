// `linrec tune FILE... --shapes B,T,H,K,V`: autotune variants on the GPU, store the winners in the kernel DB,
// print a live progress line on stderr and a table (or JSON) on stdout.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "Commands.h"
#include "linrec/dsl/Parser.h"
#include "linrec/kdb/KernelDb.h"
#include "linrec/tuner/Tuner.h"

namespace linrec::cli {

namespace {

struct TuneOptionsCli {
  std::vector<std::string> files;
  std::vector<std::string> shapes;
  std::string dtype = "bf16";
  std::string mode = "prefill";
  double budget_s = 60;
  std::string db;
  bool no_db = false;
  bool json = false;
  std::string json_out;
  bool all = false;
  int threads = 0;
  int device = 0;
  double tie_tolerance = tuner::TuneOptions{}.tie_tolerance;
  // Search-space restrictions (empty: the tuner's defaults).
  std::vector<int> chunks, block_vs, block_ks, warps, stages;
  std::vector<std::string> strategies;
};

// The live line: rewritten in place on a terminal, one line per timed candidate otherwise (logs).
class ProgressLine {
 public:
  ProgressLine() : tty_(::isatty(STDERR_FILENO) == 1) {}
  void show(const std::string& line, bool milestone) {
    if (tty_) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      shown_ = true;
    } else if (milestone) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  }
  void finish() {
    if (tty_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool tty_;
  bool shown_ = false;
};

void printTable(const tuner::TuneResult& r, const std::string& db_note, bool all) {
  std::printf("%s  %s  %s %s  on %s (sm_%d%d, %d SMs)\n", r.variant.c_str(), r.shape.label().c_str(),
              codegen::dtypeName(r.dtype), kdb::tuningModeName(tuner::tuningModeOf(r.mode)), r.gpu.name.c_str(),
              r.gpu.cc_major, r.gpu.cc_minor, r.gpu.sm_count);
  std::map<std::string, int> counts;
  for (const auto& c : r.candidates) ++counts[tuner::candidateStatusName(c.status)];
  std::string summary;
  for (const auto& [k, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + k;
  std::printf("  %zu configs: %s; %.1f s\n", r.candidates.size(), summary.c_str(), r.elapsed_s);
  std::vector<size_t> timed;
  for (size_t i = 0; i < r.candidates.size(); ++i)
    if (r.candidates[i].status == tuner::CandidateStatus::Timed) timed.push_back(i);
  std::stable_sort(timed.begin(), timed.end(), [&](size_t a, size_t b) {
    return r.candidates[a].timing.median_ms < r.candidates[b].timing.median_ms;
  });
  std::printf("  %4s  %-26s %10s %10s %10s %8s %6s  %s\n", "rank", "config", "median ms", "min ms", "max ms", "GB/s",
              "regs", "");
  const size_t shown = all ? timed.size() : std::min<size_t>(timed.size(), 12);
  for (size_t k = 0; k < timed.size(); ++k) {
    const auto& c = r.candidates[timed[k]];
    const bool is_winner = r.winner && timed[k] == *r.winner;
    if (k >= shown && !is_winner && !c.is_default) continue;
    std::string mark = is_winner ? "<- winner" : "";
    if (c.is_default) mark += std::string(mark.empty() ? "" : ", ") + "default";
    std::printf("  %4zu  %-26s %10s %10s %10s %8.0f %6d  %s\n", k + 1, tuner::describeConfig(c.config).c_str(),
                formatMs(c.timing.median_ms).c_str(), formatMs(c.timing.min_ms).c_str(),
                formatMs(c.timing.max_ms).c_str(), r.floor_bytes / (c.timing.median_ms * 1e6), c.registers,
                mark.c_str());
  }
  if (all) {
    for (const auto& c : r.candidates)
      if (c.status != tuner::CandidateStatus::Timed)
        std::printf("     -  %-26s %-14s %s\n", tuner::describeConfig(c.config).c_str(),
                    tuner::candidateStatusName(c.status), c.reason.c_str());
  } else {
    // One example per kind of failure, so nothing wrong goes unnoticed in the short table.
    std::map<std::string, const tuner::CandidateResult*> first;
    for (const auto& c : r.candidates)
      if (c.status == tuner::CandidateStatus::Wrong || c.status == tuner::CandidateStatus::Failed ||
          c.status == tuner::CandidateStatus::CompileFailed)
        first.emplace(tuner::candidateStatusName(c.status), &c);
    for (const auto& [k, c] : first)
      std::printf("  %s (e.g. %s): %s\n", k.c_str(), tuner::describeConfig(c->config).c_str(), c->reason.c_str());
  }
  if (r.winner) {
    const auto& w = r.candidates[*r.winner];
    std::printf("  winner %s: %s ms, %.0f GB/s", tuner::describeConfig(w.config).c_str(),
                formatMs(w.timing.median_ms).c_str(), r.floor_bytes / (w.timing.median_ms * 1e6));
    if (r.default_fused && r.candidates[*r.default_fused].status == tuner::CandidateStatus::Timed)
      std::printf("; %.2fx the default (%s, %s ms)",
                  r.candidates[*r.default_fused].timing.median_ms / w.timing.median_ms,
                  tuner::describeConfig(r.candidates[*r.default_fused].config).c_str(),
                  formatMs(r.candidates[*r.default_fused].timing.median_ms).c_str());
    std::printf("\n");
  } else {
    std::printf("  no candidate could be timed: nothing stored\n");
  }
  if (!db_note.empty()) std::printf("  %s\n", db_note.c_str());
  std::printf("\n");
}

}  // namespace

std::string formatMs(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v < 1 ? "%.4f" : v < 100 ? "%.3f" : "%.1f", v);
  return b;
}

Runner addTuneCommand(CLI::App& app) {
  auto o = std::make_shared<TuneOptionsCli>();
  CLI::App* cmd = app.add_subcommand(
      "tune",
      "Autotune variants on this GPU: search chunk/tiles/warps/strategy, check each candidate against the "
      "reference, time the survivors, and store the winners in the kernel DB (needs a CUDA device)");
  cmd->add_option("files", o->files, "Variant TOML files")->required()->check(CLI::ExistingFile);
  cmd->add_option("--shapes", o->shapes, "Problem shape B,T,H,K,V (repeat for several; e.g. 8,4096,16,128,128)")
      ->required()
      ->allow_extra_args(false)
      ->take_all();
  cmd->add_option("--dtype", o->dtype, "Dtype of q, k, v, o: bf16, fp16, fp32")->capture_default_str();
  cmd->add_option("--mode", o->mode, "prefill, decode or both")->capture_default_str();
  cmd->add_option("--budget-s", o->budget_s, "Seconds per variant and shape (compiling included)")
      ->capture_default_str();
  cmd->add_option("--db", o->db, "Kernel DB (default: $LINREC_KERNEL_DB or ~/.cache/linrec/kernels.db)");
  cmd->add_flag("--no-db", o->no_db, "Do not store the results");
  cmd->add_flag("--json", o->json, "Print the results as JSON on stdout instead of tables");
  cmd->add_option("--json-out", o->json_out, "Also write the results as JSON to this file (tables stay on stdout)");
  cmd->add_flag("--all", o->all, "List every candidate in the tables, with the reason for each one not timed");
  cmd->add_option("--threads", o->threads, "NVRTC compile threads (0: one per CPU)")->capture_default_str();
  cmd->add_option("--device", o->device, "CUDA device ordinal")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "Restrict the search to these chunk sizes (e.g. --chunks 64,128)")
      ->delimiter(',')
      ->check(CLI::IsMember({16, 32, 64, 128}));
  cmd->add_option("--block-vs", o->block_vs, "Restrict the search to these value tiles BV")
      ->delimiter(',')
      ->check(CLI::IsMember({16, 32, 64, 128}));
  cmd->add_option("--block-ks", o->block_ks, "Restrict the search to these key slices BK (state passing only)")
      ->delimiter(',')
      ->check(CLI::Range(16, 256));
  cmd->add_option("--warps", o->warps, "Restrict the search to these warps per block")
      ->delimiter(',')
      ->check(CLI::IsMember({2, 4, 8}));
  cmd->add_option("--stages", o->stages,
                  "Restrict the search to these pipeline depths (state passing of delta rules only: the register-state "
                  "scan's ring of chunks in flight)")
      ->delimiter(',')
      ->check(CLI::Range(2, 4));
  cmd->add_option("--tie-tolerance", o->tie_tolerance,
                  "Configs within this fraction of the fastest count as ties, which the simplest one wins")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.5));
  cmd->add_option("--strategies", o->strategies, "Restrict the search to these strategies: fused, state_passing")
      ->delimiter(',')
      ->check(CLI::IsMember({"fused", "state_passing"}));
  return [o]() {
    std::vector<dsl::Spec> specs;
    for (const auto& f : o->files) {
      dsl::ParseResult r = dsl::parseSpecFile(f);
      if (!r.ok()) {
        std::cerr << r.errorText();
        return static_cast<int>(kBadInput);
      }
      specs.push_back(*r.spec);
    }
    std::vector<tuner::Shape> shapes;
    for (const auto& s : o->shapes) {
      auto sh = tuner::Shape::parse(s);
      if (!sh) {
        std::cerr << "linrec tune: error: --shapes: " << sh.error() << "\n";
        return static_cast<int>(kBadInput);
      }
      shapes.push_back(*sh);
    }
    tuner::TuneOptions base;
    if (!tuner::parseDType(o->dtype, base.dtype)) {
      std::cerr << "linrec tune: error: --dtype must be bf16, fp16 or fp32 (got '" << o->dtype << "')\n";
      return static_cast<int>(kBadInput);
    }
    std::vector<codegen::Mode> modes;
    if (o->mode == "prefill" || o->mode == "both") modes.push_back(codegen::Mode::Prefill);
    if (o->mode == "decode" || o->mode == "both") modes.push_back(codegen::Mode::Decode);
    if (modes.empty()) {
      std::cerr << "linrec tune: error: --mode must be prefill, decode or both (got '" << o->mode << "')\n";
      return static_cast<int>(kBadInput);
    }
    if (o->budget_s <= 0) {
      std::cerr << "linrec tune: error: --budget-s must be positive\n";
      return static_cast<int>(kBadInput);
    }
    base.budget_s = o->budget_s;
    base.compile_threads = o->threads;
    base.tie_tolerance = o->tie_tolerance;
    for (int bk : o->block_ks)
      if (bk % 16 != 0) {
        std::cerr << "linrec tune: error: --block-ks: " << bk << " is not a multiple of 16\n";
        return static_cast<int>(kBadInput);
      }
    if (!o->chunks.empty()) base.space.chunks = o->chunks;
    if (!o->block_vs.empty()) base.space.block_vs = o->block_vs;
    if (!o->block_ks.empty()) base.space.block_ks = o->block_ks;
    if (!o->warps.empty()) base.space.warps = o->warps;
    if (!o->stages.empty()) base.space.stages = o->stages;
    if (!o->strategies.empty()) {
      base.space.strategies.clear();
      for (const std::string& st : o->strategies)
        base.space.strategies.push_back(st == "fused" ? codegen::Strategy::Fused : codegen::Strategy::StatePassing);
    }

    auto rt = Runtime::create(o->device);
    if (!rt) {
      std::cerr << "linrec tune: " << rt.error() << "\n";
      return static_cast<int>(kFailure);
    }
    std::optional<kdb::KernelDb> db;
    if (!o->no_db) {
      std::string path = o->db;
      if (path.empty()) {
        auto p = kdb::KernelDb::defaultPath();
        if (!p) {
          std::cerr << "linrec tune: " << p.error() << "\n";
          return static_cast<int>(kFailure);
        }
        path = *p;
      }
      auto opened = kdb::KernelDb::openOrFallback(path);
      if (!opened) {
        std::cerr << "linrec tune: " << opened.error() << "\n";
        return static_cast<int>(kFailure);
      }
      if (!opened->warning.empty()) std::cerr << opened->warning << "\n";
      db.emplace(std::move(opened->db));
    }

    const DeviceInfo& dev = (*rt)->device();
    // The launch mode is recorded with every timing (tuner::Timing::launch): a record timed under one mode is
    // what `linrec bench` compares with the mode it runs under.
    std::fprintf(stderr,
                 "linrec tune: %s (%s, %d SMs, %d KiB smem/block), budget %.0f s per variant and shape, launch "
                 "mode %s (LINREC_PDL)%s\n",
                 dev.name.c_str(), dev.arch().c_str(), dev.sm_count, dev.smem_per_block_optin / 1024, o->budget_s,
                 programmaticLaunchName(dev), db ? (", results to " + db->path()).c_str() : ", results not stored");
    int rc = kOk;
    nlohmann::json all = nlohmann::json::array();
    for (const dsl::Spec& spec : specs)
      for (const tuner::Shape& shape : shapes)
        for (codegen::Mode mode : modes) {
          tuner::TuneOptions opts = base;
          opts.mode = mode;
          ProgressLine line;
          const std::string head =
              "[" + spec.name + " " + shape.label() + (mode == codegen::Mode::Decode ? " decode" : "") + "]";
          opts.progress = [&](const tuner::TuneProgress& p) {
            std::string s = head + " " + p.phase + " " + std::to_string(p.index) + "/" + std::to_string(p.total);
            if (p.current) {
              s += "  " + tuner::describeConfig(p.current->config) + "  ";
              s += p.current->status == tuner::CandidateStatus::Timed
                       ? formatMs(p.current->timing.median_ms) + " ms"
                       : std::string(tuner::candidateStatusName(p.current->status)) +
                             (p.current->reason.empty() ? "" : " (" + p.current->reason + ")");
            }
            if (p.best)
              s += "  best " + formatMs(p.best->timing.median_ms) + " ms (" + tuner::describeConfig(p.best->config) +
                   ")";
            line.show(s, p.phase == "time" || p.index == p.total);
          };
          auto res = tuner::tune(**rt, spec, shape, opts, db ? &*db : nullptr);
          line.finish();
          if (!res) {
            std::cerr << "linrec tune: " << res.error() << "\n";
            rc = kFailure;
            continue;
          }
          if (!res->winner) rc = kFailure;
          all.push_back(nlohmann::json::parse(tuner::resultJson(*res)));
          if (!o->json) {
            std::string note;
            if (res->stored) note = "stored in " + db->path();
            printTable(*res, note, o->all);
          }
          std::fflush(stdout);
        }
    if (o->json) std::printf("%s\n", all.dump(2).c_str());
    if (!o->json_out.empty()) {
      std::FILE* f = std::fopen(o->json_out.c_str(), "w");
      if (!f || std::fprintf(f, "%s\n", all.dump(2).c_str()) < 0 || std::fclose(f) != 0) {
        std::cerr << "linrec tune: cannot write " << o->json_out << "\n";
        return static_cast<int>(kFailure);
      }
    }
    return rc;
  };
}

}  // namespace linrec::cli
