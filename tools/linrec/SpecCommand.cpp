// `linrec spec FILE...`: validate variant files and print each canonical spec with its hash.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "Commands.h"
#include "linrec/dsl/Parser.h"

namespace linrec::cli {

namespace {
struct SpecOptions {
  std::vector<std::string> files;
  bool json = false;
  bool toml = false;
};
}  // namespace

Runner addSpecCommand(CLI::App& app) {
  auto opts = std::make_shared<SpecOptions>();
  CLI::App* cmd = app.add_subcommand("spec", "Validate variant files and print their canonical specs and hashes");
  cmd->add_option("files", opts->files, "Variant TOML files")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--json", opts->json, "Print one JSON object per file (canonical spec plus \"hash\")");
  cmd->add_flag("--toml", opts->toml, "Print the canonical spec as TOML");
  cmd->footer("Exit status: 0 when every file is valid, 2 when any is not (errors as file:line:col: error: ...).");
  return [opts]() {
    int rc = kOk;
    for (const auto& f : opts->files) {
      dsl::ParseResult r = dsl::parseSpecFile(f);
      if (!r.ok()) {
        std::cerr << r.errorText();
        rc = kBadInput;
        continue;
      }
      const dsl::Spec& s = *r.spec;
      if (opts->json) {
        std::cout << s.canonicalJson(/*with_hash=*/true) << "\n";
      } else if (opts->toml) {
        std::cout << "# " << f << "  hash " << s.hash() << "\n" << s.canonicalToml() << "\n";
      } else {
        std::cout << f << ": " << s.name << "  hash " << s.hash() << "\n"
                  << s.canonicalJson(false, 2) << "\n";
      }
    }
    return rc;
  };
}

}  // namespace linrec::cli
