/*  jsonl.c: attestations and log entries as JSON lines; the key file.
 *  The field table is in jsonl.h. */
#include "jsonl.h"
#include "alloc.h"
#include "clock.h"
#include "wire.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  An attestation being built from JSON; a borrows from the JSON object and
 *  from the buffers here. */
typedef struct {
    attestation_t a;
    uint8_t attester[AT_KEY_BYTES];
    uint8_t nonce[AT_NONCE_BYTES];
    uint8_t sig[AT_SIG_BYTES];
    uint8_t data[AT_DATA_MAX];
    bool has_attester, has_sig;
} s_draft_t;

static const char *const s_known[] = { "schema",     "subject", "data",     "data_b64", "issued_at",
                                       "expires_at", "nonce",   "attester", "signature" };

static at_err s_fail(char *err, at_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static at_err s_fail(char *err, at_err rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, JSONL_ERR_MAX, fmt, ap);
    va_end(ap);
    return rc;
}

static at_err s_check_known(json_t *obj, char *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool known = false;
        for (size_t i = 0; i < sizeof s_known / sizeof s_known[0] && !known; i++)
            known = strcmp(key, s_known[i]) == 0;
        if (!known)
            return s_fail(err, AT_ERR_CONFIG, "unknown field \"%.64s\" (allowed: schema, subject, data, data_b64, "
                          "issued_at, expires_at, nonce, attester, signature)", key);
    }
    return AT_OK;
}

/*  A required string field of min..max bytes. */
static at_err s_str(json_t *obj, const char *name, size_t max, const char **p, size_t *n, char *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v)
        return s_fail(err, AT_ERR_CONFIG, "missing field \"%s\"", name);
    if (!json_is_string(v))
        return s_fail(err, AT_ERR_CONFIG, "field \"%s\" must be a string", name);
    *p = json_string_value(v);
    *n = json_string_length(v);
    if (*n == 0 || *n > max)
        return s_fail(err, *n ? AT_ERR_OVERSIZE : AT_ERR_RANGE, "field \"%s\" must be 1..%zu bytes, got %zu", name,
                      max, *n);
    return AT_OK;
}

/*  An optional Unix-seconds field; *present false when absent or null. A
 *  negative value is a u64 above INT64_MAX only when s_widen made it so. */
static at_err s_time(json_t *obj, const char *name, bool widened, uint64_t *out, bool *present, char *err)
{
    json_t *v = json_object_get(obj, name);
    *present = v && !json_is_null(v);
    if (!*present)
        return AT_OK;
    if (!json_is_integer(v) || (json_integer_value(v) < 0 && !widened))
        return s_fail(err, AT_ERR_CONFIG, "field \"%s\" must be a whole number of Unix seconds%s", name,
                      strcmp(name, "expires_at") == 0 ? " or null" : "");
    *out = (uint64_t) json_integer_value(v);
    return AT_OK;
}

/*  An optional hex field of exactly n bytes. */
static at_err s_hex(json_t *obj, const char *name, uint8_t *out, size_t n, bool *present, char *err)
{
    json_t *v = json_object_get(obj, name);
    *present = v != NULL;
    if (!v)
        return AT_OK;
    /* json_string_length, not strlen: with JSON_ALLOW_NUL "<hex>\u0000junk" must not pass */
    if (!json_is_string(v) || json_string_length(v) != 2 * n || !jsonl_unhex(json_string_value(v), out, n))
        return s_fail(err, AT_ERR_CONFIG, "field \"%s\" must be %zu hex digits", name, 2 * n);
    return AT_OK;
}

static at_err s_data(json_t *obj, s_draft_t *d, char *err)
{
    json_t *text = json_object_get(obj, "data"), *b64 = json_object_get(obj, "data_b64");
    d->a.data = d->data;
    d->a.data_len = 0;
    if (text && b64)
        return s_fail(err, AT_ERR_CONFIG, "give \"data\" or \"data_b64\", not both");
    if (text) {
        if (!json_is_string(text))
            return s_fail(err, AT_ERR_CONFIG, "field \"data\" must be a string (use \"data_b64\" for bytes)");
        if (json_string_length(text) > AT_DATA_MAX)
            return s_fail(err, AT_ERR_OVERSIZE, "field \"data\" is %zu bytes; at most %d", json_string_length(text),
                          AT_DATA_MAX);
        d->a.data_len = json_string_length(text);
        memcpy(d->data, json_string_value(text), d->a.data_len);
    } else if (b64) {
        const char *s = json_is_string(b64) ? json_string_value(b64) : NULL;
        if (!s || sodium_base642bin(d->data, sizeof d->data, s, json_string_length(b64), NULL, &d->a.data_len, NULL,
                                    sodium_base64_VARIANT_ORIGINAL) != 0)
            return s_fail(err, AT_ERR_CONFIG, "field \"data_b64\" must be standard base64 (with padding) of at "
                          "most %d bytes", AT_DATA_MAX);
    }
    return AT_OK;
}

static at_err s_fields(json_t *obj, bool widened, s_draft_t *d, char *err)
{
    at_err rc;
    bool has_issued, has_nonce;
    attestation_t *a = &d->a;
    a->version = AT_VERSION;
    if ((rc = s_check_known(obj, err))) return rc;
    if ((rc = s_str(obj, "schema", AT_SCHEMA_MAX, &a->schema, &a->schema_len, err))) return rc;
    if ((rc = s_str(obj, "subject", AT_SUBJECT_MAX, &a->subject, &a->subject_len, err))) return rc;
    if ((rc = s_data(obj, d, err))) return rc;
    if ((rc = s_time(obj, "issued_at", widened, &a->issued_at, &has_issued, err))) return rc;
    if ((rc = s_time(obj, "expires_at", widened, &a->expires_at, &a->has_expires, err))) return rc;
    if ((rc = s_hex(obj, "nonce", d->nonce, AT_NONCE_BYTES, &has_nonce, err))) return rc;
    if ((rc = s_hex(obj, "attester", d->attester, AT_KEY_BYTES, &d->has_attester, err))) return rc;
    if ((rc = s_hex(obj, "signature", d->sig, AT_SIG_BYTES, &d->has_sig, err))) return rc;
    if (!has_issued)
        a->issued_at = at_clock_wall_s();
    if (!has_nonce)
        randombytes_buf(d->nonce, sizeof d->nonce);
    if (a->has_expires && a->expires_at <= a->issued_at)
        return s_fail(err, AT_ERR_RANGE, "expires_at (%llu) must be after issued_at (%llu)",
                      (unsigned long long) a->expires_at, (unsigned long long) a->issued_at);
    a->nonce = d->nonce;
    a->attester = d->attester;
    a->signature = d->sig;
    return AT_OK;
}

/*  Keeps the given signature, or signs with sk. */
static at_err s_sign(s_draft_t *d, const uint8_t *sk, char *err)
{
    if (d->has_attester != d->has_sig)
        return s_fail(err, AT_ERR_CONFIG, "\"%s\" without \"%s\": give both (pre-signed) or neither (signed with "
                      "--key)", d->has_attester ? "attester" : "signature", d->has_attester ? "signature" : "attester");
    if (d->has_sig)
        return AT_OK;
    if (!sk)
        return s_fail(err, AT_ERR_CONFIG, "the line is not signed (no attester/signature) and no --key was given");
    crypto_sign_ed25519_sk_to_pk(d->attester, sk);
    attestation_sign(&d->a, sk, d->sig);
    return AT_OK;
}

/*  Copies the digits of the number at line[i..) to out + *o, as the int64
 *  of the same bits when it is a plain unsigned literal above INT64_MAX
 *  (then sets *widened); returns the index after the digits. */
static size_t s_widen_number(const char *line, size_t i, size_t n, char *out, size_t *o, bool *widened)
{
    size_t j = i;
    while (j < n && line[j] >= '0' && line[j] <= '9')
        j++;
    if ((j >= n || !strchr(".eE", line[j])) && j - i >= 19 && j - i <= 20) {
        char digits[24];
        memcpy(digits, line + i, j - i);
        digits[j - i] = '\0';
        errno = 0;
        unsigned long long u = strtoull(digits, NULL, 10);
        if (errno == 0 && u > INT64_MAX) {
            *o += (size_t) sprintf(out + *o, "%lld", (long long) (int64_t) (uint64_t) u);
            *widened = true;
            return j;
        }
    }
    memcpy(out + *o, line + i, j - i);
    *o += j - i;
    return j;
}

/*  jansson's integers are int64: an unsigned literal above INT64_MAX (a u64
 *  time that `attest log` printed) fails to parse. This copies the line with
 *  each such literal, outside strings, rewritten as the int64 of the same
 *  bits (json_int_t wraps back to the u64), and says whether it did. When
 *  the line has a negative number of its own it is left alone: every
 *  number field is unsigned, so such a line is refused anyway, and a
 *  negative value in a parsed line is then always a widened u64. Returns a
 *  new buffer (caller frees) with its length in *n_out. */
static char *s_widen(const char *line, size_t n, size_t *n_out, bool *widened)
{
    char *out = at_malloc(2 * n + 1);
    size_t o = 0;
    bool in_str = false, negative = false;
    *widened = false;
    for (size_t i = 0; i < n;) {
        char c = line[i];
        if (!in_str && c == '-' && i + 1 < n && line[i + 1] >= '0' && line[i + 1] <= '9')
            negative = true;
        if (!in_str && c >= '0' && c <= '9' && (i == 0 || !strchr("0123456789.eE+-", line[i - 1]))) {
            i = s_widen_number(line, i, n, out, &o, widened);
            continue;
        }
        if (in_str && c == '\\' && i + 1 < n)
            out[o++] = line[i++];   /* the escaped byte is copied below, whatever it is */
        else if (c == '"')
            in_str = !in_str;
        out[o++] = line[i++];
    }
    if (negative) {
        memcpy(out, line, n);
        o = n;
        *widened = false;
    }
    *n_out = o;
    return out;
}

at_err jsonl_parse_attestation(const char *line, size_t len, const uint8_t *sk, uint8_t *out, size_t *out_len,
                               char *err)
{
    json_error_t jerr;
    bool widened;
    size_t wlen;
    char *wide = s_widen(line, len, &wlen, &widened);
    json_t *obj = json_loadb(wide, wlen, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    free(wide);
    if (!obj)
        return s_fail(err, AT_ERR_CONFIG, "not JSON: %s (column %d)", jerr.text, jerr.column);
    at_err rc;
    s_draft_t d;
    memset(&d, 0, sizeof d);
    if (!json_is_object(obj))
        rc = s_fail(err, AT_ERR_CONFIG, "not a JSON object");
    else if ((rc = s_fields(obj, widened, &d, err)) == AT_OK && (rc = s_sign(&d, sk, err)) == AT_OK) {
        rc = attestation_encode(&d.a, out, AT_ENCODED_MAX, out_len);
        if (rc)
            s_fail(err, rc, "cannot encode the attestation: %s", at_strerror(rc));
    }
    json_decref(obj);
    return rc;
}

/* --------------------------------------------------------------------------
 * Output */

json_t *jsonl_hex(const uint8_t *bin, size_t n)
{
    char buf[2 * AT_ENCODED_MAX + 1];
    assert(n <= AT_ENCODED_MAX);
    sodium_bin2hex(buf, sizeof buf, bin, n);
    return json_string(buf);
}

bool jsonl_unhex(const char *s, uint8_t *bin, size_t n)
{
    size_t got = 0;
    const char *end = NULL;
    if (strlen(s) != 2 * n)
        return false;
    return sodium_hex2bin(bin, n, s, 2 * n, NULL, &got, &end) == 0 && got == n && *end == '\0';
}

static json_t *s_b64(const uint8_t *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *buf = at_malloc(cap);
    sodium_bin2base64(buf, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(buf);
    free(buf);
    return s;
}

void jsonl_add_attestation(json_t *obj, const attestation_t *a)
{
    json_object_set_new(obj, "schema", json_stringn(a->schema, a->schema_len));
    json_object_set_new(obj, "subject", json_stringn(a->subject, a->subject_len));
    /* json_stringn refuses bytes that are not valid UTF-8: then base64 */
    json_t *text = json_stringn(a->data_len ? (const char *) a->data : "", a->data_len);
    if (text)
        json_object_set_new(obj, "data", text);
    else
        json_object_set_new(obj, "data_b64", s_b64(a->data, a->data_len));
    json_object_set_new(obj, "issued_at", json_integer((json_int_t) a->issued_at));
    json_object_set_new(obj, "expires_at", a->has_expires ? json_integer((json_int_t) a->expires_at) : json_null());
    json_object_set_new(obj, "nonce", jsonl_hex(a->nonce, AT_NONCE_BYTES));
    json_object_set_new(obj, "attester", jsonl_hex(a->attester, AT_KEY_BYTES));
    json_object_set_new(obj, "signature", jsonl_hex(a->signature, AT_SIG_BYTES));
}

/*  A string from the log that may not be UTF-8 (a corrupt log): escaped. */
static json_t *s_text(const char *s, size_t n)
{
    json_t *v = json_stringn(n ? s : "", n);
    return v ? v : json_string("(not UTF-8)");
}

/*  A CURVE public key in Z85 (as in the certificate files and the logs);
 *  null when the entry names none. */
static json_t *s_z85(const uint8_t *key, size_t n)
{
    char z85[41];
    if (n != 32 || !zmq_z85_encode(z85, key, 32))
        return json_null();
    return json_string(z85);
}

json_t *jsonl_entry(const logdb_entry_t *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "index", json_integer((json_int_t) e->index));
    json_object_set_new(o, "seq", json_integer((json_int_t) e->seq));
    json_object_set_new(o, "epoch", json_integer((json_int_t) e->epoch));
    json_object_set_new(o, "id", jsonl_hex(e->id, AT_ID_BYTES));
    json_object_set_new(o, "verdict", json_string(e->verdict == WIRE_VALID ? "valid" : "invalid"));
    json_object_set_new(o, "reason", json_string(at_strerror(e->reason)));
    json_object_set_new(o, "producer", s_text(e->producer, e->producer_len));
    json_object_set_new(o, "cseq", json_integer((json_int_t) e->cseq));
    json_object_set_new(o, "worker", s_text(e->worker, e->worker_len));
    json_object_set_new(o, "t_received", json_integer((json_int_t) e->t_received));
    json_object_set_new(o, "t_dispatched", json_integer((json_int_t) e->t_dispatched));
    json_object_set_new(o, "t_verified", json_integer((json_int_t) e->t_verified));
    json_object_set_new(o, "t_committed", json_integer((json_int_t) e->t_committed));
    json_object_set_new(o, "prev_hash", jsonl_hex(e->prev_hash, LOGDB_HASH_BYTES));
    json_object_set_new(o, "format", json_integer(e->format));
    json_object_set_new(o, "producer_key", s_z85(e->producer_key, e->producer_key_len));
    json_object_set_new(o, "worker_key", s_z85(e->worker_key, e->worker_key_len));
    attestation_t a;
    at_err rc = attestation_decode(&a, e->att, e->att_len);
    if (rc == AT_OK)
        jsonl_add_attestation(o, &a);
    else {
        json_object_set_new(o, "attestation_b64", s_b64(e->att, e->att_len));
        json_object_set_new(o, "decode_error", json_string(at_strerror(rc)));
    }
    return o;
}

/*  Writes v; integers as u64 (see jsonl.h), everything else as jansson
 *  writes it. indent 0: compact; else that many spaces per level. */
static void s_dump(FILE *f, const json_t *v, int indent, int depth)
{
    const char *key;
    json_t *item;
    bool obj = json_is_object(v);
    if (json_is_integer(v)) {
        fprintf(f, "%" PRIu64, (uint64_t) json_integer_value(v));
        return;
    }
    if (!obj && !json_is_array(v)) {
        json_dumpf(v, f, JSON_ENCODE_ANY | JSON_COMPACT);
        return;
    }
    size_t size = obj ? json_object_size(v) : json_array_size(v);
    fputc(obj ? '{' : '[', f);
    void *it = obj ? json_object_iter((json_t *) v) : NULL;
    for (size_t i = 0; i < size; i++) {
        fprintf(f, "%s%s%*s", i ? "," : "", indent ? "\n" : "", indent * (depth + 1), "");
        if (obj) {
            key = json_object_iter_key(it);
            item = json_object_iter_value(it);
            json_t *k = json_string(key);
            json_dumpf(k, f, JSON_ENCODE_ANY);
            json_decref(k);
            fputs(indent ? ": " : ":", f);
            it = json_object_iter_next((json_t *) v, it);
        } else
            item = json_array_get(v, i);
        s_dump(f, item, indent, depth + 1);
    }
    if (indent && size)
        fprintf(f, "\n%*s", indent * depth, "");
    fputc(obj ? '}' : ']', f);
}

void jsonl_print(FILE *f, const json_t *obj)
{
    s_dump(f, obj, 0, 0);
    fputc('\n', f);
}

void jsonl_print_pretty(FILE *f, const json_t *obj)
{
    s_dump(f, obj, 2, 0);
    fputc('\n', f);
}

/* --------------------------------------------------------------------------
 * Key file */

at_err jsonl_write_keyfile(const char *path, const uint8_t pk[AT_KEY_BYTES], const uint8_t sk[AT_SECRET_BYTES],
                           bool force, char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | (force ? O_TRUNC : O_EXCL), 0600);
    if (fd < 0)
        return s_fail(err, AT_ERR_IO, "cannot create %s: %s%s", path, strerror(errno),
                      errno == EEXIST ? " (pass --force to overwrite it)" : "");
    char pkhex[2 * AT_KEY_BYTES + 1], skhex[2 * AT_SECRET_BYTES + 1];
    sodium_bin2hex(pkhex, sizeof pkhex, pk, AT_KEY_BYTES);
    sodium_bin2hex(skhex, sizeof skhex, sk, AT_SECRET_BYTES);
    char text[64 + sizeof pkhex + sizeof skhex];
    int n = snprintf(text, sizeof text, "{\"public\": \"%s\", \"secret\": \"%s\"}\n", pkhex, skhex);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, text, (size_t) n) == n && fsync(fd) == 0;
    int saved = errno;
    sodium_memzero(skhex, sizeof skhex);
    sodium_memzero(text, sizeof text);
    if (close(fd) != 0 || !ok)
        return s_fail(err, AT_ERR_IO, "cannot write %s: %s", path, strerror(ok ? errno : saved));
    return AT_OK;
}

static at_err s_key_fields(json_t *obj, const char *path, uint8_t sk[AT_SECRET_BYTES], char *err)
{
    uint8_t pk[AT_KEY_BYTES], derived[AT_KEY_BYTES];
    json_t *p = json_object_get(obj, "public"), *s = json_object_get(obj, "secret");
    if (!json_is_string(p) || !jsonl_unhex(json_string_value(p), pk, sizeof pk))
        return s_fail(err, AT_ERR_CONFIG, "%s: \"public\" must be 64 hex digits", path);
    if (!json_is_string(s) || !jsonl_unhex(json_string_value(s), sk, AT_SECRET_BYTES))
        return s_fail(err, AT_ERR_CONFIG, "%s: \"secret\" must be 128 hex digits", path);
    crypto_sign_ed25519_sk_to_pk(derived, sk);
    if (sodium_memcmp(derived, pk, sizeof pk) != 0)
        return s_fail(err, AT_ERR_CONFIG, "%s: the public key does not belong to the secret key", path);
    return AT_OK;
}

at_err jsonl_read_keyfile(const char *path, uint8_t sk[AT_SECRET_BYTES], char *err)
{
    json_error_t jerr;
    json_t *obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        bool missing = access(path, R_OK) != 0;
        return s_fail(err, missing ? AT_ERR_IO : AT_ERR_CONFIG, "cannot read key file %s: %s%s", path,
                      missing ? strerror(errno) : jerr.text, missing ? " (make one with 'attest keygen --out FILE')" : "");
    }
    at_err rc = json_is_object(obj) ? s_key_fields(obj, path, sk, err)
                                    : s_fail(err, AT_ERR_CONFIG, "%s: not a key file (want a JSON object)", path);
    /* the parsed secret hex stays in jansson's heap: wipe it before freeing */
    json_t *s = json_object_get(obj, "secret");
    if (json_is_string(s))
        sodium_memzero((void *) json_string_value(s), json_string_length(s));
    json_decref(obj);
    if (rc)
        sodium_memzero(sk, AT_SECRET_BYTES);
    return rc;
}
