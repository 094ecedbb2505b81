// Entry point of the `linrec` command-line tool: parses the command line and dispatches to a subcommand.
#include <iostream>
#include <map>

#include "Commands.h"

int main(int argc, char** argv) {
  CLI::App app{"linrec: compile linear-attention recurrences described in TOML into fast CUDA kernels"};
  app.set_version_flag("--version", std::string("linrec ") + LINREC_VERSION);
  app.require_subcommand(1);
  std::map<CLI::App*, linrec::cli::Runner> runners;
  auto add = [&](linrec::cli::Runner (*f)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    auto runner = f(app);
    runners[app.get_subcommands({})[before]] = runner;
  };
  add(linrec::cli::addSpecCommand);
  add(linrec::cli::addReferenceCommand);
#ifdef LINREC_HAVE_COMPILER
  add(linrec::cli::addCompileCommand);
  add(linrec::cli::addCheckCommand);
  add(linrec::cli::addRunCommand);
#ifdef LINREC_HAVE_TUNER
  add(linrec::cli::addTuneCommand);
  add(linrec::cli::addPackCommand);
  add(linrec::cli::addStartupCommand);
  add(linrec::cli::addBenchCommand);
#endif
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : linrec::cli::kBadInput;
  }
  for (auto& [sub, run] : runners)
    if (sub->parsed()) return run();
  return linrec::cli::kBadInput;
}
