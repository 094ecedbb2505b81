# LinrecMLIR.cmake: finds MLIR 19 and links it statically (MLIR + LLVM component archives, no libLLVM.so).
#
# MLIR's exported targets name the shared `LLVM` target (libLLVM.so.19.1, 129 MB plus z3/icu/xml2), which
# cannot travel to the GPU machine (PLATFORM.md). We keep MLIR's own static libMLIR*.a targets but rewrite
# every `LLVM` entry in their link interfaces to `linrec_llvm_static`: the LLVM component archives the
# compiler actually needs, plus the few system libraries they use. Nothing here touches libMLIR.so.
#
# Provides:
#   linrec_mlir_link(<target> [PUBLIC|PRIVATE|INTERFACE] <MLIR targets...>)
#       links the MLIR targets statically and adds the MLIR/LLVM include directories (as SYSTEM).
#   LINREC_MLIR_TABLEGEN / mlir_tablegen(): from MLIR's AddMLIR.cmake.
include_guard(GLOBAL)

set(LINREC_LLVM_ROOT "/usr/lib/llvm-19" CACHE PATH "Root of the LLVM/MLIR 19 installation")
if(NOT MLIR_DIR)
  set(MLIR_DIR "${LINREC_LLVM_ROOT}/lib/cmake/mlir")
endif()

# The imported targets must be visible from every directory that links the compiler (tools/, tests/), not
# only from codegen/ where this file is included.
set(_linrec_saved_global ${CMAKE_FIND_PACKAGE_TARGETS_GLOBAL})
set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL ON)
# No version in find_package: MLIRConfigVersion.cmake accepts only the exact 19.1.x it was built as.
find_package(MLIR REQUIRED CONFIG)
set(CMAKE_FIND_PACKAGE_TARGETS_GLOBAL ${_linrec_saved_global})
if(NOT LLVM_VERSION_MAJOR EQUAL 19)
  message(FATAL_ERROR "linrec: needs MLIR 19, found ${LLVM_PACKAGE_VERSION} in ${MLIR_DIR}")
endif()
message(STATUS "linrec: MLIR ${LLVM_PACKAGE_VERSION} from ${MLIR_DIR} (linked statically)")

list(APPEND CMAKE_MODULE_PATH "${MLIR_CMAKE_DIR}" "${LLVM_CMAKE_DIR}")
include(TableGen)
include(AddLLVM)
include(AddMLIR)

# LLVM component archives used by the MLIR libraries we link (IR, parser, pass manager, EmitC, Cpp
# translation). Found by link errors; order matters for static archives (users before providers).
set(LINREC_LLVM_COMPONENTS TargetParser BinaryFormat Support Demangle
    CACHE STRING "LLVM static components linked into MLIR tools")
if(NOT TARGET linrec_llvm_static)
  add_library(linrec_llvm_static INTERFACE)
  set(_archives "")
  foreach(_c IN LISTS LINREC_LLVM_COMPONENTS)
    set(_a "${LLVM_LIBRARY_DIR}/libLLVM${_c}.a")
    if(NOT EXISTS "${_a}")
      message(FATAL_ERROR "linrec: LLVM static component ${_a} not found (install llvm-19-dev)")
    endif()
    list(APPEND _archives "${_a}")
  endforeach()
  find_package(Threads REQUIRED)
  target_link_libraries(linrec_llvm_static INTERFACE ${_archives} z rt dl Threads::Threads)
endif()

# Rewrites `LLVM` -> `linrec_llvm_static` in the link interface of every MLIR target reachable from ARGN.
function(_linrec_mlir_rewrite_llvm)
  set(_todo ${ARGN})
  get_property(_done GLOBAL PROPERTY LINREC_MLIR_REWRITTEN)
  while(_todo)
    list(POP_FRONT _todo _t)
    if(NOT TARGET ${_t} OR "${_t}" IN_LIST _done)
      continue()
    endif()
    list(APPEND _done ${_t})
    get_target_property(_imported ${_t} IMPORTED)
    if(NOT _imported)
      continue()
    endif()
    get_target_property(_libs ${_t} INTERFACE_LINK_LIBRARIES)
    if(NOT _libs)
      continue()
    endif()
    list(TRANSFORM _libs REPLACE "^LLVM$" "linrec_llvm_static")
    set_target_properties(${_t} PROPERTIES INTERFACE_LINK_LIBRARIES "${_libs}")
    foreach(_l IN LISTS _libs)
      if(_l MATCHES "^MLIR" OR _l STREQUAL "mlir_float16_utils")
        list(APPEND _todo ${_l})
      endif()
    endforeach()
  endwhile()
  set_property(GLOBAL PROPERTY LINREC_MLIR_REWRITTEN "${_done}")
endfunction()

# linrec_mlir_link(<target> <PUBLIC|PRIVATE|INTERFACE> <MLIR targets...>)
function(linrec_mlir_link target scope)
  _linrec_mlir_rewrite_llvm(${ARGN})
  target_link_libraries(${target} ${scope} ${ARGN})
  target_include_directories(${target} SYSTEM ${scope} ${LLVM_INCLUDE_DIRS} ${MLIR_INCLUDE_DIRS})
  separate_arguments(_defs NATIVE_COMMAND "${LLVM_DEFINITIONS}")
  target_compile_definitions(${target} ${scope} ${_defs})
endfunction()
