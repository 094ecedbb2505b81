// `linrec compile FILE -o DIR`: generate CUDA source + launch descriptor, compile with NVRTC (no GPU needed).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "Commands.h"
#include "KernelOptions.h"
#include "linrec/dsl/Parser.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec::cli {

namespace {

struct CompileOptionsCli {
  std::string file;
  std::string out_dir;
  std::vector<std::string> archs{"sm_90"};
  std::string mode = "prefill";
  std::string emit_mlir;
  bool no_nvrtc = false;
  KernelOptions kernel;
};

bool writeFile(const std::filesystem::path& p, const std::string& text, std::string& err) {
  const std::filesystem::path tmp = p.string() + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o << text;
    if (!o) {
      err = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, p, ec);
  if (ec) {
    err = "cannot write " + p.string() + ": " + ec.message();
    return false;
  }
  return true;
}

// The dynamic shared memory the descriptor asks for, for the kernel named `name`.
long long descriptorSmem(const std::string& descriptor_json, const std::string& name) {
  auto j = nlohmann::json::parse(descriptor_json, nullptr, false);
  if (j.is_discarded() || !j.contains("kernels")) return 0;
  for (const auto& k : j["kernels"])
    if (k.value("name", "") == name) return k.value("smem_bytes", 0LL);
  return 0;
}

}  // namespace

Runner addCompileCommand(CLI::App& app) {
  auto o = std::make_shared<CompileOptionsCli>();
  CLI::App* cmd = app.add_subcommand("compile", "Generate a variant's CUDA source and launch descriptor, and compile "
                                                "them with NVRTC (no GPU needed)");
  cmd->add_option("file", o->file, "Variant TOML file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", o->out_dir, "Output directory (written: NAME.cu, NAME.json, NAME.<arch>.cubin)");
  cmd->add_option("--arch", o->archs, "Target archs, e.g. sm_80,sm_90")->delimiter(',')->capture_default_str();
  cmd->add_option("--mode", o->mode, "prefill or decode")->capture_default_str();
  cmd->add_option("--emit-mlir", o->emit_mlir,
                  "Print the IR after a stage (import, canonicalize, chunkwise, tuned, emitc) and stop");
  cmd->add_flag("--no-nvrtc", o->no_nvrtc, "Only generate source and descriptor");
  o->kernel.add(cmd);
  return [o]() {
    dsl::ParseResult r = dsl::parseSpecFile(o->file);
    if (!r.ok()) {
      std::cerr << r.errorText();
      return static_cast<int>(kBadInput);
    }
    codegen::TuningConfig config;
    codegen::HeadDims dims;
    codegen::DType dt;
    std::string err;
    if (!o->kernel.resolve(config, dims, dt, err)) {
      std::cerr << "linrec compile: error: " << err << "\n";
      return static_cast<int>(kBadInput);
    }
    codegen::Mode mode;
    if (o->mode == "prefill") mode = codegen::Mode::Prefill;
    else if (o->mode == "decode") mode = codegen::Mode::Decode;
    else {
      std::cerr << "linrec compile: error: --mode must be prefill or decode\n";
      return static_cast<int>(kBadInput);
    }
    if (o->kernel.autoTiles()) {
      auto d = codegen::defaultConfig(*r.spec, dims, mode, dt, config.smem_limit);
      if (!d) {
        std::cerr << llvm::toString(d.takeError()) << "\n";
        return static_cast<int>(kBadInput);
      }
      codegen::applyDefaultTiles(config, *d, o->kernel.warpsGiven());
    }
    if (!o->emit_mlir.empty()) {
      auto ir = codegen::generateMlir(*r.spec, dims, config, mode, dt, o->emit_mlir);
      if (!ir) {
        std::cerr << llvm::toString(ir.takeError()) << "\n";
        return static_cast<int>(kBadInput);
      }
      std::cout << *ir;
      return static_cast<int>(kOk);
    }
    auto gen = codegen::generate(*r.spec, dims, config, mode, dt);
    if (!gen) {
      // A Spec or config the compiler cannot lower is the user's input, not a crash.
      std::cerr << llvm::toString(gen.takeError()) << "\n";
      return static_cast<int>(kBadInput);
    }
    const std::string base = gen->kernel_names.empty() ? r.spec->name : gen->kernel_names.front();
    std::filesystem::path dir = o->out_dir;
    if (!o->out_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        std::cerr << "linrec compile: error: cannot create " << dir << ": " << ec.message() << "\n";
        return static_cast<int>(kFailure);
      }
      if (!writeFile(dir / (base + ".cu"), gen->source, err) ||
          !writeFile(dir / (base + ".json"), gen->descriptor_json, err)) {
        std::cerr << "linrec compile: error: " << err << "\n";
        return static_cast<int>(kFailure);
      }
    }
    std::printf("%s  %s  K=%d V=%d %s %s\n", r.spec->name.c_str(), o->mode.c_str(), dims.K, dims.V,
                codegen::dtypeName(dt), base.c_str());
    if (o->no_nvrtc) return static_cast<int>(kOk);
    std::printf("  %-8s %-52s %6s %5s %7s %7s %9s %8s\n", "arch", "kernel", "regs", "bar", "spill-st", "spill-ld",
                "smem(dyn)", "ms");
    int rc = kOk;
    for (const auto& arch : o->archs) {
      NvrtcOptions nv;
      nv.arch = arch;
      nv.source_name = base + ".cu";
      auto cubin = compileToCubin(gen->source, nv);
      if (!cubin) {
        std::cerr << "linrec compile: NVRTC rejected the generated source for " << arch << ":\n" << cubin.error() << "\n";
        rc = kFailure;
        continue;
      }
      for (const auto& s : cubin->stats) {
        const long long dyn = descriptorSmem(gen->descriptor_json, s.name);
        std::printf("  %-8s %-52.52s %6d %5d %7lld %7lld %9lld %8.0f\n", arch.c_str(), s.name.c_str(), s.registers,
                    s.barriers, s.spill_stores, s.spill_loads, dyn, cubin->compile_ms);
      }
      std::printf("  %-8s cubin %zu bytes\n", arch.c_str(), cubin->cubin.size());
      if (!o->out_dir.empty()) {
        std::string bytes(cubin->cubin.begin(), cubin->cubin.end());
        if (!writeFile(dir / (base + "." + arch + ".cubin"), bytes, err)) {
          std::cerr << "linrec compile: error: " << err << "\n";
          rc = kFailure;
        }
      }
    }
    return rc;
  };
}

}  // namespace linrec::cli
