# Cross-compiling porthole-agent for 32-bit ARM (armhf) with Debian's cross
# compiler (g++-arm-linux-gnueabihf) and the armhf -dev packages through
# multiarch (scripts/setup --cross armhf). Preset cross-armhf.
set(PORTHOLE_CROSS_TRIPLET arm-linux-gnueabihf)
set(PORTHOLE_CROSS_PROCESSOR armv7l)
set(PORTHOLE_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
