/*  cmd_revoke.c: `attest revoke ID --key FILE [--reason TEXT] [submit options]`:
 *  builds a revocation of the attestation ID (store/revoke.h: schema
 *  attest/revocation/v1, subject ID in lower-case hex, data the reason),
 *  signs it with the attester key in FILE (attest keygen; it must be the key
 *  that signed ID, or the sink logs it invalid, revoke_key), submits it
 *  through the client library and prints its outcome as one JSON line:
 *      {"id": hex, "target": hex, "index": i, "verdict": "valid"|"invalid",
 *       "reason": name, "duplicate": bool}
 *      {"target": hex, "refused": true, "reason": name}
 *  Exit 0 when the revocation is logged valid (the target is revoked from
 *  its index on), 1 when it is logged invalid (revoke_unknown: the target is
 *  not in the log as valid, yet; revoke_key, revoke_twice, revoke_subject),
 *  refused or not acknowledged in time, 2 for bad usage.
 */
#include "client.h"
#include "cluster.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include "revoke.h"
#include "wire.h"
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED_SHORT("key", 'k', NULL, "the attester's key file (attest keygen) that signed the target (required)"),
    CFG_STR_NAMED("reason", "", "why, in the revocation's data (UTF-8, up to 1024 bytes; shown by attest log)"),
    CFG_ENDPOINT_NAMED("broker", ENDPOINT_CONNECT, "tcp://127.0.0.1:5555", "broker frontend endpoint (HOST:PORT too)"),
    CFG_STR_NAMED("producer", NULL, "producer name shown in the log (default: revoke-<pid>)"),
    CFG_STR_NAMED("curve-secret", NULL, "this producer's CURVE secret certificate (attest keygen --curve); "
                  "required unless --insecure (attest up: DATA/keys/producer_secret)"),
    CFG_STR_NAMED("broker-key", NULL, "the broker's public certificate (attest up: DATA/keys/broker)"),
    CFG_BOOL_NAMED("insecure", "false", "plaintext: for a broker run --insecure"),
    CFG_INT_NAMED("timeout-ms", "30000", 0, 86400000, "how long to wait for credit, then for the acknowledgement"),
};

typedef struct {
    char target[2 * AT_ID_BYTES + 1];   /* lower-case hex */
    bool answered, valid;
} s_revoke_t;

/*  The argument as 64 hex digits, lower-cased; false when it is not one. */
static bool s_target(const char *arg, char out[2 * AT_ID_BYTES + 1])
{
    if (strlen(arg) != 2 * AT_ID_BYTES || strspn(arg, "0123456789abcdefABCDEF") != 2 * AT_ID_BYTES)
        return false;
    for (size_t i = 0; i <= 2 * AT_ID_BYTES; i++)
        out[i] = (char) tolower((unsigned char) arg[i]);
    return true;
}

/*  The signed revocation, encoded into out (AT_ENCODED_MAX bytes). */
static at_err s_build(const char *target, const char *reason, const uint8_t sk[AT_SECRET_BYTES], uint8_t *out,
                      size_t *len)
{
    uint8_t nonce[AT_NONCE_BYTES], sig[AT_SIG_BYTES];
    randombytes_buf(nonce, sizeof nonce);
    attestation_t a = { .version = AT_VERSION, .schema = REVOKE_SCHEMA, .schema_len = REVOKE_SCHEMA_LEN,
                        .attester = sk + 32, .subject = target, .subject_len = 2 * AT_ID_BYTES,
                        .data = (const uint8_t *) reason, .data_len = strlen(reason),
                        .issued_at = (uint64_t) time(NULL), .nonce = nonce, .signature = sig };
    at_err rc = attestation_check(&a);
    if (rc)
        return rc;
    attestation_sign(&a, sk, sig);
    return attestation_encode(&a, out, AT_ENCODED_MAX, len);
}

static void s_on_ack(const at_ack_t *ack, void *arg)
{
    s_revoke_t *self = arg;
    json_t *o = json_object();
    if (!ack->refused)
        json_object_set_new(o, "id", jsonl_hex(ack->id, AT_ID_BYTES));
    json_object_set_new(o, "target", json_string(self->target));
    if (ack->refused) {
        json_object_set_new(o, "refused", json_true());
    } else {
        json_object_set_new(o, "index", json_integer((json_int_t) ack->index));
        json_object_set_new(o, "verdict", json_string(ack->verdict == WIRE_VALID ? "valid" : "invalid"));
    }
    json_object_set_new(o, "reason", json_string(at_strerror(ack->reason)));
    if (!ack->refused)
        json_object_set_new(o, "duplicate", json_boolean(ack->duplicate));
    jsonl_print(stdout, o);
    json_decref(o);
    self->answered = true;
    self->valid = !ack->refused && ack->verdict == WIRE_VALID;
}

/*  Submits the revocation and waits for its outcome. */
static int s_submit(s_revoke_t *self, const cfg_t *cfg, const uint8_t *att, size_t len)
{
    char producer[WIRE_NAME_MAX + 1];
    if (*cfg_str(cfg, "producer"))
        snprintf(producer, sizeof producer, "%s", cfg_str(cfg, "producer"));
    else
        snprintf(producer, sizeof producer, "revoke-%ld", (long) getpid());
    cluster_creds_t creds;
    int code = cluster_creds_load("attest revoke", cfg_str(cfg, "curve-secret"), cfg_str(cfg, "broker-key"),
                                  cfg_bool(cfg, "insecure"), &creds);
    if (code)
        return code;
    at_client_t *client = cluster_client(&creds, cfg_str(cfg, "broker"), producer);
    if (!client) {
        fprintf(stderr, "attest revoke: cannot connect to '%s'\n", cfg_str(cfg, "broker"));
        return 1;
    }
    int timeout = (int) cfg_int(cfg, "timeout-ms");
    at_client_set_handler(client, s_on_ack, self);
    at_err rc = at_client_submit(client, att, len, NULL, timeout, NULL);
    if (rc == AT_OK)
        rc = at_client_flush(client, timeout);
    at_client_destroy(&client);
    if (rc != AT_OK || !self->answered) {
        fprintf(stderr, "attest revoke: not acknowledged: %s (is the broker at %s running?)\n",
                at_strerror(rc ? rc : AT_ERR_TIMEOUT), cfg_str(cfg, "broker"));
        return 1;
    }
    return self->valid ? 0 : 1;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    s_revoke_t self = { .answered = false };
    if (cfg_npositional(cfg) != 1 || !s_target(cfg_positional(cfg, 0), self.target)) {
        fprintf(stderr, "attest revoke: want the target's attestation id, 64 hex digits (attest log id shows it)\n");
        return 2;
    }
    if (!*cfg_str(cfg, "key")) {
        fprintf(stderr, "attest revoke: --key FILE is required (the attester key that signed the target)\n");
        return 2;
    }
    if (strlen(cfg_str(cfg, "producer")) > WIRE_NAME_MAX) {
        fprintf(stderr, "attest revoke: --producer must be 1..%d bytes\n", WIRE_NAME_MAX);
        return 2;
    }
    char err[JSONL_ERR_MAX];
    uint8_t sk[AT_SECRET_BYTES], att[AT_ENCODED_MAX];
    size_t len;
    if (jsonl_read_keyfile(cfg_str(cfg, "key"), sk, err) != AT_OK) {
        fprintf(stderr, "attest revoke: %s\n", err);
        return 1;
    }
    at_err rc = s_build(self.target, cfg_str(cfg, "reason"), sk, att, &len);
    sodium_memzero(sk, sizeof sk);
    if (rc) {
        fprintf(stderr, "attest revoke: --reason: %s (at most %d bytes)\n", at_strerror(rc), AT_DATA_MAX);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return s_submit(&self, cfg, att, len);
}

int cmd_revoke(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest revoke",
        .summary = "Usage: attest revoke ID --key FILE [--reason TEXT] [--broker ENDPOINT] [--producer NAME]\n"
                   "                     [--curve-secret FILE --broker-key FILE | --insecure] [--timeout-ms N]\n\n"
                   "Revokes the attestation ID (64 hex digits): signs a revocation (schema\n"
                   "attest/revocation/v1, subject ID, data the reason) with the attester key\n"
                   "that signed ID, submits it and prints its outcome as a JSON line. The sink\n"
                   "judges it in log order: valid only if ID is in the log as valid, signed by\n"
                   "the same key and not revoked yet (else revoke_unknown, revoke_key,\n"
                   "revoke_twice). Exit 0 when logged valid, 1 otherwise.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .positionals = "ID",
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
