// linrec-translate: lowered linrec modules -> CUDA source or launch descriptor (mlir-translate style).
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

#include "linrec/codegen/Emit/EmitCuda.h"

int main(int argc, char** argv) {
  linrec::ir::registerLinrecTranslations();
  return mlir::failed(mlir::mlirTranslateMain(argc, argv, "linrec translation driver\n")) ? 1 : 0;
}
