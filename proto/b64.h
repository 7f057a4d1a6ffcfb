/*  b64.h: base64 (RFC 4648, standard alphabet, padded) of public data.
 *
 *  libsodium's sodium_bin2base64 is constant-time, which secrets need and
 *  costs about 4 ns a byte; a receipt (cli/receipt.c) base64-encodes about
 *  1 KB of public bytes (the entry and the inclusion proof) on the path of
 *  every acknowledgement, where that was 5 of its 12 us. This table-driven
 *  encoder writes the same text (test_b64 checks it against libsodium) for
 *  data that is not secret. Keys and signatures keep sodium_bin2base64.
 *  Stateless, allocates nothing.
 */
#ifndef AT_B64_H
#define AT_B64_H
#include <stddef.h>
#include <stdint.h>

/*  Characters b64_encode writes for len bytes, the terminating NUL included
 *  (sodium_base64_ENCODED_LEN of the original variant). */
#define B64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4 + 1)

/*  Writes the base64 of in[0..len) and a NUL into out[0..cap); returns the
 *  text's length (without the NUL), or 0 with out untouched when cap is
 *  smaller than B64_ENCODED_LEN(len). */
size_t b64_encode(char *out, size_t cap, const uint8_t *in, size_t len);

#endif
