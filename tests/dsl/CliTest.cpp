// End-to-end checks of the `linrec` binary: exit codes and output of spec/reference on good and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

CliRun run(const std::string& args) {
  std::string cmd = std::string(LINREC_BINARY_DIR) + "/bin/linrec " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string writeTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

const std::string kVariants = std::string(LINREC_SOURCE_DIR) + "/variants/";

}  // namespace

TEST(Cli, SpecPrintsEveryBundledVariant) {
  CliRun r = run("spec " + kVariants + "*.toml");
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* n : {"linear_attn", "retention", "simple_gla", "gla", "delta_rule", "gated_delta_rule", "kda",
                        "based", "hedgehog"})
    EXPECT_NE(r.out.find(std::string(n) + "  hash "), std::string::npos) << n;
}

TEST(Cli, SpecJsonIsOneObjectWithHash) {
  CliRun r = run("spec --json " + kVariants + "kda.toml");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.front(), '{');
  EXPECT_NE(r.out.find("\"hash\":\""), std::string::npos);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST(Cli, MalformedFileExitsTwoWithLocation) {
  std::string bad = writeTemp("bad.toml", "[variant]\nname = \"x\"\n[decay]\nlog = \"-softplus(zz)\"\n");
  CliRun r = run("spec " + bad);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":4:18: error: in decay.log: undefined name 'zz'"), std::string::npos) << r.out;
  std::string broken = writeTemp("broken.toml", "[variant\nname = 1\n");
  r = run("spec " + broken);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(broken + ":1:"), std::string::npos) << r.out;
  r = run("spec --bogus-flag " + kVariants + "kda.toml");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run("spec /nonexistent.toml");
  EXPECT_EQ(r.status, 2) << r.out;
}

TEST(Cli, ReferenceDigestIsDeterministicAndChunkwiseAgrees) {
  CliRun a = run("reference " + kVariants + "gated_delta_rule.toml --T 130 --seed 7 --chunk 32 --initial-state");
  CliRun b = run("reference " + kVariants + "gated_delta_rule.toml --T 130 --seed 7 --chunk 32 --initial-state");
  EXPECT_EQ(a.status, 0) << a.out;
  auto digestLines = [](const std::string& s) { return s.substr(0, s.find("recurrent")); };
  EXPECT_EQ(digestLines(a.out), digestLines(b.out));
  CliRun c = run("reference " + kVariants + "gated_delta_rule.toml --T 130 --seed 8 --chunk 32");
  EXPECT_NE(digestLines(a.out), digestLines(c.out));
  CliRun j = run("reference " + kVariants + "kda.toml --varlen 50,1,20 --chunk 16 --json");
  EXPECT_EQ(j.status, 0) << j.out;
  EXPECT_NE(j.out.find("\"sequences\": 3"), std::string::npos) << j.out;
  CliRun bad = run("reference " + kVariants + "kda.toml --varlen 5,x");
  EXPECT_EQ(bad.status, 2) << bad.out;
}

TEST(Cli, HelpWorks) {
  CliRun r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("spec"), std::string::npos);
  r = run("spec --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--json"), std::string::npos);
}
