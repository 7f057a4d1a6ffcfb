/*  b64.c: base64 of public data (see b64.h). */
#include "b64.h"

static const char s_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(char *out, size_t cap, const uint8_t *in, size_t len)
{
    if (cap < B64_ENCODED_LEN(len))
        return 0;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        o[0] = s_alphabet[v >> 18];
        o[1] = s_alphabet[(v >> 12) & 63];
        o[2] = s_alphabet[(v >> 6) & 63];
        o[3] = s_alphabet[v & 63];
        o += 4;
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t) in[i] << 16;
        *o++ = s_alphabet[v >> 18];
        *o++ = s_alphabet[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        *o++ = s_alphabet[v >> 18];
        *o++ = s_alphabet[(v >> 12) & 63];
        *o++ = s_alphabet[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
    return (size_t) (o - out);
}
