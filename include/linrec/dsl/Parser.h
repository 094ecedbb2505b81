// Parsing and validating variant files (TOML) into a canonical Spec.
#pragma once

#include <string>
#include <vector>

#include "linrec/dsl/Spec.h"

namespace linrec::dsl {

/// One diagnostic, printed as `file:line:col: error: message — hint`.
struct Diagnostic {
  SourceLoc loc;
  std::string message;
  std::string hint;
  std::string str() const;
};

/// The outcome of parsing: a Spec, or the diagnostics that prevented one.
struct ParseResult {
  std::optional<Spec> spec;
  std::vector<Diagnostic> errors;
  bool ok() const { return spec.has_value(); }
  /// All diagnostics, one per line.
  std::string errorText() const;
};

/// Parses TOML text; `file` is used in diagnostics only.
ParseResult parseSpec(const std::string& text, const std::string& file = "<input>");
/// Reads and parses a file; an unreadable file is a diagnostic too.
ParseResult parseSpecFile(const std::string& path);

}  // namespace linrec::dsl
