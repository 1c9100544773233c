# Every third-party dependency is a Debian bookworm package (scripts/setup).
find_package(PkgConfig REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
# Unicode NFC for canonical JSON (core/tuf): full composition tables are
# not something to hand-roll.
find_package(ICU REQUIRED COMPONENTS uc)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
if(PORTHOLE_TESTS)
  find_package(GTest REQUIRED)
endif()
if(PORTHOLE_BENCH AND NOT PORTHOLE_FUZZ)
  find_package(benchmark REQUIRED)
endif()
