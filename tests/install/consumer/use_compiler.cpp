// Uses the installed compiler: a variant file to CUDA source through linrec::codegen.
#include <cstdio>

#include "linrec/codegen/Jit.h"
#include "linrec/dsl/Parser.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto r = linrec::dsl::parseSpecFile(argv[1]);
  if (!r.ok()) return std::fprintf(stderr, "%s", r.errorText().c_str()), 2;
  auto gen = linrec::codegen::generate(*r.spec, {128, 128}, {}, linrec::codegen::Mode::Prefill,
                                       linrec::codegen::DType::BF16);
  if (!gen) return std::fprintf(stderr, "%s\n", llvm::toString(gen.takeError()).c_str()), 1;
  std::printf("%s: %zu bytes of CUDA, kernel %s\n", r.spec->name.c_str(), gen->source.size(),
              gen->kernel_names.front().c_str());
  return 0;
}
