/*  utf8.c: strict UTF-8 and peer names (see utf8.h). */
#include "utf8.h"

/*  The code point at s[0..n) (n >= 1) and its length in *k, or false when
 *  the sequence is not strict UTF-8. */
static bool s_next(const uint8_t *s, size_t n, uint32_t *cp, size_t *k)
{
    uint8_t c = s[0];
    size_t more;
    if (c < 0x80) { *cp = c; *k = 1; return true; }
    else if ((c & 0xE0) == 0xC0) { more = 1; *cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { more = 2; *cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { more = 3; *cp = c & 0x07; }
    else return false;
    if (n <= more)
        return false;
    for (size_t j = 1; j <= more; j++) {
        if ((s[j] & 0xC0) != 0x80)
            return false;
        *cp = (*cp << 6) | (s[j] & 0x3F);
    }
    if ((more == 1 && *cp < 0x80) || (more == 2 && *cp < 0x800) || (more == 3 && *cp < 0x10000) || *cp > 0x10FFFF
        || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return false;
    *k = more + 1;
    return true;
}

bool utf8_valid(const uint8_t *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        if (!s_next(s + i, n - i, &cp, &k))
            return false;
    }
    return true;
}

bool utf8_name_ok(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *) s;
    for (size_t i = 0, k; i < n; i += k) {
        uint32_t cp;
        if (!s_next(u + i, n - i, &cp, &k) || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
    }
    return true;
}
