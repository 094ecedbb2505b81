// Recursive-descent parser and exact rational evaluator for launch-descriptor formulas.
#include "linrec/runtime/LaunchExpr.h"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace linrec {

namespace {

using Node = LaunchExpr::Node;
using Op = Node::Op;

class Parser {
 public:
  Parser(const std::string& s, std::vector<Node>& nodes) : s_(s), nodes_(nodes) {}

  Expected<int> parseAll() {
    auto r = expr();
    if (!r) return r;
    skipWs();
    if (pos_ != s_.size()) return fail("unexpected '" + std::string(1, s_[pos_]) + "'");
    return r;
  }

 private:
  Error fail(const std::string& what) const {
    return Error{"formula \"" + s_ + "\": " + what + " at column " + std::to_string(pos_ + 1)};
  }
  void skipWs() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skipWs();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  int add(Node n) {
    nodes_.push_back(std::move(n));
    return static_cast<int>(nodes_.size()) - 1;
  }
  int binary(Op op, int a, int b) {
    Node n;
    n.op = op;
    n.a = a;
    n.b = b;
    return add(std::move(n));
  }

  Expected<int> expr() {
    auto lhs = term();
    if (!lhs) return lhs;
    int cur = *lhs;
    while (true) {
      Op op;
      if (eat('+'))
        op = Op::Add;
      else if (eat('-'))
        op = Op::Sub;
      else
        return cur;
      auto rhs = term();
      if (!rhs) return rhs;
      cur = binary(op, cur, *rhs);
    }
  }

  Expected<int> term() {
    auto lhs = unary();
    if (!lhs) return lhs;
    int cur = *lhs;
    while (true) {
      Op op;
      if (eat('*'))
        op = Op::Mul;
      else if (eat('/'))
        op = Op::Div;
      else if (eat('%'))
        op = Op::Mod;
      else
        return cur;
      auto rhs = unary();
      if (!rhs) return rhs;
      cur = binary(op, cur, *rhs);
    }
  }

  Expected<int> unary() {
    if (eat('-')) {
      auto x = unary();
      if (!x) return x;
      Node n;
      n.op = Op::Neg;
      n.a = *x;
      return add(std::move(n));
    }
    if (eat('+')) return unary();
    return primary();
  }

  Expected<int> primary() {
    skipWs();
    if (pos_ >= s_.size()) return fail("expected a number, a name or '('");
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      auto e = expr();
      if (!e) return e;
      if (!eat(')')) return fail("expected ')'");
      return e;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v))
          return fail("number too large");
        ++pos_;
      }
      Node n;
      n.op = Op::Num;
      n.value = v;
      return add(std::move(n));
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) ++pos_;
      std::string name = s_.substr(start, pos_ - start);
      skipWs();
      if (pos_ < s_.size() && s_[pos_] == '(') return call(name);
      Node n;
      n.op = Op::Var;
      n.name = std::move(name);
      return add(std::move(n));
    }
    return fail("unexpected '" + std::string(1, c) + "'");
  }

  Expected<int> call(const std::string& name) {
    struct Fn {
      const char* name;
      Op op;
      int arity;
    };
    static const Fn kFns[] = {{"ceil", Op::Ceil, 1},
                              {"floor", Op::Floor, 1},
                              {"cdiv", Op::CDiv, 2},
                              {"min", Op::Min, 2},
                              {"max", Op::Max, 2}};
    const Fn* fn = nullptr;
    for (const Fn& f : kFns)
      if (name == f.name) fn = &f;
    if (!fn) return fail("unknown function '" + name + "' (known: ceil, floor, cdiv, min, max)");
    eat('(');
    Node n;
    n.op = fn->op;
    auto a = expr();
    if (!a) return a;
    n.a = *a;
    if (fn->arity == 2) {
      if (!eat(',')) return fail(name + " takes two arguments");
      auto b = expr();
      if (!b) return b;
      n.b = *b;
    }
    if (!eat(')')) return fail("expected ')' after the arguments of " + name);
    return add(std::move(n));
  }

  const std::string& s_;
  std::vector<Node>& nodes_;
  size_t pos_ = 0;
};

/// An exact fraction num/den with den > 0, in lowest terms.
struct Rational {
  int64_t num = 0, den = 1;
};

class Evaluator {
 public:
  Evaluator(const std::string& text, const std::vector<Node>& nodes, const LaunchVars& vars)
      : text_(text), nodes_(nodes), vars_(vars) {}

  Expected<Rational> eval(int i) {
    const Node& n = nodes_[i];
    switch (n.op) {
      case Op::Num:
        return Rational{n.value, 1};
      case Op::Var:
        for (const auto& [name, v] : vars_)
          if (name == n.name) return Rational{v, 1};
        return fail("unknown variable '" + n.name + "'");
      default:
        break;
    }
    auto a = eval(n.a);
    if (!a) return a;
    Rational x = *a, y;
    if (n.b >= 0) {
      auto b = eval(n.b);
      if (!b) return b;
      y = *b;
    }
    switch (n.op) {
      case Op::Neg:
        return make(-x.num, x.den);
      case Op::Add:
        return addSub(x, y, false);
      case Op::Sub:
        return addSub(x, y, true);
      case Op::Mul:
        return mul(x, Rational{y.num, y.den});
      case Op::Div:
        if (y.num == 0) return fail("division by zero");
        return mul(x, y.num < 0 ? Rational{-y.den, -y.num} : Rational{y.den, y.num});
      case Op::Mod:
        if (x.den != 1 || y.den != 1) return fail("'%' needs integer operands");
        if (y.num == 0) return fail("division by zero");
        return Rational{x.num % y.num, 1};
      case Op::Ceil:
        return Rational{ceilDiv(x.num, x.den), 1};
      case Op::Floor:
        return Rational{floorDiv(x.num, x.den), 1};
      case Op::CDiv: {
        if (y.num == 0) return fail("division by zero");
        auto q = mul(x, y.num < 0 ? Rational{-y.den, -y.num} : Rational{y.den, y.num});
        if (!q) return q;
        return Rational{ceilDiv(q->num, q->den), 1};
      }
      case Op::Min:
        return less(x, y) ? x : y;
      case Op::Max:
        return less(x, y) ? y : x;
      default:
        return fail("internal error: bad node");
    }
  }

 private:
  Error fail(const std::string& what) const { return Error{"formula \"" + text_ + "\": " + what}; }
  static int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
  static int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }
  Expected<Rational> make(int64_t num, int64_t den) const {
    int64_t g = std::gcd(num, den);
    if (g == 0) g = 1;
    return Rational{num / g, den / g};
  }
  Expected<Rational> addSub(Rational x, Rational y, bool sub) const {
    int64_t l, r, d;
    if (__builtin_mul_overflow(x.num, y.den, &l) || __builtin_mul_overflow(y.num, x.den, &r) ||
        __builtin_mul_overflow(x.den, y.den, &d) ||
        (sub ? __builtin_sub_overflow(l, r, &l) : __builtin_add_overflow(l, r, &l)))
      return fail("integer overflow");
    return make(l, d);
  }
  Expected<Rational> mul(Rational x, Rational y) const {
    int64_t n, d;
    if (__builtin_mul_overflow(x.num, y.num, &n) || __builtin_mul_overflow(x.den, y.den, &d))
      return fail("integer overflow");
    return make(n, d);
  }
  static bool less(Rational x, Rational y) {
    return static_cast<__int128>(x.num) * y.den < static_cast<__int128>(y.num) * x.den;
  }

  const std::string& text_;
  const std::vector<Node>& nodes_;
  const LaunchVars& vars_;
};

void collectVars(const std::vector<Node>& nodes, int i, std::vector<std::string>& out) {
  if (i < 0) return;
  if (nodes[i].op == Op::Var) out.push_back(nodes[i].name);
  collectVars(nodes, nodes[i].a, out);
  collectVars(nodes, nodes[i].b, out);
}

}  // namespace

Expected<LaunchExpr> LaunchExpr::parse(const std::string& text) {
  LaunchExpr e;
  e.text_ = text;
  Parser p(e.text_, e.nodes_);
  auto root = p.parseAll();
  if (!root) return Error{root.error()};
  e.root_ = *root;
  return e;
}

std::vector<std::string> LaunchExpr::variables() const {
  std::vector<std::string> v;
  collectVars(nodes_, root_, v);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

Expected<int64_t> LaunchExpr::evaluate(const LaunchVars& vars) const {
  if (root_ < 0) return Error{"formula is empty"};
  Evaluator ev(text_, nodes_, vars);
  auto r = ev.eval(root_);
  if (!r) return Error{r.error()};
  if (r->den != 1)
    return Error{"formula \"" + text_ + "\" is not an integer (" + std::to_string(r->num) + "/" +
                 std::to_string(r->den) + "); wrap the division in ceil() or floor()"};
  return r->num;
}

}  // namespace linrec
