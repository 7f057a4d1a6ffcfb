/*  mpzone.c: per-thread msgpack zones (see mpzone.h). */
#include "mpzone.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct {
    msgpack_zone *zone[MPZONE_SLOTS];
    bool busy[MPZONE_SLOTS];
} s_slots_t;

static pthread_key_t s_key;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static __thread s_slots_t *s_mine;

static void s_free_slots(void *arg)
{
    s_slots_t *sl = arg;
    for (int i = 0; i < MPZONE_SLOTS; i++)
        if (sl->zone[i])
            msgpack_zone_free(sl->zone[i]);
    free(sl);
}

static void s_make_key(void) { (void) pthread_key_create(&s_key, s_free_slots); }

static s_slots_t *s_slots(void)
{
    if (s_mine)
        return s_mine;
    pthread_once(&s_once, s_make_key);
    s_slots_t *sl = calloc(1, sizeof *sl);
    if (!sl)
        return NULL;
    pthread_setspecific(s_key, sl);   /* freed by the key's destructor when the thread exits */
    return s_mine = sl;
}

msgpack_zone *mpzone_take(void)
{
    s_slots_t *sl = s_slots();
    for (int i = 0; sl && i < MPZONE_SLOTS; i++) {
        if (sl->busy[i])
            continue;
        if (!sl->zone[i] && !(sl->zone[i] = msgpack_zone_new(MPZONE_CHUNK)))
            break;
        sl->busy[i] = true;
        return sl->zone[i];
    }
    return msgpack_zone_new(MPZONE_CHUNK);
}

void mpzone_give(msgpack_zone *zone)
{
    if (!zone)
        return;
    s_slots_t *sl = s_mine;
    for (int i = 0; sl && i < MPZONE_SLOTS; i++) {
        if (sl->zone[i] == zone) {
            msgpack_zone_clear(zone);   /* keeps one chunk, frees the others */
            sl->busy[i] = false;
            return;
        }
    }
    msgpack_zone_free(zone);
}

at_err mpzone_unpack(const uint8_t *buf, size_t len, msgpack_object *out, msgpack_zone **zone_p)
{
    *zone_p = mpzone_take();
    if (!*zone_p)
        return AT_ERR_IO;   /* out of memory */
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack((const char *) buf, len, &off, *zone_p, out);
    if (ur == MSGPACK_UNPACK_EXTRA_BYTES || (ur == MSGPACK_UNPACK_SUCCESS && off != len))
        return AT_ERR_TRAILING;
    if (ur != MSGPACK_UNPACK_SUCCESS)
        return AT_ERR_MSGPACK;
    return AT_OK;
}
