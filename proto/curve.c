/*  curve.c: CurveZMQ key files and socket options (see curve.h).
 *
 *  Files are read and written with CZMQ's zcert (the ZPL format zcertstore
 *  and pyzmq's zmq.auth read). A secret file must not be readable by group
 *  or others: a key that leaked is refused at start, as ssh does, rather
 *  than used. Secrets are never logged; public keys are (in Z85).
 */
#include "curve.h"
#include "log.h"
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_ZERO_KEY "0000000000000000000000000000000000000000"

static void s_copy_keys(zcert_t *cert, curve_keys_t *out)
{
    snprintf(out->pub, sizeof out->pub, "%s", zcert_public_txt(cert));
    snprintf(out->sec, sizeof out->sec, "%s", zcert_secret_txt(cert));
}

/*  0 when path is a regular file of mode 0600 or stricter, else -1 with err. */
static int s_check_private(const char *path, char err[CURVE_ERR_MAX])
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, CURVE_ERR_MAX, "%.400s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        snprintf(err, CURVE_ERR_MAX, "%.400s: a secret key file must be a regular file of mode 0600 (it is %04o)",
                 path, (unsigned) (st.st_mode & 07777));
        return -1;
    }
    return 0;
}

at_err curve_keygen(const char *path, bool force, curve_keys_t *out, char err[CURVE_ERR_MAX])
{
    char secret[1024];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (!force && (zsys_file_exists(path) || zsys_file_exists(secret))) {
        snprintf(err, CURVE_ERR_MAX, "%.200s or %.200s exists (--force overwrites)", path, secret);
        return AT_ERR_IO;
    }
    zcert_t *cert = zcert_new();
    if (!cert)
        abort();
    zcert_set_meta(cert, "created-by", "attest keygen --curve");
    (void) unlink(secret);   /* a fresh file gets the private mode */
    int rc = zcert_save(cert, path);
    if (rc == 0)
        rc = chmod(secret, 0600);
    if (rc != 0) {
        snprintf(err, CURVE_ERR_MAX, "cannot write %s: %s", path, strerror(errno));
        zcert_destroy(&cert);
        return AT_ERR_IO;
    }
    if (s_check_private(secret, err) != 0) {
        zcert_destroy(&cert);
        return AT_ERR_IO;
    }
    if (out)
        s_copy_keys(cert, out);
    zcert_destroy(&cert);
    return AT_OK;
}

at_err curve_load_secret(const char *path, curve_keys_t *out, char err[CURVE_ERR_MAX])
{
    memset(out, 0, sizeof *out);
    char secret[1024];
    snprintf(secret, sizeof secret, "%s_secret", path);
    const char *file = zsys_file_exists(secret) ? secret : path;
    if (s_check_private(file, err) != 0)
        return AT_ERR_IO;
    zcert_t *cert = zcert_load(file);
    if (!cert) {
        snprintf(err, CURVE_ERR_MAX, "%.400s: not a CURVE certificate", file);
        return AT_ERR_IO;
    }
    s_copy_keys(cert, out);
    zcert_destroy(&cert);
    if (strcmp(out->sec, S_ZERO_KEY) == 0) {
        curve_keys_wipe(out);
        snprintf(err, CURVE_ERR_MAX, "%.400s holds no secret key (give the NAME_secret file)", file);
        return AT_ERR_IO;
    }
    return AT_OK;
}

at_err curve_load_public(const char *path, char z85[CURVE_Z85_LEN + 1], char err[CURVE_ERR_MAX])
{
    zcert_t *cert = zsys_file_exists(path) ? zcert_load(path) : NULL;
    if (!cert) {
        snprintf(err, CURVE_ERR_MAX, "%s: %s", path,
                 zsys_file_exists(path) ? "not a CURVE certificate" : "no such file");
        return AT_ERR_IO;
    }
    snprintf(z85, CURVE_Z85_LEN + 1, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return AT_OK;
}

void curve_keys_wipe(curve_keys_t *k)
{
    sodium_memzero(k, sizeof *k);
}

void curve_server(void *zsock, const curve_keys_t *k, const char *domain)
{
    zsock_set_zap_domain(zsock, domain);
    zsock_set_curve_server(zsock, 1);
    zsock_set_curve_publickey(zsock, k->pub);
    zsock_set_curve_secretkey(zsock, k->sec);
}

void curve_client(void *zsock, const curve_keys_t *k, const char *server_z85)
{
    zsock_set_curve_publickey(zsock, k->pub);
    zsock_set_curve_secretkey(zsock, k->sec);
    zsock_set_curve_serverkey(zsock, server_z85);
}

int curve_require(const char *prog, const char *secret_path, bool insecure, curve_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    if (!*secret_path && insecure) {
        at_log_warn("SEC-INSECURE", "%s: --insecure: every link in plaintext, no peer authenticated", prog);
        return 0;
    }
    if (!*secret_path) {
        fprintf(stderr, "%s: no key: set curve-secret FILE (a secret certificate made by "
                "`attest keygen --curve`), or --insecure for plaintext\n", prog);
        return 2;
    }
    char err[CURVE_ERR_MAX];
    if (curve_load_secret(secret_path, keys, err) != AT_OK) {
        fprintf(stderr, "%s: curve-secret: %s\n", prog, err);
        return 2;
    }
    at_log_info("SEC-KEY", "%s: CURVE on, public key %s", prog, keys->pub);
    return 0;
}

int curve_require_peers(const char *prog, bool insecure, size_t n, const char *const *settings,
                        const char *const *paths, char (*out)[CURVE_Z85_LEN + 1])
{
    for (size_t i = 0; i < n && !insecure; i++) {
        char err[CURVE_ERR_MAX];
        if (!*paths[i]) {
            fprintf(stderr, "%s: CURVE needs %s FILE (the peer's public certificate)\n", prog, settings[i]);
            return 2;
        }
        if (curve_load_public(paths[i], out[i], err) != AT_OK) {
            fprintf(stderr, "%s: %s: %s\n", prog, settings[i], err);
            return 2;
        }
    }
    return 0;
}

bool curve_z85_decode(const char *z85, size_t len, uint8_t out[CURVE_KEY_BYTES])
{
    char buf[CURVE_Z85_LEN + 1];
    if (len != CURVE_Z85_LEN)
        return false;
    memcpy(buf, z85, len);
    buf[len] = '\0';
    return zmq_z85_decode(out, buf) != NULL;
}
