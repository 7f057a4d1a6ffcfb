/*  cosigstore.h: the witness cosignatures a log server accepts and serves
 *  (`attest log serve --witness-keys DIR --cosignatures DIR`, protocol.md
 *  14.8).
 *
 *  The allowlist is a directory of witness verifier key files, one vkey
 *  (type 0x04, tlog/cosig.h) per regular file (names starting with "." are
 *  skipped), read once at start: at most COSIGSTORE_WITNESSES_MAX, no two
 *  with the same key ID. Accepted cosignatures are kept in the other
 *  directory, one file per (witness, tree size) named
 *  "<key ID, 8 hex>-<tree size, 20 digits>" holding the cosignature line,
 *  written atomically (temporary file, fsync, rename, fsync of the
 *  directory); only the newest COSIGSTORE_KEEP sizes of each witness are
 *  kept, the older files deleted when a newer one is stored.
 *
 *  Every call is thread-safe (a mutex: libmicrohttpd answers on several
 *  threads). Nothing here reads the log: the caller passes the body of the
 *  stored checkpoint of the size concerned.
 */
#ifndef AT_COSIGSTORE_H
#define AT_COSIGSTORE_H
#include "at_err.h"
#include "cosig.h"
#include <stddef.h>
#include <stdint.h>

#define COSIGSTORE_WITNESSES_MAX 16
#define COSIGSTORE_KEEP 16
/*  Room for every attached cosignature line of one checkpoint. */
#define COSIGSTORE_ATTACH_MAX (COSIGSTORE_WITNESSES_MAX * COSIG_LINE_MAX)

typedef struct cosigstore_t cosigstore_t;

/*  Loads the allowlist from keys_dir and makes dir if missing. NULL with
 *  *err set and the reason logged: AT_ERR_CONFIG (no key, a malformed key,
 *  too many, a key ID twice), AT_ERR_IO (a directory cannot be read or
 *  made). The strings are copied. The caller owns the store. */
cosigstore_t *cosigstore_new(const char *keys_dir, const char *dir, at_err *err);
/*  Sets *self_p to NULL; safe twice and on NULL. */
void cosigstore_destroy(cosigstore_t **self_p);
/*  How many witnesses are allowlisted. */
size_t cosigstore_witnesses(const cosigstore_t *self);

/*  Verifies the cosignature line[0..len) (with or without its "\n") over
 *  body[0..body_len), the body of the log's checkpoint of tree size `size`,
 *  and stores it. AT_OK; AT_ERR_DENIED: no allowlisted witness has the
 *  line's name and key ID; AT_ERR_SHAPE: not a cosignature line;
 *  AT_ERR_SIGNATURE: an allowlisted witness's line that does not verify;
 *  AT_ERR_IO: it cannot be stored (logged). *witness (may be NULL) is set to
 *  the witness's name (borrowed from the store) when one was found. */
at_err cosigstore_put(cosigstore_t *self, uint64_t size, const char *body, size_t body_len, const char *line,
                      size_t len, const char **witness) __attribute__((warn_unused_result));

/*  Writes to out[0..cap) every stored cosignature line of tree size `size`
 *  that verifies over body[0..body_len), each with its "\n", in the
 *  allowlist's order (its file names sorted), and returns the bytes written
 *  (cap COSIGSTORE_ATTACH_MAX always holds them all). A stored line that no
 *  longer verifies is skipped and logged (rate-limited). */
size_t cosigstore_attach(cosigstore_t *self, uint64_t size, const char *body, size_t body_len, char *out,
                         size_t cap);

#endif
