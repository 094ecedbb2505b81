// Uses the installed MLIR-free runtime: NVRTC compiles a kernel with the embedded headers (no GPU needed).
#include <cstdio>

#include "linrec/runtime/NvrtcCompiler.h"
#include "linrec/runtime/Runtime.h"

int main() {
  auto cubin = linrec::compileToCubin("extern \"C\" __global__ void k(float* x) { x[threadIdx.x] *= 2.f; }", {});
  if (!cubin) return std::fprintf(stderr, "%s\n", cubin.error().c_str()), 1;
  auto rt = linrec::Runtime::create();  // fine either way: a GPU, or a clear "no CUDA device"
  std::printf("cubin %zu bytes; runtime: %s\n", cubin->cubin.size(), rt ? rt.value()->device().name.c_str()
                                                                          : rt.error().c_str());
  return 0;
}
