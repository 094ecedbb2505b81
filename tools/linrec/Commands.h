// The `linrec` CLI's subcommands: each registers its options on the app and runs after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace linrec::cli {

/// Exit codes: 0 success, 1 a failure while running, 2 bad input (usage, malformed variant file).
enum ExitCode { kOk = 0, kFailure = 1, kBadInput = 2 };

/// A subcommand's run step, called after CLI11 has parsed the command line.
using Runner = std::function<int()>;

Runner addSpecCommand(CLI::App& app);
Runner addReferenceCommand(CLI::App& app);
#ifdef LINREC_HAVE_COMPILER
Runner addCompileCommand(CLI::App& app);
Runner addCheckCommand(CLI::App& app);
Runner addRunCommand(CLI::App& app);
#ifdef LINREC_HAVE_TUNER
Runner addTuneCommand(CLI::App& app);
Runner addPackCommand(CLI::App& app);
Runner addStartupCommand(CLI::App& app);
Runner addBenchCommand(CLI::App& app);

/// Milliseconds for tables: 4 decimals below 1 ms, 3 below 100 ms, else 1 (tune and bench print alike).
std::string formatMs(double v);
#endif
#endif

/// Parses comma-separated sequence lengths ("5,1,30") into cu_seqlens offsets; false with `err` set when
/// an entry is not an integer >= 0.
bool parseLengths(const std::string& s, std::vector<int64_t>& cu, std::string& err);

}  // namespace linrec::cli
