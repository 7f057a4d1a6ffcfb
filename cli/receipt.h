/*  receipt.h: receipts, a producer's offline proof that an attestation is in
 *  the log (protocol.md section 14.6).
 *
 *  A receipt is one JSON object (a file per attestation):
 *      { "format": "attest-receipt-v1",
 *        "index": N,                  log index of the entry
 *        "id": "<64 hex>",            the attestation id (as in the entry)
 *        "entry": "<base64>",         the entry's bytes exactly as stored: the leaf
 *        "tree_size": S,              size of the checkpoint's tree, S > N
 *        "inclusion_proof": ["<base64 32 bytes>", ...],   RFC 9162 PATH(N, D[S])
 *        "checkpoint": "<signed note>" }                   tlog/note.h, tlog/checkpoint.h
 *  It verifies with the log's public key alone (receipt_verify): the
 *  checkpoint's signature, its size = tree_size, the entry's leaf hash
 *  SHA-256(0x00 || entry) proven at index N under the checkpoint's root, and
 *  the entry decoding with that index and id.
 *
 *  The fetcher builds receipts from the log server's C2SP tlog-tiles API
 *  (attest log serve): GET /checkpoint, /tile/<L>/<N>[.p/<W>] and
 *  /tile/entries/<N>[.p/<W>], over one kept-alive libcurl connection. It
 *  checks every checkpoint's signature and that it is consistent with the
 *  one it saw before (a consistency proof from the same tiles), and checks
 *  every proof it builds before returning it: a lying server gets an error,
 *  never a receipt. Tiles are cached (full tiles never change). One
 *  fetcher per thread.
 */
#ifndef AT_RECEIPT_H
#define AT_RECEIPT_H
#include "at_err.h"
#include "checkpoint.h"
#include "merkle.h"
#include "note.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECEIPT_FORMAT "attest-receipt-v1"

typedef struct receipt_fetcher_t receipt_fetcher_t;

/*  url: the log server's base URL ("http://127.0.0.1:8080"); log_key is
 *  copied. NULL (logged) when libcurl cannot start. The caller owns it. */
receipt_fetcher_t *receipt_fetcher_new(const char *url, const note_verifier_t *log_key);
void receipt_fetcher_destroy(receipt_fetcher_t **self_p);

/*  Makes sure the fetcher holds a verified checkpoint whose tree contains
 *  index (fetching /checkpoint again, every poll_ms, until timeout_ms).
 *  AT_ERR_TIMEOUT; AT_ERR_SIGNATURE (not signed by the log key);
 *  AT_ERR_CORRUPT (not consistent with the previous checkpoint, or a
 *  malformed response); AT_ERR_IO (HTTP). */
at_err receipt_need(receipt_fetcher_t *self, uint64_t index, int timeout_ms, int poll_ms)
    __attribute__((warn_unused_result));
/*  The receipt of entry index (< the held checkpoint's size) as a JSON text
 *  in *json (malloc'ed, the caller frees), verified. id (optional): the id
 *  the entry must have (AT_ERR_CORRUPT otherwise). Errors as receipt_need,
 *  and AT_ERR_RANGE when index is not below the held checkpoint. */
at_err receipt_build(receipt_fetcher_t *self, uint64_t index, const uint8_t *id, char **json)
    __attribute__((warn_unused_result));
/*  The size of the checkpoint held (0: none yet). */
uint64_t receipt_tree_size(const receipt_fetcher_t *self);

/*  For a witness (cmd_witness.c). receipt_fetcher_hold: before the first
 *  fetch, holds note (a checkpoint signed by the log key, e.g. the last one
 *  the witness cosigned) as if fetched, so that every checkpoint fetched
 *  later must be consistent with it; note is copied. AT_ERR_SIGNATURE (not
 *  signed by the log key), AT_ERR_SHAPE (not a checkpoint note, or too
 *  long), AT_ERR_PROTOCOL (a checkpoint is held already).
 *  receipt_refresh: fetches /checkpoint once, verifies it and checks it
 *  against the one held (errors as receipt_need; AT_ERR_NOT_FOUND: the
 *  server has none yet); the held one is replaced only on AT_OK.
 *  receipt_checkpoint: the held checkpoint's note (borrowed until the next
 *  call on self; its length in *len) and its parsed body in *cp; NULL when
 *  none is held. */
at_err receipt_fetcher_hold(receipt_fetcher_t *self, const char *note, size_t len)
    __attribute__((warn_unused_result));
at_err receipt_refresh(receipt_fetcher_t *self) __attribute__((warn_unused_result));
const char *receipt_checkpoint(const receipt_fetcher_t *self, checkpoint_t *cp, size_t *len);

/*  What a verified receipt says. The strings borrow nothing. */
typedef struct {
    uint64_t index, tree_size, checkpoint_time;
    uint8_t id[32];
    uint8_t verdict, reason;
    char origin[256];
} receipt_info_t;

/*  Verifies a receipt's JSON text offline with the log's key. AT_OK and
 *  *out filled; AT_ERR_SHAPE (not a receipt: JSON, fields, base64, entry
 *  that does not decode), AT_ERR_SIGNATURE (the checkpoint is not signed by
 *  log_key), AT_ERR_CORRUPT (the proof does not lead to the checkpoint's
 *  root, or sizes, index or id disagree). */
at_err receipt_verify(const char *json, size_t len, const note_verifier_t *log_key, receipt_info_t *out)
    __attribute__((warn_unused_result));

#endif
