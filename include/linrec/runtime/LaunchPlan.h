// linrec::planLaunch: which kernels of one forward start beside the kernel before them (programmatic stream
// serialization, sm_90) and which go first, from the process's ProgrammaticLaunch mode. A pure function, so
// the policy is tested without a GPU; Kernel::forward gathers the facts and follows the plan.
#pragma once

#include <cstddef>
#include <cstdint>

namespace linrec {

/// How kernels that a launch descriptor marks `programmatic` (the delta rules' state-passing output kernel,
/// which waits for the scan chunk by chunk through flags in the workspace) are launched on sm_90 devices.
/// Every mode gives the same results; they differ in speed (docs/performance.md, "Prep, scan and output side
/// by side").
enum class ProgrammaticLaunch {
  Off,     ///< one kernel after another
  Auto,    ///< beside the scan where the scan's grid leaves at least half the SMs free (the default)
  Beside,  ///< beside the scan whatever its grid
  Lead,    ///< beside, and the scan ahead of its prep (which runs beside it) where the scan's grid fits the
           ///< device at once. Not under MPS with an active-thread limit: the scan needs all its blocks running.
};

/// What one kernel of a forward brings to the plan.
struct PlanKernel {
  bool programmatic = false;  ///< marked `programmatic`, and this device can launch it so
  bool leads = false;         ///< marked `leads`, and its whole grid fits half the device at once
  int64_t grid_blocks = 0;    ///< blocks of its grid for this shape (0: unknown)
};

/// The plan for one forward.
struct LaunchPlan {
  uint32_t beside = 0;       ///< bit i: kernel i starts programmatically beside the one before it in the stream
  uint32_t leads = 0;        ///< bit i: kernel i goes before kernel i - 1, which then starts beside it
  bool handover = false;     ///< the kernels use the workspace's chunk flags (FwdParams::epoch nonzero)
  bool prep_beside = false;  ///< FwdParams::epoch bit 0: the prep runs beside the scan and flags its chunks
  bool besideAt(size_t i) const { return i < 32 && (beside >> i & 1u) != 0; }
  bool leadsAt(size_t i) const { return i < 32 && (leads >> i & 1u) != 0; }
};

/// `flags_only` (LINREC_PDL=flags, a timing mode): the hand-over of `mode` without launching anything beside.
/// Kernels past the 32nd are launched in order (no descriptor has so many).
LaunchPlan planLaunch(ProgrammaticLaunch mode, bool flags_only, const PlanKernel* kernels, size_t n, int sm_count);

}  // namespace linrec
