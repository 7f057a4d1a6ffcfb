/*  cmd_keygen.c: `attest keygen --out FILE [--force]`: makes an Ed25519 key
 *  pair for an attester, writes it as a JSON key file (mode 0600; see
 *  jsonl.h) and prints the public key in hex.
 *  `attest keygen --curve --out DIR/NAME`: makes a CurveZMQ key pair for a
 *  daemon or a producer: DIR/NAME (the public certificate, to copy into the
 *  peers' allowlists) and DIR/NAME_secret (mode 0600), CZMQ zcert files
 *  (curve.h); prints the public key in Z85.
 *  `attest keygen --log --out DIR/NAME [--name KEYNAME]`: makes the
 *  transparency log's Ed25519 note key (note.h): DIR/NAME.key, the signer
 *  key text (mode 0600, for the sink's log-key setting), and DIR/NAME.pub,
 *  the verifier key text (0644, to publish); prints the verifier key.
 *  `attest keygen --witness --out DIR/NAME [--name KEYNAME]`: a witness's
 *  key (cosig.h): DIR/NAME.key, the same kind of note signer key text, and
 *  DIR/NAME.pub, its cosignature verifier key (type 0x04) for the log
 *  servers' --witness-keys directories and for clients. */
#include "attestation.h"
#include "commands.h"
#include "config.h"
#include "cosig.h"
#include "curve.h"
#include "jsonl.h"
#include "note.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_LOG_NAME "attest.local/log"
#define S_WITNESS_NAME "attest.local/witness"

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED_SHORT("out", 'o', NULL, "key file to write (required)"),
    CFG_BOOL_NAMED("force", "false", "overwrite FILE if it exists"),
    CFG_BOOL_NAMED("curve", "false", "a CURVE key pair for the links: FILE (public) and FILE_secret (0600)"),
    CFG_BOOL_NAMED("log", "false", "the log's note key: FILE.key (signer, 0600) and FILE.pub (verifier)"),
    CFG_BOOL_NAMED("witness", "false", "a witness's key: FILE.key (signer, 0600) and FILE.pub (cosignature verifier)"),
    CFG_STR_NAMED("name", S_LOG_NAME, "with --log: the key name, by convention the log's origin; with --witness: "
                  "the witness's name (default " S_WITNESS_NAME ")"),
};

/*  Writes text and a newline to path with the given mode (also when the
 *  file existed: --force); refuses an existing file unless force. */
static int s_write_text(const char *path, const char *text, mode_t mode, bool force)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
    if (fd < 0) {
        fprintf(stderr, "attest keygen: cannot create %s: %s%s\n", path, strerror(errno),
                errno == EEXIST ? " (--force overwrites)" : "");
        return 1;
    }
    size_t len = strlen(text);
    bool ok = fchmod(fd, mode) == 0 && write(fd, text, len) == (ssize_t) len && write(fd, "\n", 1) == 1
           && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 || !ok) {
        fprintf(stderr, "attest keygen: cannot write %s: %s\n", path, strerror(ok ? errno : saved));
        return 1;
    }
    return 0;
}

/*  The cosignature verifier key text of a witness's signer key text. */
static void s_witness_vkey(const char *skey, char *vkey, size_t cap)
{
    at_err err;
    note_signer_t *s = note_signer_parse(skey, &err);
    note_verifier_t v;
    if (!s)
        abort();   /* cannot be: note_keygen wrote it */
    cosig_signer_verifier(s, &v);
    note_signer_destroy(&s);
    if (cosig_verifier_format(&v, vkey, cap) == 0)
        abort();   /* cannot be: NOTE_KEY_TEXT_MAX holds it */
}

static int s_log_key(const char *path, const char *name, bool witness, bool force)
{
    char skey[NOTE_KEY_TEXT_MAX], vkey[NOTE_KEY_TEXT_MAX], key_path[4096], pub_path[4096];
    snprintf(key_path, sizeof key_path, "%.4000s.key", path);
    snprintf(pub_path, sizeof pub_path, "%.4000s.pub", path);
    if (!force && (access(key_path, F_OK) == 0 || access(pub_path, F_OK) == 0)) {
        fprintf(stderr, "attest keygen: %s or %s exists (--force overwrites)\n", key_path, pub_path);
        return 1;
    }
    if (note_keygen(name, skey, sizeof skey, vkey, sizeof vkey) != AT_OK) {
        fprintf(stderr, "attest keygen: --name '%s': a key name is 1..%d bytes of UTF-8 without '+', "
                "spaces or control characters\n", name, NOTE_NAME_MAX);
        return 2;
    }
    if (witness)
        s_witness_vkey(skey, vkey, sizeof vkey);
    int rc = s_write_text(key_path, skey, 0600, force);
    sodium_memzero(skey, sizeof skey);
    if (rc == 0)
        rc = s_write_text(pub_path, vkey, 0644, force);
    if (rc == 0)
        printf("%s\n", vkey);
    return rc;
}

static int s_curve(const char *path, bool force)
{
    curve_keys_t k;
    char err[CURVE_ERR_MAX];
    if (curve_keygen(path, force, &k, err) != AT_OK) {
        fprintf(stderr, "attest keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", k.pub);
    curve_keys_wipe(&k);
    return 0;
}

static int s_run(const cfg_t *cfg, void *unused)
{
    (void) unused;
    const char *path = cfg_str(cfg, "out");
    if (!*path) {
        fprintf(stderr, "attest keygen: --out FILE is required (where to write the key pair)\n");
        return 2;
    }
    bool curve = cfg_bool(cfg, "curve"), log_key = cfg_bool(cfg, "log"), witness = cfg_bool(cfg, "witness");
    if (curve + log_key + witness > 1) {
        fprintf(stderr, "attest keygen: --curve, --log and --witness make different keys: give one\n");
        return 2;
    }
    if (cfg_is_set(cfg, "name") && !log_key && !witness) {
        fprintf(stderr, "attest keygen: --name names a log or witness key: it needs --log or --witness\n");
        return 2;
    }
    if (cfg_bool(cfg, "curve"))
        return s_curve(path, cfg_bool(cfg, "force"));
    if (log_key || witness)
        return s_log_key(path, witness && !cfg_is_set(cfg, "name") ? S_WITNESS_NAME : cfg_str(cfg, "name"), witness,
                         cfg_bool(cfg, "force"));
    uint8_t pk[AT_KEY_BYTES], sk[AT_SECRET_BYTES];
    crypto_sign_keypair(pk, sk);
    char err[JSONL_ERR_MAX];
    at_err rc = jsonl_write_keyfile(path, pk, sk, cfg_bool(cfg, "force"), err);
    sodium_memzero(sk, sizeof sk);
    if (rc) {
        fprintf(stderr, "attest keygen: %s\n", err);
        return 1;
    }
    char hex[2 * AT_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
    printf("%s\n", hex);
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    const cfg_app_t app = {
        .prog = "attest keygen",
        .summary = "Usage: attest keygen --out FILE [--force]\n"
                   "       attest keygen --curve --out DIR/NAME [--force]\n"
                   "       attest keygen --log --out DIR/NAME [--name KEYNAME] [--force]\n"
                   "       attest keygen --witness --out DIR/NAME [--name KEYNAME] [--force]\n\n"
                         "Makes an Ed25519 key pair for an attester, writes it to FILE as JSON\n"
                         "{\"public\": hex, \"secret\": hex} (mode 0600) and prints the public key.\n"
                         "With --curve: a CurveZMQ key pair for a daemon or producer: DIR/NAME, the\n"
                         "public certificate (copy it into the peers' allowlist directories), and\n"
                         "DIR/NAME_secret (mode 0600); prints the public key (Z85).\n"
                         "With --log: the transparency log's Ed25519 note key (C2SP signed-note, Go\n"
                         "sumdb/note format): DIR/NAME.key, the signer key for the sink's log-key\n"
                         "setting (mode 0600; back it up, keep it secret), and DIR/NAME.pub, the\n"
                         "verifier key to publish to whoever checks checkpoints and receipts; prints\n"
                         "the verifier key. --name KEYNAME (default \"" S_LOG_NAME "\") is the key\n"
                         "name, by convention the log's origin (the sink's origin setting).\n"
                         "With --witness: a witness's key (C2SP tlog-cosignature, Ed25519): DIR/NAME.key,\n"
                         "the signer key for `attest witness --key` (mode 0600), and DIR/NAME.pub, its\n"
                         "cosignature verifier key (type 0x04) for the log servers' --witness-keys\n"
                         "directories and for clients; --name (default \"" S_WITNESS_NAME "\") names the\n"
                         "witness, by convention a schema-less URL.",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
