// Parallel NVRTC compiles (a small thread pool over a job list) and the DB rows that describe their results.
#include "linrec/tuner/KernelBuild.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "linrec/dsl/Sha256.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/tuner/SearchSpace.h"

namespace linrec::tuner {

void parallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), n));
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

std::vector<Expected<CubinResult>> compileParallel(const std::vector<BuildJob>& jobs, int threads,
                                                   const CompileFn& compile, const std::function<bool()>& stop,
                                                   const std::function<void(size_t, size_t)>& done) {
  std::vector<Expected<CubinResult>> results(jobs.size(), Expected<CubinResult>(Error{"not compiled"}));
  std::mutex mu;  // serializes `stop` and `done`, which callers write without locks
  size_t finished = 0;
  parallelFor(jobs.size(), threads, [&](size_t i) {
    bool stopped = false;
    if (stop) {
      std::lock_guard<std::mutex> lock(mu);
      stopped = stop();
    }
    if (stopped)
      results[i] = Error{"not compiled: stopped (budget)"};
    else
      results[i] = compile ? compile(jobs[i].source, jobs[i].options) : compileToCubin(jobs[i].source, jobs[i].options);
    std::lock_guard<std::mutex> lock(mu);
    ++finished;
    if (done) done(finished, jobs.size());
  });
  return results;
}

std::string targetArch(const std::string& arch_family, const codegen::GeneratedKernel& kernel) {
  bool specific = sourceNeedsArchSpecific(kernel.source);
  if (Expected<LaunchDescriptor> d = LaunchDescriptor::fromJson(kernel.descriptor_json); d)
    specific = specific || d->arch_specific;
  int cc = 0;
  std::sscanf(arch_family.c_str(), "sm_%d", &cc);
  if (!specific || cc < 90) return arch_family;
  return arch_family + "a";
}

kdb::KernelKey kernelKeyFor(const std::string& source, const CubinResult& cubin) {
  kdb::KernelKey k;
  k.source_sha256 = sha256Hex(source);
  k.nvrtc_version = nvrtcVersionString();
  for (const std::string& o : cubin.options)
    if (o.rfind("-I", 0) != 0) k.options.push_back(o);
  k.linrec_version = kernelBuildTag();
  return k;
}

kdb::KernelRecord kernelRecordFor(const std::string& source, const CubinResult& cubin,
                                  const std::vector<std::string>& kernel_names) {
  kdb::KernelRecord r;
  r.key = kernelKeyFor(source, cubin);
  r.cubin = cubin.cubin;
  r.kernel_names = kernel_names;
  for (const KernelStats& s : cubin.stats) {
    r.registers = std::max(r.registers, s.registers);
    r.spill_bytes = std::max(r.spill_bytes, static_cast<int>(s.spill_stores + s.spill_loads));
    r.smem_bytes = std::max(r.smem_bytes, static_cast<int>(s.smem_bytes));
  }
  return r;
}

kdb::IndexEntry indexEntryFor(const dsl::Spec& spec, const codegen::HeadDims& dims, codegen::DType dtype,
                              codegen::Mode mode, const codegen::TuningConfig& config,
                              const codegen::GeneratedKernel& kernel, const kdb::KernelKey& key,
                              const std::string& arch, bool is_default) {
  kdb::IndexEntry e;
  e.spec_hash = spec.hash();
  e.variant = spec.name;
  e.key_dim = dims.K;
  e.value_dim = dims.V;
  e.dtype = codegen::dtypeName(dtype);
  e.mode = tuningModeOf(mode);
  e.config_json = toKernelConfig(config).toJson();
  e.arch = arch;
  e.is_default = is_default;
  e.kernel = key;
  e.descriptor_json = kernel.descriptor_json;
  return e;
}

}  // namespace linrec::tuner
