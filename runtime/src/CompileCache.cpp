// CompileCache: one file per cubin, written whole (temporary file, then rename) and checked on read.
#include "linrec/runtime/CompileCache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "linrec/dsl/Sha256.h"

namespace linrec {
namespace {

// The first line of every entry; a file without it (or with another version) is not ours to read.
constexpr char kMagic[] = "linrec-nvrtc-cache 1\n";

bool validKey(const std::string& key) {
  if (key.size() != 64) return false;
  for (char c : key)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// mkdir -p; an existing directory is success.
Status makeDirectories(const std::string& dir) {
  std::string part;
  for (size_t i = 0; i <= dir.size(); ++i) {
    if (i == dir.size() || (dir[i] == '/' && i > 0)) {
      part = dir.substr(0, i);
      if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
        return Error{"cannot create " + part + ": " + std::strerror(errno)};
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Error{dir + " is not a directory"};
  return Status::success();
}

}  // namespace

std::optional<std::string> CompileCache::defaultDirectory() {
  if (const char* e = std::getenv("LINREC_CACHE_DIR")) {
    const std::string v = e;
    if (v.empty() || v == "off" || v == "0") return std::nullopt;
    return v;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') return std::string(x) + "/linrec/nvrtc";
  if (const char* h = std::getenv("HOME"); h && h[0] == '/') return std::string(h) + "/.cache/linrec/nvrtc";
  return std::nullopt;
}

std::string CompileCache::path(const std::string& key) const {
  return dir_ + "/" + key + ".cubin";
}

std::optional<CubinResult> CompileCache::load(const std::string& key) const {
  if (!validKey(key)) return std::nullopt;
  std::ifstream in(path(key), std::ios::binary);
  if (!in) return std::nullopt;
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t magic = sizeof(kMagic) - 1;
  if (bytes.compare(0, magic, kMagic) != 0) return std::nullopt;
  const size_t eol = bytes.find('\n', magic);
  if (eol == std::string::npos) return std::nullopt;
  nlohmann::json meta = nlohmann::json::parse(bytes.begin() + static_cast<std::ptrdiff_t>(magic),
                                              bytes.begin() + static_cast<std::ptrdiff_t>(eol), nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) return std::nullopt;
  try {
    if (meta.at("key").get<std::string>() != key) return std::nullopt;  // copied under another name
    const std::string cubin = bytes.substr(eol + 1);
    if (cubin.empty() || cubin.size() != meta.at("cubin_bytes").get<size_t>() ||
        sha256Hex(cubin) != meta.at("cubin_sha256").get<std::string>())
      return std::nullopt;
    CubinResult r;
    r.cubin.assign(cubin.begin(), cubin.end());
    r.arch = meta.at("arch").get<std::string>();
    r.options = meta.at("options").get<std::vector<std::string>>();
    r.log = meta.at("log").get<std::string>();
    r.stats = parsePtxasLog(r.log);
    r.compile_ms = meta.at("compile_ms").get<double>();
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

Status CompileCache::store(const std::string& key, const CubinResult& result) const {
  if (!validKey(key)) return Error{"compile cache: '" + key + "' is not a sha256 key"};
  if (result.cubin.empty()) return Error{"compile cache: empty cubin for " + key};
  if (Status s = makeDirectories(dir_); !s) return Error{"compile cache: " + s.error()};
  const std::string cubin(result.cubin.begin(), result.cubin.end());
  nlohmann::json meta = {{"key", key},
                         {"arch", result.arch},
                         {"options", result.options},
                         {"log", result.log},
                         {"compile_ms", result.compile_ms},
                         {"cubin_bytes", cubin.size()},
                         {"cubin_sha256", sha256Hex(cubin)}};
  // dump() escapes control characters, so the metadata stays on one line.
  const std::string head = std::string(kMagic) + meta.dump() + "\n";
  static std::atomic<unsigned> serial{0};
  const std::string tmp = dir_ + "/.tmp-" + key.substr(0, 16) + "-" + std::to_string(::getpid()) + "-" +
                          std::to_string(serial.fetch_add(1));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Error{"compile cache: cannot write " + tmp + ": " + std::strerror(errno)};
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    out.write(cubin.data(), static_cast<std::streamsize>(cubin.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return Error{"compile cache: writing " + tmp + " failed (disk full?)"};
    }
  }
  if (std::rename(tmp.c_str(), path(key).c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return Error{"compile cache: cannot rename " + tmp + " to " + path(key) + ": " + why};
  }
  return Status::success();
}

}  // namespace linrec
