// The kernel index's value types: canonical config text (compared as strings in SQL) and entry descriptions.
#include "linrec/kdb/KernelIndex.h"

#include <nlohmann/json.hpp>

namespace linrec::kdb {

std::string KernelConfig::toJson() const {
  // nlohmann's object keeps keys sorted, so equal configs always give byte-identical text.
  nlohmann::json j = {{"chunk", chunk}, {"block_k", block_k}, {"block_v", block_v},
                      {"warps", warps}, {"stages", stages},   {"strategy", strategy}};
  return j.dump();
}

Expected<KernelConfig> KernelConfig::fromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Error{"config is not a JSON object: " + text.substr(0, 200)};
  KernelConfig c;
  auto integer = [&](const char* name, int& out) -> Status {
    auto it = j.find(name);
    if (it == j.end()) return Error{std::string("config lacks \"") + name + "\": " + text.substr(0, 200)};
    if (!it->is_number_integer() || it->get<int64_t>() <= 0 || it->get<int64_t>() > 1 << 20)
      return Error{std::string("config field \"") + name + "\" must be a positive integer: " + text.substr(0, 200)};
    out = it->get<int>();
    return Status::success();
  };
  for (auto [name, out] : {std::pair<const char*, int*>{"chunk", &c.chunk},
                           {"block_k", &c.block_k},
                           {"block_v", &c.block_v},
                           {"warps", &c.warps},
                           {"stages", &c.stages}})
    if (Status s = integer(name, *out); !s) return Error{s.error()};
  auto st = j.find("strategy");
  if (st == j.end() || !st->is_string()) return Error{"config lacks a \"strategy\" string: " + text.substr(0, 200)};
  c.strategy = st->get<std::string>();
  if (c.strategy != "fused" && c.strategy != "state_passing")
    return Error{"config strategy must be \"fused\" or \"state_passing\", not \"" + c.strategy + "\""};
  return c;
}

std::string KernelConfig::brief() const {
  std::string s = "C=" + std::to_string(chunk) + " BV=" + std::to_string(block_v) + " W=" + std::to_string(warps);
  if (block_k != 128) s += " BK=" + std::to_string(block_k);
  if (stages != 2) s += " S=" + std::to_string(stages);
  return s + " " + (strategy == "state_passing" ? "sp" : strategy);
}

Expected<std::string> canonicalConfigJson(const std::string& json) {
  Expected<KernelConfig> c = KernelConfig::fromJson(json);
  if (!c) return Error{c.error()};
  return c->toJson();
}

std::string IndexEntry::describe() const {
  std::string config = config_json;
  if (Expected<KernelConfig> c = KernelConfig::fromJson(config_json); c) config = c->brief();
  return variant + " " + dtype + " K=" + std::to_string(key_dim) + " V=" + std::to_string(value_dim) + " " +
         tuningModeName(mode) + " " + arch + " " + config;
}

}  // namespace linrec::kdb
