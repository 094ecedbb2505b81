// The host mirror of FwdParams/DecodeParams (KernelAbi.h) matches abi.cuh, as NVRTC lays it out.
#include "linrec/runtime/KernelAbi.h"

#include <gtest/gtest.h>
#include <nvrtc.h>

#include <regex>

#include "linrec/Expected.h"

#include "linrec/runtime/EmbeddedHeaders.h"

namespace linrec {
namespace {

/// NVRTC has no offsetof in constant expressions, so the layout is read from PTX instead: one probe kernel
/// per field takes the struct by value and loads that field; PTX names the load "[<kernel>_param_0+<offset>]"
/// and declares the parameter as ".b8 <kernel>_param_0[<sizeof>]".
Expected<std::string> probePtx(const std::string& src) {
  struct Prog {
    nvrtcProgram p = nullptr;
    ~Prog() {
      if (p) nvrtcDestroyProgram(&p);
    }
  } prog;
  std::vector<const char*> names, bodies;
  for (const EmbeddedHeader& h : embeddedKernelHeaders()) {
    names.push_back(h.name);
    bodies.push_back(reinterpret_cast<const char*>(h.data));
  }
  if (nvrtcCreateProgram(&prog.p, src.c_str(), "abi_probe.cu", int(names.size()), bodies.data(), names.data()) !=
      NVRTC_SUCCESS)
    return Error{"nvrtcCreateProgram failed"};
  const char* opts[] = {"-std=c++17", "--gpu-architecture=compute_90"};
  nvrtcResult r = nvrtcCompileProgram(prog.p, 2, opts);
  size_t n = 0;
  nvrtcGetProgramLogSize(prog.p, &n);
  std::string log(n, '\0');
  nvrtcGetProgramLog(prog.p, log.data());
  if (r != NVRTC_SUCCESS) return Error{"probe does not compile:\n" + log};
  nvrtcGetPTXSize(prog.p, &n);
  std::string ptx(n, '\0');
  nvrtcGetPTX(prog.p, ptx.data());
  return ptx;
}

template <size_t N>
void expectLayout(const char* type, const abi::FieldLayout (&fields)[N], size_t size) {
  std::string src = "#include \"linrec/kernel/abi.cuh\"\n";
  for (const auto& f : fields) {
    std::string k = std::string("probe_") + f.name;
    // Arrays (the only fields wider than 8 bytes) are probed at element 0.
    std::string field = std::string("p.") + f.name + (f.size > 8 ? "[0]" : "");
    src += "extern \"C\" __global__ void " + k + "(linrec::kern::" + type +
           " p, unsigned long long* out) { out[0] = (unsigned long long)(" + field + "); }\n";
  }
  auto ptx = probePtx(src);
  ASSERT_TRUE(ptx.ok()) << ptx.error();
  for (const auto& f : fields) {
    std::string k = std::string("probe_") + f.name;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(*ptx, m, std::regex(k + R"(_param_0\[(\d+)\])"))) << k;
    EXPECT_EQ(std::stoul(m[1].str()), size) << "sizeof(" << type << ") differs from the runtime's mirror";
    size_t off = 0;
    if (std::regex_search(*ptx, m, std::regex(R"(\[)" + k + R"(_param_0\+(\d+)\])")))
      off = std::stoul(m[1].str());
    else
      ASSERT_TRUE(ptx->find("[" + k + "_param_0]") != std::string::npos) << "no load of " << f.name << " in\n" << *ptx;
    EXPECT_EQ(off, f.offset) << type << "::" << f.name << " is at offset " << off << " in abi.cuh, " << f.offset
                             << " in the runtime's mirror (include/linrec/runtime/KernelAbi.h)";
  }
}

TEST(KernelAbi, FwdParamsMirrorMatchesAbiCuh) {
  if (!findEmbeddedKernelHeader("linrec/kernel/abi.cuh")) GTEST_SKIP() << "abi.cuh does not exist yet";
  expectLayout("FwdParams", abi::kFwdParamsLayout, sizeof(abi::FwdParams));
}

TEST(KernelAbi, DecodeParamsMirrorMatchesAbiCuh) {
  if (!findEmbeddedKernelHeader("linrec/kernel/abi.cuh")) GTEST_SKIP() << "abi.cuh does not exist yet";
  expectLayout("DecodeParams", abi::kDecodeParamsLayout, sizeof(abi::DecodeParams));
}

TEST(KernelAbi, MirrorLayoutIsPacked) {
  // FwdParams is passed by value; a hole in it would be a place where host and device could disagree.
  size_t end = 0;
  for (const auto& f : abi::kFwdParamsLayout) {
    EXPECT_EQ(f.offset, end) << f.name;
    end = f.offset + f.size;
  }
  EXPECT_EQ(end, sizeof(abi::FwdParams));
}

}  // namespace
}  // namespace linrec
