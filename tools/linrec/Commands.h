// The `linrec` CLI's subcommands: each registers its options on the app and runs after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace linrec::cli {

/// Exit codes: 0 success, 1 a failure while running, 2 bad input (usage, malformed variant file).
enum ExitCode { kOk = 0, kFailure = 1, kBadInput = 2 };

/// A subcommand's run step, called after CLI11 has parsed the command line.
using Runner = std::function<int()>;

Runner addSpecCommand(CLI::App& app);
Runner addReferenceCommand(CLI::App& app);

}  // namespace linrec::cli
