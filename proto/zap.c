/*  zap.c: the ZAP handler and the allowlists (see zap.h).
 *
 *  An allowlist is a zhash of Z85 public keys, read from a directory of
 *  public certificates (files ending in _secret and dot files are skipped;
 *  a file that is not a certificate is skipped with a warning). Lookups on
 *  the message path hash the 40 characters of the key once per message,
 *  never per item.
 */
#include "zap.h"
#include "alloc.h"
#include "log.h"
#include <czmq.h>
#include <dirent.h>
#include <signal.h>
#include <string.h>

#define S_ENDPOINT "inproc://zeromq.zap.01"
#define S_ROLES 8

typedef struct {
    char *domain, *role, *dir;
    bool any;
    zhash_t *keys;              /* z85 -> (void *) 1 */
} s_role_t;

struct zap_t {
    zsock_t *sock;
    s_role_t roles[S_ROLES];
    size_t nroles;
    uint64_t allowed, refused;
};

zap_t *zap_new(void)
{
    zap_t *self = at_calloc(1, sizeof *self);
    self->sock = zsock_new(ZMQ_REP);
    if (!self->sock)
        abort();
    zsock_set_linger(self->sock, 0);
    if (zsock_bind(self->sock, S_ENDPOINT) != 0) {
        at_log_error("SEC-ZAP", "cannot bind the ZAP handler %s: %s", S_ENDPOINT, zmq_strerror(errno));
        zap_destroy(&self);
    }
    return self;
}

void zap_destroy(zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zap_t *self = *self_p;
    for (size_t i = 0; i < self->nroles; i++) {
        free(self->roles[i].domain);
        free(self->roles[i].role);
        free(self->roles[i].dir);
        zhash_destroy(&self->roles[i].keys);
    }
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

static bool s_skip(const char *name)
{
    size_t n = strlen(name);
    return name[0] == '.' || (n >= 7 && strcmp(name + n - 7, "_secret") == 0);
}

/*  Reads dir into a new hash; NULL when the directory cannot be read. */
static zhash_t *s_read_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    zhash_t *keys = zhash_new();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (s_skip(de->d_name))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        zcert_t *cert = zsys_file_exists(path) ? zcert_load(path) : NULL;
        if (!cert) {
            at_log_warn("SEC-ALLOW", "%s: not a public certificate: skipped", path);
            continue;
        }
        zhash_insert(keys, zcert_public_txt(cert), (void *) 1);
        zcert_destroy(&cert);
    }
    closedir(d);
    return keys;
}

static at_err s_load(s_role_t *r)
{
    if (r->any)
        return AT_OK;
    zhash_t *keys = s_read_dir(r->dir);
    if (!keys) {
        at_log_error("SEC-ALLOW", "allowlist %s for %s: %s (the previous list is kept)", r->dir, r->role,
                     strerror(errno));
        return AT_ERR_IO;
    }
    zhash_destroy(&r->keys);
    r->keys = keys;
    at_log_info("SEC-ALLOW", "%s on %s: %zu keys from %s", r->role, r->domain, zhash_size(keys), r->dir);
    return AT_OK;
}

at_err zap_allow(zap_t *self, const char *domain, const char *role, const char *dir)
{
    assert(self->nroles < S_ROLES);
    s_role_t *r = &self->roles[self->nroles];
    r->any = strcmp(dir, ZAP_ANY) == 0;
    r->domain = at_strdup(domain);
    r->role = at_strdup(role);
    r->dir = at_strdup(dir);
    self->nroles++;
    if (r->any)
        at_log_warn("SEC-ALLOW", "%s on %s: any key is accepted", role, domain);
    return s_load(r);
}

at_err zap_reload(zap_t *self)
{
    at_err rc = AT_OK;
    for (size_t i = 0; i < self->nroles; i++)
        if (s_load(&self->roles[i]) != AT_OK)
            rc = AT_ERR_IO;
    return rc;
}

void *zap_sock(zap_t *self) { return self->sock; }
void *zap_handle(zap_t *self) { return zsock_resolve(self->sock); }

static const s_role_t *s_find(const zap_t *self, const char *domain, const char *key)
{
    for (size_t i = 0; i < self->nroles; i++) {
        const s_role_t *r = &self->roles[i];
        if (strcmp(r->domain, domain) == 0 && (r->any || (r->keys && zhash_lookup(r->keys, key))))
            return r;
    }
    return NULL;
}

/*  One request (RFC 27): version, request id, domain, address, identity,
 *  mechanism, credentials. */
static void s_answer(zap_t *self, zmsg_t *req)
{
    char *version = zmsg_popstr(req), *reqid = zmsg_popstr(req), *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req), *identity = zmsg_popstr(req), *mech = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);
    char key[CURVE_Z85_LEN + 1] = "", user[128] = "";
    const s_role_t *r = NULL;
    bool curve = mech && strcmp(mech, "CURVE") == 0 && cred && zframe_size(cred) == CURVE_KEY_BYTES;
    if (curve && domain) {
        zmq_z85_encode(key, zframe_data(cred), CURVE_KEY_BYTES);
        r = s_find(self, domain, key);
    }
    if (r) {
        self->allowed++;
        snprintf(user, sizeof user, "%s:%s", r->role, key);
    } else {
        self->refused++;
        at_log_limited(AT_LOG_WARN, "SEC-REFUSED", "%s: %s from %s refused: %s", domain ? domain : "?",
                       curve ? key : (mech ? mech : "?"), address ? address : "?",
                       curve ? "key not in the allowlist of this listener" : "not CURVE");
    }
    zmsg_t *rep = zmsg_new();
    zmsg_addstr(rep, "1.0");
    zmsg_addstr(rep, reqid ? reqid : "");
    zmsg_addstr(rep, r ? "200" : "400");
    zmsg_addstr(rep, r ? "OK" : "not allowed");
    zmsg_addstr(rep, user);
    zmsg_addmem(rep, "", 0);
    if (zmsg_send(&rep, self->sock) != 0)
        zmsg_destroy(&rep);
    zframe_destroy(&cred);
    free(version), free(reqid), free(domain), free(address), free(identity), free(mech);
}

void zap_serve(zap_t *self)
{
    while (zsock_events(self->sock) & ZMQ_POLLIN) {
        zmsg_t *req = zmsg_recv(self->sock);
        if (!req)
            return;
        s_answer(self, req);
        zmsg_destroy(&req);
    }
}

bool zap_permits(zap_t *self, const char *user_id, const char *role)
{
    const char *colon = user_id ? strchr(user_id, ':') : NULL;
    if (!colon || strlen(colon + 1) != CURVE_Z85_LEN)
        return false;
    for (size_t i = 0; i < self->nroles; i++) {
        const s_role_t *r = &self->roles[i];
        if (strcmp(r->role, role) == 0 && (r->any || (r->keys && zhash_lookup(r->keys, colon + 1))))
            return true;
    }
    return false;
}

bool zap_user_key(const char *user_id, uint8_t out[CURVE_KEY_BYTES])
{
    const char *colon = user_id ? strchr(user_id, ':') : NULL;
    return colon && curve_z85_decode(colon + 1, strlen(colon + 1), out);
}

static volatile sig_atomic_t s_hup;

static void s_on_hup(int sig)
{
    (void) sig;
    s_hup = 1;
}

void zap_watch_sighup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_hup;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

bool zap_sighup_take(void)
{
    if (!s_hup)
        return false;
    s_hup = 0;
    return true;
}

uint64_t zap_allowed(const zap_t *self) { return self->allowed; }
uint64_t zap_refused(const zap_t *self) { return self->refused; }

size_t zap_keys(const zap_t *self, const char *role)
{
    for (size_t i = 0; i < self->nroles; i++)
        if (strcmp(self->roles[i].role, role) == 0)
            return self->roles[i].keys ? zhash_size(self->roles[i].keys) : 0;
    return 0;
}
