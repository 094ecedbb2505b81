// Tests for expression parsing, folding, canonical printing and evaluation.
#include <gtest/gtest.h>

#include <cmath>

#include "linrec/dsl/Expr.h"

using namespace linrec::dsl;

namespace {

std::string canon(const std::string& text) {
  ExprError err;
  ExprPtr e = parseExpr(text, err);
  EXPECT_TRUE(e) << text << ": " << err.message;
  return e ? printExpr(foldConstants(e)) : "";
}

double eval(const std::string& text, double x = 0.0) {
  ExprError err;
  ExprPtr e = parseExpr(text, err);
  EXPECT_TRUE(e) << err.message;
  return evalExpr(e, [x](const std::string&) { return x; });
}

int errorOffset(const std::string& text, std::string* msg = nullptr) {
  ExprError err;
  ExprPtr e = parseExpr(text, err);
  EXPECT_FALSE(e) << text;
  if (msg) *msg = err.message;
  return err.offset;
}

}  // namespace

TEST(Expr, PrecedenceAndAssociativity) {
  EXPECT_DOUBLE_EQ(eval("1 + 2 * 3"), 7);
  EXPECT_DOUBLE_EQ(eval("(1 + 2) * 3"), 9);
  EXPECT_DOUBLE_EQ(eval("8 - 4 - 2"), 2);
  EXPECT_DOUBLE_EQ(eval("8 / 4 / 2"), 1);
  EXPECT_DOUBLE_EQ(eval("2 ^ 3 ^ 2"), 512);
  EXPECT_DOUBLE_EQ(eval("-2 ^ 2"), -4);
  EXPECT_DOUBLE_EQ(eval("--3"), 3);
}

TEST(Expr, FunctionsMatchTheirDefinitions) {
  EXPECT_NEAR(eval("sigmoid(x)", 0.3), 1 / (1 + std::exp(-0.3)), 1e-15);
  EXPECT_NEAR(eval("softplus(x)", 0.3), std::log1p(std::exp(0.3)), 1e-15);
  EXPECT_NEAR(eval("logsigmoid(x)", -0.7), std::log(1 / (1 + std::exp(0.7))), 1e-15);
  EXPECT_NEAR(eval("silu(x)", 2.0), 2.0 / (1 + std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(eval("elu(x)", -1.0), std::exp(-1.0) - 1, 1e-15);
  EXPECT_NEAR(eval("rsqrt(x)", 4.0), 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(eval("min(x, 2)", 3.0), 2);
  EXPECT_DOUBLE_EQ(eval("max(x, 2)", 3.0), 3);
  EXPECT_DOUBLE_EQ(eval("abs(x)", -3.0), 3);
  EXPECT_DOUBLE_EQ(eval("relu(x)", -3.0), 0);
}

TEST(Expr, StableAtExtremes) {
  // softplus and logsigmoid are evaluated without overflow where the naive forms give inf or nan.
  EXPECT_NEAR(eval("softplus(x)", 1000.0), 1000.0, 1e-9);
  EXPECT_NEAR(eval("logsigmoid(x)", -1000.0), -1000.0, 1e-9);
  EXPECT_NEAR(eval("sigmoid(x)", -1000.0), 0.0, 1e-300);
  EXPECT_TRUE(std::isfinite(eval("sigmoid(x)", -1000.0)));
}

TEST(Expr, CanonicalPrintingIgnoresSpelling) {
  EXPECT_EQ(canon("  a+b*c "), "a + b * c");
  EXPECT_EQ(canon("((a)) + ((b * c))"), "a + b * c");
  EXPECT_EQ(canon("a - (b - c)"), "a - (b - c)");
  EXPECT_EQ(canon("(a - b) - c"), "a - b - c");
  EXPECT_EQ(canon("a / (b * c)"), "a / (b * c)");
  EXPECT_EQ(canon("0.50 * x"), "0.5 * x");
  EXPECT_EQ(canon("5e-1 * x"), "0.5 * x");
  EXPECT_EQ(canon("x ^ 2"), "pow(x, 2)");
  EXPECT_EQ(canon("-(a + b)"), "-(a + b)");
}

TEST(Expr, FoldingKeepsValues) {
  EXPECT_EQ(canon("1 * x + 0"), "x");
  EXPECT_EQ(canon("x / 1"), "x");
  EXPECT_EQ(canon("-(-x)"), "x");
  EXPECT_EQ(canon("0 - -x"), "x");  // printed as -(-x) before, which re-parsed to x: a different hash
  EXPECT_EQ(canon("0 - x"), "-x");
  EXPECT_EQ(canon("2 * 3 * x"), "6 * x");
  EXPECT_EQ(canon("-1 * x"), "-x");
  EXPECT_EQ(canon("log(1 - pow(2, -5))"), canon("log(0.96875)"));
  // a constant that is not finite stays symbolic so the validator can point at it
  EXPECT_EQ(canon("log(0)"), "log(0)");
}

TEST(Expr, PrintedFormParsesBackToTheSameValue) {
  for (const char* text : {"a - (b - c) * -d", "-exp(A) * softplus(a + dt)", "pow(x, -2) / (1 + x)", "-x ^ 2",
                           "1e-300 * x", "min(-x, 2 - -x)", "log(0 - -pow(2, -5 - x))"}) {
    std::string once = canon(text);
    EXPECT_EQ(canon(once), once) << text;
    for (double x : {0.3, -1.7}) EXPECT_DOUBLE_EQ(eval(once, x), eval(text, x)) << text;
  }
}

TEST(Expr, ErrorsPointAtTheProblem) {
  std::string msg;
  EXPECT_EQ(errorOffset("a + ", &msg), 4);
  EXPECT_NE(msg.find("end of expression"), std::string::npos);
  EXPECT_EQ(errorOffset("a + foo(b)", &msg), 4);
  EXPECT_NE(msg.find("unknown function 'foo'"), std::string::npos);
  EXPECT_EQ(errorOffset("(a + b", &msg), 6);
  EXPECT_EQ(errorOffset("a $ b", &msg), 2);
  EXPECT_EQ(errorOffset("exp(a, b)", &msg), 0);
  EXPECT_NE(msg.find("takes 1 argument"), std::string::npos);
  EXPECT_EQ(errorOffset("2x", &msg), 1);
  errorOffset("", &msg);
  EXPECT_NE(msg.find("empty"), std::string::npos);
  errorOffset("0x1p3");
  errorOffset("1e999");
}

TEST(Expr, DeepNestingIsAnErrorNotACrash) {
  std::string deep(50000, '(');
  std::string msg;
  errorOffset(deep + "x", &msg);
  EXPECT_NE(msg.find("too deeply"), std::string::npos);
  std::string minus(50000, '-');
  errorOffset(minus + "x", &msg);
}

TEST(Expr, ReferencedNamesInOrder) {
  ExprError err;
  auto e = parseExpr("a * b + exp(a) - head", err);
  ASSERT_TRUE(e);
  EXPECT_EQ(referencedNames(e), (std::vector<std::string>{"a", "b", "head"}));
}
