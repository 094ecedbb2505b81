// Lowered module -> CUDA source (translateToCpp) and launch descriptor (JSON); the linrec-translate hooks.
#include "linrec/codegen/Emit/EmitCuda.h"

#include "llvm/Support/JSON.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "linrec/codegen/Dialect/Passes.h"

namespace linrec::ir {

using namespace mlir;

namespace {

constexpr const char* kDescriptorAttr = "linrec.launch_descriptor";

FailureOr<llvm::json::Value> toJson(Attribute a, Location loc) {
  if (auto b = llvm::dyn_cast<BoolAttr>(a)) return llvm::json::Value(b.getValue());
  if (auto i = llvm::dyn_cast<IntegerAttr>(a)) return llvm::json::Value(i.getInt());
  if (auto f = llvm::dyn_cast<FloatAttr>(a)) return llvm::json::Value(f.getValueAsDouble());
  if (auto s = llvm::dyn_cast<StringAttr>(a)) return llvm::json::Value(s.getValue().str());
  if (auto arr = llvm::dyn_cast<ArrayAttr>(a)) {
    llvm::json::Array out;
    for (Attribute e : arr) {
      FailureOr<llvm::json::Value> v = toJson(e, loc);
      if (failed(v)) return failure();
      out.push_back(std::move(*v));
    }
    return llvm::json::Value(std::move(out));
  }
  if (auto dict = llvm::dyn_cast<DictionaryAttr>(a)) {
    llvm::json::Object out;
    for (NamedAttribute n : dict) {
      FailureOr<llvm::json::Value> v = toJson(n.getValue(), loc);
      if (failed(v)) return failure();
      out[n.getName().getValue()] = std::move(*v);
    }
    return llvm::json::Value(std::move(out));
  }
  return emitError(loc) << "launch descriptor: cannot express " << a << " in JSON", failure();
}

}  // namespace

LogicalResult translateToCuda(ModuleOp module, llvm::raw_ostream& os) {
  if (!module->hasAttr(kDescriptorAttr))
    return emitError(module.getLoc()) << "cannot translate a module that linrec-lower-to-emitc has not lowered (it "
                                         "has no "
                                      << kDescriptorAttr << ")";
  for (Operation& op : module.getOps())
    if (!isa<emitc::EmitCDialect>(op.getDialect()))
      return op.emitError() << "cannot translate '" << op.getName()
                            << "' to CUDA: run the pipeline through linrec-lower-to-emitc first";
  return emitc::translateToCpp(module, os, /*declareVariablesAtTop=*/false);
}

FailureOr<std::string> launchDescriptorJson(ModuleOp module) {
  auto d = module->getAttrOfType<DictionaryAttr>(kDescriptorAttr);
  if (!d)
    return emitError(module.getLoc()) << "module has no " << kDescriptorAttr << " (run linrec-lower-to-emitc)",
           failure();
  FailureOr<llvm::json::Value> v = toJson(d, module.getLoc());
  if (failed(v)) return failure();
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", *v) << "\n";
  return text;
}

std::vector<std::string> kernelNames(ModuleOp module) {
  std::vector<std::string> names;
  auto d = module->getAttrOfType<DictionaryAttr>(kDescriptorAttr);
  if (!d) return names;
  auto kernels = d.getAs<ArrayAttr>("kernels");
  if (!kernels) return names;
  for (Attribute k : kernels)
    if (auto dict = llvm::dyn_cast<DictionaryAttr>(k))
      if (auto n = dict.getAs<StringAttr>("name")) names.push_back(n.getValue().str());
  return names;
}

void registerLinrecTranslations() {
  static bool once = [] {
    TranslateFromMLIRRegistration cuda(
        "linrec-to-cuda", "lowered linrec module -> CUDA C++ source (emitc::translateToCpp)",
        [](Operation* op, llvm::raw_ostream& os) {
          auto m = llvm::dyn_cast<ModuleOp>(op);
          if (!m) return op->emitError() << "expected a builtin.module", failure();
          return translateToCuda(m, os);
        },
        [](DialectRegistry& registry) { registerLinrecDialects(registry); });
    TranslateFromMLIRRegistration desc(
        "linrec-to-launch-descriptor", "lowered linrec module -> launch descriptor JSON",
        [](Operation* op, llvm::raw_ostream& os) -> LogicalResult {
          auto m = llvm::dyn_cast<ModuleOp>(op);
          if (!m) return op->emitError() << "expected a builtin.module";
          FailureOr<std::string> json = launchDescriptorJson(m);
          if (failed(json)) return failure();
          os << *json;
          return success();
        },
        [](DialectRegistry& registry) { registerLinrecDialects(registry); });
    return true;
  }();
  (void)once;
}

}  // namespace linrec::ir
