/*  test_merkle.c: the Merkle tree, its proofs and the tile paths
 *  (tlog/merkle.h).
 *
 *  Known answers first (the RFC 6962 / Certificate Transparency test
 *  tree), then every tree size 1..300 against a naive recursive MTH over
 *  the leaf hashes, every inclusion proof and a broad set of consistency
 *  proofs, each also tampered with; the proofs are read once from an
 *  array of all stored hashes and once from tiles (merkle_hash_from_tile),
 *  which must agree. Then tile paths: round trips and a reject table.
 *
 *  `test_merkle --vectors` prints roots and proofs over the leaves
 *  "leaf-<i>" in the format tests/go/merklecheck prints with Go's
 *  golang.org/x/mod/sumdb/tlog; ctest go_merkle_vectors diffs the two.
 */
#include "check.h"
#include "merkle.h"
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>

#define MAXN 300     /* tree sizes checked exhaustively */
#define BIGN 70000   /* the C2SP example size: tiles of level 0, 1 and 2 */
#define LEVELS 17    /* 2^17 > BIGN */

/*  All stored hashes of a tree of `count` leaves: hash[l][n] = (l, n). */
typedef struct {
    merkle_hash_t *hash[LEVELS];
    uint64_t count;
} store_t;

/*  A reader over a store_t that only answers inside a tree of `size`
 *  leaves, as a log that has grown only that far can. */
typedef struct {
    const store_t *st;
    uint64_t size;
    unsigned reads;
} view_t;

static void s_store_build(store_t *st, uint64_t count, void (*leaf)(uint64_t, uint8_t *))
{
    st->count = count;
    for (unsigned l = 0; l < LEVELS; l++) {
        uint64_t w = count >> l;
        st->hash[l] = w ? calloc(w, sizeof(merkle_hash_t)) : NULL;
        for (uint64_t n = 0; n < w; n++) {
            if (l == 0)
                leaf(n, st->hash[0][n]);
            else
                merkle_node_hash(st->hash[l - 1][2 * n], st->hash[l - 1][2 * n + 1], st->hash[l][n]);
        }
    }
}

static void s_store_free(store_t *st)
{
    for (unsigned l = 0; l < LEVELS; l++)
        free(st->hash[l]);
}

/*  Inside the view: (level, n) is a complete subtree of the first size leaves. */
static bool s_inside(const view_t *v, unsigned level, uint64_t n)
{
    return level < LEVELS && n < (v->size >> level);
}

static at_err s_read_array(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    view_t *v = arg;
    v->reads++;
    if (!s_inside(v, level, n))
        return AT_ERR_NOT_FOUND;
    memcpy(out, v->st->hash[level][n], MERKLE_HASH_BYTES);
    return AT_OK;
}

/*  Reads (level, n) as a tile client does: fetches tile (L, N) of the
 *  tree of v->size leaves (full or partial, as a tile server would serve
 *  it) and computes the hash from it. */
static at_err s_read_tile(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    view_t *v = arg;
    v->reads++;
    unsigned base = level / MERKLE_TILE_HEIGHT * MERKLE_TILE_HEIGHT;
    uint64_t tile_n = (n << (level - base)) / MERKLE_TILE_WIDTH;
    uint64_t have = base < LEVELS ? v->size >> base : 0;   /* hashes of level base in the tree */
    if (have <= tile_n * MERKLE_TILE_WIDTH)
        return AT_ERR_NOT_FOUND;
    uint64_t width = have - tile_n * MERKLE_TILE_WIDTH;
    width = width > MERKLE_TILE_WIDTH ? MERKLE_TILE_WIDTH : width;
    const merkle_hash_t *tile = v->st->hash[base] + tile_n * MERKLE_TILE_WIDTH;
    return merkle_hash_from_tile(level, n, tile_n, tile, (size_t) width, out) ? AT_OK : AT_ERR_NOT_FOUND;
}

/*  Reference MTH (RFC 9162 2.1.1) straight over the leaf hashes. */
static void s_naive(const merkle_hash_t *leaves, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], MERKLE_HASH_BYTES);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t l[MERKLE_HASH_BYTES], r[MERKLE_HASH_BYTES];
    s_naive(leaves, k, l);
    s_naive(leaves + k, n - k, r);
    merkle_node_hash(l, r, out);
}

static void s_hex(const char *hex, uint8_t out[MERKLE_HASH_BYTES])
{
    if (check_unhex(hex, out, MERKLE_HASH_BYTES) != MERKLE_HASH_BYTES)
        abort();   /* a typo in this file */
}

/* ---- known answers ------------------------------------------------------ */

/*  The RFC 6962 test tree of Certificate Transparency, as published in
 *  transparency-dev/merkle (testonly/constants.go: LeafInputs, RootHashes;
 *  proof/verify_test.go: inclusionProofs, consistencyProofs), used as data
 *  only. Those tables count leaves from 1; the indices below are 0-based. */
static const char *const s_ct_leaves[8] = {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                           "606162636465666768696a6b6c6d6e6f"};
static const char *const s_ct_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};
#define H_96A2 "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
#define H_5F08 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
#define H_6B47 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
#define H_BC1A "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
#define H_CA85 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
#define H_D37E "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
#define H_FAC5 "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
#define H_6E34 "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define H_0EBC "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
#define H_B086 "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"

typedef struct {
    uint64_t a, b;          /* inclusion: index, size; consistency: old, new */
    size_t len;
    const char *proof[3];
} ct_proof_t;

static const ct_proof_t s_ct_inclusion[] = {
    {0, 1, 0, {NULL}},
    {0, 8, 3, {H_96A2, H_5F08, H_6B47}},
    {5, 8, 3, {H_BC1A, H_CA85, H_D37E}},
    {2, 3, 1, {H_FAC5}},
    {1, 5, 3, {H_6E34, H_5F08, H_BC1A}},
};
static const ct_proof_t s_ct_consistency[] = {
    {1, 1, 0, {NULL}},
    {1, 8, 3, {H_96A2, H_5F08, H_6B47}},
    {6, 8, 3, {H_0EBC, H_CA85, H_D37E}},
    {2, 5, 2, {H_5F08, H_BC1A}},
    {6, 7, 3, {H_0EBC, H_B086, H_D37E}},
};

static store_t s_ct;

static void s_ct_leaf(uint64_t i, uint8_t *out)
{
    uint8_t b[16];
    long n = check_unhex(s_ct_leaves[i], b, sizeof b);
    merkle_leaf_hash(b, (size_t) n, out);
}

static bool s_proof_is(const merkle_hash_t *got, size_t len, const ct_proof_t *want)
{
    if (len != want->len)
        return false;
    for (size_t i = 0; i < len; i++) {
        uint8_t h[MERKLE_HASH_BYTES];
        s_hex(want->proof[i], h);
        if (memcmp(h, got[i], MERKLE_HASH_BYTES))
            return false;
    }
    return true;
}

static void test_known_answers(void)
{
    s_store_build(&s_ct, 8, s_ct_leaf);
    uint8_t root[9][MERKLE_HASH_BYTES], got[MERKLE_HASH_BYTES];
    for (uint64_t n = 0; n <= 8; n++) {
        view_t v = {&s_ct, n, 0};
        merkle_reader_t r = {s_read_array, &v};
        s_hex(s_ct_roots[n], root[n]);
        CHECK(merkle_root(&r, n, got) == AT_OK && !memcmp(got, root[n], MERKLE_HASH_BYTES));
    }
    merkle_hash_t proof[2 * MERKLE_PROOF_MAX];
    size_t len = 0;
    for (size_t i = 0; i < sizeof s_ct_inclusion / sizeof *s_ct_inclusion; i++) {
        const ct_proof_t *c = &s_ct_inclusion[i];
        view_t v = {&s_ct, c->b, 0};
        merkle_reader_t r = {s_read_array, &v};
        CHECK(merkle_prove_inclusion(&r, c->a, c->b, proof, &len) == AT_OK && s_proof_is(proof, len, c));
        CHECK(merkle_verify_inclusion(c->a, c->b, s_ct.hash[0][c->a], proof, len, root[c->b]));
    }
    for (size_t i = 0; i < sizeof s_ct_consistency / sizeof *s_ct_consistency; i++) {
        const ct_proof_t *c = &s_ct_consistency[i];
        view_t v = {&s_ct, c->b, 0};
        merkle_reader_t r = {s_read_array, &v};
        CHECK(merkle_prove_consistency(&r, c->a, c->b, proof, &len) == AT_OK && s_proof_is(proof, len, c));
        CHECK(merkle_verify_consistency(c->a, c->b, root[c->a], root[c->b], proof, len));
    }
    s_store_free(&s_ct);
}

/* ---- every size 1..MAXN -------------------------------------------------- */

static store_t s_big;

static void s_leaf_i(uint64_t i, uint8_t *out)
{
    char b[32];
    int n = snprintf(b, sizeof b, "leaf-%" PRIu64, i);
    merkle_leaf_hash(b, (size_t) n, out);
}

/*  The inclusion proof of index in size verifies, and fails for any flipped
 *  bit, another index, another size, another leaf, a shorter or longer
 *  proof. `thorough` flips every element (else one). */
static void s_check_inclusion(const merkle_hash_t *proof, size_t len, uint64_t index, uint64_t size,
                              const uint8_t root[MERKLE_HASH_BYTES], bool thorough, uint64_t *rnd)
{
    const uint8_t *leaf = s_big.hash[0][index];
    merkle_hash_t t[MERKLE_PROOF_MAX + 1];
    memcpy(t, proof, len * sizeof *t);
    CHECK(merkle_verify_inclusion(index, size, leaf, t, len, root));
    for (size_t i = 0; i < len; i++) {
        if (!thorough && i != check_rand(rnd) % len)
            continue;
        t[i][check_rand(rnd) % MERKLE_HASH_BYTES] ^= (uint8_t) (1u << (check_rand(rnd) % 8));
        CHECK(!merkle_verify_inclusion(index, size, leaf, t, len, root));
        memcpy(t[i], proof[i], MERKLE_HASH_BYTES);
    }
    if (index + 1 < size)
        CHECK(!merkle_verify_inclusion(index + 1, size, leaf, t, len, root));
    if (index > 0)
        CHECK(!merkle_verify_inclusion(index - 1, size, leaf, t, len, root));
    CHECK(!merkle_verify_inclusion(index, size * 2, leaf, t, len, root));
    if (index < size / 2)
        CHECK(!merkle_verify_inclusion(index, size / 2, leaf, t, len, root));
    CHECK(!merkle_verify_inclusion(index, size, s_big.hash[0][index + 1], t, len, root));
    if (len > 0)
        CHECK(!merkle_verify_inclusion(index, size, leaf, t, len - 1, root));
    memcpy(t[len], root, MERKLE_HASH_BYTES);
    CHECK(!merkle_verify_inclusion(index, size, leaf, t, len + 1, root));
}

static void test_all_sizes_inclusion(void)
{
    uint64_t rnd = 0x9e3779b97f4a7c15ULL;
    merkle_hash_t p1[MERKLE_PROOF_MAX], p2[MERKLE_PROOF_MAX];
    unsigned bad_root = 0, bad_proof = 0, differ = 0, max_reads = 0;
    for (uint64_t size = 1; size <= MAXN; size++) {
        view_t va = {&s_big, size, 0}, vt = {&s_big, size, 0};
        merkle_reader_t ra = {s_read_array, &va}, rt = {s_read_tile, &vt};
        uint8_t want[MERKLE_HASH_BYTES], got[MERKLE_HASH_BYTES], got_t[MERKLE_HASH_BYTES];
        s_naive(s_big.hash[0], size, want);
        bad_root += merkle_root(&ra, size, got) != AT_OK || memcmp(got, want, MERKLE_HASH_BYTES);
        bad_root += merkle_root(&rt, size, got_t) != AT_OK || memcmp(got_t, want, MERKLE_HASH_BYTES);
        for (uint64_t i = 0; i < size; i++) {
            size_t l1 = 0, l2 = 0;
            va.reads = 0;
            bad_proof += merkle_prove_inclusion(&ra, i, size, p1, &l1) != AT_OK;
            max_reads = va.reads > max_reads ? va.reads : max_reads;
            if (size <= 64 || (i + size) % 8 == 0) {   /* tiles cost up to 127 hashes a read: a sample */
                bad_proof += merkle_prove_inclusion(&rt, i, size, p2, &l2) != AT_OK;
                differ += l1 != l2 || memcmp(p1, p2, l1 * sizeof *p1);
            }
            s_check_inclusion(p1, l1, i, size, want, size <= 64, &rnd);
        }
    }
    CHECK(bad_root == 0);
    CHECK(bad_proof == 0);
    CHECK(differ == 0);
    CHECK(max_reads <= 2 * 9);   /* 300 leaves: a 9-level tree */
}

/*  The consistency proof old -> new verifies, and fails tampered. */
static void s_check_consistency(const merkle_hash_t *proof, size_t len, uint64_t m, uint64_t n, bool thorough,
                                uint64_t *rnd)
{
    uint8_t r1[MERKLE_HASH_BYTES], r2[MERKLE_HASH_BYTES];
    s_naive(s_big.hash[0], m, r1);
    s_naive(s_big.hash[0], n, r2);
    merkle_hash_t t[2 * MERKLE_PROOF_MAX + 1];
    memcpy(t, proof, len * sizeof *t);
    CHECK(merkle_verify_consistency(m, n, r1, r2, t, len));
    if (m == n) {
        CHECK(len == 0);
        CHECK(!merkle_verify_consistency(m, n, r1, s_big.hash[0][0], t, 0) || m == 1);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (!thorough && i != check_rand(rnd) % len)
            continue;
        t[i][check_rand(rnd) % MERKLE_HASH_BYTES] ^= (uint8_t) (1u << (check_rand(rnd) % 8));
        CHECK(!merkle_verify_consistency(m, n, r1, r2, t, len));
        memcpy(t[i], proof[i], MERKLE_HASH_BYTES);
    }
    CHECK(!merkle_verify_consistency(m, n, r2, r1, t, len));
    CHECK(!merkle_verify_consistency(m, n * 2, r1, r2, t, len));
    if (m <= n / 2)
        CHECK(!merkle_verify_consistency(m, n / 2, r1, r2, t, len));
    CHECK(!merkle_verify_consistency(m, n, r1, r2, t, len - 1));
    memcpy(t[len], r2, MERKLE_HASH_BYTES);
    CHECK(!merkle_verify_consistency(m, n, r1, r2, t, len + 1));
    if (m > 1)
        CHECK(!merkle_verify_consistency(m - 1, n, r1, r2, t, len));
    if (m + 1 < n)
        CHECK(!merkle_verify_consistency(m + 1, n, r1, r2, t, len));
}

/*  Proves m -> n through the array and the tile reader; they must agree. */
static void s_consistency_pair(uint64_t m, uint64_t n, uint64_t *rnd)
{
    merkle_hash_t p1[2 * MERKLE_PROOF_MAX], p2[2 * MERKLE_PROOF_MAX];
    size_t l1 = 0, l2 = 0;
    view_t va = {&s_big, n, 0}, vt = {&s_big, n, 0};
    merkle_reader_t ra = {s_read_array, &va}, rt = {s_read_tile, &vt};
    at_err e1 = merkle_prove_consistency(&ra, m, n, p1, &l1);
    at_err e2 = merkle_prove_consistency(&rt, m, n, p2, &l2);
    CHECK(e1 == AT_OK && e2 == AT_OK && l1 == l2 && !memcmp(p1, p2, l1 * sizeof *p1));
    if (e1 == AT_OK)
        s_check_consistency(p1, l1, m, n, n <= 64, rnd);
}

static void test_all_sizes_consistency(void)
{
    uint64_t rnd = 0x243f6a8885a308d3ULL;
    unsigned before = s_failures;
    for (uint64_t n = 1; n <= 64; n++)
        for (uint64_t m = 1; m <= n; m++)
            s_consistency_pair(m, n, &rnd);
    for (uint64_t n = 65; n <= MAXN; n++) {
        uint64_t fixed[] = {1, 2, 3, 63, 64, 65, n / 2, n - 1, n};
        for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
            if (fixed[i] <= n)
                s_consistency_pair(fixed[i], n, &rnd);
        for (unsigned i = 0; i < 8; i++)
            s_consistency_pair(1 + check_rand(&rnd) % n, n, &rnd);
    }
    CHECK(s_failures == before);
}

/*  A tree of BIGN leaves: level 0, 1 and 2 tiles, partial ones included;
 *  the tile reader agrees with the array on sizes around the tile edges. */
static void test_tiles_big_tree(void)
{
    uint64_t sizes[] = {255, 256, 257, 65535, 65536, 65537, 69999, BIGN};
    unsigned bad = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        uint64_t size = sizes[s];
        view_t va = {&s_big, size, 0}, vt = {&s_big, size, 0};
        merkle_reader_t ra = {s_read_array, &va}, rt = {s_read_tile, &vt};
        uint8_t a[MERKLE_HASH_BYTES], t[MERKLE_HASH_BYTES];
        bad += merkle_root(&ra, size, a) != AT_OK || merkle_root(&rt, size, t) != AT_OK;
        bad += memcmp(a, t, MERKLE_HASH_BYTES) != 0;
        uint64_t idx[] = {0, 1, 255, 256, size / 2, size - 1};
        for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) {
            merkle_hash_t p[MERKLE_PROOF_MAX];
            size_t len = 0;
            if (idx[i] >= size)
                continue;
            bad += merkle_prove_inclusion(&rt, idx[i], size, p, &len) != AT_OK;
            bad += !merkle_verify_inclusion(idx[i], size, s_big.hash[0][idx[i]], p, len, a);
        }
        merkle_hash_t c[2 * MERKLE_PROOF_MAX];
        size_t clen = 0;
        uint8_t old[MERKLE_HASH_BYTES];
        uint64_t m = size < 256 ? size - 100 : 256;
        bad += merkle_root(&ra, m, old) != AT_OK;
        bad += merkle_prove_consistency(&rt, m, size, c, &clen) != AT_OK;
        bad += !merkle_verify_consistency(m, size, old, a, c, clen);
    }
    CHECK(bad == 0);
}

/* ---- malformed input ----------------------------------------------------- */

static at_err s_read_fail(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    (void) arg, (void) level, (void) n, (void) out;
    return AT_ERR_DB;
}

static void test_rejects(void)
{
    view_t v = {&s_big, 100, 0};
    merkle_reader_t r = {s_read_array, &v}, bad = {s_read_fail, NULL};
    merkle_hash_t p[2 * MERKLE_PROOF_MAX];
    size_t len = 99;
    uint8_t h[MERKLE_HASH_BYTES], root[MERKLE_HASH_BYTES], empty[MERKLE_HASH_BYTES];
    CHECK_ERR(merkle_prove_inclusion(&r, 100, 100, p, &len), AT_ERR_RANGE);
    CHECK(len == 0);
    CHECK_ERR(merkle_prove_inclusion(&r, 0, 0, p, &len), AT_ERR_RANGE);
    CHECK_ERR(merkle_prove_consistency(&r, 0, 100, p, &len), AT_ERR_RANGE);
    CHECK_ERR(merkle_prove_consistency(&r, 101, 100, p, &len), AT_ERR_RANGE);
    CHECK_ERR(merkle_range_hash(&r, 5, 5, h), AT_ERR_RANGE);
    CHECK_ERR(merkle_range_hash(&r, 6, 5, h), AT_ERR_RANGE);
    CHECK_ERR(merkle_range_hash(&r, 1, 4, h), AT_ERR_RANGE);     /* 3 leaves from 1: not a subtree */
    CHECK_ERR(merkle_range_hash(&r, 32, 100, h), AT_ERR_RANGE);  /* 68 from 32: needs a multiple of 128 */
    CHECK_ERR(merkle_range_hash(&r, 64, 96, h), AT_OK);
    CHECK(!memcmp(h, s_big.hash[5][2], MERKLE_HASH_BYTES));
    CHECK_ERR(merkle_range_hash(&r, 64, 100, h), AT_OK);   /* the right half of MTH(100) */
    s_naive(s_big.hash[0] + 64, 36, root);
    CHECK(!memcmp(h, root, MERKLE_HASH_BYTES));
    CHECK_ERR(merkle_range_hash(&r, 0, UINT64_MAX, h), AT_ERR_NOT_FOUND);   /* passed on from the reader */
    CHECK_ERR(merkle_range_hash(&r, 1, UINT64_MAX, h), AT_ERR_RANGE);
    CHECK_ERR(merkle_root(&bad, 5, h), AT_ERR_DB);
    CHECK_ERR(merkle_prove_inclusion(&bad, 3, 5, p, &len), AT_ERR_DB);
    CHECK_ERR(merkle_prove_consistency(&bad, 3, 5, p, &len), AT_ERR_DB);
    CHECK_ERR(merkle_root(&bad, 0, empty), AT_OK);   /* size 0 reads nothing */
    s_hex(s_ct_roots[0], h);
    CHECK(!memcmp(h, empty, MERKLE_HASH_BYTES));

    CHECK_ERR(merkle_root(&r, 100, root), AT_OK);
    CHECK_ERR(merkle_prove_inclusion(&r, 7, 100, p, &len), AT_OK);
    const uint8_t *leaf = s_big.hash[0][7];
    CHECK(merkle_verify_inclusion(7, 100, leaf, p, len, root));
    CHECK(!merkle_verify_inclusion(100, 100, leaf, p, len, root));
    CHECK(!merkle_verify_inclusion(7 + 128, 100 + 128, leaf, p, len, root));
    CHECK(!merkle_verify_inclusion(7, 0, leaf, p, len, root));
    CHECK(!merkle_verify_inclusion(7, 100, leaf, NULL, len, root));
    CHECK(!merkle_verify_inclusion(7, 100, leaf, p, MERKLE_PROOF_MAX + 1, root));
    CHECK(merkle_verify_inclusion(0, 1, leaf, NULL, 0, leaf));
    CHECK(!merkle_verify_inclusion(0, 1, leaf, p, 1, leaf));

    uint8_t old[MERKLE_HASH_BYTES];
    CHECK_ERR(merkle_root(&r, 37, old), AT_OK);
    CHECK_ERR(merkle_prove_consistency(&r, 37, 100, p, &len), AT_OK);
    CHECK(merkle_verify_consistency(37, 100, old, root, p, len));
    CHECK(!merkle_verify_consistency(0, 100, old, root, p, len));
    CHECK(!merkle_verify_consistency(100, 37, old, root, p, len));
    CHECK(!merkle_verify_consistency(37, 100, old, root, NULL, len));
    CHECK(!merkle_verify_consistency(37, 100, old, root, p, 0));
    CHECK(!merkle_verify_consistency(37, 100, old, root, p, 2 * MERKLE_PROOF_MAX + 1));
    CHECK(merkle_verify_consistency(100, 100, root, root, NULL, 0));
    CHECK(!merkle_verify_consistency(100, 100, root, root, p, 1));
    CHECK(!merkle_verify_consistency(100, 100, root, old, NULL, 0));
    CHECK(!merkle_verify_consistency(0, 0, empty, empty, NULL, 0));
    CHECK(merkle_verify_consistency(UINT64_MAX, UINT64_MAX, root, root, NULL, 0));
}

/* ---- merkle_hash_from_tile ------------------------------------------------ */

static void test_hash_from_tile(void)
{
    const merkle_hash_t *t0 = s_big.hash[0], *t1 = s_big.hash[0] + 256;
    uint8_t h[MERKLE_HASH_BYTES];
    CHECK(merkle_hash_from_tile(0, 5, 0, t0, 256, h) && !memcmp(h, s_big.hash[0][5], MERKLE_HASH_BYTES));
    CHECK(merkle_hash_from_tile(7, 0, 0, t0, 256, h) && !memcmp(h, s_big.hash[7][0], MERKLE_HASH_BYTES));
    CHECK(merkle_hash_from_tile(7, 1, 0, t0, 256, h) && !memcmp(h, s_big.hash[7][1], MERKLE_HASH_BYTES));
    CHECK(merkle_hash_from_tile(3, 33, 1, t1, 16, h) && !memcmp(h, s_big.hash[3][33], MERKLE_HASH_BYTES));
    CHECK(merkle_hash_from_tile(4, 17, 1, t1, 32, h) && !memcmp(h, s_big.hash[4][17], MERKLE_HASH_BYTES));
    CHECK(!merkle_hash_from_tile(4, 17, 1, t1, 31, h));   /* needs hashes 272..287, the tile has 256..286 */
    CHECK(!merkle_hash_from_tile(3, 33, 0, t1, 256, h));  /* not in tile 0 */
    CHECK(!merkle_hash_from_tile(7, 2, 0, t0, 256, h));
    CHECK(!merkle_hash_from_tile(0, 0, 0, t0, 0, h));
    CHECK(!merkle_hash_from_tile(0, 0, 0, t0, 257, h));
    CHECK(!merkle_hash_from_tile(0, 0, 0, NULL, 1, h));
    CHECK(!merkle_hash_from_tile(64, 0, 0, t0, 256, h));
    CHECK(!merkle_hash_from_tile(63, 2, 0, t0, 256, h));   /* level 63 = L 7, k 7: hashes 256.. are tile 1 */
    CHECK(!merkle_hash_from_tile(15, UINT64_MAX, 0, t0, 256, h));
    /* level 8 and up: the tile holds hashes of level 8 (L = 1) */
    const merkle_hash_t *l8 = s_big.hash[8];
    CHECK(merkle_hash_from_tile(8, 3, 0, l8, 256, h) && !memcmp(h, s_big.hash[8][3], MERKLE_HASH_BYTES));
    CHECK(merkle_hash_from_tile(9, 1, 0, l8, 256, h) && !memcmp(h, s_big.hash[9][1], MERKLE_HASH_BYTES));
}

/* ---- tile paths ------------------------------------------------------------ */

typedef struct {
    int level;
    uint64_t n;
    unsigned width;
    const char *path;
} path_case_t;

static const path_case_t s_paths[] = {
    {0, 0, 256, "tile/0/000"},
    {0, 1, 256, "tile/0/001"},
    {1, 999, 256, "tile/1/999"},
    {2, 1000, 256, "tile/2/x001/000"},
    {0, 1234067, 256, "tile/0/x001/x234/067"},
    {63, 1234067, 1, "tile/63/x001/x234/067.p/1"},
    {MERKLE_TILE_ENTRIES, 0, 255, "tile/entries/000.p/255"},
    {MERKLE_TILE_ENTRIES, 1234067, 256, "tile/entries/x001/x234/067"},
    {MERKLE_TILE_ENTRIES, UINT64_MAX, 17, "tile/entries/x018/x446/x744/x073/x709/x551/615.p/17"},
    {10, UINT64_MAX, 256, "tile/10/x018/x446/x744/x073/x709/x551/615"},
};

static const char *const s_bad_paths[] = {
    "", "tile", "tile/", "tile/0", "tile/0/", "/tile/0/000", "tile/0/000/", "tile/0/000x",
    "tile/0/x001/x234/x067",            /* x on the last group */
    "tile/0/001/234/067",               /* groups without x */
    "tile/0/x001/234/067",
    "tile/0/01", "tile/0/0001", "tile/0/1", "tile/0/x1/000", "tile/0/x0001/000",
    "tile/0/x000/001",                  /* a leading zero group */
    "tile/0/x000/x000/001",
    "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/", "tile/0/000.p/2555",
    "tile/0/000.p/25x", "tile/0/000.p/255/", "tile/0/000.q/5", "tile/0/000p/5",
    "tile/00/000", "tile/01/000", "tile/64/000", "tile/100/000", "tile/-1/000", "tile/+1/000",
    "tile/0/+00", "tile/0/ 00", "tile/0/-01", "tile/0/00a",
    "tile/8/0/000",                     /* Go's tlog path with its height element */
    "tile/entry/000", "tile/entries/", "tile/entries/000.p/256", "tile/Entries/000",
    "tile/0/x018/x446/x744/x073/x709/x551/616",   /* UINT64_MAX + 1 */
    "tile/0/x999/x999/x999/x999/x999/x999/999",
    "tile/0/x001/x018/x446/x744/x073/x709/x551/615",   /* 8 groups */
    "tile/0/000\n", "tile/0/000 ",
};

static void test_tile_paths(void)
{
    char buf[MERKLE_TILE_PATH_MAX];
    for (size_t i = 0; i < sizeof s_paths / sizeof *s_paths; i++) {
        const path_case_t *c = &s_paths[i];
        size_t len = merkle_tile_path(buf, sizeof buf, c->level, c->n, c->width);
        bool same = len == strlen(c->path) && !strcmp(buf, c->path);
        CHECK(same);
        if (!same)
            fprintf(stderr, "  wrote \"%s\" for \"%s\"\n", buf, c->path);
        int level = -7;
        uint64_t n = 7;
        unsigned w = 7;
        CHECK(merkle_tile_parse(c->path, &level, &n, &w) && level == c->level && n == c->n && w == c->width);
        CHECK(merkle_tile_path(buf, len, c->level, c->n, c->width) == 0);   /* no room for the NUL */
        CHECK(merkle_tile_path(buf, len + 1, c->level, c->n, c->width) == len);
    }
    for (size_t i = 0; i < sizeof s_bad_paths / sizeof *s_bad_paths; i++) {
        int level;
        uint64_t n;
        unsigned w;
        bool ok = merkle_tile_parse(s_bad_paths[i], &level, &n, &w);
        CHECK(!ok);
        if (ok)
            fprintf(stderr, "  accepted \"%s\"\n", s_bad_paths[i]);
    }
    CHECK(merkle_tile_path(buf, sizeof buf, 0, 0, 0) == 0);
    CHECK(merkle_tile_path(buf, sizeof buf, 0, 0, 257) == 0);
    CHECK(merkle_tile_path(buf, sizeof buf, 64, 0, 1) == 0);
    CHECK(merkle_tile_path(buf, sizeof buf, -2, 0, 1) == 0);
    CHECK(merkle_tile_path(buf, 0, 0, 0, 1) == 0);
    /* the longest path fits MERKLE_TILE_PATH_MAX */
    CHECK(merkle_tile_path(buf, sizeof buf, 63, UINT64_MAX, 255) > 0);
    /* round trip over many values */
    uint64_t rnd = 42;
    unsigned bad = 0;
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t n = check_rand(&rnd) >> (check_rand(&rnd) % 64);
        int level = (int) (check_rand(&rnd) % 65) - 1;
        unsigned w = 1 + (unsigned) (check_rand(&rnd) % 256);
        int l2;
        uint64_t n2;
        unsigned w2;
        bool ok = merkle_tile_path(buf, sizeof buf, level, n, w) > 0 && merkle_tile_parse(buf, &l2, &n2, &w2) &&
                  l2 == level && n2 == n && w2 == w;
        if (!ok && bad++ < 3)
            fprintf(stderr, "  round trip of %d %" PRIu64 " %u failed: \"%s\"\n", level, n, w, buf);
    }
    CHECK(bad == 0);
}

/* ---- the Go cross-check's output ----------------------------------------- */

/*  Prints "tag a b len H": H is the hex of SHA-256 over the len hashes
 *  concatenated (the root itself for "root"), to keep the output small. */
static void s_print_hashes(const char *tag, uint64_t a, uint64_t b, const merkle_hash_t *h, size_t len)
{
    uint8_t d[MERKLE_HASH_BYTES];
    char hex[2 * MERKLE_HASH_BYTES + 1];
    if (strcmp(tag, "root") == 0)
        memcpy(d, h[0], MERKLE_HASH_BYTES);
    else
        crypto_hash_sha256(d, (const uint8_t *) h, len * MERKLE_HASH_BYTES);
    sodium_bin2hex(hex, sizeof hex, d, MERKLE_HASH_BYTES);
    printf("%s %" PRIu64 " %" PRIu64 " %zu %s\n", tag, a, b, len, hex);
}

/*  Lines "root N N 1 H", "incl I N len H", "cons M N len H" for every
 *  size 1..MAXN, every index and every 1 <= M <= N, leaves "leaf-<i>". */
static int s_vectors(void)
{
    merkle_hash_t p[2 * MERKLE_PROOF_MAX];
    size_t len;
    for (uint64_t n = 1; n <= MAXN; n++) {
        view_t v = {&s_big, n, 0};
        merkle_reader_t r = {s_read_array, &v};
        if (merkle_root(&r, n, p[0]) != AT_OK)
            return 1;
        s_print_hashes("root", n, n, p, 1);
        for (uint64_t i = 0; i < n; i++) {
            if (merkle_prove_inclusion(&r, i, n, p, &len) != AT_OK)
                return 1;
            s_print_hashes("incl", i, n, p, len);
        }
        for (uint64_t m = 1; m <= n; m++) {
            if (merkle_prove_consistency(&r, m, n, p, &len) != AT_OK)
                return 1;
            s_print_hashes("cons", m, n, p, len);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    s_store_build(&s_big, BIGN, s_leaf_i);
    if (argc > 1 && !strcmp(argv[1], "--vectors")) {
        int rc = s_vectors();
        s_store_free(&s_big);
        return rc;
    }
    test_known_answers();
    test_all_sizes_inclusion();
    test_all_sizes_consistency();
    test_tiles_big_tree();
    test_rejects();
    test_hash_from_tile();
    test_tile_paths();
    s_store_free(&s_big);
    return check_done("test_merkle");
}
