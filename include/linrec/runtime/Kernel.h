// linrec::Kernel: a loaded generated module plus its launch descriptor; forward (prefill) and step (decode).
#pragma once

#include <cuda.h>

#include <memory>
#include <string>

#include "linrec/Expected.h"
#include "linrec/runtime/LaunchArgs.h"
#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/runtime/LaunchPlan.h"
#include "linrec/runtime/Validation.h"

namespace linrec {

class Module;
namespace detail {
class KernelImpl;
}

/// A handle to the kernels of one generated module. Cheap to copy (copies share the module and the
/// workspaces); safe to call from several threads at once.
class Kernel {
 public:
  /// Resolves every kernel the descriptor names, checks block size and shared memory against the
  /// device, and opts in to more than 48 KiB of dynamic shared memory where the descriptor asks for it.
  static Expected<Kernel> create(std::shared_ptr<Module> module, LaunchDescriptor descriptor);
  /// The same with the descriptor as JSON text (docs/kernel-abi.md, "Launch descriptor").
  static Expected<Kernel> create(std::shared_ptr<Module> module, const std::string& descriptor_json);

  const LaunchDescriptor& descriptor() const;

  /// Prefill: validates `args` (checkForward) and launches the forward kernels in order on `stream`.
  /// Asynchronous, except that cu_seqlens without `cu_seqlens_host` is read back first (one stream sync),
  /// and that the first call on a stream of a state-passing kernel may allocate its workspace.
  Status forward(const ForwardArgs& args, CUstream stream) const;

  /// Decode: validates `args` (checkStep) and launches the decode kernel. Never allocates and never
  /// synchronizes, so it can be captured in a CUDA graph.
  Status step(const StepArgs& args, CUstream stream) const;

  /// Workspace bytes a forward call with these args needs (0 for fused kernels).
  Expected<size_t> workspaceBytes(const ForwardArgs& args) const;

 private:
  explicit Kernel(std::shared_ptr<detail::KernelImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::KernelImpl> impl_;
};

/// The ProgrammaticLaunch (LaunchPlan.h) of the forwards that follow, process-wide. The default comes from
/// LINREC_PDL at the first launch: 0 (Off), auto or unset (Auto), 1 (Beside), lead (Lead); "flags" (timing
/// only) keeps the flags and fences of Beside but launches one kernel after another.
void setProgrammaticLaunch(ProgrammaticLaunch mode);
ProgrammaticLaunch programmaticLaunch();
/// The name of a mode as LINREC_PDL spells it.
const char* programmaticLaunchName(ProgrammaticLaunch mode);

}  // namespace linrec
