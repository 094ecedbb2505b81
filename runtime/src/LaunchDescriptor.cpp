// LaunchDescriptor <-> JSON, and its consistency checks.
#include "linrec/runtime/LaunchDescriptor.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace linrec {

namespace {

using json = nlohmann::json;

const char* const kFwdVars[] = {"B", "T", "H", "N", "K", "V", "KF", "C", "NC", "MC"};
const char* const kDecodeVars[] = {"B", "H", "N", "K", "V", "KF"};

const char* inputKindName(InputSlot::Kind k) {
  return k == InputSlot::Kind::Scalar ? "scalar" : "vector";
}
const char* paramKindName(ParamSlot::Kind k) {
  return k == ParamSlot::Kind::Head ? "head" : "head_key";
}

std::optional<Stage> parseStage(const std::string& s) {
  for (Stage st : {Stage::Fused, Stage::ChunkLocal, Stage::StateScan, Stage::ChunkOutput, Stage::Decode,
                   Stage::SegmentState, Stage::SegmentScan})
    if (s == stageName(st)) return st;
  return std::nullopt;
}

/// Reads descriptor keys with messages that name the key; every accessor records the key as seen so
/// unknown keys (typos) can be reported.
class Reader {
 public:
  Reader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  bool has(const char* key) {
    seen_.insert(key);
    return obj_.contains(key) && !obj_[key].is_null();
  }
  Error err(const std::string& key, const std::string& what) const {
    return Error{"launch descriptor: " + where_ + key + ": " + what};
  }
  Expected<int64_t> integer(const char* key, std::optional<int64_t> dflt = std::nullopt) {
    if (!has(key)) {
      if (dflt) return *dflt;
      return err(key, "missing (an integer is required)");
    }
    const json& v = obj_[key];
    if (!v.is_number_integer()) return err(key, "expected an integer, got " + v.dump());
    return v.get<int64_t>();
  }
  Expected<std::string> string(const char* key, std::optional<std::string> dflt = std::nullopt) {
    if (!has(key)) {
      if (dflt) return *dflt;
      return err(key, "missing (a string is required)");
    }
    const json& v = obj_[key];
    if (!v.is_string()) return err(key, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  Expected<bool> boolean(const char* key, bool dflt) {
    if (!has(key)) return dflt;
    const json& v = obj_[key];
    if (!v.is_boolean()) return err(key, "expected true or false, got " + v.dump());
    return v.get<bool>();
  }
  /// A formula given as a string or an integer.
  Expected<LaunchExpr> formula(const char* key, const char* dflt) {
    std::string text = dflt ? dflt : "";
    if (has(key)) {
      const json& v = obj_[key];
      if (v.is_number_integer())
        text = std::to_string(v.get<int64_t>());
      else if (v.is_string())
        text = v.get<std::string>();
      else
        return err(key, "expected a formula (string) or an integer, got " + v.dump());
    } else if (!dflt) {
      return err(key, "missing");
    }
    auto e = LaunchExpr::parse(text);
    if (!e) return err(key, e.error());
    return e;
  }
  const json& at(const char* key) {
    seen_.insert(key);
    return obj_[key];
  }
  Status unknownKeys() const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it)
      if (!seen_.count(it.key())) return err(it.key(), "unknown key");
    return {};
  }

 private:
  const json& obj_;
  std::string where_;
  std::set<std::string> seen_;
};

#define LINREC_TRY_ASSIGN(lhs, expr)   \
  do {                                 \
    auto _r = (expr);                  \
    if (!_r) return Error{_r.error()}; \
    lhs = std::move(*_r);              \
  } while (0)

Expected<KernelLaunchSpec> parseKernel(const json& j, size_t index) {
  std::string where = "kernels[" + std::to_string(index) + "].";
  if (!j.is_object()) return Error{"launch descriptor: kernels[" + std::to_string(index) + "]: expected an object"};
  Reader r(j, where);
  KernelLaunchSpec k;
  LINREC_TRY_ASSIGN(k.name, r.string("name"));
  std::string stage;
  LINREC_TRY_ASSIGN(stage, r.string("stage"));
  auto st = parseStage(stage);
  if (!st)
    return r.err("stage",
                 "unknown stage \"" + stage + "\" (known: fused, chunk_local, state_scan, chunk_output, decode)");
  k.stage = *st;
  int64_t v;
  LINREC_TRY_ASSIGN(v, r.integer("block_threads"));
  if (v < 1 || v > 1024) return r.err("block_threads", "must be in [1, 1024], got " + std::to_string(v));
  k.block_threads = static_cast<int>(v);
  LINREC_TRY_ASSIGN(k.smem_bytes, r.integer("smem_bytes", 0));
  if (k.smem_bytes < 0) return r.err("smem_bytes", "must not be negative");
  LINREC_TRY_ASSIGN(k.programmatic, r.boolean("programmatic", false));
  LINREC_TRY_ASSIGN(k.leads, r.boolean("leads", false));
  if (!r.has("grid")) return r.err("grid", "missing (e.g. {\"x\": \"N*H\", \"y\": \"ceil(V/BV)\"})");
  const json& g = r.at("grid");
  static const char* const kAxes[] = {"x", "y", "z"};
  if (g.is_array()) {
    if (g.empty() || g.size() > 3) return r.err("grid", "expected 1 to 3 formulas");
    for (size_t a = 0; a < 3; ++a) {
      json one = json::object();
      if (a < g.size()) one["f"] = g[a];
      Reader gr(one, where + "grid[" + std::to_string(a) + "].");
      LINREC_TRY_ASSIGN(k.grid[a], gr.formula("f", "1"));
    }
  } else if (g.is_object()) {
    Reader gr(g, where + "grid.");
    for (int a = 0; a < 3; ++a) LINREC_TRY_ASSIGN(k.grid[a], gr.formula(kAxes[a], a == 0 ? nullptr : "1"));
    if (Status s = gr.unknownKeys(); !s) return Error{s.error()};
  } else {
    return r.err("grid", "expected {\"x\": ..., \"y\": ..., \"z\": ...} or [x, y, z]");
  }
  if (Status s = r.unknownKeys(); !s) return Error{s.error()};
  return k;
}

json formulaJson(const LaunchExpr& e) {
  return e.text();
}

}  // namespace

const char* strategyName(Strategy s) {
  return s == Strategy::Fused ? "fused" : "state_passing";
}

const char* stageName(Stage s) {
  switch (s) {
    case Stage::Fused:
      return "fused";
    case Stage::ChunkLocal:
      return "chunk_local";
    case Stage::StateScan:
      return "state_scan";
    case Stage::ChunkOutput:
      return "chunk_output";
    case Stage::Decode:
      return "decode";
    case Stage::SegmentState:
      return "segment_state";
    case Stage::SegmentScan:
      return "segment_scan";
  }
  return "?";
}

double LaunchDescriptor::defaultScale() const {
  return scale ? *scale : 1.0 / std::sqrt(double(K));
}

bool LaunchDescriptor::hasForward() const {
  for (const auto& k : kernels)
    if (k.stage != Stage::Decode) return true;
  return false;
}

const KernelLaunchSpec* LaunchDescriptor::decodeKernel() const {
  for (const auto& k : kernels)
    if (k.stage == Stage::Decode) return &k;
  return nullptr;
}

Expected<LaunchDescriptor> LaunchDescriptor::fromJson(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error{"launch descriptor: not valid JSON"};
  if (!j.is_object()) return Error{"launch descriptor: expected a JSON object at the top level"};
  try {
    Reader r(j, "");
    LaunchDescriptor d;
    int64_t v;
    LINREC_TRY_ASSIGN(v, r.integer("version", 1));
    if (v != 1) return r.err("version", "this runtime reads version 1, got " + std::to_string(v));
    d.version = 1;
    LINREC_TRY_ASSIGN(d.name, r.string("name", std::string()));
    LINREC_TRY_ASSIGN(d.spec_hash, r.string("spec_hash", std::string()));
    std::string dt;
    LINREC_TRY_ASSIGN(dt, r.string("dtype"));
    auto parsed = parseDType(dt);
    if (!parsed || *parsed == DType::I64) return r.err("dtype", "expected bf16, fp16 or fp32, got \"" + dt + "\"");
    d.dtype = *parsed;
    LINREC_TRY_ASSIGN(v, r.integer("K"));
    d.K = static_cast<int>(v);
    LINREC_TRY_ASSIGN(v, r.integer("V"));
    d.V = static_cast<int>(v);
    LINREC_TRY_ASSIGN(v, r.integer("KF", d.K));
    d.KF = static_cast<int>(v);
    LINREC_TRY_ASSIGN(v, r.integer("chunk", 0));
    d.chunk = static_cast<int>(v);
    LINREC_TRY_ASSIGN(d.normalize, r.boolean("normalize", false));
    if (r.has("scale")) {
      const json& s = r.at("scale");
      if (!s.is_number()) return r.err("scale", "expected a number, got " + s.dump());
      d.scale = s.get<double>();
    }
    if (r.has("inputs")) {
      const json& a = r.at("inputs");
      if (!a.is_array()) return r.err("inputs", "expected an array of {\"name\", \"kind\"}");
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_object()) return r.err("inputs", "expected an array of {\"name\", \"kind\"}");
        Reader e(a[i], "inputs[" + std::to_string(i) + "].");
        InputSlot s;
        LINREC_TRY_ASSIGN(s.name, e.string("name"));
        std::string kind;
        LINREC_TRY_ASSIGN(kind, e.string("kind"));
        if (kind == "scalar")
          s.kind = InputSlot::Kind::Scalar;
        else if (kind == "vector")
          s.kind = InputSlot::Kind::Vector;
        else
          return e.err("kind", "expected \"scalar\" or \"vector\", got \"" + kind + "\"");
        if (Status st = e.unknownKeys(); !st) return Error{st.error()};
        d.inputs.push_back(std::move(s));
      }
    }
    if (r.has("params")) {
      const json& a = r.at("params");
      if (!a.is_array()) return r.err("params", "expected an array of {\"name\", \"kind\"}");
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_object()) return r.err("params", "expected an array of {\"name\", \"kind\"}");
        Reader e(a[i], "params[" + std::to_string(i) + "].");
        ParamSlot s;
        LINREC_TRY_ASSIGN(s.name, e.string("name"));
        std::string kind;
        LINREC_TRY_ASSIGN(kind, e.string("kind"));
        if (kind == "head")
          s.kind = ParamSlot::Kind::Head;
        else if (kind == "head_key")
          s.kind = ParamSlot::Kind::HeadKey;
        else
          return e.err("kind", "expected \"head\" or \"head_key\", got \"" + kind + "\"");
        if (Status st = e.unknownKeys(); !st) return Error{st.error()};
        d.params.push_back(std::move(s));
      }
    }
    if (r.has("strategy")) {
      std::string s;
      LINREC_TRY_ASSIGN(s, r.string("strategy"));
      if (s == "fused")
        d.strategy = Strategy::Fused;
      else if (s == "state_passing")
        d.strategy = Strategy::StatePassing;
      else
        return r.err("strategy", "expected \"fused\" or \"state_passing\", got \"" + s + "\"");
    }
    LINREC_TRY_ASSIGN(d.arch_specific, r.boolean("arch_specific", false));
    if (r.has("constants")) {
      const json& c = r.at("constants");
      if (!c.is_object()) return r.err("constants", "expected an object of integers");
      for (auto it = c.begin(); it != c.end(); ++it) {
        if (!it->is_number_integer()) return r.err("constants." + it.key(), "expected an integer, got " + it->dump());
        d.constants.emplace_back(it.key(), it->get<int64_t>());
      }
    }
    LINREC_TRY_ASSIGN(d.workspace_bytes, r.formula("workspace_bytes", "0"));
    if (!r.has("kernels")) return r.err("kernels", "missing (an array of kernels)");
    const json& ks = r.at("kernels");
    if (!ks.is_array() || ks.empty()) return r.err("kernels", "expected a non-empty array");
    for (size_t i = 0; i < ks.size(); ++i) {
      auto k = parseKernel(ks[i], i);
      if (!k) return Error{k.error()};
      d.kernels.push_back(std::move(*k));
    }
    if (Status s = r.unknownKeys(); !s) return Error{s.error()};
    if (Status s = d.validate(); !s) return Error{s.error()};
    return d;
  } catch (const json::exception& e) {
    return Error{std::string("launch descriptor: ") + e.what()};
  }
}

Status LaunchDescriptor::validate() const {
  auto fail = [](const std::string& m) { return Status(Error{"launch descriptor: " + m}); };
  if (K < 1 || V < 1 || KF < 1) return fail("K, V and KF must be positive");
  if (inputs.size() > size_t(kMaxKernelInputs))
    return fail("at most " + std::to_string(kMaxKernelInputs) + " inputs, got " + std::to_string(inputs.size()));
  if (params.size() > size_t(kMaxKernelParams))
    return fail("at most " + std::to_string(kMaxKernelParams) + " params, got " + std::to_string(params.size()));
  if (scale && !std::isfinite(*scale)) return fail("scale must be finite");
  std::set<std::string> names;
  for (const auto& in : inputs)
    if (in.name.empty() || !names.insert(in.name).second)
      return fail("inputs: empty or repeated name \"" + in.name + "\"");
  for (const auto& p : params)
    if (p.name.empty() || !names.insert(p.name).second)
      return fail("params: empty or repeated name \"" + p.name + "\"");

  std::set<std::string> fwdVars(std::begin(kFwdVars), std::end(kFwdVars));
  std::set<std::string> decVars(std::begin(kDecodeVars), std::end(kDecodeVars));
  for (const auto& [name, value] : constants) {
    if (fwdVars.count(name)) return fail("constants." + name + ": shadows a launch variable");
    fwdVars.insert(name);
    decVars.insert(name);
  }
  auto checkVars = [&](const LaunchExpr& e, const std::set<std::string>& allowed, const std::string& where) {
    for (const auto& v : e.variables())
      if (!allowed.count(v)) return fail(where + ": unknown variable '" + v + "' in \"" + e.text() + "\"");
    return Status{};
  };
  if (Status s = checkVars(workspace_bytes, fwdVars, "workspace_bytes"); !s) return s;

  // Grids may also use the device's SM count; the workspace may not (its size is asked without a device).
  std::set<std::string> gridVars = fwdVars;
  gridVars.insert("SMS");
  int fused = 0, stages = 0, decode = 0, segment = 0, local = 0;
  std::set<std::string> kernelNames;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const auto& k = kernels[i];
    std::string where = "kernels[" + std::to_string(i) + "]";
    if (k.name.empty()) return fail(where + ".name: empty");
    if (!kernelNames.insert(k.name + "/" + stageName(k.stage)).second) return fail(where + ": listed twice");
    if (k.block_threads < 1 || k.block_threads > 1024) return fail(where + ".block_threads: must be in [1, 1024]");
    if (k.smem_bytes < 0) return fail(where + ".smem_bytes: must not be negative");
    if (k.programmatic && (i == 0 || k.stage == Stage::Decode))
      return fail(where + ".programmatic: only a later kernel of a forward launch may overlap the one before it");
    if (k.leads && (i == 0 || k.stage == Stage::Decode || kernels[i - 1].stage == Stage::Decode))
      return fail(where + ".leads: only a later kernel of a forward launch may go before the one before it");
    const auto& allowed = k.stage == Stage::Decode ? decVars : gridVars;
    for (int a = 0; a < 3; ++a)
      if (Status s = checkVars(k.grid[a], allowed, where + ".grid." + "xyz"[a]); !s) return s;
    if (k.stage == Stage::Fused)
      ++fused;
    else if (k.stage == Stage::Decode)
      ++decode;
    else if (k.stage == Stage::SegmentState || k.stage == Stage::SegmentScan) {
      if (fused) return fail(where + ": a segment stage must come before the fused kernel");
      ++segment;
    } else if (k.stage == Stage::ChunkLocal) {
      // Before a fused kernel it is the delta rules' WY prep (chunk_fwd_wy), which the fused kernel reads.
      if (fused) return fail(where + ": a chunk_local stage must come before the fused kernel");
      ++local;
    } else
      ++stages;
  }
  if (segment && !fused) return fail("segment stages without a fused kernel");
  if (decode > 1) return fail("more than one decode kernel");
  if (fused && stages) return fail("a fused kernel and state-passing stages in one module");
  if (local > 1) return fail("more than one chunk_local stage");
  stages += local && !fused ? local : 0;
  if (fused > 1) return fail("more than one fused kernel");
  Strategy implied = fused ? Strategy::Fused : Strategy::StatePassing;
  if (fused || stages) {
    if (chunk < 1) return fail("chunk: required (the chunk length C) when the module has forward kernels");
    if (strategy && *strategy != implied)
      return fail(std::string("strategy: \"") + strategyName(*strategy) + "\" but the kernels are " +
                  (fused ? "a fused kernel" : "state-passing stages"));
  } else if (strategy) {
    return fail(std::string("strategy: \"") + strategyName(*strategy) + "\" but the module has no forward kernel");
  }
  return {};
}

std::string LaunchDescriptor::toJson(int indent) const {
  json j = json::object();
  j["version"] = version;
  if (!name.empty()) j["name"] = name;
  if (!spec_hash.empty()) j["spec_hash"] = spec_hash;
  j["dtype"] = dtypeName(dtype);
  j["K"] = K;
  j["V"] = V;
  j["KF"] = KF;
  if (chunk) j["chunk"] = chunk;
  j["normalize"] = normalize;
  if (scale) j["scale"] = *scale;
  j["inputs"] = json::array();
  for (const auto& in : inputs) j["inputs"].push_back({{"name", in.name}, {"kind", inputKindName(in.kind)}});
  j["params"] = json::array();
  for (const auto& p : params) j["params"].push_back({{"name", p.name}, {"kind", paramKindName(p.kind)}});
  if (strategy) j["strategy"] = strategyName(*strategy);
  j["arch_specific"] = arch_specific;
  j["constants"] = json::object();
  for (const auto& [n, v] : constants) j["constants"][n] = v;
  j["workspace_bytes"] = workspace_bytes.text().empty() ? "0" : workspace_bytes.text();
  j["kernels"] = json::array();
  for (const auto& k : kernels) {
    json g = {{"x", formulaJson(k.grid[0])}, {"y", formulaJson(k.grid[1])}, {"z", formulaJson(k.grid[2])}};
    json one = {{"name", k.name},
                {"stage", stageName(k.stage)},
                {"grid", g},
                {"block_threads", k.block_threads},
                {"smem_bytes", k.smem_bytes}};
    if (k.programmatic) one["programmatic"] = true;
    if (k.leads) one["leads"] = true;
    j["kernels"].push_back(std::move(one));
  }
  return j.dump(indent);
}

}  // namespace linrec
