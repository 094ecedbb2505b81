// Long-sequence run at production sizes (T = 4096, B·H = 8, K = V = 128): both references finish and agree.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "ReferenceTestUtil.h"

namespace linrec::reference::testing {
namespace {

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void runLong(const char* family_name, int K = 128) {
  const Family* fam = nullptr;
  for (const auto& f : families()) {
    if (std::string(f.name) == family_name) fam = &f;
  }
  ASSERT_NE(fam, nullptr);
  auto spec = parse(fam->toml, fam->name);
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 2, p.T = 4096, p.H = 4, p.K = K, p.V = 128;
  const Inputs in = randomInputs(*spec, p, 2024, true);

  auto t0 = std::chrono::steady_clock::now();
  const Outputs rec = unwrap(runRecurrent(*spec, p, in), "runRecurrent");
  const double tRec = secondsSince(t0);
  t0 = std::chrono::steady_clock::now();
  const Outputs chk = unwrap(runChunkwise(*spec, p, in, 64), "runChunkwise");
  const double tChk = secondsSince(t0);
  std::printf("[ timing   ] %s T=4096 B*H=8 K=%d V=128: recurrent %.2f s, chunkwise(C=64) %.2f s\n", family_name, K,
              tRec, tChk);
  expectClose(chk, rec, 1e-10);
}

TEST(LongSequence, GatedDeltaRule) {
  runLong("gated_delta_rule");
}
TEST(LongSequence, SimpleGla) {
  runLong("simple_gla");
}
TEST(LongSequence, Kda) {
  runLong("kda");
}
// based at its native K = 16 (K' = 273): the widest state of any family.
TEST(LongSequence, Based) {
  runLong("based", 16);
}

}  // namespace
}  // namespace linrec::reference::testing
