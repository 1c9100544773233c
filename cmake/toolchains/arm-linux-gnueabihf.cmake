# Cross-compiling porthole-agent for 32-bit ARM (armhf) with Debian's cross
# compiler (g++-arm-linux-gnueabihf) and the armhf -dev packages through
# multiarch (scripts/setup --cross armhf). Preset cross-armhf.
set(PORTHOLE_CROSS_TRIPLET arm-linux-gnueabihf)
set(PORTHOLE_CROSS_PROCESSOR armv7l)
set(PORTHOLE_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)

# 32-bit ARM: glibc's time_t and off_t are 32 bits unless asked. Without
# these, dates after 2038 (key expiry-time, TUF expiries) overflow and
# readdir() fails with EOVERFLOW on file systems with 64-bit inode numbers
# (the commands directory). glibc >= 2.34 provides both; Debian 12's armhf
# libraries keep 32-bit time_t in their own interfaces, and none of those
# that porthole-agent calls takes a time_t.
set(CMAKE_C_FLAGS_INIT "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64")
set(CMAKE_CXX_FLAGS_INIT "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64")
