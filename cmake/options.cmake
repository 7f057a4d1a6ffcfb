# options.cmake: the build options and the compiler flags they set, in one
# place. Included by the top-level CMakeLists.txt before any target.
#
#   ATTEST_WERROR   (ON)  warnings are errors (-Werror); -Wall -Wextra always
#   ATTEST_SANITIZE (OFF) AddressSanitizer + UndefinedBehaviorSanitizer
#   ATTEST_TSAN     (OFF) ThreadSanitizer; excludes ATTEST_SANITIZE (the two
#                         runtimes cannot share a process)
#   ATTEST_FUZZ     (OFF) libFuzzer build (CC=clang, its own build dir): every
#                         object gets coverage + ASan + UBSan, tests/fuzz/
#                         links fuzz_<target> with libFuzzer (docs/fuzzing.md)
#
# The build type defaults to RelWithDebInfo (asserts off: -DNDEBUG); CI also
# builds Debug, where asserts are on.

if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo)
endif()

option(ATTEST_WERROR "Treat compiler warnings as errors" ON)
option(ATTEST_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(ATTEST_TSAN "Build with ThreadSanitizer (not with ATTEST_SANITIZE)" OFF)
option(ATTEST_FUZZ "Build the libFuzzer targets (clang; implies ASan + UBSan)" OFF)

if(ATTEST_SANITIZE AND ATTEST_TSAN)
  message(FATAL_ERROR "ATTEST_SANITIZE and ATTEST_TSAN are mutually exclusive: pick one")
endif()

add_compile_options(-Wall -Wextra -D_GNU_SOURCE)
if(ATTEST_WERROR)
  add_compile_options(-Werror)
endif()

if(ATTEST_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ATTEST_FUZZ needs clang: CC=clang cmake -S . -B build-fuzz -DATTEST_FUZZ=ON")
  endif()
  if(ATTEST_TSAN)
    message(FATAL_ERROR "ATTEST_FUZZ and ATTEST_TSAN are mutually exclusive")
  endif()
  set(ATTEST_SANITIZE ON)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(ATTEST_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(ATTEST_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

message(STATUS "attest: build type ${CMAKE_BUILD_TYPE}, werror=${ATTEST_WERROR}, "
               "asan+ubsan=${ATTEST_SANITIZE}, tsan=${ATTEST_TSAN}, fuzz=${ATTEST_FUZZ}")
