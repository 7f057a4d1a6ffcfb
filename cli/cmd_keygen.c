/*  cmd_keygen.c: `attest keygen --out FILE [--force]`: makes an Ed25519 key
 *  pair for an attester, writes it as a JSON key file (mode 0600; see
 *  jsonl.h) and prints the public key in hex.
 *  `attest keygen --curve --out DIR/NAME`: makes a CurveZMQ key pair for a
 *  daemon or a producer: DIR/NAME (the public certificate, to copy into the
 *  peers' allowlists) and DIR/NAME_secret (mode 0600), CZMQ zcert files
 *  (curve.h); prints the public key in Z85. */
#include "attestation.h"
#include "commands.h"
#include "config.h"
#include "curve.h"
#include "jsonl.h"
#include <sodium.h>
#include <stdio.h>

static const cfg_def_t s_defs[] = {
    CFG_STR_NAMED_SHORT("out", 'o', NULL, "key file to write (required)"),
    CFG_BOOL_NAMED("force", "false", "overwrite FILE if it exists"),
    CFG_BOOL_NAMED("curve", "false", "a CURVE key pair for the links: FILE (public) and FILE_secret (0600)"),
};

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
    if (cfg_bool(cfg, "curve"))
        return s_curve(path, cfg_bool(cfg, "force"));
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
                   "       attest keygen --curve --out DIR/NAME [--force]\n\n"
                         "Makes an Ed25519 key pair for an attester, writes it to FILE as JSON\n"
                         "{\"public\": hex, \"secret\": hex} (mode 0600) and prints the public key.\n"
                         "With --curve: a CurveZMQ key pair for a daemon or producer: DIR/NAME, the\n"
                         "public certificate (copy it into the peers' allowlist directories), and\n"
                         "DIR/NAME_secret (mode 0600); prints the public key (Z85).",
        .defs = s_defs,
        .ndefs = sizeof s_defs / sizeof s_defs[0],
        .fn = s_run,
    };
    return cfg_run(&app, argc, argv);
}
