/*  cmd_keygen.c: `attest keygen --out FILE [--force]`: makes an Ed25519 key
 *  pair for an attester, writes it as a JSON key file (mode 0600; see
 *  jsonl.h) and prints the public key in hex. */
#include "attestation.h"
#include "commands.h"
#include "config.h"
#include "jsonl.h"
#include <sodium.h>
#include <stdio.h>

static const cfg_def_t s_defs[] = {
    { "out", CFG_STR, NULL, 0, 0, "key file to write (required)" },
    { "force", CFG_BOOL, "false", 0, 0, "overwrite FILE if it exists" },
};

static int s_run(const cfg_t *cfg)
{
    const char *path = cfg_str(cfg, "out");
    if (!*path) {
        fprintf(stderr, "attest keygen: --out FILE is required (where to write the key pair)\n");
        return 2;
    }
    if (cfg_npositional(cfg) > 0) {
        fprintf(stderr, "attest keygen: unexpected argument '%s' (try --help)\n", cfg_positional(cfg, 0));
        return 2;
    }
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
    cfg_t *cfg = cfg_new("attest keygen",
                         "Usage: attest keygen --out FILE [--force]\n\n"
                         "Makes an Ed25519 key pair for an attester, writes it to FILE as JSON\n"
                         "{\"public\": hex, \"secret\": hex} (mode 0600) and prints the public key.",
                         s_defs, sizeof s_defs / sizeof s_defs[0]);
    int code = 2;
    if (cfg_parse(cfg, argc, argv) == AT_OK)
        code = cfg_help_requested(cfg) ? 0 : s_run(cfg);
    cfg_destroy(&cfg);
    return code;
}
