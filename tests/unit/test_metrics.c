/*  test_metrics.c: the Prometheus registry and its HTTP endpoint
 *  (metrics/metrics.c).
 *
 *  Rendering: HELP/TYPE lines, escaping of help text and label values,
 *  exact decimal output of scaled values, histogram buckets (cumulative,
 *  _count equal to +Inf), metrics_publish replacing a labelled family.
 *  Serving: on 127.0.0.1 with port 0, GET /metrics -> 200 with the text,
 *  another path -> 404, POST -> 405, garbage -> the daemon still answers;
 *  a scrape hook runs at every scrape; bad addresses are refused.
 */
#include "check.h"
#include "log.h"
#include "metrics.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int s_contains(const char *text, const char *part) { return text && strstr(text, part) != NULL; }

static void test_render_basic(void)
{
    metrics_t *m = metrics_new();
    metrics_series_t *c = metrics_counter(m, "t_requests_total", "Requests \\ handled\nso far.");
    metrics_series_t *g = metrics_gauge(m, "t_depth", "Depth.");
    metrics_family_t *f = metrics_family(m, "t_by_worker", METRICS_GAUGE, "Per worker.", "worker", 1);
    metrics_series_t *w = metrics_series(f, "w0/\"1\"\\\n");
    CHECK(metrics_series(f, "w0/\"1\"\\\n") == w);      /* same label value: same series */
    metrics_series_t *busy = metrics_series(
        metrics_family(m, "t_busy_seconds_total", METRICS_COUNTER, "Busy.", NULL, 1000000), NULL);
    metrics_add(c, 41);
    metrics_add(c, 1);
    metrics_set(g, 7);
    metrics_set(w, 3);
    metrics_set(busy, 1500000);
    CHECK(metrics_get(c) == 42);
    metrics_add(NULL, 1);                                /* NULL: metrics off, no effect */
    CHECK(metrics_get(NULL) == 0);
    size_t len;
    char *text = metrics_render(m, &len);
    CHECK(text && strlen(text) == len);
    CHECK(s_contains(text, "# HELP t_requests_total Requests \\\\ handled\\nso far.\n"));
    CHECK(s_contains(text, "# TYPE t_requests_total counter\nt_requests_total 42\n"));
    CHECK(s_contains(text, "# TYPE t_depth gauge\nt_depth 7\n"));
    CHECK(s_contains(text, "t_by_worker{worker=\"w0/\\\"1\\\"\\\\\\n\"} 3\n"));
    CHECK(s_contains(text, "t_busy_seconds_total 1.5\n"));
    CHECK(len > 0 && text[len - 1] == '\n');
    free(text);
    metrics_set(busy, 2000000);
    text = metrics_render(m, NULL);
    CHECK(s_contains(text, "t_busy_seconds_total 2\n"));
    free(text);
    metrics_set(busy, 7);
    text = metrics_render(m, NULL);
    CHECK(s_contains(text, "t_busy_seconds_total 0.000007\n"));
    free(text);
    metrics_destroy(&m);
    CHECK(m == NULL);
    metrics_destroy(&m);                                 /* safe twice */
}

static void test_histogram(void)
{
    metrics_t *m = metrics_new();
    const uint64_t bounds[] = { 1000, 10000, 100000 };
    metrics_series_t *h = metrics_histogram(m, "t_commit_seconds", "Commit time.", bounds, 3, 1000000);
    metrics_observe(h, 500);       /* <= 0.001 */
    metrics_observe(h, 1000);      /* <= 0.001 (bounds are inclusive) */
    metrics_observe(h, 20000);     /* <= 0.1 */
    metrics_observe(h, 9000000);   /* +Inf */
    char *text = metrics_render(m, NULL);
    CHECK(s_contains(text, "# TYPE t_commit_seconds histogram\n"));
    CHECK(s_contains(text, "t_commit_seconds_bucket{le=\"0.001\"} 2\n"));
    CHECK(s_contains(text, "t_commit_seconds_bucket{le=\"0.01\"} 2\n"));
    CHECK(s_contains(text, "t_commit_seconds_bucket{le=\"0.1\"} 3\n"));
    CHECK(s_contains(text, "t_commit_seconds_bucket{le=\"+Inf\"} 4\n"));
    CHECK(s_contains(text, "t_commit_seconds_sum 9.0215\n"));
    CHECK(s_contains(text, "t_commit_seconds_count 4\n"));
    free(text);
    metrics_destroy(&m);
}

static void test_publish(void)
{
    metrics_t *m = metrics_new();
    metrics_family_t *f = metrics_family(m, "t_inflight", METRICS_GAUGE, "In flight.", "worker", 1);
    const char *a[] = { "w0", "w1" };
    uint64_t va[] = { 5, 6 };
    metrics_publish(f, 2, a, va);
    char *text = metrics_render(m, NULL);
    CHECK(s_contains(text, "t_inflight{worker=\"w0\"} 5\nt_inflight{worker=\"w1\"} 6\n"));
    free(text);
    const char *b[] = { "w1" };
    uint64_t vb[] = { 9 };
    metrics_publish(f, 1, b, vb);                        /* w0 left */
    text = metrics_render(m, NULL);
    CHECK(!s_contains(text, "w0") && s_contains(text, "t_inflight{worker=\"w1\"} 9\n"));
    free(text);
    metrics_publish(f, 0, NULL, NULL);                   /* nobody: HELP and TYPE only */
    text = metrics_render(m, NULL);
    CHECK(s_contains(text, "# TYPE t_inflight gauge\n") && !s_contains(text, "t_inflight{"));
    free(text);
    metrics_destroy(&m);
}

static void test_labels_and_standard(void)
{
    metrics_t *m = metrics_new();
    metrics_family_t *f = metrics_family(m, "t_verdicts_total", METRICS_COUNTER, "Verdicts.", "verdict,reason", 1);
    metrics_set(metrics_series(f, "invalid" METRICS_SEP "sig\"x"), 3);
    metrics_set(metrics_series(f, "valid" METRICS_SEP ""), 7);
    char *text = metrics_render(m, NULL);
    CHECK(s_contains(text, "t_verdicts_total{verdict=\"invalid\",reason=\"sig\\\"x\"} 3\n"));
    CHECK(s_contains(text, "t_verdicts_total{verdict=\"valid\",reason=\"\"} 7\n"));
    CHECK(s_contains(text, "# TYPE attest_build_info gauge\nattest_build_info{version=\""));
    CHECK(s_contains(text, "\nprocess_cpu_seconds_total "));
    CHECK(s_contains(text, "\nprocess_resident_memory_bytes "));
    CHECK(s_contains(text, "\nprocess_virtual_memory_bytes "));
    CHECK(s_contains(text, "\nprocess_start_time_seconds "));
    CHECK(s_contains(text, "\nprocess_open_fds "));
    CHECK(s_contains(text, "\nprocess_max_fds "));
    CHECK(!s_contains(text, "process_resident_memory_bytes 0\n"));
    free(text);
    metrics_destroy(&m);
}

/*  Sends `req` to 127.0.0.1:port and returns what came back (malloc'd). */
static char *s_http(int port, const char *req, size_t reqlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char *out = calloc(1, 65536);
    if (out && connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0 && send(fd, req, reqlen, MSG_NOSIGNAL) >= 0) {
        size_t n = 0;
        ssize_t k;
        while (n < 65535 && (k = recv(fd, out + n, 65535 - n, 0)) > 0)
            n += (size_t) k;
    }
    close(fd);
    return out;
}

static int s_scrapes;
static void s_hook(void *arg)
{
    s_scrapes++;
    metrics_set(arg, (uint64_t) s_scrapes);
}

static void test_serve(void)
{
    metrics_t *m = metrics_new();
    metrics_series_t *g = metrics_gauge(m, "t_scrapes", "Scrapes so far.");
    metrics_on_scrape(m, s_hook, g);
    CHECK_ERR(metrics_serve(m, "", "TST-METRICS"), AT_OK);    /* off */
    CHECK(metrics_port(m) == 0);
    CHECK_ERR(metrics_serve(m, "127.0.0.1:0", "TST-METRICS"), AT_OK);
    int port = metrics_port(m);
    CHECK(port > 0);
    const char get[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *r = s_http(port, get, sizeof get - 1);
    CHECK(s_contains(r, "HTTP/1.1 200"));
    CHECK(s_contains(r, "text/plain; version=0.0.4"));
    CHECK(s_contains(r, "\r\n\r\n# HELP t_scrapes Scrapes so far.\n# TYPE t_scrapes gauge\nt_scrapes 1\n"));
    free(r);
    const char other[] = "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    r = s_http(port, other, sizeof other - 1);
    CHECK(s_contains(r, "HTTP/1.1 404"));
    free(r);
    const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc";
    r = s_http(port, post, sizeof post - 1);
    CHECK(s_contains(r, "HTTP/1.1 405"));
    free(r);
    const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n";
    r = s_http(port, junk, sizeof junk - 1);
    CHECK(r && !s_contains(r, "HTTP/1.1 200"));
    free(r);
    r = s_http(port, get, sizeof get - 1);                    /* still serving; the hook ran again */
    CHECK(s_contains(r, "HTTP/1.1 200") && s_contains(r, "t_scrapes 2\n"));
    free(r);
    metrics_destroy(&m);
}

static void test_bad_addresses(void)
{
    const char *bad[] = { "nonsense", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:9x", "[::1:9100" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        metrics_t *m = metrics_new();
        CHECK_ERR(metrics_serve(m, bad[i], "TST-METRICS"), AT_ERR_CONFIG);
        metrics_destroy(&m);
    }
    CHECK(!metrics_wanted("") && !metrics_wanted("0") && !metrics_wanted(NULL) && metrics_wanted(":9100"));
    /* A port already taken: AT_ERR_IO. */
    metrics_t *a = metrics_new(), *b = metrics_new();
    CHECK_ERR(metrics_serve(a, "127.0.0.1:0", "TST-METRICS"), AT_OK);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", metrics_port(a));
    CHECK_ERR(metrics_serve(b, addr, "TST-METRICS"), AT_ERR_IO);
    metrics_destroy(&b);
    metrics_destroy(&a);
}

int main(void)
{
    at_log_init("test", AT_LOG_ERROR);
    test_render_basic();
    test_histogram();
    test_publish();
    test_labels_and_standard();
    test_serve();
    test_bad_addresses();
    return check_done("test_metrics");
}
