// Spec -> `linrec.recurrence` (importSpec) and the `linrec-import-spec` pass that reads a TOML file.
#include "linrec/codegen/Import/ImportSpec.h"

#include <cfloat>
#include <cmath>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "linrec/codegen/Dialect/Passes.h"
#include "linrec/dsl/Parser.h"

namespace linrec::ir {

#define GEN_PASS_DEF_IMPORTSPEC
#include "linrec/codegen/Dialect/Passes.h.inc"

namespace {

using namespace mlir;

Location toLocation(MLIRContext* ctx, const dsl::SourceLoc& loc) {
  return FileLineColLoc::get(ctx, loc.file.empty() ? "<spec>" : loc.file, loc.line > 0 ? loc.line : 0,
                             loc.line > 0 && loc.col > 0 ? loc.col : 0);
}

/// The location `offset` characters into an expression string whose SourceLoc is its opening quote.
Location toLocation(MLIRContext* ctx, const dsl::SourceLoc& loc, int offset) {
  if (loc.line <= 0 || loc.col <= 0) return toLocation(ctx, loc);
  dsl::SourceLoc at = loc;
  at.col = loc.col + 1 + offset;
  return toLocation(ctx, at);
}

/// Builds one expression region from a DSL expression tree.
class ExprImporter {
 public:
  ExprImporter(RecurrenceOp rec, const dsl::Spec& spec, const dsl::SourceLoc& where, StringRef regionName)
      : rec_(rec), spec_(spec), where_(where), regionName_(regionName), b_(rec.getContext()) {}

  LogicalResult importInto(Region& region, const dsl::ExprPtr& expr) {
    Block* block = new Block();
    region.push_back(block);
    b_.setInsertionPointToEnd(block);
    FailureOr<Value> v = build(expr);
    if (failed(v)) return failure();
    b_.create<YieldOp>(toLocation(b_.getContext(), where_), ValueRange{*v});
    return success();
  }

 private:
  Location loc(const dsl::Expr& e) { return toLocation(b_.getContext(), where_, e.offset); }

  FailureOr<Value> build(const dsl::ExprPtr& e) {
    if (!e) return emitError(toLocation(b_.getContext(), where_)) << "empty expression in " << regionName_, failure();
    Location l = loc(*e);
    llvm::SmallVector<Value, 2> args;
    for (const dsl::ExprPtr& a : e->args) {
      FailureOr<Value> v = build(a);
      if (failed(v)) return failure();
      args.push_back(*v);
    }
    auto need = [&](size_t n) -> LogicalResult {
      if (args.size() == n) return success();
      return emitError(l) << "malformed expression in " << regionName_ << ": expected " << n << " operand(s), got "
                          << args.size();
    };
    using K = dsl::Expr::Kind;
    switch (e->kind) {
      case K::Const: {
        if (!std::isfinite(e->value) || std::fabs(e->value) > FLT_MAX)
          return emitError(l) << "constant " << e->value << " in " << regionName_
                              << " does not fit in f32 (the kernels evaluate expressions in f32)",
                 failure();
        return b_.create<arith::ConstantOp>(l, b_.getF32FloatAttr(static_cast<float>(e->value))).getResult();
      }
      case K::Ref:
        return ref(e->name, l);
      case K::Neg:
        if (failed(need(1))) return failure();
        return b_.create<arith::NegFOp>(l, args[0]).getResult();
      case K::Add:
        if (failed(need(2))) return failure();
        return b_.create<arith::AddFOp>(l, args[0], args[1]).getResult();
      case K::Sub:
        if (failed(need(2))) return failure();
        return b_.create<arith::SubFOp>(l, args[0], args[1]).getResult();
      case K::Mul:
        if (failed(need(2))) return failure();
        return b_.create<arith::MulFOp>(l, args[0], args[1]).getResult();
      case K::Div:
        if (failed(need(2))) return failure();
        return b_.create<arith::DivFOp>(l, args[0], args[1]).getResult();
      case K::Call:
        return call(e->fn, args, l);
    }
    return emitError(l) << "unknown expression node in " << regionName_, failure();
  }

  FailureOr<Value> ref(const std::string& name, Location l) {
    if (name == "q" || name == "k") {
      bool ok = (name == "q" && regionName_ == "q_pre") || (name == "k" && regionName_ == "k_pre");
      if (!ok)
        return emitError(l) << "'" << name << "' cannot be read in " << regionName_ << " (only the " << name
                            << " feature map's pre-expression reads " << name << ")",
               failure();
      return b_.create<QKElemOp>(l, b_.getF32Type(), name == "q" ? QK::Q : QK::K).getResult();
    }
    if (name == "head") return b_.create<HeadOp>(l, b_.getF32Type()).getResult();
    if (spec_.findInput(name)) return b_.create<InputOp>(l, b_.getF32Type(), name).getResult();
    if (spec_.findParam(name)) return b_.create<ParamOp>(l, b_.getF32Type(), name).getResult();
    return emitError(l) << "undefined name '" << name << "' in " << regionName_
                        << " (declare it under [inputs] or [params])",
           failure();
  }

  FailureOr<Value> call(dsl::Fn fn, ArrayRef<Value> args, Location l) {
    int arity = dsl::functionArity(fn);
    if (static_cast<int>(args.size()) != arity)
      return emitError(l) << dsl::functionName(fn) << " takes " << arity << " argument(s), got " << args.size(),
             failure();
    auto fnOp = [&](Fn f) { return b_.create<FnOp>(l, f, args[0]).getResult(); };
    switch (fn) {
      case dsl::Fn::Exp:
        return b_.create<math::ExpOp>(l, args[0]).getResult();
      case dsl::Fn::Log:
        return b_.create<math::LogOp>(l, args[0]).getResult();
      case dsl::Fn::Log1p:
        return b_.create<math::Log1pOp>(l, args[0]).getResult();
      case dsl::Fn::Sqrt:
        return b_.create<math::SqrtOp>(l, args[0]).getResult();
      case dsl::Fn::Rsqrt:
        return b_.create<math::RsqrtOp>(l, args[0]).getResult();
      case dsl::Fn::Tanh:
        return b_.create<math::TanhOp>(l, args[0]).getResult();
      case dsl::Fn::Abs:
        return b_.create<math::AbsFOp>(l, args[0]).getResult();
      case dsl::Fn::Pow:
        return b_.create<math::PowFOp>(l, args[0], args[1]).getResult();
      case dsl::Fn::Min:
        return b_.create<arith::MinNumFOp>(l, args[0], args[1]).getResult();
      case dsl::Fn::Max:
        return b_.create<arith::MaxNumFOp>(l, args[0], args[1]).getResult();
      case dsl::Fn::Sigmoid:
        return fnOp(Fn::Sigmoid);
      case dsl::Fn::LogSigmoid:
        return fnOp(Fn::LogSigmoid);
      case dsl::Fn::Softplus:
        return fnOp(Fn::Softplus);
      case dsl::Fn::Relu:
        return fnOp(Fn::Relu);
      case dsl::Fn::Elu:
        return fnOp(Fn::Elu);
      case dsl::Fn::Silu:
        return fnOp(Fn::Silu);
    }
    return emitError(l) << "unknown function in " << regionName_, failure();
  }

  RecurrenceOp rec_;
  const dsl::Spec& spec_;
  const dsl::SourceLoc& where_;
  std::string regionName_;
  OpBuilder b_;
};

FeatureMapKind toIr(dsl::FeatureMap::Kind k) {
  switch (k) {
    case dsl::FeatureMap::Kind::Identity:
      return FeatureMapKind::Identity;
    case dsl::FeatureMap::Kind::L2Norm:
      return FeatureMapKind::L2Norm;
    case dsl::FeatureMap::Kind::Taylor2:
      return FeatureMapKind::Taylor2;
    case dsl::FeatureMap::Kind::Hedgehog:
      return FeatureMapKind::Hedgehog;
  }
  return FeatureMapKind::Identity;
}

DecayKind toIr(dsl::DecayKind k) {
  switch (k) {
    case dsl::DecayKind::None:
      return DecayKind::None;
    case dsl::DecayKind::Constant:
      return DecayKind::Constant;
    case dsl::DecayKind::Scalar:
      return DecayKind::Scalar;
    case dsl::DecayKind::Vector:
      return DecayKind::Vector;
  }
  return DecayKind::None;
}

/// The identity pre-map `x`, used when a feature map has no `pre` expression.
dsl::ExprPtr identityPre(const char* name) {
  return dsl::makeRef(name);
}

class ImportSpecPass : public impl::ImportSpecBase<ImportSpecPass> {
 public:
  using ImportSpecBase::ImportSpecBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (specPath.empty()) {
      emitError(module.getLoc()) << "linrec-import-spec needs a file: --linrec-import-spec=\"spec=<variant.toml>\"";
      return signalPassFailure();
    }
    dsl::ParseResult parsed = dsl::parseSpecFile(specPath);
    if (!parsed.ok()) {
      for (const dsl::Diagnostic& d : parsed.errors) {
        InFlightDiagnostic diag = emitError(toLocation(&getContext(), d.loc)) << d.message;
        if (!d.hint.empty()) diag.attachNote() << d.hint;
      }
      return signalPassFailure();
    }
    if (failed(importSpec(*parsed.spec, module))) signalPassFailure();
  }
};

}  // namespace

FailureOr<RecurrenceOp> importSpec(const dsl::Spec& spec, ModuleOp module) {
  MLIRContext* ctx = module.getContext();
  ctx->loadDialect<LinrecDialect, arith::ArithDialect, math::MathDialect>();
  OpBuilder b(ctx);
  b.setInsertionPointToEnd(module.getBody());

  llvm::SmallVector<Attribute> inputs, params;
  for (const dsl::InputDecl& in : spec.inputs)
    inputs.push_back(InputDeclAttr::get(
        ctx, in.name, in.kind == dsl::InputDecl::Kind::Scalar ? InputKind::Scalar : InputKind::Vector));
  for (const dsl::ParamDecl& p : spec.params)
    params.push_back(
        ParamDeclAttr::get(ctx, p.name, p.kind == dsl::ParamDecl::Kind::Head ? ParamKind::Head : ParamKind::HeadKey));

  Location loc = toLocation(ctx, spec.q_map.loc.line > 0 ? spec.q_map.loc : spec.decay_loc);
  std::string name = spec.name.empty() ? "variant" : spec.name;
  auto rec = b.create<RecurrenceOp>(
      loc, b.getStringAttr(name), b.getStringAttr(spec.hash()), b.getArrayAttr(inputs), b.getArrayAttr(params),
      FeatureMapKindAttr::get(ctx, toIr(spec.q_map.kind)), FeatureMapKindAttr::get(ctx, toIr(spec.k_map.kind)),
      DecayKindAttr::get(ctx, toIr(spec.decay)),
      UpdateRuleAttr::get(ctx, spec.rule == dsl::UpdateRule::Delta ? UpdateRule::Delta : UpdateRule::Additive),
      spec.scale ? b.getF64FloatAttr(*spec.scale) : FloatAttr(), spec.normalize ? b.getUnitAttr() : UnitAttr(),
      b.getF64FloatAttr(spec.norm_eps));

  auto fail = [&]() -> FailureOr<RecurrenceOp> {
    rec.erase();
    return failure();
  };
  dsl::ExprPtr qPre = spec.q_map.pre ? spec.q_map.pre : identityPre("q");
  dsl::ExprPtr kPre = spec.k_map.pre ? spec.k_map.pre : identityPre("k");
  if (failed(ExprImporter(rec, spec, spec.q_map.loc, "q_pre").importInto(rec.getQPre(), qPre))) return fail();
  if (failed(ExprImporter(rec, spec, spec.k_map.loc, "k_pre").importInto(rec.getKPre(), kPre))) return fail();
  if (spec.decay != dsl::DecayKind::None) {
    if (!spec.decay_log) {
      emitError(toLocation(ctx, spec.decay_loc))
          << "decay kind is " << dsl::decayKindName(spec.decay) << " but the spec has no decay expression";
      return fail();
    }
    if (failed(ExprImporter(rec, spec, spec.decay_loc, "decay").importInto(rec.getDecay(), spec.decay_log)))
      return fail();
  }
  if (spec.beta && !dsl::isConst(spec.beta, 1.0) &&
      failed(ExprImporter(rec, spec, spec.beta_loc, "beta").importInto(rec.getBeta(), spec.beta)))
    return fail();
  if (failed(mlir::verify(rec))) return fail();
  return rec;
}

}  // namespace linrec::ir
