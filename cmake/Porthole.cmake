# Helpers that register every source file they build, so that
# porthole_check_all_sources_registered() can fail configure on strays.

function(_porthole_register)
  foreach(src IN LISTS ARGN)
    get_filename_component(abs "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    set_property(GLOBAL APPEND PROPERTY PORTHOLE_REGISTERED_SOURCES "${abs}")
  endforeach()
endfunction()

# porthole_ignore_sources_under(dir): sources under DIR are deliberately not
# built in this configuration (e.g. fuzz targets without PORTHOLE_FUZZ).
function(porthole_ignore_sources_under dir)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS
       "${CMAKE_SOURCE_DIR}/${dir}/*.cc" "${CMAKE_SOURCE_DIR}/${dir}/*.c")
  set_property(GLOBAL APPEND PROPERTY PORTHOLE_REGISTERED_SOURCES ${srcs})
endfunction()

# porthole_library(NAME SRCS a.cc b.cc DEPS x y)
function(porthole_library name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  _porthole_register(${A_SRCS})
  add_library(${name} STATIC ${A_SRCS})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# porthole_executable(NAME SRCS ... DEPS ...)
function(porthole_executable name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  _porthole_register(${A_SRCS})
  add_executable(${name} ${A_SRCS})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PRIVATE ${A_DEPS})
endfunction()

# porthole_module(NAME SRCS ... DEPS ...): a dlopen()ed MODULE library
# (lib<NAME>.so), e.g. a test plug-in loaded by a third-party program.
function(porthole_module name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  _porthole_register(${A_SRCS})
  add_library(${name} MODULE ${A_SRCS})
  target_link_libraries(${name} PRIVATE ${A_DEPS})
endfunction()

# porthole_checks: every unit-test binary and fuzz target; what the
# sanitizer build (scripts/test) needs, without the programs and tools.
if(NOT TARGET porthole_checks)
  add_custom_target(porthole_checks)
endif()

# porthole_test(NAME SRCS foo_test.cc ... DEPS ...): a gtest binary run by ctest.
function(porthole_test name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS" ${ARGN})
  _porthole_register(${A_SRCS})
  if(NOT PORTHOLE_TESTS)
    return()
  endif()
  add_executable(${name} ${A_SRCS})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
      PORTHOLE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      PORTHOLE_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
  # Test code is mostly gtest macros and templates: parsing gtest and
  # nlohmann/json again in every file and optimising it hard took half of a
  # clean build. The headers are precompiled once per test binary, and test
  # code is built without optimisation (the code under test keeps its own
  # flags; GCC 12 at -O1 also warns falsely inside libstdc++ there).
  target_precompile_headers(${name} PRIVATE
      <gtest/gtest.h> <nlohmann/json.hpp> <chrono> <filesystem> <string>
      <thread> <variant> <vector>)
  if(CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Release)$")
    target_compile_options(${name} PRIVATE -O0)
  endif()
  add_dependencies(porthole_checks ${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit)
endfunction()

# porthole_fuzzer(NAME SRCS x_fuzz.cc DEPS ...): a libFuzzer target plus a
# ctest smoke run over its seed corpus.
function(porthole_fuzzer name)
  cmake_parse_arguments(A "" "" "SRCS;DEPS;CORPUS" ${ARGN})
  _porthole_register(${A_SRCS})
  add_executable(${name} ${A_SRCS})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PRIVATE ${A_DEPS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  add_dependencies(porthole_checks ${name})
  if(A_CORPUS)
    # New inputs go to a corpus in the build tree (libFuzzer writes to its
    # first directory); the seeds in the source tree are only read.
    set(out "${CMAKE_CURRENT_BINARY_DIR}/corpus-out/${A_CORPUS}")
    file(MAKE_DIRECTORY "${out}")
    add_test(NAME ${name}_smoke
             COMMAND ${name} -max_total_time=5 -timeout=5 -rss_limit_mb=2048
                     "${out}" "${PROJECT_SOURCE_DIR}/fuzz/corpus/${A_CORPUS}")
    set_tests_properties(${name}_smoke PROPERTIES LABELS fuzz)
  endif()
endfunction()

function(porthole_check_all_sources_registered)
  get_property(registered GLOBAL PROPERTY PORTHOLE_REGISTERED_SOURCES)
  file(GLOB_RECURSE all CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/src/*.cc" "${PROJECT_SOURCE_DIR}/src/*.c"
       "${PROJECT_SOURCE_DIR}/fuzz/*.cc" "${PROJECT_SOURCE_DIR}/bench/*.cc"
       "${PROJECT_SOURCE_DIR}/tests/*.cc" "${PROJECT_SOURCE_DIR}/tests/*.c")
  set(stray "")
  foreach(f IN LISTS all)
    if(NOT f IN_LIST registered)
      list(APPEND stray "${f}")
    endif()
  endforeach()
  if(stray)
    list(JOIN stray "\n  " lines)
    message(FATAL_ERROR "source files not registered with any target "
                        "(add them to a CMakeLists.txt):\n  ${lines}")
  endif()
endfunction()
