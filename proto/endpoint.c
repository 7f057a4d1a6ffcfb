/*  endpoint.c: HOST:PORT and :PORT to tcp:// endpoints (see endpoint.h).
 *  Pure string work: no sockets, no name resolution (ZeroMQ does that at
 *  bind or connect time, with its own error).
 */
#include "endpoint.h"
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*  "1".."65535", digits only. */
static bool s_port(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    return v >= 1 && v <= 65535;
}

/*  A host name, address, interface or "*"; or [V6ADDR]. */
static bool s_host(const char *h, size_t n)
{
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        for (size_t i = 1; i + 1 < n; i++)
            if (!strchr("0123456789abcdefABCDEF:.%", h[i]))
                return false;
        return n > 2;
    }
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._*", c);
        if (!ok || c == 0)
            return false;
    }
    return true;
}

at_err endpoint_normalise(const char *in, endpoint_use use, char *out, size_t cap)
{
    int n;
    if (*in == 0 || strstr(in, "://")) {
        n = snprintf(out, cap, "%s", in);
    } else {
        const char *colon = strrchr(in, ':');
        if (!colon || !s_port(colon + 1) || !s_host(in, (size_t) (colon - in)))
            return AT_ERR_CONFIG;
        if (colon == in)
            n = snprintf(out, cap, "tcp://%s%s", use == ENDPOINT_BIND ? "*" : "127.0.0.1", in);
        else
            n = snprintf(out, cap, "tcp://%s", in);
    }
    return n < 0 || (size_t) n >= cap ? AT_ERR_OVERSIZE : AT_OK;
}
