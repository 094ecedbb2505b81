// Helpers for the kernels-db tests: scratch directories, file bytes, sample records, child processes.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "linrec/kdb/KernelDb.h"

namespace linrec::kdb::test {

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base ? base : "/tmp") + "/linrec-kdb-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    // Tests make parts read-only; give write access back so the tree can be removed.
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      ::chmod(it->path().c_str(), 0755);
    ::chmod(path_.c_str(), 0755);
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

inline void writeBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

/// A kernel key that differs per `i`, targeting `arch`.
inline KernelKey sampleKernelKey(int i, const std::string& arch = "sm_90a") {
  KernelKey k;
  k.source_sha256 = std::string(63, 'a') + static_cast<char>('0' + i % 10) + std::to_string(i / 10);
  k.nvrtc_version = "12.8";
  k.options = {"--gpu-architecture=" + arch, "-std=c++17", "-DLINREC_VARIANT=" + std::to_string(i)};
  k.linrec_version = "0.1.0";
  return k;
}

/// A record whose cubin bytes depend on `i` and `salt` (so rewrites are visible).
inline KernelRecord sampleKernel(int i, const std::string& arch = "sm_90a", int salt = 0, size_t size = 512) {
  KernelRecord r;
  r.key = sampleKernelKey(i, arch);
  r.cubin.resize(size);
  for (size_t j = 0; j < size; ++j) r.cubin[j] = static_cast<char>((j * 31 + i * 7 + salt * 13) & 0xff);
  r.kernel_names = {"linrec_fwd_" + std::to_string(i), "linrec_state_" + std::to_string(i)};
  r.registers = 128 + i;
  r.spill_bytes = i;
  r.smem_bytes = 49152 + i;
  r.created_at = 1700000000 + i;
  return r;
}

inline GpuIdentity sampleGpu() {
  return {"NVIDIA H100 80GB HBM3", 9, 0, 132, 12080};
}

inline TuningKey sampleTuningKey(int i) {
  return TuningKey::forShape("spec" + std::to_string(i), sampleGpu(), "bf16", 128, 128, 64, 4096, TuningMode::Forward);
}

inline TuningRecord sampleTuning(int i, int salt = 0) {
  TuningRecord r;
  r.key = sampleTuningKey(i);
  r.config_json = R"({"strategy":"fused","chunk":64,"bv":)" + std::to_string(32 + salt) + "}";
  r.candidates_json = R"([{"config":{"chunk":64},"ms":0.21},{"config":{"chunk":32},"ms":0.25}])";
  r.created_at = 1700000100 + i;
  return r;
}

/// Waits for `pid`; returns its exit status (or 128 + signal).
inline int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// Rows in `table` (via a separate read connection).
inline int64_t countRows(KernelDb& db, const std::string& table) {
  Expected<int64_t> n = db.database().queryInt("SELECT count(*) FROM " + table);
  return n ? *n : -1;
}

}  // namespace linrec::kdb::test
