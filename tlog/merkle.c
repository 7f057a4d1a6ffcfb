/*  merkle.c: the Merkle tree of the log (RFC 9162 section 2.1) computed
 *  from stored hashes, its inclusion and consistency proofs, and the
 *  C2SP tlog-tiles paths (see merkle.h).
 *
 *  Every subtree the MTH recursion or a proof visits is [lo, hi) with lo a
 *  multiple of a power of two >= hi - lo ("aligned"): such a range is
 *  either one stored hash (hi - lo a power of two) or the stored hash of
 *  its left part, of the largest power of two k < hi - lo leaves, joined
 *  with the (again aligned) rest. s_mth follows exactly that, so a range
 *  costs at most 64 reads and 64 levels of recursion. Proof generation
 *  and verification follow the RFC's algorithms step by step; nothing
 *  here allocates.
 */
#include "merkle.h"
#include "sha256.h"
#include <sodium.h>
#include <stdio.h>
#include <string.h>

void merkle_leaf_hash(const void *leaf, size_t len, uint8_t out[MERKLE_HASH_BYTES])
{
    static const uint8_t z = 0;
    const sha256_part_t parts[2] = { { &z, 1 }, { leaf, len } };
    sha256_parts(parts, 2, out);
}

void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES], const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t b[1 + 2 * MERKLE_HASH_BYTES];
    b[0] = 1;
    memcpy(b + 1, left, MERKLE_HASH_BYTES);
    memcpy(b + 1 + MERKLE_HASH_BYTES, right, MERKLE_HASH_BYTES);
    sha256_digest(b, sizeof b, out);
}

/*  The largest power of two strictly smaller than n (n >= 2): MTH's split. */
static uint64_t s_split(uint64_t n)
{
    uint64_t k = (uint64_t) 1 << (63 - __builtin_clzll(n - 1));
    return k;
}

static bool s_pow2(uint64_t n) { return n && !(n & (n - 1)); }

/*  True when [lo, lo + n) is aligned: lo a multiple of a power of two >= n. */
static bool s_aligned(uint64_t lo, uint64_t n)
{
    if (lo == 0)
        return true;
    unsigned tz = (unsigned) __builtin_ctzll(lo);   /* lo is a multiple of 2^tz, and of nothing larger */
    return tz >= 64 - (unsigned) __builtin_clzll(n) - (s_pow2(n) ? 1u : 0u);
}

/*  MTH of the aligned range [lo, hi), lo < hi. */
static at_err s_mth(const merkle_reader_t *r, uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_BYTES])
{
    uint64_t n = hi - lo;
    if (s_pow2(n)) {
        unsigned level = (unsigned) __builtin_ctzll(n);
        return r->read(r->arg, level, lo >> level, out);
    }
    uint64_t k = s_split(n);
    uint8_t left[MERKLE_HASH_BYTES], right[MERKLE_HASH_BYTES];
    at_err e = s_mth(r, lo, lo + k, left);
    if (e == AT_OK)
        e = s_mth(r, lo + k, hi, right);
    if (e == AT_OK)
        merkle_node_hash(left, right, out);
    return e;
}

at_err merkle_range_hash(const merkle_reader_t *r, uint64_t lo, uint64_t hi, uint8_t out[MERKLE_HASH_BYTES])
{
    if (lo >= hi || !s_aligned(lo, hi - lo))
        return AT_ERR_RANGE;
    return s_mth(r, lo, hi, out);
}

at_err merkle_root(const merkle_reader_t *r, uint64_t size, uint8_t out[MERKLE_HASH_BYTES])
{
    if (size == 0) {
        sha256_digest(NULL, 0, out);
        return AT_OK;
    }
    return s_mth(r, 0, size, out);
}

/*  PATH(m, D[lo:hi]) of RFC 9162 2.1.3.1, appended from the leaf's
 *  sibling up: the deeper part is written first, then this level's
 *  sibling subtree. */
static at_err s_path(const merkle_reader_t *r, uint64_t m, uint64_t lo, uint64_t hi, merkle_hash_t *proof,
                     size_t *len)
{
    if (hi - lo == 1)
        return AT_OK;
    uint64_t k = s_split(hi - lo);
    bool left = m < lo + k;
    at_err e = left ? s_path(r, m, lo, lo + k, proof, len) : s_path(r, m, lo + k, hi, proof, len);
    if (e != AT_OK)
        return e;
    e = left ? s_mth(r, lo + k, hi, proof[*len]) : s_mth(r, lo, lo + k, proof[*len]);
    if (e == AT_OK)
        (*len)++;
    return e;
}

at_err merkle_prove_inclusion(const merkle_reader_t *r, uint64_t index, uint64_t size,
                              merkle_hash_t proof[MERKLE_PROOF_MAX], size_t *len)
{
    *len = 0;
    if (index >= size)
        return AT_ERR_RANGE;
    return s_path(r, index, 0, size, proof, len);
}

/*  SUBPROOF(m, D[lo:hi], b) of RFC 9162 2.1.4.1, m counted from lo. */
static at_err s_subproof(const merkle_reader_t *r, uint64_t m, uint64_t lo, uint64_t hi, bool b,
                         merkle_hash_t *proof, size_t *len)
{
    if (lo + m == hi) {
        if (b)
            return AT_OK;
        at_err e = s_mth(r, lo, hi, proof[*len]);
        if (e == AT_OK)
            (*len)++;
        return e;
    }
    uint64_t k = s_split(hi - lo);
    bool left = m <= k;
    at_err e = left ? s_subproof(r, m, lo, lo + k, b, proof, len)
                    : s_subproof(r, m - k, lo + k, hi, false, proof, len);
    if (e != AT_OK)
        return e;
    e = left ? s_mth(r, lo + k, hi, proof[*len]) : s_mth(r, lo, lo + k, proof[*len]);
    if (e == AT_OK)
        (*len)++;
    return e;
}

at_err merkle_prove_consistency(const merkle_reader_t *r, uint64_t old_size, uint64_t new_size,
                                merkle_hash_t proof[2 * MERKLE_PROOF_MAX], size_t *len)
{
    *len = 0;
    if (old_size == 0 || old_size > new_size)
        return AT_ERR_RANGE;
    return s_subproof(r, old_size, 0, new_size, true, proof, len);
}

/*  Right-shifts *fn and *sn together until LSB(fn) is set or fn is 0. */
static void s_shift_to_set(uint64_t *fn, uint64_t *sn)
{
    while (*fn && !(*fn & 1)) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

bool merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                             const merkle_hash_t *proof, size_t len, const uint8_t root[MERKLE_HASH_BYTES])
{
    if (index >= size || len > MERKLE_PROOF_MAX || (len && !proof))
        return false;
    uint64_t fn = index, sn = size - 1;
    uint8_t h[MERKLE_HASH_BYTES];
    memcpy(h, leaf_hash, MERKLE_HASH_BYTES);
    for (size_t i = 0; i < len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], h, h);
            s_shift_to_set(&fn, &sn);
        } else {
            merkle_node_hash(h, proof[i], h);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(h, root, MERKLE_HASH_BYTES) == 0;
}

/*  Steps 3 to 7 of RFC 9162 2.1.4.2 over the path seed, proof[from..len). */
static bool s_consistency_walk(uint64_t old_size, uint64_t new_size, const uint8_t seed[MERKLE_HASH_BYTES],
                               const merkle_hash_t *proof, size_t from, size_t len,
                               const uint8_t old_root[MERKLE_HASH_BYTES], const uint8_t new_root[MERKLE_HASH_BYTES])
{
    uint64_t fn = old_size - 1, sn = new_size - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[MERKLE_HASH_BYTES], sr[MERKLE_HASH_BYTES];
    memcpy(fr, seed, MERKLE_HASH_BYTES);
    memcpy(sr, seed, MERKLE_HASH_BYTES);
    for (size_t i = from; i < len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], fr, fr);
            merkle_node_hash(proof[i], sr, sr);
            s_shift_to_set(&fn, &sn);
        } else {
            merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    bool a = sodium_memcmp(fr, old_root, MERKLE_HASH_BYTES) == 0;
    bool b = sodium_memcmp(sr, new_root, MERKLE_HASH_BYTES) == 0;
    return sn == 0 && a && b;
}

bool merkle_verify_consistency(uint64_t old_size, uint64_t new_size, const uint8_t old_root[MERKLE_HASH_BYTES],
                               const uint8_t new_root[MERKLE_HASH_BYTES], const merkle_hash_t *proof, size_t len)
{
    if (old_size == 0 || old_size > new_size || len > 2 * MERKLE_PROOF_MAX || (len && !proof))
        return false;
    if (old_size == new_size)
        return len == 0 && sodium_memcmp(old_root, new_root, MERKLE_HASH_BYTES) == 0;
    if (len == 0)
        return false;
    /* step 2: a power-of-two old tree is itself the first node of the path */
    if (s_pow2(old_size))
        return s_consistency_walk(old_size, new_size, old_root, proof, 0, len, old_root, new_root);
    return s_consistency_walk(old_size, new_size, proof[0], proof, 1, len, old_root, new_root);
}

bool merkle_hash_from_tile(unsigned level, uint64_t n, uint64_t tile_n, const merkle_hash_t *tile, size_t width,
                           uint8_t out[MERKLE_HASH_BYTES])
{
    unsigned k = level % MERKLE_TILE_HEIGHT;
    if (!tile || width == 0 || width > MERKLE_TILE_WIDTH || level >= 64 || n > (UINT64_MAX >> k))
        return false;
    uint64_t first = n << k;   /* index of its first hash at level 8 * L */
    size_t count = (size_t) 1 << k;
    if (first / MERKLE_TILE_WIDTH != tile_n || first % MERKLE_TILE_WIDTH + count > width)
        return false;
    merkle_hash_t buf[MERKLE_TILE_WIDTH / 2];   /* 2^k <= 128 hashes, reduced pairwise in place */
    memcpy(buf, tile[first % MERKLE_TILE_WIDTH], count * MERKLE_HASH_BYTES);
    for (; count > 1; count /= 2)
        for (size_t i = 0; i < count / 2; i++)
            merkle_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
    memcpy(out, buf[0], MERKLE_HASH_BYTES);
    return true;
}

/*  Writes n as 3-digit groups, "x" before all but the last; returns the
 *  length (at most 7 * 4 - 1 = 27 for UINT64_MAX). */
static size_t s_put_index(char *p, uint64_t n)
{
    unsigned groups[7], g = 0;
    do {
        groups[g++] = (unsigned) (n % 1000);
        n /= 1000;
    } while (n);
    size_t len = 0;
    while (g--) {
        if (g)
            p[len++] = 'x';
        p[len++] = (char) ('0' + groups[g] / 100);
        p[len++] = (char) ('0' + groups[g] / 10 % 10);
        p[len++] = (char) ('0' + groups[g] % 10);
        if (g)
            p[len++] = '/';
    }
    return len;
}

size_t merkle_tile_path(char *out, size_t cap, int level, uint64_t n, unsigned width)
{
    if (width == 0 || width > MERKLE_TILE_WIDTH || level < MERKLE_TILE_ENTRIES || level > 63)
        return 0;
    char buf[MERKLE_TILE_PATH_MAX];
    int len = level == MERKLE_TILE_ENTRIES ? snprintf(buf, sizeof buf, "tile/entries/")
                                           : snprintf(buf, sizeof buf, "tile/%d/", level);
    size_t l = (size_t) len;
    l += s_put_index(buf + l, n);
    buf[l] = '\0';
    if (width < MERKLE_TILE_WIDTH)
        l += (size_t) snprintf(buf + l, sizeof buf - l, ".p/%u", width);
    if (l >= cap)
        return 0;
    memcpy(out, buf, l + 1);
    return l;
}

/*  Reads exactly `digits` decimal digits (1 <= digits <= 3) at *p; with
 *  strict, no leading zero unless the number is "0". */
static bool s_digits(const char **p, size_t digits, bool strict, unsigned *v)
{
    const char *s = *p;
    unsigned x = 0;
    size_t i = 0;
    for (; i < digits && s[i] >= '0' && s[i] <= '9'; i++)
        x = x * 10 + (unsigned) (s[i] - '0');
    if (i == 0 || (!strict && i != digits) || (strict && i > 1 && s[0] == '0'))
        return false;
    *p = s + i;
    *v = x;
    return true;
}

/*  Parses the level element "<L>/" or "entries/" after "tile/". */
static bool s_parse_level(const char **p, int *level)
{
    if (strncmp(*p, "entries/", 8) == 0) {
        *p += 8;
        *level = MERKLE_TILE_ENTRIES;
        return true;
    }
    unsigned v;
    if (!s_digits(p, 2, true, &v) || v > 63 || **p != '/')
        return false;
    (*p)++;
    *level = (int) v;
    return true;
}

/*  Parses the index groups "xDDD/.../DDD": at most 7 groups, no
 *  overflow, and no leading "x000/" group (n has one spelling). */
static bool s_parse_index(const char **p, uint64_t *n)
{
    uint64_t v = 0;
    for (unsigned g = 0; g < 7; g++) {
        bool more = **p == 'x';
        unsigned d;
        *p += more;
        if (!s_digits(p, 3, false, &d) || v > (UINT64_MAX - d) / 1000)
            return false;
        v = v * 1000 + d;
        if (!more) {
            *n = v;
            return true;
        }
        if (v == 0 || **p != '/')
            return false;
        (*p)++;
    }
    return false;
}

bool merkle_tile_parse(const char *path, int *level, uint64_t *n, unsigned *width)
{
    const char *p = path;
    unsigned w = MERKLE_TILE_WIDTH;
    if (!path || strncmp(p, "tile/", 5) != 0)
        return false;
    p += 5;
    if (!s_parse_level(&p, level) || !s_parse_index(&p, n))
        return false;
    if (strncmp(p, ".p/", 3) == 0) {
        p += 3;
        if (!s_digits(&p, 3, true, &w) || w == 0 || w >= MERKLE_TILE_WIDTH)
            return false;
    }
    if (*p != '\0')
        return false;
    *width = w;
    return true;
}
