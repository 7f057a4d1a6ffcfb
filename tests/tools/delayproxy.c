/*  delayproxy.c: a TCP relay that adds a fixed delay, for tests and benchmarks.
 *
 *  `delayproxy --listen HOST:PORT --target HOST:PORT --delay-ms D` accepts
 *  connections on the listen address, connects each to the target, and
 *  forwards the bytes both ways, each byte D ms after it was read (one-way
 *  delay D each way: a round trip through the relay costs 2 D more). It
 *  stands in for `tc netem delay` on kernels without sch_netem (see
 *  docs/architecture.md, chaos test). The delay is a latency, not a rate
 *  limit: everything read is released on time however much is in flight.
 *
 *  Bounded: a direction that holds more than --max-buffer-mib of bytes not
 *  yet written stops reading its source until it drains (backpressure, as
 *  a full TCP window would give). An end-of-stream (a half close) is
 *  delayed like the data and passed on with shutdown(SHUT_WR); a reset or
 *  error on either side closes both at once.
 *
 *  One thread: epoll over the listening socket, a timerfd for the next due
 *  write, a signalfd and every connection's two sockets (level-triggered;
 *  the interest of each socket is recomputed after each pass). SIGTERM or
 *  SIGINT ends it cleanly (exit 0). With port 0 in --listen it picks a free port; it
 *  always prints `delayproxy: listening on HOST:PORT` on stdout once bound.
 *
 *  A test tool (built with the tests, not installed); Linux only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define S_READ_MAX 65536
#define S_EVENTS 64

/*  Bytes read at one time, to be written at due_us; len 0 is the end of stream. */
typedef struct s_chunk {
    struct s_chunk *next;
    uint64_t due_us;
    size_t len, off;
    uint8_t data[];
} s_chunk_t;

/*  One direction of a connection: from one socket to the other. */
typedef struct {
    int *from, *to;             /* the connection's fds */
    s_chunk_t *head, *tail;
    size_t bytes;               /* not yet written */
    bool eof_read;              /* end of stream read (queued as a 0-length chunk) */
    bool shut;                  /* end of stream passed on */
    bool blocked;               /* a due write met EAGAIN: wait for EPOLLOUT */
    uint64_t total;
} s_dir_t;

typedef struct s_conn s_conn_t;

/*  What an epoll event points to: a side of a connection (or NULL data for
 *  the listener and the timer, told apart by tag). */
typedef struct {
    int tag;                    /* 0 listener, 1 timer, 2 client side, 3 target side, 4 signal */
    s_conn_t *conn;
} s_ref_t;

struct s_conn {
    s_conn_t *next;
    int cfd, tfd;
    bool connected;
    bool dead;
    uint32_t cev, tev;          /* epoll interest now registered */
    s_dir_t up, down;           /* client -> target, target -> client */
    s_ref_t cref, tref;
};

typedef struct {
    uint64_t delay_us;
    size_t max_buffer;
    struct addrinfo *target;
    int lfd, tmfd, sigfd, ep;
    s_conn_t *conns;
    size_t nconns;
    uint64_t accepted;
    s_ref_t lref, tmref, sigref;
    bool verbose;
} s_proxy_t;

static uint64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: delayproxy --listen HOST:PORT --target HOST:PORT --delay-ms D [options]\n"
               "\n"
               "Relays TCP connections from the listen address to the target, holding the bytes\n"
               "of each direction D ms before passing them on (one-way delay D each way, so a\n"
               "round trip through it costs 2 D more). A test tool: stands in for tc netem delay.\n"
               "\n"
               "  --listen HOST:PORT     address to accept on (port 0: any free port)\n"
               "  --target HOST:PORT     address each accepted connection is relayed to\n"
               "  --delay-ms D           one-way delay per direction, ms (fractions allowed; 0..60000)\n"
               "  --max-buffer-mib M     most bytes held per direction before it stops reading\n"
               "                         its source (backpressure), MiB (default 4; 1..1024)\n"
               "  --verbose              log each connection on stderr\n"
               "  --help                 this text\n"
               "\n"
               "Prints 'delayproxy: listening on HOST:PORT' on stdout once bound. SIGTERM or\n"
               "SIGINT stops it (exit 0); bad usage exits 2, a failure to bind 1.\n");
}

/*  "HOST:PORT" (HOST may be [v6]) resolved; NULL with a message on failure. */
static struct addrinfo *s_resolve(const char *spec, bool passive)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || (size_t) (colon - spec) >= sizeof host || !colon[1]) {
        fprintf(stderr, "delayproxy: '%s' is not HOST:PORT\n", spec);
        return NULL;
    }
    size_t hl = (size_t) (colon - spec);
    memcpy(host, spec, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = passive ? AI_PASSIVE : 0 };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "delayproxy: cannot resolve '%s': %s\n", spec, gai_strerror(rc));
        return NULL;
    }
    return res;
}

static void s_nodelay(int fd)
{
    int one = 1;
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int s_listen(const char *spec)
{
    struct addrinfo *ai = s_resolve(spec, true);
    if (!ai)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
        || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        fprintf(stderr, "delayproxy: cannot listen on %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *) &ss, &sl) == 0
        && getnameinfo((struct sockaddr *) &ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        printf("delayproxy: listening on %s%s%s:%s\n", strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "", p);
    fflush(stdout);
    return fd;
}

/* ---- a direction ---- */

static void s_dir_init(s_dir_t *d, int *from, int *to)
{
    memset(d, 0, sizeof *d);
    d->from = from;
    d->to = to;
}

static void s_dir_free(s_dir_t *d)
{
    while (d->head) {
        s_chunk_t *c = d->head;
        d->head = c->next;
        free(c);
    }
    d->tail = NULL;
    d->bytes = 0;
}

static void s_dir_push(s_dir_t *d, const uint8_t *buf, size_t len, uint64_t due)
{
    s_chunk_t *c = malloc(sizeof *c + len);
    if (!c) {
        fprintf(stderr, "delayproxy: out of memory\n");
        abort();
    }
    c->next = NULL;
    c->due_us = due;
    c->len = len;
    c->off = 0;
    memcpy(c->data, buf, len);
    if (d->tail)
        d->tail->next = c;
    else
        d->head = c;
    d->tail = c;
    d->bytes += len;
}

/*  True while the direction may read its source. */
static bool s_dir_reading(const s_proxy_t *p, const s_dir_t *d)
{
    return !d->eof_read && d->bytes < p->max_buffer;
}

/*  Reads what the source has; false on a reset or error (close the connection). */
static bool s_dir_read(s_proxy_t *p, s_dir_t *d, uint64_t now)
{
    static uint8_t buf[S_READ_MAX];
    while (s_dir_reading(p, d)) {
        ssize_t n = read(*d->from, buf, sizeof buf);
        if (n > 0) {
            s_dir_push(d, buf, (size_t) n, now + p->delay_us);
            continue;
        }
        if (n == 0) {
            s_dir_push(d, buf, 0, now + p->delay_us);   /* the end of stream, delayed too */
            d->eof_read = true;
            return true;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    return true;
}

/*  Writes every chunk that is due; false on an error (close the connection). */
static bool s_dir_write(s_dir_t *d, uint64_t now)
{
    d->blocked = false;
    while (d->head && d->head->due_us <= now) {
        s_chunk_t *c = d->head;
        if (c->len == 0) {   /* end of stream */
            if (shutdown(*d->to, SHUT_WR) < 0 && errno != ENOTCONN)
                return false;
            d->shut = true;
        } else {
            ssize_t n = send(*d->to, c->data + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                d->blocked = true;
                return true;
            }
            if (n < 0)
                return false;
            c->off += (size_t) n;
            d->bytes -= (size_t) n;
            d->total += (uint64_t) n;
            if (c->off < c->len)
                continue;
        }
        d->head = c->next;
        if (!d->head)
            d->tail = NULL;
        free(c);
    }
    return true;
}

/* ---- a connection ---- */

static void s_conn_close(s_proxy_t *p, s_conn_t *c, const char *why)
{
    if (c->dead)
        return;
    if (p->verbose)
        fprintf(stderr, "delayproxy: connection closed (%s): %" PRIu64 " bytes up, %" PRIu64 " down\n", why,
                c->up.total, c->down.total);
    c->dead = true;
    close(c->cfd);   /* closing also removes them from the epoll set */
    if (c->tfd >= 0)
        close(c->tfd);
    s_dir_free(&c->up);
    s_dir_free(&c->down);
}

static void s_interest(s_proxy_t *p, int fd, uint32_t want, uint32_t *have, s_ref_t *ref)
{
    if (want == *have)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = ref };
    if (epoll_ctl(p->ep, EPOLL_CTL_MOD, fd, &ev) == 0)
        *have = want;
}

static void s_conn_interest(s_proxy_t *p, s_conn_t *c)
{
    uint32_t cw = (s_dir_reading(p, &c->up) ? EPOLLIN : 0) | (c->down.blocked ? EPOLLOUT : 0);
    uint32_t tw = (!c->connected || c->up.blocked ? EPOLLOUT : 0)
                  | (c->connected && s_dir_reading(p, &c->down) ? EPOLLIN : 0);
    s_interest(p, c->cfd, cw, &c->cev, &c->cref);
    s_interest(p, c->tfd, tw, &c->tev, &c->tref);
}

static bool s_add_fd(s_proxy_t *p, int fd, uint32_t events, s_ref_t *ref)
{
    struct epoll_event ev = { .events = events, .data.ptr = ref };
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) == 0;
}

static void s_accept(s_proxy_t *p)
{
    for (;;) {
        int cfd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;   /* EAGAIN, or a connection that went away */
        int tfd = socket(p->target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (tfd < 0 || (connect(tfd, p->target->ai_addr, p->target->ai_addrlen) < 0 && errno != EINPROGRESS)) {
            fprintf(stderr, "delayproxy: cannot connect to the target: %s\n", strerror(errno));
            close(cfd);
            if (tfd >= 0)
                close(tfd);
            continue;
        }
        s_nodelay(cfd);
        s_nodelay(tfd);
        s_conn_t *c = calloc(1, sizeof *c);
        if (!c)
            abort();
        c->cfd = cfd;
        c->tfd = tfd;
        s_dir_init(&c->up, &c->cfd, &c->tfd);
        s_dir_init(&c->down, &c->tfd, &c->cfd);
        c->cref = (s_ref_t) { 2, c };
        c->tref = (s_ref_t) { 3, c };
        c->cev = EPOLLIN;
        c->tev = EPOLLOUT;
        if (!s_add_fd(p, cfd, c->cev, &c->cref) || !s_add_fd(p, tfd, c->tev, &c->tref)) {
            fprintf(stderr, "delayproxy: epoll: %s\n", strerror(errno));
            close(cfd);
            close(tfd);
            free(c);
            continue;
        }
        c->next = p->conns;
        p->conns = c;
        p->nconns++;
        p->accepted++;
        if (p->verbose)
            fprintf(stderr, "delayproxy: connection %" PRIu64 " accepted\n", p->accepted);
    }
}

/*  The target side became writable before the connection was up: did it connect? */
static bool s_connected(s_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->tfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        fprintf(stderr, "delayproxy: cannot connect to the target: %s\n", strerror(err ? err : errno));
        return false;
    }
    c->connected = true;
    return true;
}

static void s_on_event(s_proxy_t *p, s_ref_t *ref, uint32_t events, uint64_t now)
{
    s_conn_t *c = ref->conn;
    if (c->dead)
        return;
    bool client = ref->tag == 2, ok = true;
    if (!client && !c->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        ok = s_connected(c);
    if (ok && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (client || c->connected))
        ok = s_dir_read(p, client ? &c->up : &c->down, now);
    if (ok && (events & EPOLLERR))
        ok = false;
    if (!ok)
        s_conn_close(p, c, "error or reset");
}

/*  Writes what is due on every connection, drops the finished ones, and
 *  returns the earliest due time still waiting (UINT64_MAX: none). */
static uint64_t s_pump(s_proxy_t *p, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (s_conn_t **pp = &p->conns; *pp;) {
        s_conn_t *c = *pp;
        if (!c->dead && c->connected && (!s_dir_write(&c->up, now) || !s_dir_write(&c->down, now)))
            s_conn_close(p, c, "write error");
        if (!c->dead && c->up.shut && c->down.shut)
            s_conn_close(p, c, "both ends closed");
        if (c->dead) {
            *pp = c->next;
            p->nconns--;
            free(c);
            continue;
        }
        s_conn_interest(p, c);
        for (int i = 0; c->connected && i < 2; i++) {
            const s_dir_t *d = i ? &c->down : &c->up;
            if (d->head && !d->blocked && d->head->due_us < next)
                next = d->head->due_us;
        }
        pp = &c->next;
    }
    return next;
}

static void s_arm(s_proxy_t *p, uint64_t due)
{
    struct itimerspec its = { 0 };
    if (due != UINT64_MAX) {
        its.it_value.tv_sec = (time_t) (due / 1000000u);
        its.it_value.tv_nsec = (long) (due % 1000000u) * 1000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;
    }
    (void) timerfd_settime(p->tmfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int s_run(s_proxy_t *p)
{
    struct epoll_event evs[S_EVENTS];
    for (;;) {
        s_arm(p, s_pump(p, s_now_us()));
        int n = epoll_wait(p->ep, evs, S_EVENTS, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "delayproxy: epoll_wait: %s\n", strerror(errno));
            return 1;
        }
        uint64_t now = s_now_us();
        for (int i = 0; i < n; i++) {
            s_ref_t *ref = evs[i].data.ptr;
            if (ref->tag == 0) {
                s_accept(p);
            } else if (ref->tag == 1) {
                uint64_t ticks;
                (void) !read(p->tmfd, &ticks, sizeof ticks);
            } else if (ref->tag == 4) {
                return 0;   /* SIGTERM or SIGINT */
            } else {
                s_on_event(p, ref, evs[i].events, now);
            }
        }
    }
}

static int s_setup(s_proxy_t *p, const char *listen_spec, const char *target_spec)
{
    p->target = s_resolve(target_spec, false);
    if (!p->target)
        return 2;
    p->lfd = s_listen(listen_spec);
    if (p->lfd < 0)
        return 1;
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->tmfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    p->sigfd = sigprocmask(SIG_BLOCK, &mask, NULL) == 0 ? signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC) : -1;
    p->lref = (s_ref_t) { 0, NULL };
    p->tmref = (s_ref_t) { 1, NULL };
    p->sigref = (s_ref_t) { 4, NULL };
    if (p->ep < 0 || p->tmfd < 0 || p->sigfd < 0 || !s_add_fd(p, p->lfd, EPOLLIN, &p->lref)
        || !s_add_fd(p, p->tmfd, EPOLLIN, &p->tmref) || !s_add_fd(p, p->sigfd, EPOLLIN, &p->sigref)) {
        fprintf(stderr, "delayproxy: epoll/timerfd: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}

static void s_teardown(s_proxy_t *p)
{
    while (p->conns) {
        s_conn_t *c = p->conns;
        p->conns = c->next;
        s_conn_close(p, c, "stopping");
        free(c);
    }
    if (p->lfd >= 0)
        close(p->lfd);
    if (p->tmfd >= 0)
        close(p->tmfd);
    if (p->sigfd >= 0)
        close(p->sigfd);
    if (p->ep >= 0)
        close(p->ep);
    if (p->target)
        freeaddrinfo(p->target);
}

/*  A number in [lo, hi]; false when it is not one. */
static bool s_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "listen", required_argument, 0, 'l' },       { "target", required_argument, 0, 't' },
        { "delay-ms", required_argument, 0, 'd' },     { "max-buffer-mib", required_argument, 0, 'm' },
        { "verbose", no_argument, 0, 'v' },            { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *listen_spec = NULL, *target_spec = NULL;
    double delay_ms = -1, mib = 4;
    s_proxy_t p = { .lfd = -1, .tmfd = -1, .sigfd = -1, .ep = -1 };
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'l': listen_spec = optarg; break;
        case 't': target_spec = optarg; break;
        case 'd':
            if (!s_number(optarg, 0, 60000, &delay_ms)) {
                fprintf(stderr, "delayproxy: --delay-ms '%s' is not a number of ms in 0..60000\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (!s_number(optarg, 1, 1024, &mib)) {
                fprintf(stderr, "delayproxy: --max-buffer-mib '%s' is not a number in 1..1024\n", optarg);
                return 2;
            }
            break;
        case 'v': p.verbose = true; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind < argc || !listen_spec || !target_spec || delay_ms < 0) {
        fprintf(stderr, "delayproxy: --listen, --target and --delay-ms are required\n");
        s_usage(stderr);
        return 2;
    }
    p.delay_us = (uint64_t) (delay_ms * 1000.0 + 0.5);
    p.max_buffer = (size_t) (mib * 1024 * 1024);
    signal(SIGPIPE, SIG_IGN);
    int rc = s_setup(&p, listen_spec, target_spec);
    if (rc == 0)
        rc = s_run(&p);
    if (p.verbose)
        fprintf(stderr, "delayproxy: stopping, %" PRIu64 " connections accepted\n", p.accepted);
    s_teardown(&p);
    return rc;
}
