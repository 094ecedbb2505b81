// Launch descriptors: JSON parsing, round trips, every kind of malformed input, and grid formulas.
#include "linrec/runtime/LaunchDescriptor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace linrec {
namespace {

const char* kFused = R"J({
  "version": 1,
  "name": "gated_delta_rule",
  "spec_hash": "abc123",
  "dtype": "bf16",
  "K": 128, "V": 128, "KF": 128,
  "chunk": 64,
  "normalize": false,
  "inputs": [{"name": "a", "kind": "scalar"}, {"name": "b", "kind": "scalar"}],
  "params": [{"name": "A_log", "kind": "head"}, {"name": "dt_bias", "kind": "head"}],
  "strategy": "fused",
  "arch_specific": false,
  "constants": {"BV": 64, "BK": 128},
  "kernels": [
    {"name": "linrec_fwd_abc123_c64", "stage": "fused", "grid": {"x": "N*H", "y": "ceil(V/BV)"},
     "block_threads": 128, "smem_bytes": 98304},
    {"name": "linrec_decode_abc123", "stage": "decode", "grid": ["B*H", "cdiv(V, BV)"], "block_threads": 128}
  ]
})J";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

void expectError(const std::string& json, const std::string& needle) {
  auto d = LaunchDescriptor::fromJson(json);
  ASSERT_FALSE(d.ok()) << "accepted: " << json;
  EXPECT_NE(d.error().find(needle), std::string::npos) << d.error();
}

TEST(LaunchDescriptor, ParsesEveryKey) {
  auto d = LaunchDescriptor::fromJson(kFused);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->name, "gated_delta_rule");
  EXPECT_EQ(d->dtype, DType::BF16);
  EXPECT_EQ(d->K, 128);
  EXPECT_EQ(d->KF, 128);
  EXPECT_EQ(d->chunk, 64);
  ASSERT_EQ(d->inputs.size(), 2u);
  EXPECT_EQ(d->inputs[1].name, "b");
  ASSERT_EQ(d->params.size(), 2u);
  EXPECT_EQ(d->params[0].kind, ParamSlot::Kind::Head);
  EXPECT_EQ(*d->strategy, Strategy::Fused);
  ASSERT_EQ(d->kernels.size(), 2u);
  EXPECT_EQ(d->kernels[0].smem_bytes, 98304);
  EXPECT_EQ(d->kernels[0].grid[2].text(), "1");
  EXPECT_TRUE(d->hasForward());
  ASSERT_NE(d->decodeKernel(), nullptr);
  EXPECT_EQ(d->decodeKernel()->name, "linrec_decode_abc123");
  EXPECT_DOUBLE_EQ(d->defaultScale(), 1.0 / std::sqrt(128.0));
  auto gx = d->kernels[0].grid[1].evaluate({{"V", 128}, {"BV", 64}});
  ASSERT_TRUE(gx.ok());
  EXPECT_EQ(*gx, 2);
}

TEST(LaunchDescriptor, RoundTripsThroughJson) {
  auto d = LaunchDescriptor::fromJson(kFused);
  ASSERT_TRUE(d.ok()) << d.error();
  std::string text = d->toJson();
  auto e = LaunchDescriptor::fromJson(text);
  ASSERT_TRUE(e.ok()) << e.error() << "\n" << text;
  EXPECT_EQ(e->toJson(), text);
}

TEST(LaunchDescriptor, DefaultsKFToKAndScaleToInvSqrtK) {
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "fp32", "K": 64, "V": 32,
    "kernels": [{"name": "d", "stage": "decode", "grid": {"x": "B*H"}, "block_threads": 32}]})J");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->KF, 64);
  EXPECT_DOUBLE_EQ(d->defaultScale(), 0.125);
  EXPECT_FALSE(d->hasForward());
}

TEST(LaunchDescriptor, RejectsMalformedInput) {
  expectError("{", "not valid JSON");
  expectError("[]", "expected a JSON object");
  expectError(replace(kFused, "\"normalize\"", "\"normalise\""), "normalise: unknown key");
  expectError(replace(kFused, "\"dtype\": \"bf16\",", ""), "dtype: missing");
  expectError(replace(kFused, "\"bf16\"", "\"int64\""), "dtype: expected bf16, fp16 or fp32");
  expectError(replace(kFused, "\"K\": 128,", "\"K\": \"128\","), "K: expected an integer");
  expectError(replace(kFused, "\"version\": 1", "\"version\": 2"), "version: this runtime reads version 1");
  expectError(replace(kFused, "\"stage\": \"fused\"", "\"stage\": \"fuzed\""),
              "kernels[0].stage: unknown stage \"fuzed\"");
  expectError(replace(kFused, "\"N*H\"", "\"N*H*Q\""), "unknown variable 'Q'");
  expectError(replace(kFused, "\"N*H\"", "\"N*(H\""), "kernels[0].grid.x");
  expectError(replace(kFused, "[\"B*H\", \"cdiv(V, BV)\"]", "[\"T*H\"]"), "unknown variable 'T'");  // no T in decode
  expectError(replace(kFused, "\"block_threads\": 128, \"smem", "\"block_threads\": 2048, \"smem"),
              "block_threads: must be in [1, 1024]");
  expectError(replace(kFused, "\"strategy\": \"fused\"", "\"strategy\": \"state_passing\""),
              "strategy: \"state_passing\" but the kernels are a fused kernel");
  expectError(replace(kFused, "\"chunk\": 64,", ""), "chunk: required");
  expectError(replace(kFused, "\"kind\": \"scalar\"}, {\"name\": \"b\"", "\"kind\": \"matrix\"}, {\"name\": \"b\""),
              "inputs[0].kind");
  expectError(replace(kFused, "{\"name\": \"b\"", "{\"name\": \"a\""), "repeated name \"a\"");
  expectError(replace(kFused, "\"head\"}, {\"name\": \"dt_bias\"", "\"head\"}, {\"name\": \"a\""),
              "repeated name \"a\"");
  expectError(replace(kFused, "{\"BV\": 64", "{\"H\": 2, \"BV\": 64"), "constants.H: shadows a launch variable");
  expectError(replace(kFused, "\"stage\": \"decode\"", "\"stage\": \"fused\""), "more than one fused kernel");
  expectError(replace(kFused, "\"kernels\": [", "\"kernels\": [], \"x\": ["), "kernels: expected a non-empty array");
  expectError(replace(kFused, "\"grid\": {\"x\": \"N*H\", \"y\": \"ceil(V/BV)\"}", "\"grid\": {\"y\": \"1\"}"),
              "grid.x: missing");
  expectError(replace(kFused, "\"y\": \"ceil(V/BV)\"}", "\"y\": \"ceil(V/BV)\", \"w\": 1}"), "grid.w: unknown key");
}

TEST(LaunchDescriptor, LimitsInputsAndParamsToTheAbiArrays) {
  std::string many = "\"inputs\": [";
  for (int i = 0; i < 9; ++i)
    many += std::string(i ? "," : "") + "{\"name\": \"i" + std::to_string(i) + "\", \"kind\": \"scalar\"}";
  many += "],";
  std::string json = replace(
      kFused, "\"inputs\": [{\"name\": \"a\", \"kind\": \"scalar\"}, {\"name\": \"b\", \"kind\": \"scalar\"}],", many);
  expectError(json, "at most 8 inputs, got 9");
}

TEST(LaunchDescriptor, StatePassingStagesNeedNoFusedKernel) {
  auto d = LaunchDescriptor::fromJson(R"J({"dtype": "fp16", "K": 64, "V": 64, "chunk": 64, "strategy": "state_passing",
    "constants": {"BV": 32},
    "workspace_bytes": "NC*H*KF*V*4",
    "kernels": [
      {"name": "s1", "stage": "chunk_local", "grid": {"x": "NC", "y": "H"}, "block_threads": 128, "smem_bytes": 0},
      {"name": "s2", "stage": "state_scan", "grid": {"x": "N*H", "y": "ceil(V/BV)"}, "block_threads": 128},
      {"name": "s3", "stage": "chunk_output", "grid": {"x": "NC", "y": "H"}, "block_threads": 128}]})J");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(*d->strategy, Strategy::StatePassing);
  EXPECT_EQ(d->workspace_bytes.text(), "NC*H*KF*V*4");
}

// Delta-rule state passing may run its kernels side by side: the output kernel "programmatic", the scan
// "leads" (it may go before the prep). The flags survive a round trip, are false when absent, and the first
// kernel (nothing before it) may carry neither.
TEST(LaunchDescriptor, ProgrammaticLaunchIsALaterForwardKernelsFlag) {
  const std::string sp = R"J({"dtype": "bf16", "K": 64, "V": 64, "chunk": 32, "strategy": "state_passing",
    "workspace_bytes": "NC*H*KF*V*2",
    "kernels": [
      {"name": "s1", "stage": "chunk_local", "grid": {"x": "N*H", "y": "cdiv(T,C)"}, "block_threads": 128},
      {"name": "s2", "stage": "state_scan", "grid": {"x": "N*H", "y": "cdiv(V,64)"}, "block_threads": 128,
       "leads": true},
      {"name": "s3", "stage": "chunk_output", "grid": {"x": "N*H", "y": "1", "z": "cdiv(T,C)"},
       "block_threads": 128, "programmatic": true}]})J";
  auto d = LaunchDescriptor::fromJson(sp);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_FALSE(d->kernels[0].programmatic);
  EXPECT_FALSE(d->kernels[1].programmatic);
  EXPECT_TRUE(d->kernels[2].programmatic);
  EXPECT_TRUE(d->kernels[1].leads);
  EXPECT_FALSE(d->kernels[2].leads);
  auto again = LaunchDescriptor::fromJson(d->toJson());
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->kernels[2].programmatic);
  EXPECT_FALSE(again->kernels[1].programmatic);
  EXPECT_TRUE(again->kernels[1].leads);
  EXPECT_EQ(d->toJson().find("\"programmatic\": false"), std::string::npos) << "written only when set";
  EXPECT_EQ(d->toJson().find("\"leads\": false"), std::string::npos) << "written only when set";
  expectError(replace(sp, "\"leads\": true", "\"leads\": \"yes\""), "expected true or false");
  expectError(replace(sp, "\"block_threads\": 128, \"programmatic\": true", "\"block_threads\": 128, \"programmatic\": 1"),
              "expected true or false");
  expectError(replace(sp, "\"y\": \"cdiv(T,C)\"}, \"block_threads\": 128}",
                      "\"y\": \"cdiv(T,C)\"}, \"block_threads\": 128, \"programmatic\": true}"),
              "kernels[0].programmatic: only a later kernel");
  expectError(replace(sp, "\"y\": \"cdiv(T,C)\"}, \"block_threads\": 128}",
                      "\"y\": \"cdiv(T,C)\"}, \"block_threads\": 128, \"leads\": true}"),
              "kernels[0].leads: only a later kernel");
}

// The register-state fused kernel's module: two segment stages, then the fused kernel, whose grids (not the
// workspace) may use the device's SM count.
TEST(LaunchDescriptor, SegmentStagesComeBeforeTheFusedKernel) {
  const std::string segmented = R"J({"dtype": "bf16", "K": 64, "V": 64, "chunk": 64, "strategy": "fused",
    "constants": {"BV": 64},
    "workspace_bytes": "min(1,floor(MC/16)-1)*256",
    "kernels": [
      {"name": "a", "stage": "segment_state", "grid": {"x": "N*H", "y": "1", "z": "max(1,floor(SMS/N))-1"},
       "block_threads": 128},
      {"name": "b", "stage": "segment_scan", "grid": {"x": "N*H", "y": "32"}, "block_threads": 128},
      {"name": "f", "stage": "fused", "grid": {"x": "N*H", "y": "1", "z": "max(1,floor(SMS/N))"},
       "block_threads": 128}]})J";
  auto d = LaunchDescriptor::fromJson(segmented);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(*d->strategy, Strategy::Fused);
  auto back = LaunchDescriptor::fromJson(d->toJson());
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->kernels[0].stage, Stage::SegmentState);
  EXPECT_EQ(back->kernels[1].stage, Stage::SegmentScan);
  expectError(replace(segmented, "\"workspace_bytes\": \"min(1,floor(MC/16)-1)*256\"",
                      "\"workspace_bytes\": \"SMS*256\""),
              "workspace_bytes: unknown variable 'SMS'");
  expectError(replace(segmented, "\"stage\": \"fused\"", "\"stage\": \"chunk_output\""),
              "segment stages without a fused kernel");
  // The fused kernel first, a segment stage after it.
  std::string late = segmented;
  late = replace(late, "\"name\": \"a\", \"stage\": \"segment_state\"", "\"name\": \"a\", \"stage\": \"fusedX\"");
  late = replace(late, "\"name\": \"f\", \"stage\": \"fused\"", "\"name\": \"f\", \"stage\": \"segment_state\"");
  late = replace(late, "\"stage\": \"fusedX\"", "\"stage\": \"fused\"");
  expectError(late, "a segment stage must come before the fused kernel");
}

// Delta rules on the register-state fused kernel: the WY prep (a chunk_local stage) runs first and fills
// the workspace that the fused kernel reads; after the fused kernel, or twice, it is refused.
TEST(LaunchDescriptor, WyPrepComesBeforeTheFusedKernel) {
  const std::string wy = R"J({"dtype": "bf16", "K": 64, "V": 64, "chunk": 64, "strategy": "fused",
    "constants": {"BV": 64},
    "workspace_bytes": "16*cdiv(2*B*T*H*K,16)+2*B*T*H*V",
    "kernels": [
      {"name": "w", "stage": "chunk_local", "grid": {"x": "N*H", "y": "cdiv(T,C)"}, "block_threads": 128},
      {"name": "f", "stage": "fused", "grid": {"x": "N*H", "y": "cdiv(V,BV)"}, "block_threads": 128}]})J";
  auto d = LaunchDescriptor::fromJson(wy);
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(*d->strategy, Strategy::Fused);
  EXPECT_EQ(d->kernels[0].stage, Stage::ChunkLocal);
  std::string late = wy;
  late = replace(late, "\"name\": \"w\", \"stage\": \"chunk_local\"", "\"name\": \"w\", \"stage\": \"fusedX\"");
  late = replace(late, "\"name\": \"f\", \"stage\": \"fused\"", "\"name\": \"f\", \"stage\": \"chunk_local\"");
  late = replace(late, "\"stage\": \"fusedX\"", "\"stage\": \"fused\"");
  expectError(late, "a chunk_local stage must come before the fused kernel");
  expectError(replace(wy, "\"name\": \"f\", \"stage\": \"fused\"", "\"name\": \"f\", \"stage\": \"chunk_output\""),
              "strategy: \"fused\" but the kernels are state-passing stages");
  std::string twice = replace(wy, "\"name\": \"f\", \"stage\": \"fused\"",
                              "\"name\": \"w2\", \"stage\": \"chunk_local\", \"grid\": {\"x\": \"1\"}, "
                              "\"block_threads\": 32}, {\"name\": \"f\", \"stage\": \"fused\"");
  expectError(twice, "more than one chunk_local stage");
}

TEST(LaunchExpr, EvaluatesExactly) {
  LaunchVars v = {{"N", 3}, {"H", 16}, {"V", 100}, {"BV", 64}, {"T", 1000}, {"C", 64}};
  auto ev = [&](const std::string& text) -> int64_t {
    auto e = LaunchExpr::parse(text);
    EXPECT_TRUE(e.ok()) << e.error();
    if (!e) return -999;
    auto r = e->evaluate(v);
    EXPECT_TRUE(r.ok()) << text << ": " << r.error();
    return r ? *r : -999;
  };
  EXPECT_EQ(ev("N*H"), 48);
  EXPECT_EQ(ev("ceil(V/BV)"), 2);
  EXPECT_EQ(ev("floor(V/BV)"), 1);
  EXPECT_EQ(ev("cdiv(T, C) * N"), 48);
  EXPECT_EQ(ev("1 + 2 * 3"), 7);
  EXPECT_EQ(ev("(1 + 2) * 3"), 9);
  EXPECT_EQ(ev("-2 + 5"), 3);
  EXPECT_EQ(ev("T % C"), 40);
  EXPECT_EQ(ev("min(N, H) + max(N, H)"), 19);
  EXPECT_EQ(ev("V/BV*BV"), 100);  // rationals: no early truncation
  EXPECT_EQ(ev("42"), 42);
}

TEST(LaunchExpr, ReportsErrors) {
  EXPECT_NE(LaunchExpr::parse("N*").error().find("column 3"), std::string::npos);
  EXPECT_NE(LaunchExpr::parse("sqrt(N)").error().find("unknown function 'sqrt'"), std::string::npos);
  EXPECT_NE(LaunchExpr::parse("min(N)").error().find("min takes two arguments"), std::string::npos);
  EXPECT_NE(LaunchExpr::parse("N H").error().find("unexpected 'H'"), std::string::npos);
  auto e = LaunchExpr::parse("V/BV");
  ASSERT_TRUE(e.ok());
  auto r = e->evaluate({{"V", 100}, {"BV", 64}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not an integer (25/16)"), std::string::npos) << r.error();
  EXPECT_NE(e->evaluate({{"V", 1}, {"BV", 0}}).error().find("division by zero"), std::string::npos);
  EXPECT_NE(e->evaluate({{"V", 1}}).error().find("unknown variable 'BV'"), std::string::npos);
  auto big = LaunchExpr::parse("N*N*N");
  ASSERT_TRUE(big.ok());
  EXPECT_NE(big->evaluate({{"N", int64_t(1) << 40}}).error().find("overflow"), std::string::npos);
  auto vars = LaunchExpr::parse("ceil(NC*H/BV) + N")->variables();
  EXPECT_EQ(vars, (std::vector<std::string>{"BV", "H", "N", "NC"}));
}

}  // namespace
}  // namespace linrec
