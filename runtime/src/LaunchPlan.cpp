#include "linrec/runtime/LaunchPlan.h"

namespace linrec {

LaunchPlan planLaunch(ProgrammaticLaunch mode, bool flags_only, const PlanKernel* kernels, size_t n, int sm_count) {
  LaunchPlan plan;
  if (mode == ProgrammaticLaunch::Off) return plan;
  const size_t m = n < 32 ? n : 32;
  for (size_t i = 1; i < m; ++i) {
    if (!kernels[i].programmatic) continue;
    // Auto: the blocks of a kernel beside another take room on its SMs, and the overlap pays only on SMs
    // it leaves free (H100: 8-17 % with a 64-block scan on 132 SMs, 3-6 % slower with 128 blocks).
    const int64_t before = kernels[i - 1].grid_blocks;
    if (mode != ProgrammaticLaunch::Auto || (before > 0 && 2 * before <= sm_count)) plan.beside |= 1u << i;
  }
  if (plan.beside != 0 && mode == ProgrammaticLaunch::Lead)
    for (size_t i = 1; i < m; ++i)
      if (kernels[i].leads) plan.leads |= 1u << i;
  plan.handover = plan.beside != 0;
  if (flags_only) {
    plan.beside = plan.leads = 0;  // the scan's flags and the output kernel's waits, in sequence
    return plan;
  }
  plan.prep_beside = plan.leads != 0;
  return plan;
}

}  // namespace linrec
