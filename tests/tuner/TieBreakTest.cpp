// The winner rule: fastest median, except that within the tolerance the simplest config wins, whatever
// the order the candidates come in; only timed (checked) candidates can win.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "linrec/runtime/LaunchDescriptor.h"
#include "linrec/tuner/Tuner.h"

namespace linrec::tuner {
namespace {

using codegen::Strategy;

CandidateResult timed(int chunk, int bv, int warps, Strategy st, double ms) {
  CandidateResult c;
  c.config.chunk = chunk;
  c.config.block_v = bv;
  c.config.warps = warps;
  c.config.strategy = st;
  c.status = CandidateStatus::Timed;
  c.timing.median_ms = ms;
  return c;
}

std::string winnerOf(const std::vector<CandidateResult>& cs, double tol = 0.03) {
  auto w = selectWinner(cs, tol);
  return w ? describeConfig(cs[*w].config) : "none";
}

TEST(TieBreak, FastestWinsOutsideTheTolerance) {
  std::vector<CandidateResult> cs = {timed(64, 64, 4, Strategy::Fused, 1.10),
                                     timed(128, 128, 8, Strategy::Fused, 1.00)};
  EXPECT_EQ(winnerOf(cs), "C=128 BV=128 W=8 fused");
}

TEST(TieBreak, WithinTheToleranceFusedBeatsStatePassing) {
  std::vector<CandidateResult> cs = {timed(64, 64, 4, Strategy::StatePassing, 1.00),
                                     timed(64, 64, 4, Strategy::Fused, 1.02)};
  EXPECT_EQ(winnerOf(cs), "C=64 BV=64 W=4 fused");
}

TEST(TieBreak, WithinTheToleranceSmallerChunkThenTileThenWarpsWin) {
  EXPECT_EQ(winnerOf({timed(128, 64, 4, Strategy::Fused, 1.00), timed(64, 128, 8, Strategy::Fused, 1.029)}),
            "C=64 BV=128 W=8 fused");
  EXPECT_EQ(winnerOf({timed(64, 128, 2, Strategy::Fused, 1.00), timed(64, 64, 8, Strategy::Fused, 1.01)}),
            "C=64 BV=64 W=8 fused");
  EXPECT_EQ(winnerOf({timed(64, 64, 8, Strategy::Fused, 1.00), timed(64, 64, 4, Strategy::Fused, 1.01)}),
            "C=64 BV=64 W=4 fused");
  // Just outside 3%: the fastest.
  EXPECT_EQ(winnerOf({timed(128, 64, 4, Strategy::Fused, 1.00), timed(64, 64, 4, Strategy::Fused, 1.031)}),
            "C=128 BV=64 W=4 fused");
}

TEST(TieBreak, TheOrderOfCandidatesDoesNotMatter) {
  std::vector<CandidateResult> cs = {
      timed(128, 128, 8, Strategy::Fused, 0.990), timed(64, 128, 8, Strategy::Fused, 1.000),
      timed(64, 64, 4, Strategy::Fused, 1.015),   timed(32, 64, 4, Strategy::StatePassing, 0.985),
      timed(32, 32, 2, Strategy::Fused, 1.400),   timed(16, 64, 4, Strategy::Fused, 1.010)};
  const std::string expected = winnerOf(cs);
  EXPECT_EQ(expected, "C=16 BV=64 W=4 fused");  // within 3% of 0.985, and the simplest of those
  std::mt19937 rng(7);
  for (int i = 0; i < 50; ++i) {
    std::shuffle(cs.begin(), cs.end(), rng);
    EXPECT_EQ(winnerOf(cs), expected);
  }
}

TEST(TieBreak, OnlyTimedCandidatesCanWin) {
  std::vector<CandidateResult> cs = {timed(64, 64, 4, Strategy::Fused, 1.0), timed(16, 16, 2, Strategy::Fused, 0.1)};
  cs[1].status = CandidateStatus::Wrong;  // fast because it is wrong
  EXPECT_EQ(winnerOf(cs), "C=64 BV=64 W=4 fused");
  cs[0].status = CandidateStatus::Skipped;
  EXPECT_EQ(winnerOf(cs), "none");
  EXPECT_EQ(winnerOf({}), "none");
}

TEST(TieBreak, CandidatesJsonRecordsEveryCandidate) {
  std::vector<CandidateResult> cs = {timed(64, 64, 4, Strategy::Fused, 1.0), timed(16, 16, 2, Strategy::Fused, 0.1)};
  cs[1].status = CandidateStatus::PtxasRejected;
  cs[1].reason = "spills";
  std::string j = candidatesJson(cs);
  EXPECT_NE(j.find("\"median_ms\":1.0"), std::string::npos) << j;
  EXPECT_NE(j.find("\"status\":\"ptxas\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"reason\":\"spills\""), std::string::npos) << j;
}

TEST(TieBreak, RecordsSayWhichLaunchModeTheyWereTimedUnder) {
  std::vector<CandidateResult> cs = {timed(64, 64, 4, Strategy::Fused, 1.0),
                                     timed(32, 64, 4, Strategy::StatePassing, 0.9)};
  cs[0].status = CandidateStatus::PtxasRejected;  // not timed: its entry has no launch mode
  cs[1].timing.launch = "0";
  const std::string j = candidatesJson(cs);
  EXPECT_EQ(j.find("\"launch\""), j.rfind("\"launch\"")) << "one timed entry, one launch mode: " << j;
  EXPECT_EQ(timedLaunch(j), "0");
  cs[1].timing.launch = "auto";
  EXPECT_EQ(timedLaunch(candidatesJson(cs)), "auto");
  // Records stored before timings carried the mode, and unreadable ones, say nothing.
  cs[1].timing.launch.clear();
  EXPECT_EQ(timedLaunch(candidatesJson(cs)), "");
  EXPECT_EQ(timedLaunch("[{\"status\":\"timed\",\"median_ms\":1.0}]"), "");
  EXPECT_EQ(timedLaunch("not json"), "");
  EXPECT_EQ(timedLaunch("{\"launch\":\"auto\"}"), "");
}

Candidate cand(int chunk, int bv, int warps, Strategy st, bool is_default = false) {
  Candidate c;
  c.config.chunk = chunk;
  c.config.block_v = bv;
  c.config.warps = warps;
  c.config.strategy = st;
  c.is_default = is_default;
  return c;
}

std::vector<std::string> orderOf(const std::vector<Candidate>& cs, const Shape& shape,
                                 codegen::Mode mode = codegen::Mode::Prefill) {
  std::vector<std::string> out;
  for (size_t i : timingOrder(cs, shape, mode, 132)) out.push_back(describeConfig(cs[i].config));
  return out;
}

Shape shapeOf(int B, int T) {
  Shape s;
  s.B = B;
  s.T = T;
  s.H = 16;
  return s;
}

// The order candidates are timed in: defaults, then the usual winners, fused first at equal distance ...
TEST(TimingOrder, DefaultsFirstThenClosestToTheUsualWinnersFusedFirst) {
  const std::vector<Candidate> cs = {cand(16, 16, 2, Strategy::Fused), cand(64, 64, 4, Strategy::StatePassing),
                                     cand(64, 64, 4, Strategy::Fused), cand(32, 64, 4, Strategy::Fused, true),
                                     cand(128, 32, 8, Strategy::Fused)};
  // 8 * 16 * 2 = 256 fused blocks for 132 SMs.
  EXPECT_EQ(timingOrder(cs, shapeOf(8, 4096), codegen::Mode::Prefill, 132), (std::vector<size_t>{3, 2, 1, 4, 0}));
}

// ... except where the fused blocks cannot cover the SMs once: every state-passing candidate goes first.
TEST(TimingOrder, StatePassingFirstWhenFusedBlocksCannotFillTheDevice) {
  const std::vector<Candidate> cs = {cand(64, 64, 4, Strategy::Fused, true),
                                     cand(64, 64, 4, Strategy::StatePassing, true), cand(64, 128, 8, Strategy::Fused),
                                     cand(128, 32, 8, Strategy::StatePassing)};
  auto strategies = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& d : v) s += d.substr(d.rfind(' ') + 1) + " ";
    return s;
  };
  EXPECT_EQ(strategies(orderOf(cs, shapeOf(1, 65536))), "sp fused sp fused ");  // 32 blocks: defaults, then sp
  EXPECT_EQ(strategies(orderOf(cs, shapeOf(2, 16384))), "sp fused sp fused ");  // 64 blocks
  EXPECT_EQ(strategies(orderOf(cs, shapeOf(8, 4096))), "fused sp fused sp ");   // 256 blocks: unchanged
  // Decode has no strategy to choose: the shape never reorders it.
  EXPECT_EQ(strategies(orderOf(cs, shapeOf(1, 65536), codegen::Mode::Decode)), "fused sp fused sp ");
}

// A fused candidate whose module splits sequences into segments (a segment_state stage) fills the device
// itself, so it keeps its place at long shapes; the one without keeps going last.
TEST(TimingOrder, SegmentedFusedIsNotStarved) {
  std::vector<Candidate> cs = {cand(64, 128, 8, Strategy::Fused), cand(64, 64, 4, Strategy::StatePassing),
                               cand(64, 64, 4, Strategy::Fused)};
  cs[2].kernel.descriptor_json = R"({"dtype":"bf16","K":128,"V":128,"KF":128,"chunk":64,"strategy":"fused",
    "workspace_bytes":"0","kernels":[
    {"name":"s","stage":"segment_state","grid":{"x":"N*H","y":"1","z":"1"},"block_threads":128,"smem_bytes":0},
    {"name":"f","stage":"fused","grid":{"x":"N*H","y":"1","z":"SMS"},"block_threads":128,"smem_bytes":0}]})";
  ASSERT_TRUE(LaunchDescriptor::fromJson(cs[2].kernel.descriptor_json)) << "the test's descriptor must parse";
  EXPECT_EQ(timingOrder(cs, shapeOf(1, 65536), codegen::Mode::Prefill, 132), (std::vector<size_t>{2, 1, 0}));
}

// For kda-like rules the phase-by-phase fused kernel (a module of one fused kernel) goes after state passing
// at every prefill shape; a fused module that starts with the WY stage (the register walk) does not.
TEST(TimingOrder, PhaseByPhaseFusedLastWhenAsked) {
  std::vector<Candidate> cs = {cand(64, 64, 4, Strategy::Fused), cand(32, 64, 4, Strategy::StatePassing),
                               cand(32, 64, 4, Strategy::Fused)};
  cs[0].kernel.descriptor_json = R"({"dtype":"bf16","K":128,"V":128,"KF":128,"chunk":64,"strategy":"fused",
    "workspace_bytes":"0","kernels":[
    {"name":"f","stage":"fused","grid":{"x":"N*H","y":"2","z":"1"},"block_threads":128,"smem_bytes":0}]})";
  cs[2].kernel.descriptor_json = R"({"dtype":"bf16","K":128,"V":128,"KF":128,"chunk":32,"strategy":"fused",
    "workspace_bytes":"0","kernels":[
    {"name":"w","stage":"chunk_local","grid":{"x":"N*H","y":"1","z":"1"},"block_threads":128,"smem_bytes":0},
    {"name":"f","stage":"fused","grid":{"x":"N*H","y":"2","z":"1"},"block_threads":128,"smem_bytes":0}]})";
  ASSERT_TRUE(LaunchDescriptor::fromJson(cs[0].kernel.descriptor_json));
  ASSERT_TRUE(LaunchDescriptor::fromJson(cs[2].kernel.descriptor_json));
  const Shape s = shapeOf(32, 1024);  // 1,024 fused blocks: never starved
  EXPECT_EQ(timingOrder(cs, s, codegen::Mode::Prefill, 132, false), (std::vector<size_t>{0, 2, 1}));
  EXPECT_EQ(timingOrder(cs, s, codegen::Mode::Prefill, 132, true), (std::vector<size_t>{2, 1, 0}));
  EXPECT_EQ(timingOrder(cs, s, codegen::Mode::Decode, 132, true), (std::vector<size_t>{0, 2, 1}));
}

}  // namespace
}  // namespace linrec::tuner
