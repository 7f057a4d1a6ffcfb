/*  curve.h: CurveZMQ keys for the sockets of every program.
 *
 *  Key files are CZMQ zcert files (ZPL text): a public certificate NAME
 *  holding `public-key`, and its secret twin NAME_secret (mode 0600) holding
 *  both keys, in Z85. `attest keygen --curve --out DIR/NAME` writes a pair;
 *  an allowlist is a directory of public certificates (zap.h).
 *
 *  A program that listens applies its own key pair with curve_server() (the
 *  ZAP domain names the listener to the ZAP handler); one that connects
 *  applies its key pair and the server's public key with curve_client().
 *  Keys are held as Z85 text (40 characters and a NUL), which is what the
 *  libzmq socket options take; curve_keys_wipe() clears the secret.
 *
 *  Secure by default: curve_require() is the one check every daemon and
 *  client runs at start: it needs a secret key file, or an explicit
 *  --insecure (then it warns; the daemons also export attest_insecure 1).
 */
#ifndef AT_CURVE_H
#define AT_CURVE_H
#include "at_err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURVE_Z85_LEN 40
#define CURVE_KEY_BYTES 32
#define CURVE_ERR_MAX 512

/*  A key pair (secret empty for a public certificate). */
typedef struct {
    char pub[CURVE_Z85_LEN + 1];
    char sec[CURVE_Z85_LEN + 1];
} curve_keys_t;

/*  Generates a pair and writes path (public) and path_secret (mode 0600,
 *  checked after writing). AT_ERR_IO with err set when a file exists (and
 *  !force), cannot be written, or the secret's mode is not 0600. On success
 *  out (may be NULL) gets the keys; the caller wipes them. */
at_err curve_keygen(const char *path, bool force, curve_keys_t *out, char err[CURVE_ERR_MAX])
    __attribute__((warn_unused_result));

/*  Loads a secret certificate (path_secret or path itself; either holds
 *  both keys). AT_ERR_IO (missing, unreadable, no secret key, readable by
 *  group or others) with err set. */
at_err curve_load_secret(const char *path, curve_keys_t *out, char err[CURVE_ERR_MAX])
    __attribute__((warn_unused_result));
/*  Loads the public key of a certificate (public or secret file) into z85. */
at_err curve_load_public(const char *path, char z85[CURVE_Z85_LEN + 1], char err[CURVE_ERR_MAX])
    __attribute__((warn_unused_result));
void curve_keys_wipe(curve_keys_t *k);

/*  Socket options (zsock is a CZMQ zsock_t *; call before bind/connect).
 *  server: CURVE server with this key pair, ZAP domain `domain`.
 *  client: this key pair, the server's public key server_z85. */
void curve_server(void *zsock, const curve_keys_t *k, const char *domain);
void curve_client(void *zsock, const curve_keys_t *k, const char *server_z85);

/*  The start-up rule of every program (prog names it in the message):
 *  secret_path non-empty: loads it into *keys, returns 0;
 *  empty and insecure: warns "plaintext", returns 0 with keys cleared;
 *  empty and !insecure: prints what to set and returns 2 (bad usage);
 *  a key that cannot be loaded: prints why and returns 2. */
int curve_require(const char *prog, const char *secret_path, bool insecure, curve_keys_t *keys);
/*  The same for the peers' public keys a client needs: each of paths[i]
 *  loaded into out[i] (n at most 4; empty path: an error naming setting[i]).
 *  Returns 0, or 2 after printing why. Nothing is checked when insecure. */
int curve_require_peers(const char *prog, bool insecure, size_t n, const char *const *settings,
                        const char *const *paths, char (*out)[CURVE_Z85_LEN + 1]);

/*  Z85 text of 40 characters to 32 bytes; false when it is not Z85. */
bool curve_z85_decode(const char *z85, size_t len, uint8_t out[CURVE_KEY_BYTES]);

#endif
