// planLaunch: the policy that decides which state-passing kernels run side by side (no GPU needed).
#include "linrec/runtime/LaunchPlan.h"

#include <gtest/gtest.h>

namespace linrec {
namespace {

constexpr int kSms = 132;  // the H100's

/// prep, scan, output as a delta-rule state-passing descriptor has them: the scan `leads` (when it fits),
/// the output kernel programmatic.
struct Delta {
  PlanKernel k[3];
  Delta(int64_t prep_blocks, int64_t scan_blocks, bool scan_fits) {
    k[0].grid_blocks = prep_blocks;
    k[1].grid_blocks = scan_blocks;
    k[1].leads = scan_fits;
    k[2].programmatic = true;
    k[2].grid_blocks = 65536;
  }
  LaunchPlan plan(ProgrammaticLaunch m, bool flags_only = false) const { return planLaunch(m, flags_only, k, 3, kSms); }
};

TEST(LaunchPlan, OffLaunchesInOrderWithoutFlags) {
  const LaunchPlan p = Delta(16384, 64, true).plan(ProgrammaticLaunch::Off);
  EXPECT_EQ(p.beside, 0u);
  EXPECT_EQ(p.leads, 0u);
  EXPECT_FALSE(p.handover);
  EXPECT_FALSE(p.prep_beside);
}

TEST(LaunchPlan, AutoPutsTheOutputKernelBesideAScanThatLeavesHalfTheSmsFree) {
  // B = 1, T = 64k or kda at 16k: 64 scan blocks.
  const LaunchPlan p = Delta(16384, 64, true).plan(ProgrammaticLaunch::Auto);
  EXPECT_EQ(p.beside, 1u << 2);
  EXPECT_EQ(p.leads, 0u);  // the prep still goes first: lead is its own mode
  EXPECT_TRUE(p.handover);
  EXPECT_FALSE(p.prep_beside);
  EXPECT_TRUE(Delta(16384, kSms / 2, true).plan(ProgrammaticLaunch::Auto).besideAt(2));
}

TEST(LaunchPlan, AutoKeepsALargeScanInSequenceWithoutFlags) {
  for (int64_t blocks : {int64_t{kSms / 2 + 1}, int64_t{128}, int64_t{2048}}) {
    const LaunchPlan p = Delta(16384, blocks, false).plan(ProgrammaticLaunch::Auto);
    EXPECT_EQ(p.beside, 0u) << blocks;
    EXPECT_FALSE(p.handover) << blocks;
  }
  // A grid that could not be evaluated is not taken as small.
  EXPECT_FALSE(Delta(16384, 0, false).plan(ProgrammaticLaunch::Auto).handover);
}

TEST(LaunchPlan, BesideIgnoresTheScanGrid) {
  const LaunchPlan p = Delta(16384, 2048, false).plan(ProgrammaticLaunch::Beside);
  EXPECT_EQ(p.beside, 1u << 2);
  EXPECT_EQ(p.leads, 0u);
  EXPECT_TRUE(p.handover);
  EXPECT_FALSE(p.prep_beside);
}

TEST(LaunchPlan, LeadPutsAFittingScanFirstAndTellsThePrep) {
  const LaunchPlan p = Delta(16384, 64, true).plan(ProgrammaticLaunch::Lead);
  EXPECT_TRUE(p.leadsAt(1));
  EXPECT_TRUE(p.besideAt(2));
  EXPECT_TRUE(p.handover);
  EXPECT_TRUE(p.prep_beside);
  // A scan that does not fit at once: as Beside, and the prep need not flag anything.
  const LaunchPlan q = Delta(16384, 2048, false).plan(ProgrammaticLaunch::Lead);
  EXPECT_EQ(q.leads, 0u);
  EXPECT_TRUE(q.besideAt(2));
  EXPECT_FALSE(q.prep_beside);
}

TEST(LaunchPlan, FlagsOnlyKeepsTheHandOverButLaunchesInOrder) {
  const LaunchPlan p = Delta(16384, 2048, false).plan(ProgrammaticLaunch::Beside, /*flags_only=*/true);
  EXPECT_EQ(p.beside, 0u);
  EXPECT_EQ(p.leads, 0u);
  EXPECT_TRUE(p.handover);
  EXPECT_FALSE(p.prep_beside);  // in sequence the stream orders the prep before the scan
}

TEST(LaunchPlan, NothingBesideWhereTheDeviceCannotLaunchProgrammatically) {
  Delta d(16384, 64, true);
  d.k[2].programmatic = false;  // before sm_90, or a driver without cuLaunchKernelEx
  for (ProgrammaticLaunch m : {ProgrammaticLaunch::Auto, ProgrammaticLaunch::Beside, ProgrammaticLaunch::Lead}) {
    const LaunchPlan p = d.plan(m);
    EXPECT_EQ(p.beside, 0u);
    EXPECT_EQ(p.leads, 0u);  // a scan may not go first when nothing would run beside it
    EXPECT_FALSE(p.handover);
  }
}

TEST(LaunchPlan, FusedKernelsAndDecodeAreUntouched) {
  PlanKernel one[1];
  one[0].grid_blocks = 64;
  for (ProgrammaticLaunch m : {ProgrammaticLaunch::Auto, ProgrammaticLaunch::Beside, ProgrammaticLaunch::Lead}) {
    const LaunchPlan p = planLaunch(m, false, one, 1, kSms);
    EXPECT_FALSE(p.handover);
    EXPECT_EQ(p.beside | p.leads, 0u);
  }
}

}  // namespace
}  // namespace linrec
