/*  utf8.h: checks of text that arrives from peers.
 *
 *  utf8_valid: strict UTF-8 (RFC 3629: no overlong forms, no surrogates,
 *  nothing above U+10FFFF), as the attestation's schema and subject must be.
 *  utf8_name_ok: a name a peer gives itself (a producer's HELLO name, a
 *  worker id, a sink instance) that ends up in log lines, /metrics labels
 *  and the log: valid UTF-8 without control characters (C0, DEL, C1), so it
 *  cannot break a Prometheus scrape, a terminal or a JSON export.
 *  Stateless; nothing allocated.
 */
#ifndef AT_UTF8_H
#define AT_UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool utf8_valid(const uint8_t *s, size_t n);
bool utf8_name_ok(const char *s, size_t n);

#endif
