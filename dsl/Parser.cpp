// Reads a variant's TOML, checks every key, name, shape and combination, and builds the canonical Spec.
#include "linrec/dsl/Parser.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace linrec::dsl {

std::string Diagnostic::str() const {
  std::ostringstream o;
  o << (loc.file.empty() ? "<input>" : loc.file);
  if (loc.line > 0) o << ":" << loc.line << ":" << (loc.col > 0 ? loc.col : 1);
  o << ": error: " << message;
  if (!hint.empty()) o << " — " << hint;
  return o.str();
}

std::string ParseResult::errorText() const {
  std::string out;
  for (const auto& d : errors) out += d.str() + "\n";
  return out;
}

namespace {

// Only a few errors are useful at once; after that they are usually consequences of the first ones.
constexpr size_t kMaxErrors = 20;

size_t editDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string suggest(const std::string& got, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = editDistance(got, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  if (!best.empty()) return "did you mean '" + best + "'?";
  return known.empty() ? std::string() : "expected one of: " + joinNames(known);
}

bool isIdentifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

const std::set<std::string>& reservedNames() {
  static const std::set<std::string> r = {"q",    "k",     "v",       "head",       "pi",       "exp",
                                          "log",  "log1p", "sigmoid", "logsigmoid", "softplus", "relu",
                                          "elu",  "silu",  "sqrt",    "rsqrt",      "tanh",     "abs",
                                          "min",  "max",   "pow",     "l2norm",     "taylor2",  "based",
                                          "hedgehog", "identity", "elu1"};
  return r;
}

class SpecBuilder {
 public:
  SpecBuilder(std::string file, ParseResult& out) : file_(std::move(file)), out_(out) {}

  void build(const toml::table& root) {
    checkKeys(root, {"variant", "inputs", "params", "feature_map", "decay", "update", "readout"}, "the file");
    const toml::table* variant = table(root, "variant");
    const toml::table* inputs = table(root, "inputs");
    const toml::table* params = table(root, "params");
    const toml::table* fmap = table(root, "feature_map");
    const toml::table* decay = table(root, "decay");
    const toml::table* update = table(root, "update");
    const toml::table* readout = table(root, "readout");
    if (!errors().empty()) return;

    if (!variant) {
      error(rootLoc(), "missing [variant] table", "start the file with [variant] and name = \"my_variant\"");
    } else {
      checkKeys(*variant, {"name"}, "[variant]");
      if (auto n = stringValue(*variant, "name", "[variant]")) {
        if (n->empty()) error(locOf((*variant)["name"].node()), "variant name is empty", "give it a name");
        spec_.name = *n;
      } else if (!variant->contains("name")) {
        error(locOf(*variant), "missing name in [variant]", "add name = \"my_variant\"");
      }
    }
    if (inputs) declareInputs(*inputs);
    if (params) declareParams(*params);
    if (!errors().empty()) return;

    spec_.q_map = featureMap(fmap, "q");
    spec_.k_map = featureMap(fmap, "k");
    if (fmap) checkKeys(*fmap, {"q", "k"}, "[feature_map]");
    buildDecay(decay);
    buildUpdate(update);
    buildReadout(readout);
    if (!errors().empty()) return;
    checkCombinations(fmap, decay, readout);
    checkUnused();
    if (!errors().empty()) return;
    out_.spec = std::move(spec_);
  }

 private:
  const std::vector<Diagnostic>& errors() const { return out_.errors; }

  void error(SourceLoc loc, std::string msg, std::string hint = "") {
    if (out_.errors.size() < kMaxErrors) out_.errors.push_back({std::move(loc), std::move(msg), std::move(hint)});
  }

  SourceLoc rootLoc() const { return {file_, 1, 1}; }

  SourceLoc locOf(const toml::node* n) const {
    if (!n) return rootLoc();
    const auto& b = n->source().begin;
    return {file_, static_cast<int>(b.line), static_cast<int>(b.column)};
  }
  SourceLoc locOf(const toml::node& n) const { return locOf(&n); }
  SourceLoc locOf(const toml::key& k) const {
    const auto& b = k.source().begin;
    return {file_, static_cast<int>(b.line), static_cast<int>(b.column)};
  }

  // A location inside a string value, `offset` characters into its text (after the opening quote).
  SourceLoc locIn(const toml::node& n, int offset) const {
    SourceLoc l = locOf(n);
    if (l.col > 0) l.col += 1 + offset;
    return l;
  }

  const toml::table* table(const toml::table& root, const char* name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      error(locOf(n), std::string("'") + name + "' must be a table", std::string("write it as [") + name + "]");
      return nullptr;
    }
    return n->as_table();
  }

  void checkKeys(const toml::table& t, const std::vector<std::string>& allowed, const std::string& where) {
    for (auto&& [key, node] : t) {
      std::string k(key.str());
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(locOf(key), "unknown key '" + k + "' in " + where, suggest(k, allowed));
    }
  }

  std::optional<std::string> stringValue(const toml::table& t, const char* key, const std::string& where) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (auto s = n->value<std::string>(); s && n->is_string()) return *s;
    error(locOf(n), std::string("'") + key + "' in " + where + " must be a string", "put the value in quotes");
    return std::nullopt;
  }

  void checkDeclName(const toml::key& key, const std::string& name) {
    if (!isIdentifier(name))
      error(locOf(key), "'" + name + "' is not a valid name", "use letters, digits and '_', not starting with a digit");
    else if (reservedNames().count(name))
      error(locOf(key), "'" + name + "' is a reserved name", "pick another name; q, k, v, head and function names are built in");
    else if (spec_.findInput(name) || spec_.findParam(name))
      error(locOf(key), "'" + name + "' is declared twice", "inputs and params share one namespace");
  }

  void declareInputs(const toml::table& t) {
    for (auto&& [key, node] : t) {
      std::string name(key.str());
      checkDeclName(key, name);
      auto kind = node.value<std::string>();
      if (!node.is_string() || !kind || (*kind != "scalar" && *kind != "vector")) {
        error(locOf(node), "input '" + name + "' must be \"scalar\" or \"vector\"",
              "\"scalar\" is a [B,T,H] tensor, \"vector\" is [B,T,H,K]");
        continue;
      }
      spec_.inputs.push_back({name, *kind == "vector" ? InputDecl::Kind::Vector : InputDecl::Kind::Scalar, locOf(key)});
    }
    std::sort(spec_.inputs.begin(), spec_.inputs.end(), [](auto& a, auto& b) { return a.name < b.name; });
  }

  void declareParams(const toml::table& t) {
    for (auto&& [key, node] : t) {
      std::string name(key.str());
      checkDeclName(key, name);
      auto kind = node.value<std::string>();
      if (!node.is_string() || !kind || (*kind != "head" && *kind != "head_key")) {
        error(locOf(node), "param '" + name + "' must be \"head\" or \"head_key\"",
              "\"head\" is an [H] tensor, \"head_key\" is [H,K]");
        continue;
      }
      spec_.params.push_back({name, *kind == "head_key" ? ParamDecl::Kind::HeadKey : ParamDecl::Kind::Head, locOf(key)});
    }
    std::sort(spec_.params.begin(), spec_.params.end(), [](auto& a, auto& b) { return a.name < b.name; });
  }

  // Parses an expression held by a string (or a number) node, reporting errors at their column.
  ExprPtr expression(const toml::node& n, const std::string& what, int extra_offset = 0,
                     const std::string* text_override = nullptr) {
    std::string text;
    if (text_override) {
      text = *text_override;
    } else if (n.is_string()) {
      text = *n.value<std::string>();
    } else if (n.is_number()) {
      double v = *n.value<double>();
      if (!std::isfinite(v)) {
        error(locOf(n), what + " is not a finite number", "");
        return nullptr;
      }
      return makeConst(v);
    } else {
      error(locOf(n), what + " must be a string expression or a number", "e.g. \"sigmoid(b)\" or 0.5");
      return nullptr;
    }
    ExprError err;
    ExprPtr e = parseExpr(text, err);
    if (!e) {
      error(locIn(n, extra_offset + err.offset), "in " + what + ": " + err.message, err.hint);
      return nullptr;
    }
    if (!checkNames(e, n, what, extra_offset)) return nullptr;
    return foldConstants(e);
  }

  bool checkNames(const ExprPtr& e, const toml::node& n, const std::string& what, int extra_offset) {
    bool ok = true;
    std::function<void(const ExprPtr&)> walk = [&](const ExprPtr& x) {
      if (x->kind == Expr::Kind::Ref) {
        const std::string& name = x->name;
        if (name == "v") {
          error(locIn(n, extra_offset + x->offset), "in " + what + ": 'v' cannot appear in an expression",
                "values enter the recurrence only through the update");
          ok = false;
        } else if (name != "q" && name != "k" && name != "head" && !spec_.findInput(name) && !spec_.findParam(name)) {
          std::vector<std::string> known = {"q", "k", "head"};
          for (auto& i : spec_.inputs) known.push_back(i.name);
          for (auto& p : spec_.params) known.push_back(p.name);
          std::string hint = suggest(name, known);
          hint += (hint.empty() ? "" : "; ") + std::string("declare it under [inputs] or [params]");
          error(locIn(n, extra_offset + x->offset), "in " + what + ": undefined name '" + name + "'", hint);
          ok = false;
        } else {
          used_.insert(name);
        }
      }
      for (const auto& a : x->args) walk(a);
    };
    walk(e);
    return ok;
  }

  Shape shapeOf(const ExprPtr& e) const {
    if (e->kind == Expr::Kind::Const) return {};
    if (e->kind == Expr::Kind::Ref) {
      if (e->name == "q" || e->name == "k") return {true, true};
      if (e->name == "head") return {};
      if (auto* i = spec_.findInput(e->name)) return {true, i->kind == InputDecl::Kind::Vector};
      if (auto* p = spec_.findParam(e->name)) return {false, p->kind == ParamDecl::Kind::HeadKey};
      return {};
    }
    Shape s;
    for (const auto& a : e->args) s = s.join(shapeOf(a));
    return s;
  }

  // Finds the first reference that makes `e` a vector, to point the user at it.
  const Expr* firstVectorRef(const ExprPtr& e) const {
    if (e->kind == Expr::Kind::Ref) return shapeOf(e).vector ? e.get() : nullptr;
    for (const auto& a : e->args)
      if (auto* r = firstVectorRef(a)) return r;
    return nullptr;
  }

  FeatureMap featureMap(const toml::table* fmap, const std::string& which) {
    FeatureMap m;
    m.pre = makeRef(which);
    used_.insert(which);
    if (!fmap) return m;
    const toml::node* n = fmap->get(which);
    if (!n) return m;
    m.loc = locOf(n);
    const std::string what = "feature_map." + which;
    if (!n->is_string()) {
      error(locOf(n), what + " must be a string", "e.g. \"l2norm\" or \"elu(" + which + ") + 1\"");
      return m;
    }
    std::string text = *n->value<std::string>();
    size_t b = text.find_first_not_of(" \t");
    size_t e = text.find_last_not_of(" \t");
    std::string trimmed = b == std::string::npos ? "" : text.substr(b, e - b + 1);

    // A bare name applies that map to q (or k) itself.
    static const std::vector<std::string> bare = {"identity", "l2norm", "relu", "elu1", "taylor2", "based", "hedgehog"};
    if (std::find(bare.begin(), bare.end(), trimmed) != bare.end()) {
      if (trimmed == "relu") m.pre = makeCall(Fn::Relu, {makeRef(which)});
      else if (trimmed == "elu1") m.pre = makeBinary(Expr::Kind::Add, makeCall(Fn::Elu, {makeRef(which)}), makeConst(1));
      else m.kind = mapKind(trimmed);
      return m;
    }
    // Otherwise an elementwise expression, optionally wrapped in one map that mixes the K elements.
    int inner_offset = 0;
    std::string inner = text;
    for (const char* map : {"l2norm", "taylor2", "based", "hedgehog"}) {
      std::string prefix = std::string(map) + "(";
      if (trimmed.rfind(prefix, 0) == 0 && trimmed.back() == ')' && balancedWhole(trimmed, prefix.size() - 1)) {
        m.kind = mapKind(map);
        inner_offset = static_cast<int>(b + prefix.size());
        inner = trimmed.substr(prefix.size(), trimmed.size() - prefix.size() - 1);
        break;
      }
    }
    for (const char* map : {"l2norm", "taylor2", "based", "hedgehog", "identity"}) {
      // Mixing maps anywhere but outermost would leave the family: they are not elementwise.
      size_t at = inner.find(std::string(map) + "(");
      if (at != std::string::npos && (at == 0 || !(std::isalnum(static_cast<unsigned char>(inner[at - 1])) || inner[at - 1] == '_'))) {
        error(locIn(*n, inner_offset + static_cast<int>(at)),
              "in " + what + ": '" + map + "' can only be the outermost call of a feature map",
              "write map(elementwise expression), e.g. l2norm(k * sigmoid(w))");
        return m;
      }
    }
    ExprPtr pre = expression(*n, what, inner_offset, &inner);
    if (!pre) return m;
    if (!shapeOf(pre).vector) {
      error(m.loc, what + " is a scalar, but a feature map needs a vector over K",
            "refer to " + which + " or a vector input, e.g. \"" + which + " * sigmoid(a)\"");
      return m;
    }
    m.pre = pre;
    return m;
  }

  static bool balancedWhole(const std::string& s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
      if (s[i] == '(') ++depth;
      if (s[i] == ')' && --depth == 0) return i == s.size() - 1;
    }
    return false;
  }

  static FeatureMap::Kind mapKind(const std::string& s) {
    if (s == "l2norm") return FeatureMap::Kind::L2Norm;
    if (s == "taylor2" || s == "based") return FeatureMap::Kind::Taylor2;
    if (s == "hedgehog") return FeatureMap::Kind::Hedgehog;
    return FeatureMap::Kind::Identity;
  }

  void buildDecay(const toml::table* decay) {
    if (!decay) return;
    checkKeys(*decay, {"log", "kind"}, "[decay]");
    const toml::node* log = decay->get("log");
    std::optional<std::string> declared = stringValue(*decay, "kind", "[decay]");
    static const std::vector<std::string> kinds = {"none", "constant", "scalar", "vector"};
    if (declared && std::find(kinds.begin(), kinds.end(), *declared) == kinds.end()) {
      error(locOf(decay->get("kind")), "unknown decay kind '" + *declared + "'", suggest(*declared, kinds));
      return;
    }
    if (!log) {
      if (declared && *declared != "none")
        error(locOf(*decay), "[decay] kind = \"" + *declared + "\" needs a log = \"...\" expression",
              "log is g_t, the log of the decay factor, e.g. \"logsigmoid(gk) / 16\"");
      return;
    }
    spec_.decay_loc = locOf(log);
    ExprPtr g = expression(*log, "decay.log");
    if (!g) return;
    Shape s = shapeOf(g);
    DecayKind kind = s.vector ? DecayKind::Vector : s.per_token ? DecayKind::Scalar : DecayKind::Constant;
    if (isConst(g, 0)) kind = DecayKind::None;
    if (g->kind == Expr::Kind::Const && !(g->value <= 0)) {
      error(spec_.decay_loc, "decay.log is the constant " + printExpr(g) + ", which is not <= 0",
            "log-decay must be <= 0 (alpha = exp(log) <= 1), or the state grows without bound");
      return;
    }
    if (g->kind != Expr::Kind::Const && referencedNames(g).empty()) {
      error(spec_.decay_loc, "decay.log is not a finite constant", "check for log(0), 1/0 or similar");
      return;
    }
    if (declared && *declared != decayKindName(kind)) {
      std::string why;
      if (*declared == "vector") why = "it uses no vector input or head_key param (a vector gate needs one)";
      else if (*declared == "scalar" && kind == DecayKind::Vector) {
        const Expr* r = firstVectorRef(g);
        why = "'" + (r ? r->name : std::string("?")) + "' makes it a vector over K";
      } else if (*declared == "scalar") why = "it uses no per-token input";
      else why = std::string("it is ") + decayKindName(kind);
      error(spec_.decay_loc, "decay.log does not have the declared kind \"" + *declared + "\": " + why,
            "fix the expression or the kind (or leave kind out: it is inferred)");
      return;
    }
    spec_.decay = kind;
    spec_.decay_log = kind == DecayKind::None ? nullptr : g;
  }

  void buildUpdate(const toml::table* update) {
    spec_.beta = makeConst(1);
    if (!update) return;
    checkKeys(*update, {"rule", "beta"}, "[update]");
    if (auto r = stringValue(*update, "rule", "[update]")) {
      if (*r == "delta") spec_.rule = UpdateRule::Delta;
      else if (*r == "additive") spec_.rule = UpdateRule::Additive;
      else error(locOf(update->get("rule")), "unknown update rule '" + *r + "'", suggest(*r, {"additive", "delta"}));
    }
    if (const toml::node* b = update->get("beta")) {
      spec_.beta_loc = locOf(b);
      ExprPtr beta = expression(*b, "update.beta");
      if (!beta) return;
      if (shapeOf(beta).vector) {
        const Expr* r = firstVectorRef(beta);
        error(spec_.beta_loc,
              "update.beta must be a scalar per token, but '" + (r ? r->name : std::string("?")) + "' is a vector over K",
              "use scalar inputs (\"scalar\", [B,T,H]) or head params in beta");
        return;
      }
      spec_.beta = beta;
    }
  }

  void buildReadout(const toml::table* readout) {
    if (!readout) return;
    checkKeys(*readout, {"scale", "normalize", "eps"}, "[readout]");
    if (const toml::node* s = readout->get("scale")) {
      if (s->is_string() && *s->value<std::string>() == "default") {
        spec_.scale.reset();
      } else {
        ExprPtr e = expression(*s, "readout.scale");
        if (e && e->kind != Expr::Kind::Const) {
          error(locOf(s), "readout.scale must be a constant", "write a number, an expression of numbers, or \"default\" (K^-1/2)");
        } else if (e) {
          if (!(e->value > 0)) error(locOf(s), "readout.scale must be positive", "");
          spec_.scale = e->value;
        }
      }
    }
    if (const toml::node* n = readout->get("normalize")) {
      if (!n->is_boolean()) error(locOf(n), "readout.normalize must be true or false", "");
      else spec_.normalize = *n->value<bool>();
    }
    if (const toml::node* e = readout->get("eps")) {
      if (!e->is_number()) {
        error(locOf(e), "readout.eps must be a number", "e.g. eps = 1e-6");
      } else if (!spec_.normalize) {
        error(locOf(e), "readout.eps is only used with normalize = true", "remove eps or set normalize = true");
      } else {
        double v = *e->value<double>();
        if (!(v >= 0) || !std::isfinite(v)) error(locOf(e), "readout.eps must be a finite number >= 0", "");
        spec_.norm_eps = v;
      }
    }
  }

  void checkCombinations(const toml::table* fmap, const toml::table* decay, const toml::table* readout) {
    int Kq = featureWidth(spec_.q_map.kind, 16), Kk = featureWidth(spec_.k_map.kind, 16);
    if (Kq != Kk) {
      error(spec_.k_map.loc.line ? spec_.k_map.loc : spec_.q_map.loc,
            std::string("feature maps give q width ") + featureMapName(spec_.q_map.kind) + "(K) and k width " +
                featureMapName(spec_.k_map.kind) + "(K), which differ",
            "q̃ᵀk̃ needs equal widths: use the same width-changing map (taylor2, hedgehog) on both");
    }
    if (spec_.decay == DecayKind::Vector && spec_.featureWidth(16) != 16) {
      error(spec_.decay_loc,
            std::string("a vector decay over K cannot act on the ") + featureMapName(spec_.k_map.kind) +
                " feature width K' != K",
            "this is outside the family of DESIGN.md §1: use a scalar decay with width-changing feature maps");
    }
    if (spec_.normalize && spec_.rule == UpdateRule::Delta) {
      error(readout ? locOf(readout->get("normalize")) : rootLoc(),
            "readout.normalize is not defined for the delta rule",
            "the normalizer z_t = Diag(α)z + k̃ is an additive-rule construct (DESIGN.md §1): drop one of them");
    }
    (void)fmap;
    (void)decay;
  }

  void checkUnused() {
    for (const auto& i : spec_.inputs)
      if (!used_.count(i.name))
        error(i.loc, "input '" + i.name + "' is declared but never used", "remove it, or use it in an expression");
    for (const auto& p : spec_.params)
      if (!used_.count(p.name))
        error(p.loc, "param '" + p.name + "' is declared but never used", "remove it, or use it in an expression");
  }

  std::string file_;
  ParseResult& out_;
  Spec spec_;
  std::set<std::string> used_;
};

// TOML++ 3.3 reaches __builtin_unreachable on some non-ASCII characters outside strings (found by the
// fuzzer), and nothing in the DSL but comments needs non-ASCII text, so such input is refused up front.
bool findNonAsciiOutsideComments(const std::string& text, int& line, int& col) {
  enum class State { Code, Comment, Basic, Literal, MlBasic, MlLiteral } st = State::Code;
  line = 1;
  col = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    auto starts = [&](const char* s) { return text.compare(i, std::strlen(s), s) == 0; };
    if (c >= 0x80 && st != State::Comment) return true;
    switch (st) {
      case State::Code:
        if (c == '#') st = State::Comment;
        else if (starts("\"\"\"")) { st = State::MlBasic; i += 2; col += 2; }
        else if (starts("'''")) { st = State::MlLiteral; i += 2; col += 2; }
        else if (c == '"') st = State::Basic;
        else if (c == '\'') st = State::Literal;
        break;
      case State::Comment:
        if (c == '\n') st = State::Code;
        break;
      case State::Basic:
        if (c == '\\') { ++i; ++col; }
        else if (c == '"' || c == '\n') st = State::Code;
        break;
      case State::Literal:
        if (c == '\'' || c == '\n') st = State::Code;
        break;
      case State::MlBasic:
        if (c == '\\') { ++i; ++col; }
        else if (starts("\"\"\"")) { st = State::Code; i += 2; col += 2; }
        break;
      case State::MlLiteral:
        if (starts("'''")) { st = State::Code; i += 2; col += 2; }
        break;
    }
    if (i < text.size() && text[i] == '\n') {
      ++line;
      col = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++col;
    }
  }
  return false;
}

}  // namespace

ParseResult parseSpec(const std::string& text, const std::string& file) {
  ParseResult out;
  int line = 0, col = 0;
  if (findNonAsciiOutsideComments(text, line, col)) {
    Diagnostic d;
    d.loc = {file, line, col};
    d.message = "non-ASCII character outside a comment";
    d.hint = "names, keys and expressions are ASCII; non-ASCII text may only appear in # comments";
    out.errors.push_back(std::move(d));
    return out;
  }
  toml::parse_result parsed = toml::parse(text, file);
  if (!parsed) {
    const toml::parse_error& err = parsed.error();
    const auto& b = err.source().begin;
    out.errors.push_back({{file, static_cast<int>(b.line), static_cast<int>(b.column)},
                          "TOML syntax: " + std::string(err.description()),
                          "see docs/dsl.md for the file format"});
    return out;
  }
  SpecBuilder(file, out).build(parsed.table());
  return out;
}

ParseResult parseSpecFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ParseResult out;
    Diagnostic d;
    d.loc.file = path;
    d.message = "cannot read the file";
    d.hint = "check the path and its permissions";
    out.errors.push_back(std::move(d));
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parseSpec(ss.str(), path);
}

}  // namespace linrec::dsl
