// Integer formulas in launch descriptors ("N*H", "ceil(V/BV)", "NC*H*KF*V*4"), evaluated exactly.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "linrec/Expected.h"

namespace linrec {

/// Named integer values a formula may refer to.
using LaunchVars = std::vector<std::pair<std::string, int64_t>>;

/// A parsed formula over integer variables: + - * / % ( ), unary minus, and the functions ceil(x),
/// floor(x), cdiv(a, b) (= ceil(a / b)), min(a, b), max(a, b). Arithmetic is on exact rationals, so
/// "ceil(V/BV)" means what it says; the final value must be an integer (wrap divisions in ceil/floor).
class LaunchExpr {
 public:
  LaunchExpr() = default;
  /// Parses `text`; the error names the column of the problem.
  static Expected<LaunchExpr> parse(const std::string& text);
  /// The formula as written.
  const std::string& text() const { return text_; }
  /// Every variable name the formula uses (sorted, unique).
  std::vector<std::string> variables() const;
  /// Evaluates with `vars`; an unknown variable, division by zero, overflow or a non-integer result is an
  /// error.
  Expected<int64_t> evaluate(const LaunchVars& vars) const;

  /// One AST node; children are indices into nodes_. Public only so the parser can build it.
  struct Node {
    enum class Op : uint8_t { Num, Var, Neg, Add, Sub, Mul, Div, Mod, Ceil, Floor, CDiv, Min, Max };
    Op op = Op::Num;
    int64_t value = 0;
    std::string name;
    int a = -1, b = -1;
  };

 private:
  std::string text_;
  std::vector<Node> nodes_;
  int root_ = -1;
};

}  // namespace linrec
