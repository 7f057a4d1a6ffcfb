/*  cosigstore.c: accepted witness cosignatures on disk (see cosigstore.h).
 *
 *  The allowlist is an array of witness verifiers read at start, sorted by
 *  file name so that the lines a checkpoint carries come in a stable order.
 *  A put finds the witness by trying each verifier (cosig_verify tells
 *  "another key's line" from a bad one), writes the line to a temporary
 *  file, fsyncs it and renames it over "<key ID>-<size>", fsyncs the
 *  directory, then lists the directory for that witness's files and
 *  deletes all but the newest COSIGSTORE_KEEP sizes: a witness posts at
 *  most once per new checkpoint, so the listing is cheap.
 */
#include "cosigstore.h"
#include "alloc.h"
#include "log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_LEN (8 + 1 + 20)   /* "<key ID>-<size>" */

struct cosigstore_t {
    pthread_mutex_t lock;
    char dir[4096];
    note_verifier_t keys[COSIGSTORE_WITNESSES_MAX];
    size_t nkeys;
};

static int s_skip_dot(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/*  One allowlisted key from keys_dir/name; false (logged) when it is not. */
static bool s_add_key(cosigstore_t *self, const char *keys_dir, const char *name)
{
    char path[4096 + 256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", keys_dir, name);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return true;   /* not a key file: skipped */
    if (self->nkeys == COSIGSTORE_WITNESSES_MAX) {
        at_log_error("LSV-WITNESS", "%s: more than %d witness keys", keys_dir, COSIGSTORE_WITNESSES_MAX);
        return false;
    }
    note_verifier_t v;
    if (cosig_verifier_load(&v, path) != AT_OK)
        return false;
    for (size_t i = 0; i < self->nkeys; i++)
        if (self->keys[i].key_id == v.key_id) {
            at_log_error("LSV-WITNESS", "%s: key ID %08" PRIx32 " twice in %s", path, v.key_id, keys_dir);
            return false;
        }
    self->keys[self->nkeys++] = v;
    return true;
}

static at_err s_load_keys(cosigstore_t *self, const char *keys_dir)
{
    struct dirent **names = NULL;
    int n = scandir(keys_dir, &names, s_skip_dot, alphasort);
    if (n < 0) {
        at_log_error("LSV-WITNESS", "--witness-keys %s: %s", keys_dir, strerror(errno));
        return AT_ERR_IO;
    }
    bool ok = true;
    for (int i = 0; i < n; i++) {
        ok = ok && s_add_key(self, keys_dir, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    if (ok && self->nkeys == 0) {
        at_log_error("LSV-WITNESS", "--witness-keys %s: no witness key in it (`attest keygen --witness` makes "
                     "NAME.pub)", keys_dir);
        ok = false;
    }
    return ok ? AT_OK : AT_ERR_CONFIG;
}

cosigstore_t *cosigstore_new(const char *keys_dir, const char *dir, at_err *err)
{
    cosigstore_t *self = at_calloc(1, sizeof *self);
    pthread_mutex_init(&self->lock, NULL);
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    *err = s_load_keys(self, keys_dir);
    if (*err == AT_OK && mkdir(dir, 0755) != 0 && errno != EEXIST) {
        at_log_error("LSV-WITNESS", "--cosignatures %s: %s", dir, strerror(errno));
        *err = AT_ERR_IO;
    }
    if (*err)
        cosigstore_destroy(&self);
    return self;
}

void cosigstore_destroy(cosigstore_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy(&(*self_p)->lock);
    free(*self_p);
    *self_p = NULL;
}

size_t cosigstore_witnesses(const cosigstore_t *self)
{
    return self->nkeys;
}

/*  Writes data to dir/name through a temporary file and a rename; the
 *  directory fsynced after. */
static at_err s_write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[4096 + 64], path[4096 + 64];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s", dir, name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    errno = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, data, len) == (ssize_t) len && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    ok = ok && rename(tmp, path) == 0;
    if (ok && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        ok = fsync(fd) == 0;
        close(fd);
    }
    if (!ok) {
        at_log_limited(AT_LOG_ERROR, "LSV-COSIG-STORE", "cannot store %s: %s", path, strerror(saved ? saved : errno));
        unlink(tmp);
        return AT_ERR_IO;
    }
    return AT_OK;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? 1 : x > y ? -1 : 0;   /* newest first */
}

/*  Deletes all but the newest COSIGSTORE_KEEP files of the witness key_id. */
static void s_prune(const cosigstore_t *self, uint32_t key_id)
{
    char prefix[16], path[4096 + 64];
    snprintf(prefix, sizeof prefix, "%08" PRIx32 "-", key_id);
    DIR *d = opendir(self->dir);
    if (!d)
        return;
    uint64_t *sizes = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strlen(e->d_name) != S_NAME_LEN || strncmp(e->d_name, prefix, 9) != 0)
            continue;
        if (n == cap)
            sizes = at_realloc(sizes, (cap = cap ? 2 * cap : 32) * sizeof *sizes);
        sizes[n++] = strtoull(e->d_name + 9, NULL, 10);
    }
    closedir(d);
    if (n > COSIGSTORE_KEEP)
        qsort(sizes, n, sizeof *sizes, s_cmp_u64);
    for (size_t i = COSIGSTORE_KEEP; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s%020" PRIu64, self->dir, prefix, sizes[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            at_log_limited(AT_LOG_WARN, "LSV-COSIG-STORE", "cannot delete %s: %s", path, strerror(errno));
    }
    free(sizes);
}

at_err cosigstore_put(cosigstore_t *self, uint64_t size, const char *body, size_t body_len, const char *line,
                      size_t len, const char **witness)
{
    at_err err = AT_ERR_DENIED;
    size_t i = 0;
    for (; i < self->nkeys && err == AT_ERR_DENIED; i++) {
        err = cosig_verify(&self->keys[i], body, body_len, line, len, NULL);
        err = err == AT_ERR_NOT_FOUND ? AT_ERR_DENIED : err;
    }
    if (err != AT_ERR_DENIED && witness)
        *witness = self->keys[i - 1].name;
    if (err)
        return err;
    const note_verifier_t *v = &self->keys[i - 1];
    char name[S_NAME_LEN + 1], text[COSIG_LINE_MAX];
    snprintf(name, sizeof name, "%08" PRIx32 "-%020" PRIu64, v->key_id, size);
    if (len && line[len - 1] == '\n')
        len--;
    if (len + 2 > sizeof text)
        return AT_ERR_SHAPE;   /* cannot be: it verified */
    memcpy(text, line, len);
    text[len++] = '\n';
    pthread_mutex_lock(&self->lock);
    err = s_write_atomic(self->dir, name, text, len);
    if (err == AT_OK)
        s_prune(self, v->key_id);
    pthread_mutex_unlock(&self->lock);
    return err;
}

/*  The stored line of (v, size) into line (NUL-terminated); its length, 0
 *  when there is none. */
static size_t s_read_stored(const cosigstore_t *self, const note_verifier_t *v, uint64_t size, char *line,
                            size_t cap)
{
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%08" PRIx32 "-%020" PRIu64, self->dir, v->key_id, size);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, line, cap - 1);
    close(fd);
    if (n <= 0)
        return 0;
    line[n] = '\0';
    return (size_t) n;
}

size_t cosigstore_attach(cosigstore_t *self, uint64_t size, const char *body, size_t body_len, char *out,
                         size_t cap)
{
    size_t at = 0;
    for (size_t i = 0; i < self->nkeys; i++) {
        char line[COSIG_LINE_MAX + 1];
        pthread_mutex_lock(&self->lock);
        size_t n = s_read_stored(self, &self->keys[i], size, line, sizeof line);
        pthread_mutex_unlock(&self->lock);
        if (n == 0)
            continue;
        if (line[n - 1] != '\n' || cosig_verify(&self->keys[i], body, body_len, line, n, NULL) != AT_OK) {
            at_log_limited(AT_LOG_WARN, "LSV-COSIG-STALE", "the stored cosignature of %s for size %" PRIu64
                           " does not verify over the stored checkpoint: not served", self->keys[i].name, size);
            continue;
        }
        if (at + n > cap)
            break;
        memcpy(out + at, line, n);
        at += n;
    }
    return at;
}
