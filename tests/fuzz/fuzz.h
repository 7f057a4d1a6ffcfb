/*  fuzz.h: what every fuzz target under tests/fuzz/ shares.
 *
 *  Each target is one file defining LLVMFuzzerTestOneInput, built two ways:
 *  with libFuzzer's main (cmake -DATTEST_FUZZ=ON, CC=clang; see
 *  docs/fuzzing.md), or with tests/fuzz/replay.c, which feeds it every file
 *  of its seed corpus (ctest fuzz_replay_<target> in every build).
 *  FUZZ_CHECK is the oracle: a property the decoder promises (a decoded
 *  value re-encodes and decodes to the same fields) that must hold for any
 *  input; it aborts, in every build type, so the fuzzer reports a crash.
 */
#ifndef AT_FUZZ_H
#define AT_FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz oracle failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
