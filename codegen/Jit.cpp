// JIT at startup: Spec -> generate() -> Runtime::load(), the path `linrec check` and embedders use.
#include "linrec/codegen/Jit.h"

#include "linrec/dsl/Parser.h"

namespace linrec::codegen {

Expected<Kernel> jitLoad(Runtime& rt, const dsl::Spec& spec, const JitOptions& options) {
  TuningConfig config = options.config;
  if (options.auto_tiles) {
    auto d = defaultConfig(spec, options.dims, options.mode, options.dtype, config.smem_limit);
    if (!d) return Error{llvm::toString(d.takeError())};
    applyDefaultTiles(config, *d);
  }
  auto gen = generate(spec, options.dims, config, options.mode, options.dtype);
  if (!gen) return Error{llvm::toString(gen.takeError())};
  return rt.load(gen->source, gen->descriptor_json);
}

Expected<Kernel> jitLoad(Runtime& rt, const std::string& toml_path, const JitOptions& options) {
  dsl::ParseResult r = dsl::parseSpecFile(toml_path);
  if (!r.ok()) return Error{r.errorText()};
  return jitLoad(rt, *r.spec, options);
}

}  // namespace linrec::codegen
