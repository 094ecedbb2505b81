# lit.cfg.py: the codegen lit suite: one .mlir file per pass flag, run with linrec-opt / linrec-translate.
import os

import lit.formats

config.name = "linrec-codegen"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.linrec_obj_root

# linrec tools first, then FileCheck/not from LLVM 19 (never whatever else is on PATH).
config.environment["PATH"] = os.pathsep.join(
    [config.linrec_tools_dir, config.llvm_tools_dir, os.environ.get("PATH", "")])
config.substitutions.append(("%variants", os.path.join(config.linrec_src_root, "variants")))
