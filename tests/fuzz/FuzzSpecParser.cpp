// libFuzzer target: any bytes given to the variant parser end in a Spec or diagnostics, never a crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "linrec/dsl/Parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  linrec::dsl::ParseResult r = linrec::dsl::parseSpec(text, "fuzz.toml");
  if (r.ok()) {
    // A spec that parses must round-trip through its canonical TOML to the same hash.
    linrec::dsl::ParseResult back = linrec::dsl::parseSpec(r.spec->canonicalToml(), "canonical.toml");
    if (!back.ok() || back.spec->hash() != r.spec->hash()) __builtin_trap();
  } else {
    for (const auto& d : r.errors) (void)d.str();
  }
  return 0;
}
