# Cross-compiling porthole-agent for 64-bit ARM with Debian's cross compiler
# (g++-aarch64-linux-gnu) and the arm64 -dev packages installed beside the
# native ones through multiarch (scripts/setup --cross aarch64). Used by the
# cross-aarch64 preset; scripts/cross-test aarch64 does setup, build and
# the unit tests under qemu-user.
set(PORTHOLE_CROSS_TRIPLET aarch64-linux-gnu)
set(PORTHOLE_CROSS_PROCESSOR aarch64)
set(PORTHOLE_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
