# Install rules and the CMake package: find_package(linrec [COMPONENTS runtime compiler]) after cmake --install.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(LINREC_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/linrec)
install(DIRECTORY ${LINREC_INCLUDE_DIR}/linrec DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "*.td" EXCLUDE)

# linrec_add_to_export(SET name target EXPORT_NAME): installs a target under linrec::<name>.
function(linrec_add_to_export set target name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS ${target} EXPORT ${set}
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()

# The runtime alone: no MLIR, no LLVM.
linrec_add_to_export(linrecRuntimeTargets linrec_toml toml_internal)
linrec_add_to_export(linrecRuntimeTargets linrec_dsl dsl)
if(TARGET linrec_runtime)
  linrec_add_to_export(linrecRuntimeTargets linrec_runtime runtime)
  linrec_add_to_export(linrecRuntimeTargets linrec_runtime_c c_api)
endif()
if(TARGET linrec_kernel_library)
  linrec_add_to_export(linrecRuntimeTargets linrec_kdb_sqlite3 sqlite3_internal)
  linrec_add_to_export(linrecRuntimeTargets linrec_kernels-db kernels_db)
  linrec_add_to_export(linrecRuntimeTargets linrec_kernel_library kernel_library)
endif()
install(EXPORT linrecRuntimeTargets NAMESPACE linrec:: DESTINATION ${LINREC_CMAKE_INSTALL_DIR})

# The compiler: its MLIR dependencies are re-found (and re-linked statically) by the package config.
set(LINREC_INSTALLED_COMPILER OFF)
if(TARGET linrec_codegen)
  set(LINREC_INSTALLED_COMPILER ON)
  linrec_add_to_export(linrecCompilerTargets linrec_codegen codegen)
  if(TARGET linrec_jit)
    linrec_add_to_export(linrecCompilerTargets linrec_jit jit)
  endif()
  install(EXPORT linrecCompilerTargets NAMESPACE linrec:: DESTINATION ${LINREC_CMAKE_INSTALL_DIR})
  install(FILES ${CMAKE_SOURCE_DIR}/cmake/LinrecMLIR.cmake DESTINATION ${LINREC_CMAKE_INSTALL_DIR})
endif()
if(TARGET linrec)
  install(TARGETS linrec RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/linrecConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/linrecConfig.cmake INSTALL_DESTINATION ${LINREC_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/linrecConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/linrecConfig.cmake ${CMAKE_BINARY_DIR}/linrecConfigVersion.cmake
        DESTINATION ${LINREC_CMAKE_INSTALL_DIR})
