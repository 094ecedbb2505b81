// Building kernel packs on the CPU: per-arch defaults for every combination, tuned kernels from a DB,
// NVRTC in parallel, one atomic write.
#include "linrec/tuner/PackBuilder.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "linrec/kdb/KernelDb.h"
#include "linrec/runtime/KernelLibrary.h"
#include "linrec/tuner/SearchSpace.h"

namespace linrec::tuner {

namespace {

std::string baseArch(const std::string& arch) {
  std::string a = arch;
  while (!a.empty() && (a.back() == 'a' || a.back() == 'f')) a.pop_back();
  return a;
}

std::string firstLine(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string dimsText(const codegen::HeadDims& d) {
  return std::to_string(d.K) + "x" + std::to_string(d.V);
}

// One kernel to compile and put in the pack.
struct Job {
  size_t variant = 0;
  codegen::HeadDims dims;
  codegen::DType dtype = codegen::DType::BF16;
  codegen::Mode mode = codegen::Mode::Prefill;
  std::string family;  // "sm_90"
  codegen::TuningConfig config;
  codegen::GeneratedKernel kernel;
  bool is_default = false;
  std::string what;  // for notes: "gla bf16 128x128 sm_90 prefill fused default"
};

}  // namespace

Expected<std::vector<codegen::HeadDims>> parseDimsList(const std::string& text) {
  std::vector<codegen::HeadDims> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    int K = 0, V = 0;
    char x = 0, extra = 0;
    if (std::sscanf(item.c_str(), "%d%c%d%c", &K, &x, &V, &extra) != 3 || (x != 'x' && x != 'X') || K <= 0 || V <= 0)
      return Error{"dims '" + item + "' must look like 128x128 (K x V)"};
    out.push_back({K, V});
  }
  if (out.empty()) return Error{"no dims given (e.g. 128x128,64x64)"};
  return out;
}

Expected<PackContents> buildPackContents(const std::vector<dsl::Spec>& variants, const PackOptions& o,
                                         PackSummary* summary) {
  const auto start = std::chrono::steady_clock::now();
  PackSummary local;
  PackSummary& sum = summary ? *summary : local;
  sum = PackSummary{};
  auto note = [&](const std::string& n) {
    sum.notes.push_back(n);
    if (o.note) o.note(n);
  };
  if (variants.empty()) return Error{"no variants to pack"};
  if (o.archs.empty()) return Error{"no archs to pack for (e.g. --arch sm_80,sm_90)"};
  for (const std::string& a : o.archs) {
    int cc = 0;
    if (std::sscanf(a.c_str(), "sm_%d", &cc) != 1 || cc < 70)
      return Error{"arch '" + a + "' is not one linrec targets (sm_80, sm_86, sm_89, sm_90, sm_100, sm_120)"};
  }
  sum.variants.resize(variants.size());
  for (size_t v = 0; v < variants.size(); ++v) {
    sum.variants[v].variant = variants[v].name;
    sum.variants[v].spec_hash = variants[v].hash();
  }

  // 1. Codegen (serial: fast, and it keeps the order of notes and jobs deterministic).
  std::vector<Job> jobs;
  for (size_t v = 0; v < variants.size(); ++v) {
    const dsl::Spec& spec = variants[v];
    const bool auto_dims = o.dims.empty();
    std::vector<codegen::HeadDims> dims_list = auto_dims ? std::vector<codegen::HeadDims>{{128, 128}} : o.dims;
    for (size_t round = 0; round < 2; ++round) {
      const size_t before = jobs.size();
      for (const codegen::HeadDims& dims : dims_list)
        for (codegen::DType dt : o.dtypes)
          for (const std::string& family : o.archs) {
            const DeviceLimits limits = DeviceLimits::forArch(family);
            struct Kind {
              codegen::Mode mode;
              codegen::Strategy strategy;
              const char* name;
            };
            std::vector<Kind> kinds = {{codegen::Mode::Prefill, codegen::Strategy::Fused, "prefill fused"}};
            if (o.state_passing)
              kinds.push_back({codegen::Mode::Prefill, codegen::Strategy::StatePassing, "prefill state-passing"});
            if (o.decode) kinds.push_back({codegen::Mode::Decode, codegen::Strategy::Fused, "decode"});
            // The fused prefill comes first: when it cannot be built, neither the state-passing nor the
            // decode kernel of the combination is worth shipping (nothing could produce their state), and
            // some of them (based's decode at K' = 16513) would take minutes to compile.
            bool prefill_ok = true;
            for (const Kind& k : kinds) {
              if (!prefill_ok) break;
              Job j;
              j.variant = v;
              j.dims = dims;
              j.dtype = dt;
              j.mode = k.mode;
              j.family = family;
              j.what = spec.name + " " + codegen::dtypeName(dt) + " " + dimsText(dims) + " " + family + " " + k.name;
              Expected<Candidate> d = pickDefault(spec, dims, dt, k.mode, k.strategy, limits);
              if (!d) {
                const bool first = &k == &kinds.front();
                prefill_ok = !first;
                if (first)
                  note(spec.name + " " + codegen::dtypeName(dt) + " " + dimsText(dims) + " " + family +
                       ": skipped, the compiler rejects its prefill: " + d.error());
                else
                  note(j.what + ": skipped, the compiler rejects it: " + d.error());
                ++sum.variants[v].skipped;
                continue;
              }
              j.config = d->config;
              j.kernel = std::move(d->kernel);
              j.is_default = true;
              jobs.push_back(std::move(j));
            }
          }
      // A feature map that widens K (based: K' = 1 + K + K^2) cannot work at 128: fall back to 16x64.
      if (!auto_dims || round == 1 || jobs.size() > before) break;
      note(spec.name + ": nothing builds at 128x128; packing 16x64 instead (pass --dims to choose)");
      dims_list = {{16, 64}};
    }
  }

  // 2. Tuning records (and their kernels) from a DB.
  std::vector<kdb::TuningRecord> tunings;
  std::vector<kdb::KernelRecord> kernels;
  std::vector<kdb::IndexEntry> index;
  if (!o.tuned_from.empty()) {
    Expected<kdb::KernelDb> db = kdb::KernelDb::open(o.tuned_from, kdb::OpenMode::ReadOnly);
    if (!db) return Error{"--tuned-from: " + db.error()};
    const std::string tag = kernelBuildTag(), nvrtc = nvrtcVersionString();
    for (size_t v = 0; v < variants.size(); ++v) {
      const dsl::Spec& spec = variants[v];
      Expected<std::vector<kdb::TuningRecord>> recs = db->tunings(sum.variants[v].spec_hash);
      if (!recs) return Error{"--tuned-from: " + recs.error()};
      Expected<std::vector<kdb::IndexEntry>> entries = db->indexEntries(sum.variants[v].spec_hash);
      if (!entries) return Error{"--tuned-from: " + entries.error()};
      for (const kdb::TuningRecord& rec : *recs) {
        const std::string family = "sm_" + std::to_string(rec.key.gpu.cc_major) + std::to_string(rec.key.gpu.cc_minor);
        if (std::find(o.archs.begin(), o.archs.end(), family) == o.archs.end()) {
          note(spec.name + ": tuning record for " + rec.key.gpu.name + " left out: the pack has no " + family);
          continue;
        }
        Expected<std::string> config = kdb::canonicalConfigJson(rec.config_json);
        if (!config) {
          note(spec.name + ": tuning record with an unreadable config left out: " + config.error());
          continue;
        }
        tunings.push_back(rec);
        ++sum.variants[v].tunings;
        // Its kernel: from the DB when this build made it, else compiled now.
        bool found = false;
        for (const kdb::IndexEntry& e : *entries) {
          if (e.key_dim != rec.key.key_dim || e.value_dim != rec.key.value_dim || e.dtype != rec.key.dtype ||
              e.mode != rec.key.mode || e.config_json != *config || baseArch(e.arch) != family ||
              e.kernel.linrec_version != tag || e.kernel.nvrtc_version != nvrtc)
            continue;
          Expected<std::optional<kdb::KernelRecord>> k = db->getKernel(e.kernel);
          if (!k) return Error{"--tuned-from: " + k.error()};
          if (!*k) continue;
          kernels.push_back(std::move(**k));
          kdb::IndexEntry copy = e;
          copy.is_default = false;  // the pack's defaults are its own (same preference lists)
          copy.variant = spec.name;
          index.push_back(std::move(copy));
          found = true;
          break;
        }
        if (found) continue;
        Expected<kdb::KernelConfig> kc = kdb::KernelConfig::fromJson(*config);
        codegen::DType dt;
        if (!kc || !parseDType(rec.key.dtype, dt)) continue;
        Job j;
        j.variant = v;
        j.dims = {static_cast<int>(rec.key.key_dim), static_cast<int>(rec.key.value_dim)};
        j.dtype = dt;
        j.mode = rec.key.mode == kdb::TuningMode::Decode ? codegen::Mode::Decode : codegen::Mode::Prefill;
        j.family = family;
        j.config = fromKernelConfig(*kc, DeviceLimits::forArch(family).smem_per_block_optin);
        j.what = spec.name + " " + rec.key.dtype + " " + dimsText(j.dims) + " " + family + " tuned " + kc->brief();
        auto gen = codegen::generate(spec, j.dims, j.config, j.mode, dt);
        if (!gen) {
          note(j.what + ": skipped, the compiler rejects it: " + firstLine(llvm::toString(gen.takeError())));
          continue;
        }
        j.kernel = std::move(*gen);
        jobs.push_back(std::move(j));
      }
    }
  }

  // 3. NVRTC, in parallel.
  std::vector<BuildJob> builds;
  for (const Job& j : jobs) {
    BuildJob b;
    b.source = j.kernel.source;
    b.options.arch = targetArch(j.family, j.kernel);
    b.options.source_name = j.kernel.kernel_names.empty() ? "generated.cu" : j.kernel.kernel_names.front() + ".cu";
    builds.push_back(std::move(b));
  }
  std::vector<Expected<CubinResult>> cubins = compileParallel(builds, o.threads, o.compile, {}, o.progress);
  sum.compiles = static_cast<int>(builds.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& j = jobs[i];
    if (!cubins[i]) {
      note(j.what + ": skipped, NVRTC rejects it: " + firstLine(cubins[i].error()));
      ++sum.variants[j.variant].skipped;
      continue;
    }
    const CubinResult& c = *cubins[i];
    kdb::KernelRecord rec = kernelRecordFor(j.kernel.source, c, j.kernel.kernel_names);
    index.push_back(indexEntryFor(variants[j.variant], j.dims, j.dtype, j.mode, j.config, j.kernel, rec.key,
                                  builds[i].options.arch, j.is_default));
    kernels.push_back(std::move(rec));
  }

  // 4. Deduplicate and summarize.
  PackContents out;
  std::set<std::string> seen;
  std::map<std::string, size_t> bytes_of;
  for (kdb::KernelRecord& k : kernels) {
    std::string t = k.key.text();
    bytes_of[t] = k.cubin.size();
    if (seen.insert(t).second) out.kernels.push_back(std::move(k));
  }
  std::map<std::string, size_t> entry_at;  // unique key of an entry -> position in out.index
  for (kdb::IndexEntry& e : index) {
    std::string key = e.spec_hash + "|" + std::to_string(e.key_dim) + "|" + std::to_string(e.value_dim) + "|" +
                      e.dtype + "|" + kdb::tuningModeName(e.mode) + "|" + e.config_json + "|" + e.arch;
    if (auto it = entry_at.find(key); it != entry_at.end()) {
      out.index[it->second].is_default = out.index[it->second].is_default || e.is_default;
      continue;
    }
    entry_at[key] = out.index.size();
    out.index.push_back(std::move(e));
  }
  out.tunings = std::move(tunings);
  std::set<std::string> archs;
  for (const std::string& a : o.archs) archs.insert(a);
  for (const BuildJob& b : builds) archs.insert(b.options.arch);
  for (const kdb::IndexEntry& e : out.index) archs.insert(e.arch);
  out.manifest.linrec_version = kernelBuildTag();
  out.manifest.nvrtc_version = nvrtcVersionString();
  out.manifest.archs.assign(archs.begin(), archs.end());
  std::set<std::string> hashes;
  for (const dsl::Spec& s : variants)
    if (hashes.insert(s.hash()).second) out.manifest.spec_hashes.push_back(s.hash());

  for (size_t v = 0; v < variants.size(); ++v) {
    PackVariantSummary& vs = sum.variants[v];
    for (const kdb::IndexEntry& e : out.index)
      if (e.spec_hash == vs.spec_hash) {
        ++vs.kernels;
        vs.bytes += bytes_of[e.kernel.text()];
      }
    sum.total_bytes += vs.bytes;
  }
  std::string empty;
  for (const PackVariantSummary& vs : sum.variants)
    if (vs.kernels == 0) empty += (empty.empty() ? "" : ", ") + vs.variant;
  sum.manifest = out.manifest;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!empty.empty())
    return Error{"no kernel could be built for " + empty +
                 " (see the notes above; try other --dims, --dtypes or --arch)"};
  return out;
}

Expected<PackSummary> buildPack(const std::vector<dsl::Spec>& variants, const PackOptions& options,
                                const std::string& path) {
  PackSummary sum;
  Expected<PackContents> c = buildPackContents(variants, options, &sum);
  if (!c) return Error{c.error()};
  if (Status s = kdb::writePack(path, c->manifest, c->kernels, c->tunings, c->index); !s) return Error{s.error()};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) sum.file_bytes = static_cast<size_t>(st.st_size);
  return sum;
}

}  // namespace linrec::tuner
