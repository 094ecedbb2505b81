// Elementwise expressions of the DSL: the AST, its shape rules, its canonical printing and evaluation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace linrec::dsl {

/// Where an expression (or a piece of one) came from, for diagnostics.
struct SourceLoc {
  std::string file;
  int line = 0;  ///< 1-based; 0 when unknown
  int col = 0;   ///< 1-based; 0 when unknown
};

/// The shape of a value in an expression. Every quantity is per (batch, token, head) at most, and
/// optionally a vector over the key dimension K.
struct Shape {
  bool per_token = false;  ///< varies with (b, t); otherwise a per-head constant
  bool vector = false;     ///< a vector over K; otherwise a scalar
  bool operator==(const Shape& o) const { return per_token == o.per_token && vector == o.vector; }
  Shape join(const Shape& o) const { return {per_token || o.per_token, vector || o.vector}; }
};

/// Elementwise functions the DSL knows. Keep names in sync with `functionName`/`functionArity`.
enum class Fn : uint8_t {
  Exp, Log, Log1p, Sigmoid, LogSigmoid, Softplus, Relu, Elu, Silu, Sqrt, Rsqrt, Tanh, Abs, Min, Max, Pow,
};

const char* functionName(Fn f);
int functionArity(Fn f);
/// Looks a function up by its DSL name; false when there is none.
bool lookupFunction(const std::string& name, Fn& out);

/// An elementwise expression node. Immutable once built; shared freely.
struct Expr {
  enum class Kind : uint8_t { Const, Ref, Neg, Add, Sub, Mul, Div, Call };
  Kind kind = Kind::Const;
  double value = 0.0;         ///< Const
  std::string name;           ///< Ref: an input, a parameter, `head`, `q` or `k`
  Fn fn = Fn::Exp;            ///< Call
  std::vector<std::shared_ptr<const Expr>> args;  ///< operands (1 for Neg, 2 for binary ops, arity for Call)
  int offset = 0;             ///< character offset in the source string, for diagnostics
};
using ExprPtr = std::shared_ptr<const Expr>;

ExprPtr makeConst(double v, int offset = 0);
ExprPtr makeRef(std::string name, int offset = 0);
ExprPtr makeUnary(Expr::Kind k, ExprPtr a, int offset = 0);
ExprPtr makeBinary(Expr::Kind k, ExprPtr a, ExprPtr b, int offset = 0);
ExprPtr makeCall(Fn f, std::vector<ExprPtr> args, int offset = 0);

/// A parse failure: the character offset into the expression text and a message.
struct ExprError {
  int offset = 0;
  std::string message;
  std::string hint;
};

/// Parses `text` (grammar in docs/dsl.md). On failure returns null and fills `err`.
ExprPtr parseExpr(const std::string& text, ExprError& err);

/// Folds constant subtrees and algebraic identities that cannot change a value (x*1, x+0, --x, ...), so
/// that equivalent spellings share one canonical form.
ExprPtr foldConstants(const ExprPtr& e);

/// Canonical text: minimal parentheses, numbers with round-trip precision, no whitespace choices left.
std::string printExpr(const ExprPtr& e);

/// Every name the expression refers to, in order of first appearance.
std::vector<std::string> referencedNames(const ExprPtr& e);

/// True when `e` is the constant `v`.
bool isConst(const ExprPtr& e, double v);

/// Evaluates `e` in float64; `lookup` returns the value of a referenced name.
double evalExpr(const ExprPtr& e, const std::function<double(const std::string&)>& lookup);

/// Elementwise functions evaluated the way the reference and the kernels agree on.
double applyFunction(Fn f, double a, double b = 0.0);

}  // namespace linrec::dsl
