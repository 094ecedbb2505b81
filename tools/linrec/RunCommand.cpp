// `linrec run FILE --inputs IN.safetensors --out OUT.safetensors`: run a variant's kernel on a user's tensors.
#include <iostream>
#include <memory>

#include "Check.h"
#include "Commands.h"
#include "KernelOptions.h"
#include "linrec/dsl/Parser.h"

namespace linrec::cli {

namespace {
struct RunOptionsCli {
  std::string file, inputs, out;
  KernelOptions kernel;
  bool dtype_given = false;
};
}  // namespace

Runner addRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptionsCli>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Run a variant's prefill kernel on tensors from a safetensors file and write o and final_state");
  cmd->add_option("file", o->file, "Variant TOML file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--inputs", o->inputs, "safetensors with q, k, v, the declared inputs and params, and optional "
                                         "initial_state, initial_z, cu_seqlens")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "safetensors to write: o, final_state (and final_z)")->required();
  o->kernel.add(cmd, /*with_dims=*/false);
  cmd->footer("--dtype defaults to q's dtype (F32 -> fp32, BF16 -> bf16, F16 -> fp16).");
  return [o, cmd]() {
    dsl::ParseResult r = dsl::parseSpecFile(o->file);
    if (!r.ok()) {
      std::cerr << r.errorText();
      return static_cast<int>(kBadInput);
    }
    auto tensors = io::readSafetensors(o->inputs);
    if (!tensors) {
      std::cerr << "linrec run: error: " << tensors.error() << "\n";
      return static_cast<int>(kBadInput);
    }
    KernelOptions opts = o->kernel;
    if (cmd->get_option("--dtype")->count() == 0) {
      auto q = tensors->find("q");
      if (q != tensors->end()) opts.dtype = q->second.dtype == "BF16" ? "bf16" : q->second.dtype == "F16" ? "fp16" : "fp32";
    }
    codegen::TuningConfig config;
    codegen::HeadDims dims;
    codegen::DType dt;
    std::string err;
    if (!opts.resolve(config, dims, dt, err)) {
      std::cerr << "linrec run: error: " << err << "\n";
      return static_cast<int>(kBadInput);
    }
    auto rt = Runtime::create();
    if (!rt) {
      std::cerr << "linrec run: " << rt.error() << "\n";
      return static_cast<int>(kFailure);
    }
    auto out = check::runOnTensors(**rt, *r.spec, *tensors, config, dt, opts.autoTiles(), opts.warpsGiven());
    if (!out) {
      std::cerr << "linrec run: error: " << out.error() << "\n";
      return static_cast<int>(kBadInput);
    }
    Status s = io::writeSafetensors(o->out, *out);
    if (!s) {
      std::cerr << "linrec run: error: " << s.error() << "\n";
      return static_cast<int>(kFailure);
    }
    std::cout << "wrote " << o->out << " (o, final_state" << (r.spec->normalize ? ", final_z" : "") << ")\n";
    return static_cast<int>(kOk);
  };
}

}  // namespace linrec::cli
