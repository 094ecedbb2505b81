// linrec-opt: runs linrec passes on textual MLIR (the driver of the FileCheck tests in tests/codegen/).
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "linrec/codegen/Dialect/Passes.h"

int main(int argc, char** argv) {
  mlir::DialectRegistry registry;
  linrec::ir::registerLinrecDialects(registry);
  linrec::ir::registerLinrecPasses();
  // Generic cleanups, handy between linrec passes when writing tests by hand.
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "linrec pass driver\n", registry));
}
