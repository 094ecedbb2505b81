// The winner rule: fastest median, except that within the tolerance the simplest config wins, whatever
// the order the candidates come in; only timed (checked) candidates can win.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

}  // namespace
}  // namespace linrec::tuner
