# The common part of the Debian cross toolchain files: the including file
# sets PORTHOLE_CROSS_TRIPLET (the GNU triplet, also Debian's multiarch
# directory name), PORTHOLE_CROSS_PROCESSOR and PORTHOLE_CROSS_QEMU.
#
# There is no sysroot: Debian's cross gcc already searches the multiarch
# directories (/usr/include/<triplet>, /usr/lib/<triplet>) where the
# target's -dev packages install, and CMAKE_LIBRARY_ARCHITECTURE makes
# find_package()/find_library() look there (and in /usr/share for the
# architecture-independent headers) instead of the native
# /usr/lib/x86_64-linux-gnu. pkg-config is pointed at the target's .pc
# files only.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${PORTHOLE_CROSS_PROCESSOR})
set(CMAKE_C_COMPILER ${PORTHOLE_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${PORTHOLE_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${PORTHOLE_CROSS_TRIPLET})

# Programs (pkg-config, sshd, python) are the build machine's; libraries,
# headers and CMake package files only the target's.
set(CMAKE_FIND_ROOT_PATH /usr/${PORTHOLE_CROSS_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/${PORTHOLE_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest runs the target's test binaries through qemu-user, with the
# target's multiarch libc (libc6:<arch>, /lib/ld-linux-*.so): no -L. With
# "-L /usr/<triplet>" the dynamic loader comes from the cross toolchain's
# libc6-<arch>-cross (2.36-8cross1) while libc.so.6 and the other
# libraries resolve to the multiarch ones (2.36-9+deb12u14): that mix
# spins forever in the child of every fork() under qemu 7.2.
find_program(PORTHOLE_QEMU ${PORTHOLE_CROSS_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${PORTHOLE_QEMU})
