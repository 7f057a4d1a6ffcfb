/*  test_endpoint.c: HOST:PORT and :PORT to full endpoints (proto/endpoint.h).
 *  One table of cases: what is accepted and how it is written, for binds and
 *  connects, and what is refused; plus a result that does not fit.
 */
#include "check.h"
#include "endpoint.h"
#include <stdbool.h>
#include <string.h>

typedef struct {
    const char *in;
    endpoint_use use;
    at_err rc;
    const char *out;   /* when rc is AT_OK */
} s_case_t;

static const s_case_t s_cases[] = {
    { "tcp://127.0.0.1:5555", ENDPOINT_CONNECT, AT_OK, "tcp://127.0.0.1:5555" },
    { "tcp://*:5555", ENDPOINT_BIND, AT_OK, "tcp://*:5555" },
    { "ipc:///run/attest/b.sock", ENDPOINT_CONNECT, AT_OK, "ipc:///run/attest/b.sock" },
    { "inproc://x", ENDPOINT_BIND, AT_OK, "inproc://x" },
    { "", ENDPOINT_CONNECT, AT_OK, "" },
    { "127.0.0.1:5555", ENDPOINT_CONNECT, AT_OK, "tcp://127.0.0.1:5555" },
    { "127.0.0.1:5555", ENDPOINT_BIND, AT_OK, "tcp://127.0.0.1:5555" },
    { "broker.example.org:5556", ENDPOINT_CONNECT, AT_OK, "tcp://broker.example.org:5556" },
    { ":5555", ENDPOINT_BIND, AT_OK, "tcp://*:5555" },
    { ":5555", ENDPOINT_CONNECT, AT_OK, "tcp://127.0.0.1:5555" },
    { "*:5557", ENDPOINT_BIND, AT_OK, "tcp://*:5557" },
    { "eth0:5557", ENDPOINT_BIND, AT_OK, "tcp://eth0:5557" },
    { "[::1]:5555", ENDPOINT_CONNECT, AT_OK, "tcp://[::1]:5555" },
    { ":1", ENDPOINT_BIND, AT_OK, "tcp://*:1" },
    { ":65535", ENDPOINT_BIND, AT_OK, "tcp://*:65535" },
    { "localhost", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { "5555", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { ":", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { "host:", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { ":0", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { ":65536", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { ":55x5", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { ":-1", ENDPOINT_BIND, AT_ERR_CONFIG, NULL },
    { "::1:5555", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { "[]:5555", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { "a b:5555", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { "a/b:5555", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
    { "tcp:/127.0.0.1:5555", ENDPOINT_CONNECT, AT_ERR_CONFIG, NULL },
};

int main(void)
{
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const s_case_t *c = &s_cases[i];
        char out[128] = "unset";
        at_err rc = endpoint_normalise(c->in, c->use, out, sizeof out);
        check_err_at(rc, c->rc, __FILE__, __LINE__, c->in);
        if (c->rc == AT_OK && rc == AT_OK && strcmp(out, c->out) != 0) {
            fprintf(stderr, "'%s': got '%s', want '%s'\n", c->in, out, c->out);
            CHECK(false);
        }
    }
    char small[13];   /* the bind form of :5555 (12 characters) and its NUL */
    CHECK_ERR(endpoint_normalise(":5555", ENDPOINT_CONNECT, small, sizeof small), AT_ERR_OVERSIZE);
    CHECK_ERR(endpoint_normalise(":5555", ENDPOINT_BIND, small, sizeof small), AT_OK);   /* the bind form is shorter: it fits */
    return check_done("test_endpoint");
}
