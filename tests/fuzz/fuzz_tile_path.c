/*  fuzz_tile_path.c: the C2SP tile path parser (tlog/merkle.h).
 *
 *  The input, up to its first NUL, is a path as a tile client would send
 *  it (what the sink's tile API parses from a URL). Oracle: a path that
 *  parses is the one merkle_tile_path writes for the parsed values (a
 *  tile has exactly one spelling), and parses back to them. Then the
 *  first 11 bytes also pick a level, an index and a width: a valid triple
 *  formats within MERKLE_TILE_PATH_MAX and parses back to itself, an
 *  invalid one formats to nothing.
 */
#include "fuzz.h"
#include "merkle.h"
#include <string.h>

/*  The input up to its first NUL, as a string, or NULL when too long. */
static const char *s_string(const uint8_t *data, size_t size, char *buf, size_t cap)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t len = nul ? (size_t) (nul - data) : size;
    if (len >= cap)
        return NULL;
    memcpy(buf, data, len);
    buf[len] = '\0';
    return buf;
}

static void s_parse_oracle(const char *path)
{
    int level;
    uint64_t n;
    unsigned w;
    if (!merkle_tile_parse(path, &level, &n, &w))
        return;
    FUZZ_CHECK(level >= MERKLE_TILE_ENTRIES && level <= 63 && w >= 1 && w <= MERKLE_TILE_WIDTH);
    char out[MERKLE_TILE_PATH_MAX];
    size_t len = merkle_tile_path(out, sizeof out, level, n, w);
    FUZZ_CHECK(len > 0 && len == strlen(path) && strcmp(out, path) == 0);
}

static void s_format_oracle(const uint8_t *d)
{
    int level = (int) (d[0] % 66) - 1;   /* -1..64: 64 is invalid */
    uint64_t n = 0;
    for (int i = 8; i >= 1; i--)
        n = n << 8 | d[i];
    unsigned w = (unsigned) (d[9] | d[10] << 8) % 258;   /* 0 and 257 are invalid */
    bool valid = level <= 63 && w >= 1 && w <= MERKLE_TILE_WIDTH;
    char out[MERKLE_TILE_PATH_MAX];
    size_t len = merkle_tile_path(out, sizeof out, level, n, w);
    FUZZ_CHECK(valid == (len > 0));
    if (!valid)
        return;
    int l2;
    uint64_t n2;
    unsigned w2;
    FUZZ_CHECK(merkle_tile_parse(out, &l2, &n2, &w2) && l2 == level && n2 == n && w2 == w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[256];
    const char *path = s_string(data, size, buf, sizeof buf);
    if (path)
        s_parse_oracle(path);
    if (size >= 11)
        s_format_oracle(data);
    return 0;
}
