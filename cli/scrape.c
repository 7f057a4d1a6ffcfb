/*  scrape.c: a Prometheus text-format reader over a minimal HTTP/1.0 GET
 *  (see scrape.h). The reply is read to EOF (HTTP/1.0 closes); a status
 *  other than 200 is an error. Label values keep their escapes except \"
 *  and \\, which is enough for names such as worker ids. */
#include "scrape.h"
#include "alloc.h"
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_REPLY_MAX (8u << 20)

struct scrape_t {
    scrape_sample_t *samples;
    size_t n, cap;
    char *text;   /* the parsed copy the samples point into */
};

/*  One line "name{labels} value [timestamp]": splits it in place. */
static bool s_parse_line(char *line, scrape_sample_t *out)
{
    if (!*line || *line == '#')
        return false;
    char *p = line + strcspn(line, "{ \t");
    out->name = line;
    out->labels = "";
    if (*p == '{') {
        *p++ = 0;
        out->labels = p;
        bool quoted = false;
        for (; *p && (quoted || *p != '}'); p++) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                quoted = !quoted;
        }
        if (*p != '}')
            return false;
        *p++ = 0;
    } else if (*p) {
        *p++ = 0;
    }
    char *end;
    while (*p == ' ' || *p == '\t')
        p++;
    out->text = p;
    out->value = strtod(p, &end);
    if (*end)
        *end = 0;   /* a timestamp after the value is ignored */
    return end != p && *out->name;
}

scrape_t *scrape_parse(const char *text)
{
    scrape_t *self = at_calloc(1, sizeof *self);
    self->text = at_strdup(text ? text : "");
    for (char *line = self->text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        scrape_sample_t s;
        if (s_parse_line(line, &s)) {
            if (self->n == self->cap) {
                self->cap = self->cap ? 2 * self->cap : 256;
                self->samples = at_realloc(self->samples, self->cap * sizeof *self->samples);
            }
            self->samples[self->n++] = s;
        }
        line = nl ? nl + 1 : NULL;
    }
    return self;
}

void scrape_destroy(scrape_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->samples);
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

size_t scrape_count(const scrape_t *self) { return self->n; }

const scrape_sample_t *scrape_at(const scrape_t *self, size_t i) { return i < self->n ? &self->samples[i] : NULL; }

bool scrape_label(const scrape_sample_t *s, const char *label, char *out, size_t cap)
{
    size_t ll = strlen(label);
    for (const char *p = s->labels; *p;) {
        const char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return false;
        bool match = (size_t) (eq - p) == ll && strncmp(p, label, ll) == 0;
        size_t n = 0;
        const char *v = eq + 2;
        for (; *v && *v != '"'; v++) {
            if (*v == '\\' && (v[1] == '"' || v[1] == '\\'))
                v++;
            if (match && n + 1 < cap)
                out[n++] = *v;
        }
        if (match) {
            if (cap)
                out[n] = 0;
            return true;
        }
        p = *v ? v + 1 : v;
        if (*p == ',')
            p++;
    }
    return false;
}

bool scrape_value(const scrape_t *self, const char *name, const char *label, const char *value, double *out)
{
    char got[256];
    for (size_t i = 0; i < self->n; i++) {
        const scrape_sample_t *s = &self->samples[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (label && !(scrape_label(s, label, got, sizeof got) && strcmp(got, value) == 0))
            continue;
        *out = s->value;
        return true;
    }
    return false;
}

double scrape_sum(const scrape_t *self, const char *name)
{
    double sum = 0;
    for (size_t i = 0; i < self->n; i++)
        if (strcmp(self->samples[i].name, name) == 0)
            sum += self->samples[i].value;
    return sum;
}

/* ---------------------------------------------------------------- HTTP */

static int s_connect(const char *address, int timeout_ms, char *why, size_t whycap)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    size_t hl = colon ? (size_t) (colon - address) : 0;
    if (!colon || hl >= sizeof host || !colon[1]) {
        snprintf(why, whycap, "not HOST:PORT");
        return -1;
    }
    memcpy(host, address, hl);
    host[hl] = 0;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    if (getaddrinfo(*host ? host : "127.0.0.1", colon + 1, &hints, &res) != 0 || !res) {
        snprintf(why, whycap, "cannot resolve '%s'", address);
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd pf = { .fd = fd, .events = POLLOUT };
        int err = 0;
        socklen_t len = sizeof err;
        rc = poll(&pf, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err ? 0 : -1;
        errno = err ? err : ETIMEDOUT;
    }
    if (rc != 0) {
        snprintf(why, whycap, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/*  Reads the whole reply into a string (NULL on timeout or error). */
static char *s_read_all(int fd, int timeout_ms, char *why, size_t whycap)
{
    size_t n = 0, cap = 65536;
    char *buf = at_malloc(cap);
    for (;;) {
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, timeout_ms) != 1) {
            snprintf(why, whycap, "timed out after %d ms", timeout_ms);
            free(buf);
            return NULL;
        }
        if (n + 1 == cap) {
            if (cap >= S_REPLY_MAX) {
                snprintf(why, whycap, "reply larger than %u bytes", S_REPLY_MAX);
                free(buf);
                return NULL;
            }
            buf = at_realloc(buf, cap *= 2);
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got == 0)
            break;
        if (got < 0 && errno != EINTR && errno != EAGAIN) {
            snprintf(why, whycap, "%s", strerror(errno));
            free(buf);
            return NULL;
        }
        n += got > 0 ? (size_t) got : 0;
    }
    buf[n] = 0;
    return buf;
}

scrape_t *scrape_fetch(const char *address, int timeout_ms, char *why, size_t whycap)
{
    int fd = s_connect(address, timeout_ms, why, whycap);
    if (fd < 0)
        return NULL;
    static const char req[] = "GET /metrics HTTP/1.0\r\nAccept: text/plain\r\n\r\n";
    char *reply = send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t) (sizeof req - 1)
                      ? s_read_all(fd, timeout_ms, why, whycap) : NULL;
    if (!reply && !*why)
        snprintf(why, whycap, "%s", strerror(errno));
    close(fd);
    if (!reply)
        return NULL;
    int status = 0;
    const char *body = strstr(reply, "\r\n\r\n");
    if (sscanf(reply, "HTTP/%*d.%*d %d", &status) != 1 || status != 200 || !body) {
        snprintf(why, whycap, status ? "HTTP %d (not a metrics endpoint?)" : "not an HTTP reply", status);
        free(reply);
        return NULL;
    }
    scrape_t *self = scrape_parse(body + 4);
    free(reply);
    return self;
}
