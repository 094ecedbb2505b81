// Expression parsing, folding, canonical printing and float64 evaluation for the DSL.
#include "linrec/dsl/Expr.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

namespace linrec::dsl {

namespace {

struct FnInfo {
  Fn fn;
  const char* name;
  int arity;
};

constexpr FnInfo kFunctions[] = {
    {Fn::Exp, "exp", 1},         {Fn::Log, "log", 1},         {Fn::Log1p, "log1p", 1},
    {Fn::Sigmoid, "sigmoid", 1}, {Fn::LogSigmoid, "logsigmoid", 1}, {Fn::Softplus, "softplus", 1},
    {Fn::Relu, "relu", 1},       {Fn::Elu, "elu", 1},         {Fn::Silu, "silu", 1},
    {Fn::Sqrt, "sqrt", 1},       {Fn::Rsqrt, "rsqrt", 1},     {Fn::Tanh, "tanh", 1},
    {Fn::Abs, "abs", 1},         {Fn::Min, "min", 2},         {Fn::Max, "max", 2},
    {Fn::Pow, "pow", 2},
};

// Guards the recursive-descent parser against stack exhaustion on adversarial input (the fuzzer finds it).
constexpr int kMaxDepth = 200;
constexpr size_t kMaxLength = 1 << 16;

class Parser {
 public:
  Parser(const std::string& s, ExprError& err) : s_(s), err_(err) {}

  ExprPtr parseAll() {
    if (s_.size() > kMaxLength) return fail(0, "expression is too long", "keep it under 65536 characters");
    skipSpace();
    if (pos_ >= s_.size()) return fail(0, "empty expression", "write a value, e.g. \"0\" or \"sigmoid(b)\"");
    ExprPtr e = parseSum(0);
    if (!e) return nullptr;
    skipSpace();
    if (pos_ < s_.size())
      return fail(static_cast<int>(pos_), std::string("unexpected '") + s_[pos_] + "'",
                  "expected an operator (+ - * / ^) or the end of the expression");
    return e;
  }

 private:
  ExprPtr fail(int at, std::string msg, std::string hint) {
    if (!failed_) {
      err_.offset = at;
      err_.message = std::move(msg);
      err_.hint = std::move(hint);
      failed_ = true;
    }
    return nullptr;
  }

  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  bool eat(char c) {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  ExprPtr parseSum(int depth) {
    if (depth > kMaxDepth) return fail(static_cast<int>(pos_), "expression nests too deeply", "simplify it");
    ExprPtr lhs = parseProduct(depth + 1);
    while (lhs) {
      skipSpace();
      int at = static_cast<int>(pos_);
      if (eat('+')) {
        ExprPtr rhs = parseProduct(depth + 1);
        if (!rhs) return nullptr;
        lhs = makeBinary(Expr::Kind::Add, lhs, rhs, at);
      } else if (eat('-')) {
        ExprPtr rhs = parseProduct(depth + 1);
        if (!rhs) return nullptr;
        lhs = makeBinary(Expr::Kind::Sub, lhs, rhs, at);
      } else {
        break;
      }
    }
    return lhs;
  }

  ExprPtr parseProduct(int depth) {
    ExprPtr lhs = parseUnary(depth + 1);
    while (lhs) {
      skipSpace();
      int at = static_cast<int>(pos_);
      if (eat('*')) {
        ExprPtr rhs = parseUnary(depth + 1);
        if (!rhs) return nullptr;
        lhs = makeBinary(Expr::Kind::Mul, lhs, rhs, at);
      } else if (eat('/')) {
        ExprPtr rhs = parseUnary(depth + 1);
        if (!rhs) return nullptr;
        lhs = makeBinary(Expr::Kind::Div, lhs, rhs, at);
      } else {
        break;
      }
    }
    return lhs;
  }

  // Unary minus binds looser than ^ so that -x^2 means -(x^2), as in mathematics.
  ExprPtr parseUnary(int depth) {
    if (depth > kMaxDepth) return fail(static_cast<int>(pos_), "expression nests too deeply", "simplify it");
    skipSpace();
    int at = static_cast<int>(pos_);
    if (eat('-')) {
      ExprPtr a = parseUnary(depth + 1);
      if (!a) return nullptr;
      return makeUnary(Expr::Kind::Neg, a, at);
    }
    if (eat('+')) return parseUnary(depth + 1);
    return parsePower(depth + 1);
  }

  ExprPtr parsePower(int depth) {
    ExprPtr base = parsePrimary(depth + 1);
    if (!base) return nullptr;
    skipSpace();
    int at = static_cast<int>(pos_);
    if (eat('^')) {
      ExprPtr exponent = parseUnary(depth + 1);  // right-associative: a^b^c = a^(b^c)
      if (!exponent) return nullptr;
      return makeCall(Fn::Pow, {base, exponent}, at);
    }
    return base;
  }

  ExprPtr parsePrimary(int depth) {
    if (depth > kMaxDepth) return fail(static_cast<int>(pos_), "expression nests too deeply", "simplify it");
    skipSpace();
    int at = static_cast<int>(pos_);
    if (pos_ >= s_.size())
      return fail(at, "unexpected end of expression", "an operand is missing after the last operator");
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      ExprPtr e = parseSum(depth + 1);
      if (!e) return nullptr;
      if (!eat(')')) return fail(static_cast<int>(pos_), "expected ')'", "a parenthesis opened here is not closed");
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return parseNumber();
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      std::string name = s_.substr(start, pos_ - start);
      skipSpace();
      if (pos_ < s_.size() && s_[pos_] == '(') {
        Fn f;
        if (!lookupFunction(name, f)) {
          return fail(at, "unknown function '" + name + "'",
                      "known functions: exp log log1p sigmoid logsigmoid softplus relu elu silu sqrt rsqrt tanh "
                      "abs min max pow");
        }
        ++pos_;
        std::vector<ExprPtr> args;
        skipSpace();
        if (!(pos_ < s_.size() && s_[pos_] == ')')) {
          while (true) {
            ExprPtr a = parseSum(depth + 1);
            if (!a) return nullptr;
            args.push_back(a);
            if (eat(',')) continue;
            break;
          }
        }
        if (!eat(')')) return fail(static_cast<int>(pos_), "expected ')' or ','", "close the argument list");
        if (static_cast<int>(args.size()) != functionArity(f)) {
          return fail(at,
                      "function '" + name + "' takes " + std::to_string(functionArity(f)) + " argument(s), got " +
                          std::to_string(args.size()),
                      "");
        }
        return makeCall(f, std::move(args), at);
      }
      if (name == "pi") return makeConst(M_PI, at);
      return makeRef(name, at);
    }
    return fail(at, std::string("unexpected '") + c + "'", "expected a number, a name, a function call or '('");
  }

  ExprPtr parseNumber() {
    int at = static_cast<int>(pos_);
    const char* begin = s_.c_str() + pos_;
    char* end = nullptr;
    double v = std::strtod(begin, &end);
    if (end == begin) return fail(at, "malformed number", "write numbers like 1, 0.5, 1e-6");
    // strtod accepts hex floats, inf and nan spellings; the DSL only has decimal literals.
    for (const char* p = begin; p < end; ++p) {
      if (!(std::isdigit(static_cast<unsigned char>(*p)) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
            *p == '-'))
        return fail(at, "malformed number", "write numbers like 1, 0.5, 1e-6");
    }
    if (!std::isfinite(v)) return fail(at, "number out of range", "use a finite value");
    pos_ += static_cast<size_t>(end - begin);
    if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
      return fail(static_cast<int>(pos_), "a name cannot start right after a number",
                  "write an explicit '*', e.g. 2 * x");
    return makeConst(v, at);
  }

  const std::string& s_;
  ExprError& err_;
  size_t pos_ = 0;
  bool failed_ = false;
};

ExprPtr withArgs(const ExprPtr& e, std::vector<ExprPtr> args) {
  auto n = std::make_shared<Expr>(*e);
  n->args = std::move(args);
  return n;
}

int precedence(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::Add:
    case Expr::Kind::Sub: return 1;
    case Expr::Kind::Mul:
    case Expr::Kind::Div: return 2;
    case Expr::Kind::Neg: return 3;
    case Expr::Kind::Const: return e.value < 0 ? 3 : 4;  // a negative literal prints with its sign, like Neg
    default: return 4;
  }
}

std::string formatNumber(double v) {
  if (v == 0) return "0";  // also folds -0
  char buf[64];
  // The shortest %.*g that round-trips gives one spelling per value (0.5 == 5e-1 == .50).
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void print(const Expr& e, std::string& out) {
  auto child = [&](const ExprPtr& c, bool parens) {
    if (parens) out += '(';
    print(*c, out);
    if (parens) out += ')';
  };
  switch (e.kind) {
    case Expr::Kind::Const: out += formatNumber(e.value); return;
    case Expr::Kind::Ref: out += e.name; return;
    case Expr::Kind::Neg:
      out += '-';
      child(e.args[0], precedence(*e.args[0]) <= 3);
      return;
    case Expr::Kind::Call:
      out += functionName(e.fn);
      out += '(';
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (i) out += ", ";
        print(*e.args[i], out);
      }
      out += ')';
      return;
    default: {
      int p = precedence(e);
      const char* op = e.kind == Expr::Kind::Add ? " + " : e.kind == Expr::Kind::Sub ? " - "
                     : e.kind == Expr::Kind::Mul ? " * " : " / ";
      // Left-associative: the right operand needs parentheses at equal precedence (a - (b - c)).
      child(e.args[0], precedence(*e.args[0]) < p);
      out += op;
      child(e.args[1], precedence(*e.args[1]) <= p);
      return;
    }
  }
}

}  // namespace

const char* functionName(Fn f) {
  for (const auto& i : kFunctions)
    if (i.fn == f) return i.name;
  return "?";
}

int functionArity(Fn f) {
  for (const auto& i : kFunctions)
    if (i.fn == f) return i.arity;
  return 0;
}

bool lookupFunction(const std::string& name, Fn& out) {
  for (const auto& i : kFunctions) {
    if (name == i.name) {
      out = i.fn;
      return true;
    }
  }
  return false;
}

ExprPtr makeConst(double v, int offset) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::Const;
  e->value = v;
  e->offset = offset;
  return e;
}

ExprPtr makeRef(std::string name, int offset) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::Ref;
  e->name = std::move(name);
  e->offset = offset;
  return e;
}

ExprPtr makeUnary(Expr::Kind k, ExprPtr a, int offset) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->args = {std::move(a)};
  e->offset = offset;
  return e;
}

ExprPtr makeBinary(Expr::Kind k, ExprPtr a, ExprPtr b, int offset) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->args = {std::move(a), std::move(b)};
  e->offset = offset;
  return e;
}

ExprPtr makeCall(Fn f, std::vector<ExprPtr> args, int offset) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::Call;
  e->fn = f;
  e->args = std::move(args);
  e->offset = offset;
  return e;
}

ExprPtr parseExpr(const std::string& text, ExprError& err) {
  Parser p(text, err);
  return p.parseAll();
}

bool isConst(const ExprPtr& e, double v) { return e && e->kind == Expr::Kind::Const && e->value == v; }

double applyFunction(Fn f, double a, double b) {
  switch (f) {
    case Fn::Exp: return std::exp(a);
    case Fn::Log: return std::log(a);
    case Fn::Log1p: return std::log1p(a);
    case Fn::Sigmoid: return a >= 0 ? 1.0 / (1.0 + std::exp(-a)) : std::exp(a) / (1.0 + std::exp(a));
    case Fn::LogSigmoid: return -(std::max(-a, 0.0) + std::log1p(std::exp(-std::fabs(a))));
    case Fn::Softplus: return std::max(a, 0.0) + std::log1p(std::exp(-std::fabs(a)));
    case Fn::Relu: return a > 0 ? a : 0.0;
    case Fn::Elu: return a > 0 ? a : std::expm1(a);
    case Fn::Silu: return a * applyFunction(Fn::Sigmoid, a);
    case Fn::Sqrt: return std::sqrt(a);
    case Fn::Rsqrt: return 1.0 / std::sqrt(a);
    case Fn::Tanh: return std::tanh(a);
    case Fn::Abs: return std::fabs(a);
    case Fn::Min: return std::min(a, b);
    case Fn::Max: return std::max(a, b);
    case Fn::Pow: return std::pow(a, b);
  }
  return 0.0;
}

double evalExpr(const ExprPtr& e, const std::function<double(const std::string&)>& lookup) {
  switch (e->kind) {
    case Expr::Kind::Const: return e->value;
    case Expr::Kind::Ref: return lookup(e->name);
    case Expr::Kind::Neg: return -evalExpr(e->args[0], lookup);
    case Expr::Kind::Add: return evalExpr(e->args[0], lookup) + evalExpr(e->args[1], lookup);
    case Expr::Kind::Sub: return evalExpr(e->args[0], lookup) - evalExpr(e->args[1], lookup);
    case Expr::Kind::Mul: return evalExpr(e->args[0], lookup) * evalExpr(e->args[1], lookup);
    case Expr::Kind::Div: return evalExpr(e->args[0], lookup) / evalExpr(e->args[1], lookup);
    case Expr::Kind::Call: {
      double a = evalExpr(e->args[0], lookup);
      double b = e->args.size() > 1 ? evalExpr(e->args[1], lookup) : 0.0;
      return applyFunction(e->fn, a, b);
    }
  }
  return 0.0;
}

ExprPtr foldConstants(const ExprPtr& e) {
  if (!e || e->args.empty()) return e;
  std::vector<ExprPtr> args;
  bool all_const = true;
  for (const auto& a : e->args) {
    args.push_back(foldConstants(a));
    all_const = all_const && args.back()->kind == Expr::Kind::Const;
  }
  if (all_const) {
    ExprPtr tmp = withArgs(e, args);
    double v = evalExpr(tmp, [](const std::string&) { return 0.0; });
    // A constant that is not finite (log(0), 1/0) stays symbolic so the validator can point at it.
    if (std::isfinite(v)) return makeConst(v, e->offset);
    return tmp;
  }
  const ExprPtr& a = args[0];
  switch (e->kind) {
    case Expr::Kind::Neg:
      if (a->kind == Expr::Kind::Neg) return a->args[0];
      break;
    case Expr::Kind::Add:
      if (isConst(a, 0)) return args[1];
      if (isConst(args[1], 0)) return a;
      break;
    case Expr::Kind::Sub:
      if (isConst(args[1], 0)) return a;
      // Folded again so 0 - -x becomes x, as -(-x) does: canonical TOML must re-parse to the same hash.
      if (isConst(a, 0)) return foldConstants(makeUnary(Expr::Kind::Neg, args[1], e->offset));
      break;
    case Expr::Kind::Mul:
      if (isConst(a, 1)) return args[1];
      if (isConst(args[1], 1)) return a;
      if (isConst(a, -1)) return foldConstants(makeUnary(Expr::Kind::Neg, args[1], e->offset));
      if (isConst(args[1], -1)) return foldConstants(makeUnary(Expr::Kind::Neg, a, e->offset));
      break;
    case Expr::Kind::Div:
      if (isConst(args[1], 1)) return a;
      break;
    default: break;
  }
  return withArgs(e, std::move(args));
}

std::string printExpr(const ExprPtr& e) {
  std::string out;
  if (e) print(*e, out);
  return out;
}

std::vector<std::string> referencedNames(const ExprPtr& e) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  std::function<void(const ExprPtr&)> walk = [&](const ExprPtr& n) {
    if (n->kind == Expr::Kind::Ref && seen.insert(n->name).second) out.push_back(n->name);
    for (const auto& a : n->args) walk(a);
  };
  if (e) walk(e);
  return out;
}

}  // namespace linrec::dsl
