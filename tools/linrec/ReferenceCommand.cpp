// `linrec reference FILE`: run the float64 references on seeded random inputs and print a digest.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "Commands.h"
#include "linrec/dsl/Parser.h"
#include "linrec/reference/Reference.h"

namespace linrec::cli {

namespace {

struct ReferenceOptions {
  std::string file;
  int B = 1, T = 256, H = 2, K = 64, V = 64;
  uint64_t seed = 0;
  int chunk = 0;
  bool initial_state = false;
  std::string varlen;
  bool json = false;
};

nlohmann::json digest(const std::vector<double>& x) {
  double sum = 0, sq = 0, mx = 0;
  for (double v : x) {
    sum += v;
    sq += v * v;
    mx = std::max(mx, std::fabs(v));
  }
  return {{"n", x.size()}, {"sum", sum}, {"l2", std::sqrt(sq)}, {"max_abs", mx}};
}

}  // namespace

bool parseLengths(const std::string& s, std::vector<int64_t>& cu, std::string& err) {
  cu = {0};
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long long n = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n < 0) {
      err = "--varlen takes comma-separated sequence lengths >= 0, e.g. 5,1,30 (got '" + item + "')";
      return false;
    }
    cu.push_back(cu.back() + n);
  }
  if (cu.size() < 2) {
    err = "--varlen needs at least one length";
    return false;
  }
  return true;
}

Runner addReferenceCommand(CLI::App& app) {
  auto o = std::make_shared<ReferenceOptions>();
  CLI::App* cmd = app.add_subcommand("reference", "Run the float64 reference on random inputs and print a digest");
  cmd->add_option("file", o->file, "Variant TOML file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--B", o->B, "Batch size")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("--T", o->T, "Sequence length")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--H", o->H, "Heads")->check(CLI::Range(1, 1024));
  cmd->add_option("--K", o->K, "Key width")->check(CLI::Range(1, 1024));
  cmd->add_option("--V", o->V, "Value width")->check(CLI::Range(1, 1024));
  cmd->add_option("--seed", o->seed, "Random seed (inputs are the same on every platform for a seed)");
  cmd->add_option("--chunk", o->chunk, "Also run the chunkwise reference with this chunk size and report the "
                                       "difference")->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--initial-state", o->initial_state, "Start from a random initial state");
  cmd->add_option("--varlen", o->varlen, "Sequence lengths of a variable-length batch (B = 1), e.g. 100,3,57; "
                                         "overrides --B and --T");
  cmd->add_flag("--json", o->json, "Print the digest as JSON");
  return [o]() {
    dsl::ParseResult r = dsl::parseSpecFile(o->file);
    if (!r.ok()) {
      std::cerr << r.errorText();
      return static_cast<int>(kBadInput);
    }
    reference::Problem p;
    p.B = o->B;
    p.T = o->T;
    p.H = o->H;
    p.K = o->K;
    p.V = o->V;
    if (!o->varlen.empty()) {
      std::string err;
      if (!parseLengths(o->varlen, p.cu_seqlens, err)) {
        std::cerr << "linrec reference: error: " << err << "\n";
        return static_cast<int>(kBadInput);
      }
      p.B = 1;
      p.T = static_cast<int>(p.cu_seqlens.back());
      if (p.T == 0) {
        std::cerr << "linrec reference: error: --varlen lengths add up to 0 tokens\n";
        return static_cast<int>(kBadInput);
      }
    }
    const double elements = double(p.B) * p.T * p.H * std::max(p.K, p.V);
    if (elements > 4e8) {
      std::cerr << "linrec reference: error: B*T*H*max(K,V) = " << elements
                << " is too large for the CPU reference; use a smaller problem\n";
      return static_cast<int>(kBadInput);
    }
    reference::Inputs in = reference::randomInputs(*r.spec, p, o->seed, o->initial_state);
    auto t0 = std::chrono::steady_clock::now();
    auto rec = reference::runRecurrent(*r.spec, p, in);
    double rec_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!rec) {
      std::cerr << "linrec reference: error: " << rec.error() << "\n";
      return static_cast<int>(kFailure);
    }
    nlohmann::json j;
    j["variant"] = r.spec->name;
    j["hash"] = r.spec->hash();
    j["shape"] = {{"B", p.B}, {"T", p.T}, {"H", p.H}, {"K", p.K}, {"V", p.V},
                  {"K_feature", r.spec->featureWidth(p.K)}, {"sequences", p.numSequences()}};
    j["seed"] = o->seed;
    j["o"] = digest(rec->o);
    j["final_state"] = digest(rec->final_state);
    if (!rec->final_z.empty()) j["final_z"] = digest(rec->final_z);
    j["recurrent_ms"] = rec_ms;
    if (o->chunk > 0) {
      t0 = std::chrono::steady_clock::now();
      auto ch = reference::runChunkwise(*r.spec, p, in, o->chunk);
      double ch_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (!ch) {
        std::cerr << "linrec reference: error: " << ch.error() << "\n";
        return static_cast<int>(kFailure);
      }
      j["chunkwise"] = {{"chunk", o->chunk},
                        {"ms", ch_ms},
                        {"o_rel_err", reference::relativeError(ch->o, rec->o)},
                        {"state_rel_err", reference::relativeError(ch->final_state, rec->final_state)}};
    }
    if (o->json) {
      std::cout << j.dump(2) << "\n";
      return static_cast<int>(kOk);
    }
    std::printf("%s  hash %.16s  B=%d T=%d H=%d K=%d (K'=%d) V=%d sequences=%d seed=%llu\n", r.spec->name.c_str(),
                r.spec->hash().c_str(), p.B, p.T, p.H, p.K, r.spec->featureWidth(p.K), p.V, p.numSequences(),
                static_cast<unsigned long long>(o->seed));
    auto line = [](const char* name, const nlohmann::json& d) {
      std::printf("  %-12s n=%-10llu sum=% .12e  l2=%.12e  max|x|=%.6e\n", name,
                  static_cast<unsigned long long>(d["n"].get<uint64_t>()), d["sum"].get<double>(),
                  d["l2"].get<double>(), d["max_abs"].get<double>());
    };
    line("o", j["o"]);
    line("final_state", j["final_state"]);
    if (j.contains("final_z")) line("final_z", j["final_z"]);
    std::printf("  recurrent    %.1f ms\n", rec_ms);
    if (j.contains("chunkwise"))
      std::printf("  chunkwise    C=%d %.1f ms  rel err o %.3e  state %.3e\n", o->chunk,
                  j["chunkwise"]["ms"].get<double>(), j["chunkwise"]["o_rel_err"].get<double>(),
                  j["chunkwise"]["state_rel_err"].get<double>());
    return static_cast<int>(kOk);
  };
}

}  // namespace linrec::cli
