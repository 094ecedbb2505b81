// Lowered module -> CUDA C++ text (mlir::emitc::translateToCpp) and launch-descriptor JSON.
#pragma once

#include <string>
#include <vector>

#include "llvm/Support/raw_ostream.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

namespace linrec::ir {

/// Writes the CUDA translation unit of a module lowered by linrec-lower-to-emitc. Fails with a diagnostic
/// when the module still holds non-EmitC ops (a pass was skipped) or translateToCpp refuses it.
mlir::LogicalResult translateToCuda(mlir::ModuleOp module, llvm::raw_ostream& os);

/// The module's launch descriptor (the `linrec.launch_descriptor` attribute) as JSON text with sorted
/// keys and 2-space indentation.
mlir::FailureOr<std::string> launchDescriptorJson(mlir::ModuleOp module);

/// The extern "C" kernel names the descriptor lists, in launch order.
std::vector<std::string> kernelNames(mlir::ModuleOp module);

/// Registers the linrec-translate translations: --linrec-to-cuda and --linrec-to-launch-descriptor.
void registerLinrecTranslations();

}  // namespace linrec::ir
