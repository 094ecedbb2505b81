// `linrec check FILE`: run a variant's kernels on the GPU against the float64 reference and print the errors.
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "Check.h"
#include "Commands.h"
#include "KernelOptions.h"
#include "linrec/dsl/Parser.h"

namespace linrec::cli {

namespace {
struct CheckOptionsCli {
  std::string file;
  std::vector<int> Ts{1, 63, 64, 1000};
  int B = 2, H = 4;
  std::string varlen = "1,63,200,7";
  int decode_steps = 64;
  uint64_t seed = 1;
  KernelOptions kernel;
};
}  // namespace

Runner addCheckCommand(CLI::App& app) {
  auto o = std::make_shared<CheckOptionsCli>();
  CLI::App* cmd = app.add_subcommand("check", "Compare a variant's GPU kernels with the float64 reference on random "
                                              "inputs and print the error table");
  cmd->add_option("file", o->file, "Variant TOML file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--T", o->Ts, "Sequence lengths to check")->delimiter(',')->capture_default_str();
  cmd->add_option("--B", o->B, "Batch size")->capture_default_str();
  cmd->add_option("--H", o->H, "Heads")->capture_default_str();
  cmd->add_option("--varlen", o->varlen, "Lengths of a ragged batch to check too (empty: none)")->capture_default_str();
  cmd->add_option("--decode-steps", o->decode_steps, "Decode steps after a prefill (0: no decode check)")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  o->kernel.add(cmd);
  return [o]() {
    dsl::ParseResult r = dsl::parseSpecFile(o->file);
    if (!r.ok()) {
      std::cerr << r.errorText();
      return static_cast<int>(kBadInput);
    }
    check::CheckCase base;
    codegen::HeadDims dims;
    std::string err;
    if (!o->kernel.resolve(base.config, dims, base.dtype, err)) {
      std::cerr << "linrec check: error: " << err << "\n";
      return static_cast<int>(kBadInput);
    }
    base.auto_tiles = o->kernel.autoTiles();
    base.keep_warps = o->kernel.warpsGiven();
    base.K = dims.K;
    base.V = dims.V;
    base.B = o->B;
    base.H = o->H;
    base.seed = o->seed;
    std::vector<check::CheckCase> cases;
    for (int T : o->Ts) {
      for (bool h0 : {false, true}) {
        check::CheckCase c = base;
        c.T = T;
        c.initial_state = h0;
        cases.push_back(c);
      }
    }
    if (!o->varlen.empty()) {
      check::CheckCase c = base;
      c.B = 1;
      if (!parseLengths(o->varlen, c.cu_seqlens, err)) {
        std::cerr << "linrec check: error: " << err << "\n";
        return static_cast<int>(kBadInput);
      }
      c.T = static_cast<int>(c.cu_seqlens.back());
      c.initial_state = true;
      cases.push_back(c);
    }
    if (o->decode_steps > 0) {
      check::CheckCase c = base;
      c.T = 37;
      c.decode_steps = o->decode_steps;
      c.initial_state = true;
      cases.push_back(c);
    }
    auto rt = Runtime::create();
    if (!rt) {
      std::cerr << "linrec check: " << rt.error() << "\n";
      return static_cast<int>(kFailure);
    }
    std::printf("%s on %s\n", r.spec->name.c_str(), (*rt)->device().name.c_str());
    std::printf("  %-62s %10s %10s %10s %8s  %s\n", "case", "o err", "state err", "z err", "tol", "result");
    int failed = 0;
    for (const auto& c : cases) {
      auto res = check::runCheck(**rt, *r.spec, c);
      if (!res) {
        std::printf("  %-62s  ERROR: %s\n", c.label().c_str(), res.error().c_str());
        ++failed;
        continue;
      }
      check::CheckCase shown = c;
      shown.config = res->config;
      std::printf("  %-62s %10.2e %10.2e %10.2e %8.0e  %s%s%s\n", shown.label().c_str(), res->o_err, res->state_err,
                  res->z_err, res->tolerance, res->pass ? "ok" : "FAIL", res->pass ? "" : ": ", res->detail.c_str());
      if (!res->pass) ++failed;
    }
    std::printf("%zu passed, %d failed\n", cases.size() - failed, failed);
    return failed ? static_cast<int>(kFailure) : static_cast<int>(kOk);
  };
}

}  // namespace linrec::cli
