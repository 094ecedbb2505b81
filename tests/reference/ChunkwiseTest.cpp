// Chunkwise vs recurrent float64 references for every family, chunk size and awkward shape (DESIGN.md §3, §6).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "ReferenceTestUtil.h"

namespace linrec::reference::testing {
namespace {

/// Float64 algebra on O(1) inputs: anything beyond rounding means the chunkwise derivation is wrong.
constexpr double kTol = 1e-10;

struct Shape {
  std::string label;
  int B, T, H;
  std::vector<int64_t> cu_seqlens;
  std::vector<int> chunks;
};

std::vector<Shape> shapes() {
  return {
      {"T1", 2, 1, 2, {}, {1, 16, 64}},
      {"T37", 2, 37, 2, {}, {1, 7, 16, 64}},
      {"T4x7+3", 1, 4 * 7 + 3, 2, {}, {7}},
      {"T4x16+3", 1, 4 * 16 + 3, 2, {}, {16, 7}},
      {"T4x64+3", 1, 4 * 64 + 3, 2, {}, {64, 16}},
      // Ragged lengths including an empty and a single-token sequence, each crossing chunk edges differently.
      {"varlen", 1, 120, 2, {0, 0, 1, 20, 53, 120}, {1, 7, 16, 64}},
  };
}

class ChunkwiseMatchesRecurrent : public ::testing::TestWithParam<Family> {};

TEST_P(ChunkwiseMatchesRecurrent, AllShapesAndChunkSizes) {
  const Family& fam = GetParam();
  auto spec = parse(fam.toml, fam.name);
  ASSERT_TRUE(spec);
  uint64_t seed = 1;
  for (const Shape& s : shapes()) {
    for (bool init : {false, true}) {
      Problem p;
      p.B = s.B, p.T = s.T, p.H = s.H, p.K = fam.K, p.V = fam.V, p.cu_seqlens = s.cu_seqlens;
      const Inputs in = randomInputs(*spec, p, seed++, init);
      const Outputs rec = unwrap(runRecurrent(*spec, p, in), "runRecurrent");
      for (int c : s.chunks) {
        SCOPED_TRACE(s.label + (init ? " with initial state" : "") + ", chunk " + std::to_string(c));
        const Outputs chk = unwrap(runChunkwise(*spec, p, in, c), "runChunkwise");
        expectClose(chk, rec, kTol);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ChunkwiseMatchesRecurrent, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<Family>& i) { return std::string(i.param.name); });

/// Slices token rows [t0, t0+len) of a [1,T,H,X] tensor.
std::vector<double> sliceTokens(const std::vector<double>& x, int64_t t0, int64_t len, int64_t rowWidth) {
  return {x.begin() + t0 * rowWidth, x.begin() + (t0 + len) * rowWidth};
}

class VarlenMatchesSeparateRuns : public ::testing::TestWithParam<Family> {};

// Varlen must mean "independent sequences": running each one alone gives the same outputs and final states.
TEST_P(VarlenMatchesSeparateRuns, RecurrentAndChunkwise) {
  const Family& fam = GetParam();
  auto spec = parse(fam.toml, fam.name);
  ASSERT_TRUE(spec);
  Problem p;
  p.B = 1, p.T = 45, p.H = 3, p.K = fam.K, p.V = fam.V, p.cu_seqlens = {0, 17, 17, 18, 45};
  const Inputs in = randomInputs(*spec, p, 77, true);
  const int64_t H = p.H, K = p.K, V = p.V, kf = spec->featureWidth(p.K);

  for (int chunk : {0, 16}) {  // 0: recurrent
    SCOPED_TRACE(chunk ? "chunkwise" : "recurrent");
    auto run = [&](const Problem& pp, const Inputs& ii) {
      return chunk ? unwrap(runChunkwise(*spec, pp, ii, chunk), "runChunkwise")
                   : unwrap(runRecurrent(*spec, pp, ii), "runRecurrent");
    };
    const Outputs all = run(p, in);
    for (int n = 0; n + 1 < static_cast<int>(p.cu_seqlens.size()); ++n) {
      const int64_t t0 = p.cu_seqlens[n], len = p.cu_seqlens[n + 1] - t0;
      SCOPED_TRACE("sequence " + std::to_string(n) + " of length " + std::to_string(len));
      Problem one = p;
      one.T = static_cast<int>(len);
      one.cu_seqlens.clear();
      Inputs sub;
      sub.q = sliceTokens(in.q, t0, len, H * K);
      sub.k = sliceTokens(in.k, t0, len, H * K);
      sub.v = sliceTokens(in.v, t0, len, H * V);
      for (const auto& d : spec->inputs) {
        sub.inputs[d.name] =
            sliceTokens(in.inputs.at(d.name), t0, len, d.kind == dsl::InputDecl::Kind::Vector ? H * K : H);
      }
      sub.params = in.params;
      sub.initial_state = sliceTokens(in.initial_state, n, 1, H * kf * V);
      if (spec->normalize) sub.initial_z = sliceTokens(in.initial_z, n, 1, H * kf);
      const Outputs sep = run(one, sub);
      EXPECT_EQ(sliceTokens(all.o, t0, len, H * V), sep.o);
      EXPECT_EQ(sliceTokens(all.final_state, n, 1, H * kf * V), sep.final_state);
      if (spec->normalize) {
        EXPECT_EQ(sliceTokens(all.final_z, n, 1, H * kf), sep.final_z);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, VarlenMatchesSeparateRuns, ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<Family>& i) { return std::string(i.param.name); });

// B equal-length sequences in [B,T,...] layout and the same data as one varlen batch are the same problem.
TEST(BatchLayout, EqualsVarlenOfEqualLengths) {
  for (const Family& fam : families()) {
    SCOPED_TRACE(fam.name);
    auto spec = parse(fam.toml, fam.name);
    ASSERT_TRUE(spec);
    Problem batched;
    batched.B = 3, batched.T = 11, batched.H = 2, batched.K = fam.K, batched.V = fam.V;
    const Inputs in = randomInputs(*spec, batched, 5, true);
    Problem flat = batched;
    flat.B = 1, flat.T = 33, flat.cu_seqlens = {0, 11, 22, 33};
    for (int chunk : {0, 4}) {
      auto run = [&](const Problem& pp) {
        return chunk ? unwrap(runChunkwise(*spec, pp, in, chunk), "runChunkwise")
                     : unwrap(runRecurrent(*spec, pp, in), "runRecurrent");
      };
      const Outputs a = run(batched), b = run(flat);
      EXPECT_EQ(a.o, b.o);
      EXPECT_EQ(a.final_state, b.final_state);
      EXPECT_EQ(a.final_z, b.final_z);
    }
  }
}

// The project's own variant files, whatever they are: each must parse and its two references agree.
TEST(VariantFiles, ChunkwiseMatchesRecurrent) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(LINREC_SOURCE_DIR) / "variants";
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".toml") files.push_back(e.path());
  }
  if (files.empty()) GTEST_SKIP() << "no variants/*.toml yet";
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    dsl::ParseResult r = dsl::parseSpecFile(f.string());
    ASSERT_TRUE(r.ok()) << r.errorText();
    const dsl::Spec& spec = *r.spec;
    Problem p;
    // Width-changing maps blow K up (taylor2: K^2), so keep K small there.
    p.B = 1, p.T = 50, p.H = 2, p.K = spec.q_map.kind == dsl::FeatureMap::Kind::Taylor2 ? 16 : 8, p.V = 6;
    p.cu_seqlens = {0, 1, 19, 50};
    const Inputs in = randomInputs(spec, p, 11, true);
    const Outputs rec = unwrap(runRecurrent(spec, p, in), "runRecurrent");
    for (int c : {1, 7, 16, 64}) {
      SCOPED_TRACE("chunk " + std::to_string(c));
      expectClose(unwrap(runChunkwise(spec, p, in, c), "runChunkwise"), rec, kTol);
    }
  }
}

}  // namespace
}  // namespace linrec::reference::testing
