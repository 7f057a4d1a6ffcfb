/*  logdb.c: the LMDB log (see logdb.h for the layout). The entry values
 *  are encoded, decoded and hashed by tlog/entry.c; this file owns the
 *  LMDB environment, the batches, the id index and the id filter. */
#include "logdb.h"
#include "alloc.h"
#include "clock.h"
#include "entry.h"
#include "findex.h"
#include "idtab.h"
#include "tiles.h"
#include "log.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/*  Free space below which LMDB's EIO of a failed commit is a full disk. */
#define LOGDB_LOW_SPACE (64u << 20)

struct logdb_t {
    MDB_env *env;
    MDB_dbi entries, ids, meta, audit;
    bool has_audit;          /* the "audit" database exists (a reader of an older log: maybe not) */
    findex_t *fx;            /* the find indexes (by_attester, by_schema, by_subject) */
    bool has_find;           /* they exist (a reader of an older log: maybe not) */
    MDB_dbi revoked;         /* the revocation status index (section "revoked") */
    bool has_revoked;        /* it exists (a reader of an older log: maybe not) */
    MDB_txn *txn;            /* the current write or read transaction */
    bool writing;
    logdb_state_t st;        /* writer: state including the open batch */
    uint8_t enc[ENTRY_ENCODED_MAX];   /* writer: the value being appended */
    uint64_t last_trim_us;
    void *map_addr;          /* where data.mdb is mapped (found lazily) */
    size_t map_len;
    bool readonly;
    int lock_fd;             /* writer: DIR/writer.lock, flock'ed while open; -1 otherwise */
    idtab_t *tail;           /* ids of entries [ids_upto, next_index): not yet in "ids" */
    bool tail_loaded;        /* reader: tail loaded for the current snapshot */
    uint64_t *bloom;         /* writer: every id in the log (false positives only) */
    size_t bloom_words;      /* its size in 64-bit words */
    idtab_entry_t *flush;    /* writer: ids below flush_upto, sorted, being written */
    uint64_t txn_first;      /* writer: next_index when the batch began */
    size_t flush_n, flush_pos;
    uint64_t flush_upto;
    tiles_t *tree;           /* the Merkle tree's tiles and checkpoints (writer: its state) */
    bool has_tree;           /* they exist (a reader of an older log: maybe not) */
    uint64_t tree_tried_us;  /* reader without them: when it last looked again (s_tree_appeared) */
    const note_signer_t *signer;   /* writer: checkpoints signed with it (borrowed); NULL = none */
    const char *origin;      /* borrowed */
    uint64_t cp_keep;        /* checkpoints kept */
    uint64_t cp_size;        /* writer: the size of the newest stored checkpoint */
};

/*  The map is file-backed: pages LMDB reads stay mapped and count in the
 *  process's resident set, which would then grow with the log. Every 20 ms,
 *  the writer drops its page-table entries for the whole map; the
 *  pages stay in the kernel's page cache and fault back in cheaply when
 *  used, so the sink's resident memory stays bounded by what it touches
 *  between trims. */
/*  LMDB does not say where it mapped the file: find data.mdb in /proc/self/maps. */
static at_err s_load_tail(logdb_t *self, MDB_txn *txn);
static void s_forget_batch(logdb_t *self);
static void s_bloom_add(logdb_t *self, const uint8_t *id);
static at_err s_bloom_load(logdb_t *self, MDB_txn *txn);
static at_err s_tree_open(logdb_t *self);
static at_err s_tree_reload(logdb_t *self);
static int s_open_revoked(logdb_t *self, MDB_txn *txn, bool readonly);

static void s_find_map(logdb_t *self)
{
    const char *dir;
    char data[1100], real[PATH_MAX], line[PATH_MAX + 128];
    if (mdb_env_get_path(self->env, &dir) != 0)
        return;
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    if (!realpath(data, real))
        return;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        if (!path || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        path[strcspn(path, "\n")] = 0;
        if (strcmp(path, real) == 0) {
            self->map_addr = (void *) lo;
            self->map_len = hi - lo;
            break;
        }
    }
    fclose(f);
}

static void s_trim_map(logdb_t *self)
{
    uint64_t now = at_clock_mono_us();
    if (now - self->last_trim_us < 20000)
        return;
    self->last_trim_us = now;
    if (!self->map_addr)
        s_find_map(self);
    if (self->map_addr)
        madvise(self->map_addr, self->map_len, MADV_DONTNEED);
}

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static uint64_t s_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/*  mkdir -p: creates dir and its missing parents. */
static void s_mkdirs(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0750);
            *p = '/';
        }
    }
    mkdir(path, 0750);
}

/*  An LMDB result as an at_err. LMDB passes system errors through as errno
 *  values: a full filesystem (ENOSPC) and an exhausted quota (EDQUOT) are
 *  named, like a full map, and not logged here: they are operational states
 *  the writer reports (the sink's SNK-DISKFULL; a full map it grows with
 *  logdb_grow or says why not, SNK-MAP-GROW / SNK-MAPFULL). Any other errno
 *  is AT_ERR_IO, LMDB's own codes AT_ERR_DB, both logged here. */
static at_err s_db_err(int rc, const char *what)
{
    if (rc == MDB_MAP_FULL)
        return AT_ERR_MAP_FULL;
    if (rc == ENOSPC)
        return AT_ERR_NO_SPACE;
    if (rc == EDQUOT)
        return AT_ERR_QUOTA;
    at_log_limited(AT_LOG_ERROR, "LOG-DB", "%s: %s", what, mdb_strerror(rc));
    return rc > 0 ? AT_ERR_IO : AT_ERR_DB;
}

/*  LMDB turns a short write into EIO ("short write, filesystem full?"):
 *  the disk filled up in the middle of the commit. True when the log's
 *  filesystem has less than LOGDB_LOW_SPACE bytes left for us, so that EIO
 *  can be named for what it is. */
static bool s_short_of_space(const logdb_t *self)
{
    const char *path;
    struct statvfs sv;
    if (mdb_env_get_path(self->env, &path) != 0 || statvfs(path, &sv) != 0)
        return false;
    return (uint64_t) sv.f_bavail * (uint64_t) sv.f_frsize < LOGDB_LOW_SPACE;
}

/*  mdb_txn_begin, adopting a map the writer grew meanwhile (another
 *  process, or this one before an earlier failure): LMDB says
 *  MDB_MAP_RESIZED, and a map size of 0 takes the size recorded in the
 *  file. */
static int s_txn_begin(logdb_t *self, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(self->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(self->env, 0) == 0) {
        self->map_addr = NULL;   /* mapped elsewhere now: found again at the next trim */
        rc = mdb_txn_begin(self->env, NULL, flags, txn);
    }
    return rc;
}

/*  The find indexes. A writer creating them on a log that has entries
 *  records meta "find_from" = next_index: the entries below are not
 *  indexed (until logdb_reindex). Returns an LMDB code. */
static int s_open_find(logdb_t *self, MDB_txn *txn, bool readonly)
{
    bool present, created;
    int rc = findex_open(self->fx, txn, !readonly, &present, &created);
    if (rc)
        return rc;
    self->has_find = present || created;
    if (!created)
        return 0;
    MDB_val nk = { 10, "next_index" }, nv, fk = { 9, "find_from" };
    if (mdb_get(txn, self->meta, &nk, &nv) != 0 || nv.mv_size != 8)
        return 0;   /* a new log: every entry will be indexed */
    at_log_info("LOG-FIND", "this log had no find indexes: entries from now on are indexed; "
                            "'attest log reindex' indexes the older ones");
    return mdb_put(txn, self->meta, &fk, &nv, 0);
}

static at_err s_open_dbs(logdb_t *self, bool readonly)
{
    MDB_txn *txn;
    int rc = s_txn_begin(self, readonly ? MDB_RDONLY : 0, &txn);
    if (rc)
        return s_db_err(rc, "begin");
    unsigned flags = readonly ? 0 : MDB_CREATE;
    if ((rc = mdb_dbi_open(txn, "entries", flags, &self->entries))
        || (rc = mdb_dbi_open(txn, "ids", flags, &self->ids))
        || (rc = mdb_dbi_open(txn, "meta", flags, &self->meta))) {
        mdb_txn_abort(txn);
        return rc == MDB_NOTFOUND ? AT_ERR_NOT_FOUND : s_db_err(rc, "open databases");
    }
    rc = mdb_dbi_open(txn, "audit", flags, &self->audit);
    self->has_audit = rc == 0;
    if (rc == MDB_NOTFOUND && readonly)
        rc = 0;   /* a log written before the audit existed */
    if (!rc && !readonly) {
        MDB_val k = { 6, "format" }, v = { 13, "attest-log-v1" };
        rc = mdb_put(txn, self->meta, &k, &v, 0);
    }
    if (!rc)
        rc = s_open_find(self, txn, readonly);
    if (!rc)
        rc = tiles_open(self->tree, txn, !readonly, &self->has_tree);
    if (!rc)
        rc = s_open_revoked(self, txn, readonly);
    if (rc) {
        mdb_txn_abort(txn);
        return s_db_err(rc, "init");
    }
    rc = mdb_txn_commit(txn);   /* frees txn whatever it returns */
    return rc ? s_db_err(rc, "init") : AT_OK;
}

/*  (Re)builds the writer's id filter with `words` words from "ids" and the
 *  unindexed tail. */
static at_err s_bloom_build(logdb_t *self, MDB_txn *txn, size_t words)
{
    free(self->bloom);
    self->bloom_words = words;
    self->bloom = calloc(words, sizeof *self->bloom);
    if (!self->bloom)
        return AT_ERR_IO;   /* out of memory */
    at_err err = s_bloom_load(self, txn);
    idtab_entry_t *tail = idtab_sorted(self->tail);
    for (size_t i = 0; err == AT_OK && i < idtab_count(self->tail); i++)
        s_bloom_add(self, tail[i].id);
    free(tail);
    return err;
}

static at_err s_writer_load_tail(logdb_t *self)
{
    MDB_txn *txn;
    int rc = s_txn_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return s_db_err(rc, "read");
    at_err err = s_load_tail(self, txn);
    if (err == AT_OK)
        err = s_bloom_build(self, txn, (size_t) LOGDB_FILTER_MB_DEFAULT << 17);
    mdb_txn_abort(txn);
    return err;
}

at_err logdb_set_id_filter_mb(logdb_t *self, unsigned mb)
{
    assert(!self->txn && mb > 0);
    size_t words = (size_t) mb << 17;
    if (self->readonly || words == self->bloom_words)
        return AT_OK;
    MDB_txn *txn;
    int rc = s_txn_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return s_db_err(rc, "read");
    at_err err = s_bloom_build(self, txn, words);
    mdb_txn_abort(txn);
    return err;
}

uint64_t logdb_id_filter_capacity(const logdb_t *self) { return (uint64_t) self->bloom_words * 64 / 12; }

/*  One writer per log: an exclusive flock on DIR/writer.lock, held until
 *  logdb_destroy (or the process's exit, however it ends). LMDB itself lets
 *  two writers take turns, which would interleave two sinks' entries. The
 *  file holds the writer's pid, for the message a second writer gets. */
static at_err s_lock_writer(logdb_t *self, const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/writer.lock", dir);
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (self->lock_fd < 0) {
        at_log_error("LOG-OPEN", "cannot open %s: %s", path, strerror(errno));
        return errno == EACCES ? AT_ERR_IO : AT_ERR_DB;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(self->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        at_log_error("LOG-LOCKED", "the log at %s already has a writer (pid %s holds %s): one sink per log",
                     dir, *pid ? pid : "unknown", path);
        return AT_ERR_BUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int) getpid());
    if (ftruncate(self->lock_fd, 0) != 0 || pwrite(self->lock_fd, pid, (size_t) len, 0) != len)
        at_log_warn("LOG-OPEN", "cannot write the pid into %s: %s", path, strerror(errno));
    return AT_OK;
}

logdb_t *logdb_open(const char *dir, bool readonly, uint64_t map_size, at_err *err)
{
    logdb_t *self = at_calloc(1, sizeof *self);
    self->readonly = readonly;
    self->lock_fd = -1;
    self->tail = idtab_new(LOGDB_IDS_FLUSH);
    self->fx = findex_new();
    self->tree = tiles_new();
    int rc = mdb_env_create(&self->env);
    if (!rc && map_size)
        rc = mdb_env_set_mapsize(self->env, map_size);
    if (!rc)
        rc = mdb_env_set_maxdbs(self->env, 16);
    if (!rc && !readonly) {
        s_mkdirs(dir);
        if ((*err = s_lock_writer(self, dir)) != AT_OK) {
            logdb_destroy(&self);
            return NULL;
        }
    }
    if (!rc)
        rc = mdb_env_open(self->env, dir, readonly ? MDB_RDONLY : 0, 0640);
    *err = AT_OK;
    if (rc) {
        at_log_error("LOG-OPEN", "cannot open log at %s: %s", dir, mdb_strerror(rc));
        *err = AT_ERR_DB;
    } else if ((*err = s_open_dbs(self, readonly)) == AT_OK && !readonly) {
        *err = logdb_state(self, &self->st);
        if (*err == AT_OK)
            *err = s_writer_load_tail(self);
        if (*err == AT_OK)
            *err = s_tree_open(self);
    }
    if (*err) {
        if (*err == AT_ERR_NOT_FOUND)
            at_log_error("LOG-OPEN", "%s holds no Attest log", dir);
        logdb_destroy(&self);
    }
    return self;
}

void logdb_destroy(logdb_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    logdb_t *self = *self_p;
    if (self->txn)
        mdb_txn_abort(self->txn);
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd);   /* releases the writer lock */
    idtab_destroy(&self->tail);
    findex_destroy(&self->fx);
    tiles_destroy(&self->tree);
    free(self->flush);
    free(self->bloom);
    free(self);
    *self_p = NULL;
}

static uint64_t s_meta_u64(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = { strlen(key), (void *) key }, v;
    if (mdb_get(txn, dbi, &k, &v) || v.mv_size != 8)
        return 0;
    return s_get_be64(v.mv_data);
}

/*  Entries below ids_upto have their id in "ids" (0 until the first flush). */
static uint64_t s_ids_upto(MDB_txn *txn, MDB_dbi meta, uint64_t next_index)
{
    uint64_t upto = s_meta_u64(txn, meta, "ids_upto");
    return upto < next_index ? upto : next_index;
}

/*  Loads the ids of entries [ids_upto, next_index) of txn's snapshot. */
static at_err s_load_tail(logdb_t *self, MDB_txn *txn)
{
    uint64_t next = s_meta_u64(txn, self->meta, "next_index");
    idtab_clear(self->tail);
    for (uint64_t i = s_ids_upto(txn, self->meta, next); i < next; i++) {
        uint8_t kb[8];
        s_put_be64(kb, i);
        MDB_val k = { 8, kb }, v;
        logdb_entry_t e;
        int rc = mdb_get(txn, self->entries, &k, &v);
        if (rc)
            return s_db_err(rc, "load unindexed ids");
        if (entry_decode(&e, v.mv_data, v.mv_size) != AT_OK)
            return AT_ERR_CORRUPT;
        idtab_put(self->tail, e.id, i);
    }
    self->tail_loaded = true;
    return AT_OK;
}

at_err logdb_state(logdb_t *self, logdb_state_t *out)
{
    MDB_txn *txn;
    int rc = s_txn_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return s_db_err(rc, "read state");
    memset(out, 0, sizeof *out);
    out->next_index = s_meta_u64(txn, self->meta, "next_index");
    out->next_seq = s_meta_u64(txn, self->meta, "next_seq");
    out->ids_upto = s_ids_upto(txn, self->meta, out->next_index);
    MDB_val k = { 4, "head" }, v;
    if (mdb_get(txn, self->meta, &k, &v) == 0 && v.mv_size == LOGDB_HASH_BYTES)
        memcpy(out->head, v.mv_data, LOGDB_HASH_BYTES);
    mdb_txn_abort(txn);
    return AT_OK;
}

at_err logdb_begin(logdb_t *self)
{
    assert(!self->txn);
    int rc = s_txn_begin(self, 0, &self->txn);
    if (rc) {
        self->txn = NULL;
        return s_db_err(rc, "begin batch");
    }
    self->writing = true;
    self->txn_first = self->st.next_index;
    return AT_OK;
}

/*  The writer's filter of every id in the log: a blocked Bloom filter (three
 *  bits in one 64-bit word, so one cache miss), of id-filter-mb. Ids
 *  are BLAKE2b outputs: their bytes serve as the hashes. It answers "surely
 *  not in the log" for almost every new attestation, which spares the
 *  lookups in the in-memory tail and in the "ids" B-tree. A false positive
 *  only costs those lookups; aborted batches leave harmless extra bits. */
static uint64_t s_bloom_mask(const uint8_t *id, size_t bloom_words, size_t *word)
{
    uint64_t h1, h2;
    memcpy(&h1, id + 8, sizeof h1);
    memcpy(&h2, id + 16, sizeof h2);
    *word = (size_t) (h1 % bloom_words);
    return (1ull << (h2 & 63)) | (1ull << ((h2 >> 6) & 63)) | (1ull << ((h2 >> 12) & 63));
}

static void s_bloom_add(logdb_t *self, const uint8_t *id)
{
    size_t w;
    uint64_t m = s_bloom_mask(id, self->bloom_words, &w);
    self->bloom[w] |= m;
}

static bool s_bloom_may_have(const logdb_t *self, const uint8_t *id)
{
    size_t w;
    uint64_t m = s_bloom_mask(id, self->bloom_words, &w);
    return (self->bloom[w] & m) == m;
}

void logdb_prefetch_id(const logdb_t *self, const uint8_t id[AT_ID_BYTES])
{
    if (self->bloom) {
        size_t w;
        (void) s_bloom_mask(id, self->bloom_words, &w);
        __builtin_prefetch(&self->bloom[w], 1);
    }
    idtab_prefetch(self->tail, id);
}

/*  Fills the writer's filter from "ids" (one cursor walk at open). */
static at_err s_bloom_load(logdb_t *self, MDB_txn *txn)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->ids, &cur);
    if (rc)
        return s_db_err(rc, "load ids");
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size == AT_ID_BYTES)
            s_bloom_add(self, k.mv_data);
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? AT_OK : s_db_err(rc, "load ids");
}

static at_err s_lookup(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index)
{
    if (self->bloom && !s_bloom_may_have(self, id))
        return AT_ERR_NOT_FOUND;
    if (self->readonly && !self->tail_loaded) {
        at_err err = s_load_tail(self, self->txn);
        if (err)
            return err;
    }
    if (idtab_get(self->tail, id, index))
        return AT_OK;
    MDB_val k = { AT_ID_BYTES, (void *) id }, v;
    int rc = mdb_get(self->txn, self->ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return AT_ERR_NOT_FOUND;
    if (rc)
        return s_db_err(rc, "lookup");
    if (v.mv_size != 8)
        return AT_ERR_CORRUPT;
    *index = s_get_be64(v.mv_data);
    return AT_OK;
}

at_err logdb_lookup_id(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *index)
{
    bool temporary = !self->txn;
    if (temporary) {
        at_err err = logdb_read_begin(self);
        if (err)
            return err;
    }
    at_err err = s_lookup(self, id, index);
    if (temporary)
        logdb_read_end(self);
    return err;
}

/*  The id claim rule (logdb.h, protocol.md 12), given the latest entry
 *  with e's id at index `at`: AT_ERR_DUPLICATE when it is valid, or when
 *  e is invalid and has the same attestation bytes (a retry of that
 *  submission); AT_ERR_NOT_FOUND when e may be appended (an invalid entry
 *  does not claim the id: a valid e claims it now, a different invalid e
 *  is another submission). */
static at_err s_claimed(logdb_t *self, uint64_t at, const logdb_entry_t *e)
{
    logdb_entry_t old;
    at_err err = logdb_get(self, at, &old, NULL, NULL);
    if (err)
        return err == AT_ERR_NOT_FOUND ? AT_ERR_CORRUPT : err;
    if (old.verdict == 0)
        return AT_ERR_DUPLICATE;
    if (e->verdict != 0 && old.att_len == e->att_len && memcmp(old.att, e->att, e->att_len) == 0)
        return AT_ERR_DUPLICATE;
    return AT_ERR_NOT_FOUND;
}

at_err logdb_append(logdb_t *self, logdb_entry_t *e)
{
    assert(self->txn && self->writing);
    uint8_t kb[8];
    uint64_t existing;
    /* The id first: a duplicate then writes nothing and the batch goes on. */
    at_err err = s_lookup(self, e->id, &existing);
    if (err == AT_OK)
        err = s_claimed(self, existing, e);
    if (err != AT_ERR_NOT_FOUND)
        return err;
    e->index = self->st.next_index;
    memcpy(e->prev_hash, self->st.head, LOGDB_HASH_BYTES);
    size_t len;
    if ((err = entry_encode(e, self->enc, sizeof self->enc, &len)))
        return err;
    s_put_be64(kb, e->index);
    MDB_val k = { 8, kb }, v = { len, self->enc };
    int rc = mdb_put(self->txn, self->entries, &k, &v, MDB_APPEND);
    if (rc)
        return s_db_err(rc, "append entry");
    idtab_put(self->tail, e->id, e->index);
    if (self->has_find)
        findex_add(self->fx, e->index, e->att, e->att_len);
    if (self->bloom)
        s_bloom_add(self, e->id);
    if ((err = tiles_add(self->tree, self->txn, self->enc, len)))
        return err;   /* DB or MAP_FULL: the batch is unusable */
    entry_hash(self->enc, len, self->st.head);
    self->st.next_index++;
    return AT_OK;
}

static int s_put_meta_u64(logdb_t *self, const char *key, uint64_t val)
{
    uint8_t b[8];
    s_put_be64(b, val);
    MDB_val k = { strlen(key), (void *) key }, v = { 8, b };
    return mdb_put(self->txn, self->meta, &k, &v, 0);
}

/*  Writes part of the pending ids to "ids"; part of the commit's txn.
 *
 *  Once LOGDB_IDS_FLUSH ids are pending, they are sorted and written in key
 *  order, a step per commit (four per entry of the batch, within
 *  LOGDB_IDS_STEP_MIN..LOGDB_IDS_STEP): each step covers one slice of the key
 *  space, so it dirties only the leaf pages of that slice, which bounds the
 *  memory and time one commit spends on the index, while over a whole cycle
 *  each leaf is still written about once. ids_upto moves when the cycle
 *  ends. A crash mid-cycle only means some ids are written again. Returns
 *  an LMDB code; *step_end and *cycle_done say what to apply on success. */
static int s_flush_step(logdb_t *self, size_t *step_end, bool *cycle_done)
{
    *cycle_done = false;
    if (!self->flush && idtab_count(self->tail) >= LOGDB_IDS_FLUSH) {
        self->flush_n = idtab_count(self->tail);
        self->flush = idtab_sorted(self->tail);
        self->flush_pos = 0;
        self->flush_upto = self->st.next_index;
    }
    *step_end = self->flush_pos;
    if (!self->flush)
        return 0;
    /* Four ids per entry of this batch (LOGDB_IDS_STEP_MIN..LOGDB_IDS_STEP):
     * the index work of a commit stays proportional to its size, and the
     * cycle still ends well before the next LOGDB_IDS_FLUSH ids pile up. */
    size_t step = 4 * (size_t) (self->st.next_index - self->txn_first);
    step = step < LOGDB_IDS_STEP_MIN ? LOGDB_IDS_STEP_MIN : step > LOGDB_IDS_STEP ? LOGDB_IDS_STEP : step;
    size_t end = self->flush_pos + step < self->flush_n ? self->flush_pos + step : self->flush_n;
    int rc = 0;
    for (size_t i = self->flush_pos; i < end && !rc; i++) {
        uint8_t ib[8];
        s_put_be64(ib, self->flush[i].index_plus_1 - 1);
        MDB_val k = { AT_ID_BYTES, self->flush[i].id }, v = { 8, ib };
        rc = mdb_put(self->txn, self->ids, &k, &v, 0);
    }
    *step_end = end;
    if (!rc && end == self->flush_n) {
        rc = s_put_meta_u64(self, "ids_upto", self->flush_upto);
        *cycle_done = true;
    }
    return rc;
}

/*  The step is durable: advance, and at the end of a cycle forget the ids
 *  that are now in "ids". */
static void s_flush_applied(logdb_t *self, size_t step_end, bool cycle_done)
{
    self->flush_pos = step_end;
    if (!cycle_done)
        return;
    idtab_drop_below(self->tail, self->flush_upto);
    self->st.ids_upto = self->flush_upto;
    at_log_debug("LOG-IDS", "ids of entries below %" PRIu64 " are indexed", self->flush_upto);
    free(self->flush);
    self->flush = NULL;
}

/*  The batch's part of the tree: its partial tiles, meta "tree_size" and,
 *  when it grew and a signer is set, a checkpoint of the new size. */
static at_err s_tree_commit(logdb_t *self)
{
    at_err err = tiles_write(self->tree, self->txn);
    if (err)
        return err;
    int rc = s_put_meta_u64(self, "tree_size", tiles_size(self->tree));
    if (rc)
        return s_db_err(rc, "commit tree size");
    if (!self->signer || tiles_size(self->tree) == self->cp_size)
        return AT_OK;
    return tiles_checkpoint(self->tree, self->txn, self->signer, self->origin, self->cp_keep, at_clock_wall_s());
}

at_err logdb_commit(logdb_t *self, uint64_t next_seq)
{
    assert(self->txn && self->writing);
    MDB_val hk = { 4, "head" }, hv = { LOGDB_HASH_BYTES, self->st.head };
    int rc = s_put_meta_u64(self, "next_index", self->st.next_index);
    if (!rc)
        rc = s_put_meta_u64(self, "next_seq", next_seq);
    if (!rc)
        rc = mdb_put(self->txn, self->meta, &hk, &hv, 0);
    size_t step_end = 0;
    bool cycle_done = false;
    if (!rc)
        rc = s_flush_step(self, &step_end, &cycle_done);
    if (!rc && self->has_find)
        rc = findex_write(self->fx, self->txn);   /* same txn: the indexes never lag the entries */
    if (rc) {
        logdb_abort(self);
        return s_db_err(rc, "commit meta");
    }
    at_err terr = s_tree_commit(self);   /* same txn: the tree and its checkpoint never lag the entries */
    if (terr) {
        logdb_abort(self);
        return terr;
    }
    rc = mdb_txn_commit(self->txn);
    self->txn = NULL;
    self->writing = false;
    if (rc) {
        s_forget_batch(self);
        return rc == EIO && s_short_of_space(self) ? AT_ERR_NO_SPACE : s_db_err(rc, "commit");
    }
    self->st.next_seq = next_seq;
    if (self->signer)
        self->cp_size = tiles_size(self->tree);
    s_flush_applied(self, step_end, cycle_done);
    s_trim_map(self);
    return AT_OK;
}

/*  After a failed or aborted batch: back to the committed state. */
static void s_forget_batch(logdb_t *self)
{
    findex_clear(self->fx);
    if (logdb_state(self, &self->st) != AT_OK)
        return;   /* logged already */
    idtab_drop_from(self->tail, self->st.next_index);
    if (s_tree_reload(self) != AT_OK)
        at_log_error("LOG-TREE", "cannot reload the tree after an aborted batch");
}

void logdb_abort(logdb_t *self)
{
    bool was_writing = self->writing;
    if (self->txn)
        mdb_txn_abort(self->txn);
    self->txn = NULL;
    self->writing = false;
    if (was_writing)
        s_forget_batch(self);
    self->tail_loaded = false;
}

/*  A reader opened on a log written before the tree (no "tiles" and
 *  "checkpoints" yet) looks again, at most once a second, for the
 *  databases a sink creates when it integrates the tree (14.1), so that a
 *  long-running reader such as `attest log serve` serves them without a
 *  restart. The handles are opened in a read transaction of their own and
 *  kept by committing it (LMDB closes a handle opened in an aborted one). */
static void s_tree_appeared(logdb_t *self)
{
    uint64_t now = at_clock_mono_us();
    if (self->tree_tried_us && now - self->tree_tried_us < 1000000)
        return;
    self->tree_tried_us = now;
    MDB_txn *txn;
    bool present = false;
    if (s_txn_begin(self, MDB_RDONLY, &txn))
        return;
    if (tiles_open(self->tree, txn, false, &present) == 0 && present && mdb_txn_commit(txn) == 0) {
        self->has_tree = true;
        at_log_info("LOG-TREE", "the log's Merkle tree appeared: its tiles and checkpoints are read from now on");
        return;
    }
    if (present)
        return;   /* the commit failed: txn is gone; looked again in a second */
    mdb_txn_abort(txn);
}

at_err logdb_read_begin(logdb_t *self)
{
    assert(!self->txn);
    if (self->readonly && !self->has_tree)
        s_tree_appeared(self);
    int rc = s_txn_begin(self, MDB_RDONLY, &self->txn);
    if (rc) {
        self->txn = NULL;
        return s_db_err(rc, "read");
    }
    return AT_OK;
}

void logdb_read_end(logdb_t *self)
{
    logdb_abort(self);
}

/*  The map in use: its size (mdb_env_info) and the pages the data file
 *  holds up to the last one used (the last committed transaction's last
 *  page; freed pages inside are reused before the file grows). */
at_err logdb_map_usage(logdb_t *self, logdb_map_usage_t *out)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(self->env, &info);
    if (!rc)
        rc = mdb_env_stat(self->env, &st);
    if (rc)
        return s_db_err(rc, "map usage");
    out->map_size = info.me_mapsize;
    out->used = ((uint64_t) info.me_last_pgno + 1) * st.ms_psize;
    out->page_size = st.ms_psize;
    return AT_OK;
}

at_err logdb_grow(logdb_t *self, uint64_t max_size, uint64_t *new_size)
{
    assert(!self->txn && !self->readonly);
    logdb_map_usage_t u;
    at_err err = logdb_map_usage(self, &u);
    if (err != AT_OK)
        return err;
    *new_size = u.map_size;
    if (u.map_size >= max_size)
        return AT_ERR_MAP_FULL;
    uint64_t next = u.map_size * 2 < max_size ? u.map_size * 2 : max_size;
    next -= next % u.page_size;   /* LMDB rounds up to a page; stay at or under the maximum */
    if (next <= u.map_size)
        return AT_ERR_MAP_FULL;
    int rc = mdb_env_set_mapsize(self->env, (size_t) next);
    if (rc)
        return s_db_err(rc, "grow map");
    self->map_addr = NULL;   /* remapped: found again at the next trim */
    *new_size = next;
    return AT_OK;
}

uint64_t logdb_count(logdb_t *self)
{
    assert(self->txn);
    return s_meta_u64(self->txn, self->meta, "next_index");
}

at_err logdb_get(logdb_t *self, uint64_t index, logdb_entry_t *out, const uint8_t **raw, size_t *raw_len)
{
    assert(self->txn);
    uint8_t kb[8];
    s_put_be64(kb, index);
    MDB_val k = { 8, kb }, v;
    int rc = mdb_get(self->txn, self->entries, &k, &v);
    if (rc == MDB_NOTFOUND)
        return AT_ERR_NOT_FOUND;
    if (rc)
        return s_db_err(rc, "get");
    if (raw) {
        *raw = v.mv_data;
        *raw_len = v.mv_size;
    }
    return out ? entry_decode(out, v.mv_data, v.mv_size) : AT_OK;
}

void logdb_hash(const uint8_t *value, size_t len, uint8_t out[LOGDB_HASH_BYTES])
{
    entry_hash(value, len, out);
}

at_err logdb_entry_decode(logdb_entry_t *out, const uint8_t *buf, size_t len)
{
    return entry_decode(out, buf, len);
}

int64_t logdb_find_invalid(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t from, uint64_t *out, size_t max)
{
    assert(self->txn);
    uint64_t count = logdb_count(self);
    int64_t found = 0;
    for (uint64_t i = from; i < count; i++) {
        logdb_entry_t e;
        at_err rc = logdb_get(self, i, &e, NULL, NULL);
        if (rc)
            return -(int64_t) rc;
        if (e.verdict == 0 || memcmp(e.id, id, AT_ID_BYTES) != 0)
            continue;
        if ((size_t) found < max)
            out[found] = i;
        found++;
    }
    return found;
}

/* ------------------------------------------------------------------ audit */

#define S_AUDIT_FIXED 12   /* four u8 and t_audited u64 before the worker's bytes */

at_err logdb_audit_record(logdb_t *self, const logdb_audit_t *a)
{
    assert(!self->txn && !self->readonly && a->worker_len <= ENTRY_NAME_MAX);
    uint8_t kb[8], vb[S_AUDIT_FIXED + ENTRY_NAME_MAX];
    s_put_be64(kb, a->index);
    vb[0] = a->got_verdict;
    vb[1] = a->got_reason;
    vb[2] = a->expected_verdict;
    vb[3] = a->expected_reason;
    s_put_be64(vb + 4, a->t_audited);
    memcpy(vb + S_AUDIT_FIXED, a->worker, a->worker_len);
    MDB_txn *txn;
    int rc = s_txn_begin(self, 0, &txn);
    if (rc)
        return s_db_err(rc, "begin audit record");
    MDB_val k = { 8, kb }, v = { S_AUDIT_FIXED + a->worker_len, vb };
    if ((rc = mdb_put(txn, self->audit, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return s_db_err(rc, "audit record");
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_db_err(rc, "commit audit record") : AT_OK;
}

static at_err s_audit_decode(const MDB_val *k, const MDB_val *v, logdb_audit_t *out)
{
    if (k->mv_size != 8 || v->mv_size < S_AUDIT_FIXED || v->mv_size > S_AUDIT_FIXED + ENTRY_NAME_MAX)
        return AT_ERR_CORRUPT;
    const uint8_t *b = v->mv_data;
    *out = (logdb_audit_t) { .index = s_get_be64(k->mv_data), .got_verdict = b[0], .got_reason = b[1],
                             .expected_verdict = b[2], .expected_reason = b[3], .t_audited = s_get_be64(b + 4),
                             .worker = (const char *) b + S_AUDIT_FIXED, .worker_len = v->mv_size - S_AUDIT_FIXED };
    return AT_OK;
}

static at_err s_audit_walk(logdb_t *self, logdb_audit_fn *fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(self->txn, self->audit, &cur);
    if (rc)
        return s_db_err(rc, "read audit");
    MDB_val k, v;
    at_err err = AT_OK;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && err == AT_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        logdb_audit_t a;
        if ((err = s_audit_decode(&k, &v, &a)) == AT_OK && fn(&a, arg) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (err == AT_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = s_db_err(rc, "read audit");
    return err;
}

at_err logdb_audit_each(logdb_t *self, logdb_audit_fn *fn, void *arg)
{
    if (!self->has_audit)
        return AT_OK;
    bool temporary = !self->txn;
    at_err err = temporary ? logdb_read_begin(self) : AT_OK;
    if (err)
        return err;
    err = s_audit_walk(self, fn, arg);
    if (temporary)
        logdb_read_end(self);
    return err;
}

static size_t s_lift_key(const char *ident, size_t len, char key[5 + LOGDB_IDENT_MAX])
{
    memcpy(key, "lift:", 5);
    memcpy(key + 5, ident, len);
    return 5 + len;
}

at_err logdb_lift_record(logdb_t *self, const char *ident, size_t len, uint64_t *at)
{
    assert(!self->txn && !self->readonly);
    if (len == 0 || len > LOGDB_IDENT_MAX)
        return AT_ERR_RANGE;
    char kb[5 + LOGDB_IDENT_MAX];
    uint8_t vb[8];
    MDB_txn *txn;
    int rc = s_txn_begin(self, 0, &txn);
    if (rc)
        return s_db_err(rc, "begin lift record");
    *at = s_meta_u64(txn, self->meta, "next_index");
    s_put_be64(vb, *at);
    MDB_val k = { s_lift_key(ident, len, kb), kb }, v = { 8, vb };
    if ((rc = mdb_put(txn, self->meta, &k, &v, 0)) != 0) {
        mdb_txn_abort(txn);
        return s_db_err(rc, "lift record");
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_db_err(rc, "commit lift record") : AT_OK;
}

at_err logdb_lift_at(logdb_t *self, const char *ident, size_t len, uint64_t *at)
{
    if (len == 0 || len > LOGDB_IDENT_MAX)
        return AT_ERR_NOT_FOUND;
    bool temporary = !self->txn;
    at_err err = temporary ? logdb_read_begin(self) : AT_OK;
    if (err)
        return err;
    char kb[5 + LOGDB_IDENT_MAX];
    MDB_val k = { s_lift_key(ident, len, kb), kb }, v;
    int rc = mdb_get(self->txn, self->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        *at = s_get_be64(v.mv_data);
    err = rc == MDB_NOTFOUND ? AT_ERR_NOT_FOUND : rc ? s_db_err(rc, "lift") : v.mv_size != 8 ? AT_ERR_CORRUPT : AT_OK;
    if (temporary)
        logdb_read_end(self);
    return err;
}

/* ------------------------------------------------------------------ find */

bool logdb_find_indexed(logdb_t *self, uint64_t *from)
{
    assert(self->txn);
    *from = self->has_find ? s_meta_u64(self->txn, self->meta, "find_from") : logdb_count(self);
    return self->has_find;
}

at_err logdb_find_each(logdb_t *self, logdb_by_t by, const void *value, size_t len, uint64_t from, uint64_t to,
                       logdb_index_fn *fn, void *arg)
{
    assert(self->txn && by < LOGDB_BY_COUNT_);
    if (!self->has_find)
        return AT_ERR_NOT_FOUND;
    uint64_t count = logdb_count(self);
    at_err err = findex_each(self->fx, self->txn, (findex_by_t) by, value, len, from, to < count ? to : count, fn, arg);
    if (err == AT_ERR_DB)
        at_log_limited(AT_LOG_ERROR, "LOG-DB", "reading the find index failed");
    return err;
}

static at_err s_t_committed(logdb_t *self, uint64_t index, uint64_t *t)
{
    logdb_entry_t e;
    at_err err = logdb_get(self, index, &e, NULL, NULL);
    *t = e.t_committed;
    return err;
}

at_err logdb_time_search(logdb_t *self, uint64_t t_us, uint64_t *index)
{
    uint64_t lo = 0, hi = logdb_count(self);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2, t;
        at_err err = s_t_committed(self, mid, &t);
        if (err)
            return err;
        if (t < t_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    *index = lo;
    return AT_OK;
}

/*  hex[0..n) (n nibbles) parsed into out; false when not hex. */
static bool s_parse_prefix(const char *hex, size_t n, uint8_t out[AT_ID_BYTES])
{
    memset(out, 0, AT_ID_BYTES);
    for (size_t i = 0; i < n; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return false;
        out[i / 2] |= (uint8_t) (i % 2 ? v : v << 4);
    }
    return true;
}

static bool s_has_prefix(const uint8_t *id, const uint8_t *p, size_t nibbles)
{
    if (memcmp(id, p, nibbles / 2) != 0)
        return false;
    return nibbles % 2 == 0 || (id[nibbles / 2] & 0xf0) == p[nibbles / 2];
}

/*  A match: a second, different id makes the prefix ambiguous. */
static void s_prefix_match(const uint8_t *id, uint8_t found[AT_ID_BYTES], int *n)
{
    if (*n == 0 || memcmp(found, id, AT_ID_BYTES) != 0)
        (*n)++;
    if (*n == 1)
        memcpy(found, id, AT_ID_BYTES);
}

static at_err s_prefix_ids(logdb_t *self, const uint8_t *p, size_t nibbles, uint8_t found[AT_ID_BYTES], int *n)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(self->txn, self->ids, &cur) != 0)
        return AT_ERR_DB;
    MDB_val k = { (nibbles + 1) / 2, (void *) p }, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; rc == 0 && *n < 2; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != AT_ID_BYTES || !s_has_prefix(k.mv_data, p, nibbles))
            break;
        s_prefix_match(k.mv_data, found, n);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? AT_OK : s_db_err(rc, "id prefix");
}

at_err logdb_lookup_prefix(logdb_t *self, const char *hex, uint8_t id[AT_ID_BYTES], uint64_t *index)
{
    assert(self->txn);
    size_t nibbles = strlen(hex);
    uint8_t p[AT_ID_BYTES];
    if (nibbles == 0 || nibbles > 2 * AT_ID_BYTES || !s_parse_prefix(hex, nibbles, p))
        return AT_ERR_RANGE;
    if (self->readonly && !self->tail_loaded) {
        at_err err = s_load_tail(self, self->txn);
        if (err)
            return err;
    }
    int n = 0;
    at_err err = s_prefix_ids(self, p, nibbles, id, &n);
    idtab_entry_t *tail = err ? NULL : idtab_sorted(self->tail);
    for (size_t i = 0; tail && i < idtab_count(self->tail) && n < 2; i++)
        if (s_has_prefix(tail[i].id, p, nibbles))
            s_prefix_match(tail[i].id, id, &n);
    free(tail);
    if (err)
        return err;
    if (n == 0)
        return AT_ERR_NOT_FOUND;
    return n > 1 ? AT_ERR_DUPLICATE : s_lookup(self, id, index);
}

/*  One pass of reindex: entries [lo, hi) noted, written, committed. */
static at_err s_reindex_range(logdb_t *self, uint64_t lo, uint64_t hi, uint64_t find_from)
{
    at_err err = logdb_begin(self);
    for (uint64_t i = lo; err == AT_OK && i < hi; i++) {
        logdb_entry_t e;
        if ((err = logdb_get(self, i, &e, NULL, NULL)) == AT_OK)
            findex_add(self->fx, i, e.att, e.att_len);
    }
    int rc = err ? 0 : findex_write(self->fx, self->txn);
    if (!rc && !err)
        rc = s_put_meta_u64(self, "find_from", find_from);
    if (err || rc) {
        logdb_abort(self);
        return err ? err : s_db_err(rc, "reindex");
    }
    rc = mdb_txn_commit(self->txn);
    self->txn = NULL;
    self->writing = false;
    return rc ? s_db_err(rc, "reindex commit") : AT_OK;
}

at_err logdb_reindex(logdb_t *self, uint64_t *done)
{
    assert(!self->txn && !self->readonly);
    *done = 0;
    if (logdb_read_begin(self) != AT_OK)
        return AT_ERR_DB;
    uint64_t from;
    (void) logdb_find_indexed(self, &from);
    logdb_read_end(self);
    /* Downwards in slices, so that find_from stays true after each commit. */
    at_err err = AT_OK;
    for (uint64_t hi = from; hi > 0 && err == AT_OK;) {
        uint64_t lo = hi > LOGDB_REINDEX_SLICE ? hi - LOGDB_REINDEX_SLICE : 0;
        if ((err = s_reindex_range(self, lo, hi, lo)) == AT_OK)
            *done += hi - lo;
        hi = lo;
    }
    return err;
}

/* ---------------------------------------------------------------- tree */

#define S_INTEGRATE_SLICE 65536   /* entries integrated per transaction */

/*  Integrates entries [tiles_size, to) into the tree in txn. */
static at_err s_integrate_slice(logdb_t *self, MDB_txn *txn, uint64_t to)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, self->entries, &c);
    if (rc)
        return s_db_err(rc, "integrate");
    uint8_t kb[8];
    s_put_be64(kb, tiles_size(self->tree));
    MDB_val k = { 8, kb }, v;
    at_err err = AT_OK;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY);
    while (!rc && !err && tiles_size(self->tree) < to) {
        if (k.mv_size != 8 || s_get_be64(k.mv_data) != tiles_size(self->tree))
            err = AT_ERR_CORRUPT;
        else
            err = tiles_add(self->tree, txn, v.mv_data, v.mv_size);
        if (!err && tiles_size(self->tree) < to)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (!err && rc)
        err = rc == MDB_NOTFOUND ? AT_ERR_CORRUPT : s_db_err(rc, "integrate");
    return err;
}

/*  A log written before the tree: builds the tree over its entries, a
 *  slice per durable transaction (a crash resumes at the last slice). */
static at_err s_integrate(logdb_t *self, uint64_t next_index)
{
    at_log_info("LOG-TREE", "building the Merkle tree over the %" PRIu64 " entries below %" PRIu64,
                next_index - tiles_size(self->tree), next_index);
    while (tiles_size(self->tree) < next_index) {
        uint64_t to = tiles_size(self->tree) + S_INTEGRATE_SLICE;
        to = to < next_index ? to : next_index;
        int rc = s_txn_begin(self, 0, &self->txn);
        if (rc)
            return s_db_err(rc, "integrate");
        self->writing = true;
        at_err err = s_integrate_slice(self, self->txn, to);
        if (!err)
            err = tiles_write(self->tree, self->txn);
        if (!err && (rc = s_put_meta_u64(self, "tree_size", to)))
            err = s_db_err(rc, "integrate");
        if (!err && (rc = mdb_txn_commit(self->txn)))
            err = s_db_err(rc, "integrate commit");
        else if (err)
            mdb_txn_abort(self->txn);
        self->txn = NULL;
        self->writing = false;
        if (err)
            return err;
    }
    at_log_info("LOG-TREE", "the tree covers the %" PRIu64 " entries of the log", next_index);
    return AT_OK;
}

/*  Writer: the tree's state from the committed log. */
static at_err s_tree_reload(logdb_t *self)
{
    MDB_txn *txn;
    int rc = s_txn_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return s_db_err(rc, "read tree");
    uint64_t size = s_meta_u64(txn, self->meta, "tree_size");
    at_err err = tiles_load(self->tree, txn, size);
    if (!err)
        self->cp_size = tiles_checkpoint_newest(self->tree, txn);
    mdb_txn_abort(txn);
    return err;
}

static at_err s_tree_open(logdb_t *self)
{
    at_err err = s_tree_reload(self);
    if (err)
        return err;
    uint64_t size = tiles_size(self->tree);
    if (size > self->st.next_index) {
        at_log_error("LOG-TREE", "the tree has %" PRIu64 " leaves but the log %" PRIu64 " entries", size,
                     self->st.next_index);
        return AT_ERR_CORRUPT;
    }
    return size < self->st.next_index ? s_integrate(self, self->st.next_index) : AT_OK;
}

at_err logdb_set_signer(logdb_t *self, const note_signer_t *signer, const char *origin, uint64_t keep)
{
    assert(!self->txn && !self->readonly);
    self->signer = signer;
    self->origin = origin;
    self->cp_keep = keep < 1 ? 1 : keep;
    if (!signer || (self->cp_size == tiles_size(self->tree) && self->cp_size > 0))
        return AT_OK;
    /* the newest checkpoint is older than the tree (or there is none): sign the current size */
    int rc = s_txn_begin(self, 0, &self->txn);
    if (rc)
        return s_db_err(rc, "checkpoint");
    at_err err = tiles_checkpoint(self->tree, self->txn, signer, origin, self->cp_keep, at_clock_wall_s());
    if (!err && (rc = mdb_txn_commit(self->txn)))
        err = s_db_err(rc, "checkpoint commit");
    else if (err)
        mdb_txn_abort(self->txn);
    self->txn = NULL;
    if (!err)
        self->cp_size = tiles_size(self->tree);
    return err;
}

at_err logdb_tree(logdb_t *self, uint64_t *size, uint8_t root[LOGDB_HASH_BYTES])
{
    if (!self->readonly) {   /* the writer's own state: committed, or the open batch's */
        *size = tiles_size(self->tree);
        tiles_root(self->tree, root);
        return AT_OK;
    }
    if (!self->has_tree)
        return AT_ERR_NOT_FOUND;
    bool own = !self->txn;
    if (own && logdb_read_begin(self) != AT_OK)
        return AT_ERR_DB;
    uint64_t n = s_meta_u64(self->txn, self->meta, "tree_size");
    at_err err = tiles_load(self->tree, self->txn, n);   /* a reader's tree state is scratch */
    if (own)
        logdb_read_end(self);
    if (err)
        return err;
    *size = n;
    tiles_root(self->tree, root);
    return AT_OK;
}

at_err logdb_tile(logdb_t *self, unsigned level, uint64_t n, const uint8_t **hashes, size_t *width)
{
    assert(self->txn);
    if (!self->has_tree || level >= TILES_LEVELS)
        return AT_ERR_NOT_FOUND;
    return tiles_get(self->tree, self->txn, level, n, hashes, width);
}

/*  merkle_reader_t over the snapshot's tiles: (level, n) from its tile. */
static at_err s_read_stored(void *arg, unsigned level, uint64_t n, uint8_t out[MERKLE_HASH_BYTES])
{
    logdb_t *self = arg;
    unsigned tl = level / MERKLE_TILE_HEIGHT, k = level % MERKLE_TILE_HEIGHT;
    if (tl >= TILES_LEVELS || (k && n >> (64 - k)))
        return AT_ERR_RANGE;
    uint64_t tile_n = (n << k) / MERKLE_TILE_WIDTH;
    const uint8_t *hashes;
    size_t width;
    at_err err = logdb_tile(self, tl, tile_n, &hashes, &width);
    if (err)
        return err;
    return merkle_hash_from_tile(level, n, tile_n, (const merkle_hash_t *) hashes, width, out) ? AT_OK
                                                                                              : AT_ERR_NOT_FOUND;
}

merkle_reader_t logdb_merkle_reader(logdb_t *self)
{
    return (merkle_reader_t){ s_read_stored, self };
}

at_err logdb_checkpoint(logdb_t *self, uint64_t size, const char **note, size_t *len, uint64_t *at_size)
{
    assert(self->txn);
    if (!self->has_tree)
        return AT_ERR_NOT_FOUND;
    return tiles_checkpoint_get(self->tree, self->txn, size, false, note, len, at_size);
}

at_err logdb_checkpoint_covering(logdb_t *self, uint64_t index, const char **note, size_t *len, uint64_t *at_size)
{
    assert(self->txn);
    if (!self->has_tree)
        return AT_ERR_NOT_FOUND;
    return tiles_checkpoint_get(self->tree, self->txn, index, true, note, len, at_size);
}

/* ---------------------------------------------------------------- revoked */

/*  The "revoked" database (logdb.h): created by the writer; a reader of a
 *  log written before it finds none. Returns an LMDB code. */
static int s_open_revoked(logdb_t *self, MDB_txn *txn, bool readonly)
{
    int rc = mdb_dbi_open(txn, "revoked", readonly ? 0 : MDB_CREATE, &self->revoked);
    self->has_revoked = rc == 0;
    return rc == MDB_NOTFOUND && readonly ? 0 : rc;
}

static at_err s_revoked_get(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *target_index, uint64_t *by_index)
{
    MDB_val k = { AT_ID_BYTES, (void *) id }, v;
    int rc = mdb_get(self->txn, self->revoked, &k, &v);
    if (rc == MDB_NOTFOUND)
        return AT_ERR_NOT_FOUND;
    if (rc)
        return s_db_err(rc, "revoked");
    if (v.mv_size != LOGDB_REVOKED_BYTES)
        return AT_ERR_CORRUPT;
    *target_index = s_get_be64(v.mv_data);
    *by_index = s_get_be64((const uint8_t *) v.mv_data + 8);
    return AT_OK;
}

at_err logdb_revoked(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t *target_index, uint64_t *by_index)
{
    if (!self->has_revoked)
        return AT_ERR_NOT_FOUND;
    bool temporary = !self->txn;
    at_err err = temporary ? logdb_read_begin(self) : AT_OK;
    if (err)
        return err;
    err = s_revoked_get(self, id, target_index, by_index);
    if (temporary)
        logdb_read_end(self);
    return err;
}

at_err logdb_revoked_put(logdb_t *self, const uint8_t id[AT_ID_BYTES], uint64_t target_index, uint64_t by_index)
{
    assert(self->txn && self->writing && self->has_revoked);
    uint8_t vb[LOGDB_REVOKED_BYTES];
    s_put_be64(vb, target_index);
    s_put_be64(vb + 8, by_index);
    MDB_val k = { AT_ID_BYTES, (void *) id }, v = { sizeof vb, vb };
    int rc = mdb_put(self->txn, self->revoked, &k, &v, 0);
    return rc ? s_db_err(rc, "record revocation") : AT_OK;
}
