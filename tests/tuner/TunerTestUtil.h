// Helpers for the tuner tests: scratch directories, bundled variants, and a fake NVRTC for pack builds.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "linrec/dsl/Parser.h"
#include "linrec/runtime/NvrtcCompiler.h"

namespace linrec::tuner::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/linrec-tuner-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string readBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::string> dirEntries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

/// A bundled variant (variants/NAME.toml).
inline dsl::Spec variant(const std::string& name) {
  dsl::ParseResult r = dsl::parseSpecFile(std::string(LINREC_SOURCE_DIR) + "/variants/" + name + ".toml");
  if (!r.ok()) {
    ADD_FAILURE() << r.errorText();
    return {};
  }
  return *r.spec;
}

/// Stands in for NVRTC: a deterministic "cubin" per (source, arch), the real option list, clean stats.
inline Expected<CubinResult> fakeCompile(const std::string& source, const NvrtcOptions& options) {
  CubinResult r;
  r.arch = options.arch;
  r.options = nvrtcOptionList(options);
  std::string bytes = "FAKECUBIN:" + options.arch + ":" + std::to_string(std::hash<std::string>()(source));
  r.cubin.assign(bytes.begin(), bytes.end());
  KernelStats s;
  s.name = "fake";
  s.arch = options.arch;
  s.registers = 128;
  r.stats.push_back(s);
  return r;
}

}  // namespace linrec::tuner::test
