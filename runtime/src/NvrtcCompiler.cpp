// NVRTC compile to cubin with in-memory kernel headers, ptxas stats, and readable error logs.
#include "linrec/runtime/NvrtcCompiler.h"

#include <nvrtc.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <regex>
#include <sstream>

#include "linrec/runtime/EmbeddedHeaders.h"

#ifndef LINREC_CUDA_INCLUDE_DIR
#define LINREC_CUDA_INCLUDE_DIR "/usr/local/cuda/include"
#endif

namespace linrec {

namespace {

/// Owns an nvrtcProgram.
class Program {
 public:
  Program() = default;
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (prog_) nvrtcDestroyProgram(&prog_);
  }
  nvrtcProgram* out() { return &prog_; }
  nvrtcProgram get() const { return prog_; }

 private:
  nvrtcProgram prog_ = nullptr;
};

bool isDir(const std::string& p) {
  struct stat st {};
  return !p.empty() && stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

/// The CUDA toolkit include directories NVRTC should search, in order of preference.
std::vector<std::string> defaultIncludeDirs() {
  std::vector<std::string> candidates;
  if (const char* e = std::getenv("LINREC_CUDA_INCLUDE")) candidates = split(e, ':');
  if (candidates.empty())
    if (const char* h = std::getenv("CUDA_HOME")) candidates.push_back(std::string(h) + "/include");
  if (candidates.empty() || !isDir(candidates.front())) candidates = split(LINREC_CUDA_INCLUDE_DIR, ';');
  std::vector<std::string> dirs;
  for (const auto& c : candidates) {
    if (!isDir(c)) continue;
    dirs.push_back(c);
    // CUDA 13 keeps libcu++ (cuda/std/...) here; the fp16/bf16 headers may include it.
    if (isDir(c + "/cccl")) dirs.push_back(c + "/cccl");
  }
  return dirs;
}

std::string nvrtcLog(nvrtcProgram p) {
  size_t n = 0;
  if (nvrtcGetProgramLogSize(p, &n) != NVRTC_SUCCESS || n == 0) return {};
  std::string log(n, '\0');
  if (nvrtcGetProgramLog(p, log.data()) != NVRTC_SUCCESS) return {};
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  return b == std::string::npos ? std::string() : rtrim(s.substr(b));
}

}  // namespace

const EmbeddedHeader* findEmbeddedKernelHeader(std::string_view name) {
  for (const EmbeddedHeader& h : embeddedKernelHeaders())
    if (name == h.name) return &h;
  return nullptr;
}

const KernelStats* CubinResult::find(const std::string& name) const {
  for (const auto& s : stats)
    if (s.name == name) return &s;
  return nullptr;
}

std::string archForComputeCapability(int major, int minor, bool arch_specific) {
  std::string a = "sm_" + std::to_string(major * 10 + minor);
  if (arch_specific && major >= 9) a += 'a';
  return a;
}

bool sourceNeedsArchSpecific(const std::string& source) {
  return source.find("wgmma") != std::string::npos || source.find("setmaxnreg") != std::string::npos ||
         source.find("tcgen05") != std::string::npos;
}

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  if (nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) return {};
  return std::to_string(major) + "." + std::to_string(minor);
}

std::vector<int> nvrtcSupportedArchs() {
  int n = 0;
  if (nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0) return {};
  std::vector<int> archs(n);
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS) return {};
  return archs;
}

std::vector<std::string> nvrtcOptionList(const NvrtcOptions& o) {
  std::vector<std::string> opts = {"-std=c++17", "--gpu-architecture=" + o.arch, "-default-device",
                                   "--ptxas-options=-v"};
  if (o.line_info) opts.push_back("-lineinfo");
  for (const auto& d : o.include_dirs.empty() ? defaultIncludeDirs() : o.include_dirs) opts.push_back("-I" + d);
  return opts;
}

std::vector<KernelStats> parsePtxasLog(const std::string& log) {
  static const std::regex kEntry(R"(Compiling entry function '([^']+)' for '([^']+)')");
  static const std::regex kProps(R"(Function properties for (\S+))");
  static const std::regex kStack(R"((\d+) bytes stack frame)");
  static const std::regex kSpillSt(R"((\d+) bytes spill stores)");
  static const std::regex kSpillLd(R"((\d+) bytes spill loads)");
  static const std::regex kRegs(R"(Used (\d+) registers)");
  static const std::regex kBars(R"(used (\d+) barriers)");
  static const std::regex kSmem(R"((\d+) bytes smem)");
  static const std::regex kCmem(R"((\d+) bytes cmem\[0\])");

  std::vector<KernelStats> out;
  std::map<std::string, size_t> index;
  constexpr size_t kNone = ~size_t(0);
  size_t current = kNone;  // the entry the "Used ..." line belongs to
  size_t props = kNone;    // the entry the "stack frame" line belongs to
  std::istringstream in(log);
  std::string line;
  std::smatch m;
  auto num = [&](const std::regex& re, long long& field) {
    if (std::regex_search(line, m, re)) field = std::stoll(m[1].str());
  };
  while (std::getline(in, line)) {
    if (line.rfind("ptxas", 0) != 0) continue;
    if (std::regex_search(line, m, kEntry)) {
      KernelStats s;
      s.name = m[1].str();
      s.arch = m[2].str();
      current = index[s.name] = out.size();
      out.push_back(std::move(s));
      props = kNone;
      continue;
    }
    if (std::regex_search(line, m, kProps)) {
      // Non-entry device functions get property lines too; only entries are reported.
      auto it = index.find(m[1].str());
      props = it == index.end() ? kNone : it->second;
      continue;
    }
    if (props != kNone && line.find("stack frame") != std::string::npos) {
      num(kStack, out[props].stack_bytes);
      num(kSpillSt, out[props].spill_stores);
      num(kSpillLd, out[props].spill_loads);
      continue;
    }
    if (current != kNone && std::regex_search(line, m, kRegs)) {
      KernelStats& s = out[current];
      s.registers = std::stoi(m[1].str());
      long long bars = 0;
      num(kBars, bars);
      s.barriers = static_cast<int>(bars);
      num(kSmem, s.smem_bytes);
      num(kCmem, s.cmem_bytes);
    }
  }
  return out;
}

std::string formatNvrtcLog(const std::string& log, const std::string& source_name, const std::string& source,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  std::map<std::string, std::vector<std::string>> files;
  auto linesOf = [&](const std::string& name) -> const std::vector<std::string>* {
    auto it = files.find(name);
    if (it != files.end()) return &it->second;
    const std::string* text = nullptr;
    std::string embedded;
    if (name == source_name) {
      text = &source;
    } else {
      for (const auto& [n, t] : headers)
        if (n == name) text = &t;
      if (!text)
        if (const EmbeddedHeader* h = findEmbeddedKernelHeader(name)) {
          embedded = std::string(h->text());
          text = &embedded;
        }
    }
    if (!text) return nullptr;
    std::vector<std::string> lines;
    std::istringstream in(*text);
    std::string l;
    while (std::getline(in, l)) lines.push_back(rtrim(l));
    return &files.emplace(name, std::move(lines)).first->second;
  };
  auto quote = [&](const std::string& file, long line, std::string& out, size_t indent = 0) -> size_t {
    const auto* lines = linesOf(file);
    if (!lines || line < 1 || size_t(line) > lines->size()) return 0;
    std::string prefix = std::string(indent + 2, ' ') + std::to_string(line) + " | ";
    out += prefix + (*lines)[line - 1] + "\n";
    return prefix.size();
  };

  static const std::regex kDiag(R"(^(.+)\((\d+)\): (.*)$)");
  static const std::regex kAtLine(R"(at line (\d+) of (?:\"([^\"]+)\"|(\S+)))");
  std::vector<std::string> in = split(log, '\n');
  std::string out;
  std::smatch m;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& line = in[i];
    if (std::regex_match(line, m, kDiag)) {
      std::string file = m[1].str();
      long ln = std::stol(m[2].str());
      out += file + ":" + m[2].str() + ": " + m[3].str() + "\n";
      size_t prefix = quote(file, ln, out);
      // NVRTC echoes the line itself and a caret below it; replace them with our quote and a caret
      // aligned to it.
      if (prefix && i + 1 < in.size()) {
        const auto* lines = linesOf(file);
        if (trim(in[i + 1]) == trim((*lines)[ln - 1])) {
          ++i;
          if (i + 1 < in.size() && trim(in[i + 1]) == "^") {
            size_t caret = in[i + 1].find('^');
            size_t col = caret >= 2 ? caret - 2 : 0;  // NVRTC indents its echo by two spaces
            out += std::string(prefix + col, ' ') + "^\n";
            ++i;
          }
        }
      }
      continue;
    }
    out += line + "\n";
    if (std::regex_search(line, m, kAtLine)) {
      std::string file = m[2].matched ? m[2].str() : m[3].str();
      quote(file, std::stol(m[1].str()), out, line.find_first_not_of(' '));
    }
  }
  return out;
}

Expected<CubinResult> compileToCubin(const std::string& source, const NvrtcOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  // Headers: extra ones first so they can shadow embedded ones of the same name.
  std::vector<std::pair<std::string, std::string>> headerCopies = options.extra_headers;
  std::vector<const char*> names, contents;
  for (const auto& [n, c] : headerCopies) {
    names.push_back(n.c_str());
    contents.push_back(c.c_str());
  }
  if (options.embedded_headers)
    for (const EmbeddedHeader& h : embeddedKernelHeaders()) {
      bool shadowed =
          std::any_of(headerCopies.begin(), headerCopies.end(), [&](const auto& e) { return e.first == h.name; });
      if (shadowed) continue;
      names.push_back(h.name);
      contents.push_back(reinterpret_cast<const char*>(h.data));
    }

  Program prog;
  nvrtcResult r = nvrtcCreateProgram(prog.out(), source.c_str(), options.source_name.c_str(),
                                     static_cast<int>(names.size()), contents.data(), names.data());
  if (r != NVRTC_SUCCESS) return Error{std::string("NVRTC: cannot create the program: ") + nvrtcGetErrorString(r)};

  std::vector<std::string> opts = nvrtcOptionList(options);
  bool haveIncludes = std::any_of(opts.begin(), opts.end(), [](const std::string& o) { return o.rfind("-I", 0) == 0; });
  opts.insert(opts.end(), options.extra.begin(), options.extra.end());
  std::vector<const char*> argv;
  for (const auto& o : opts) argv.push_back(o.c_str());

  r = nvrtcCompileProgram(prog.get(), static_cast<int>(argv.size()), argv.data());
  std::string log = nvrtcLog(prog.get());
  if (r != NVRTC_SUCCESS) {
    std::string msg = "NVRTC failed to compile " + options.source_name + " for " + options.arch + " (" +
                      nvrtcGetErrorString(r) + "):\n";
    if (r == NVRTC_ERROR_INVALID_OPTION) {
      msg += "options:";
      for (const auto& o : opts) msg += " " + o;
      msg += "\n";
    }
    std::vector<std::pair<std::string, std::string>> all = headerCopies;
    msg += formatNvrtcLog(log, options.source_name, source, all);
    if (!haveIncludes && log.find("could not open source file") != std::string::npos)
      msg += "hint: no CUDA toolkit include directory was found; set LINREC_CUDA_INCLUDE or CUDA_HOME\n";
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Error{msg};
  }

  CubinResult res;
  size_t n = 0;
  r = nvrtcGetCUBINSize(prog.get(), &n);
  if (r != NVRTC_SUCCESS || n == 0)
    return Error{"NVRTC produced no cubin for " + options.arch +
                 " (is it a real sm_XX arch, not compute_XX?): " + nvrtcGetErrorString(r)};
  res.cubin.resize(n);
  r = nvrtcGetCUBIN(prog.get(), res.cubin.data());
  if (r != NVRTC_SUCCESS) return Error{std::string("NVRTC: cannot read the cubin: ") + nvrtcGetErrorString(r)};
  res.arch = options.arch;
  res.options = std::move(opts);
  res.stats = parsePtxasLog(log);
  res.log = std::move(log);
  res.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace linrec
