/*  at_err.c: names of error codes. */
#include "at_err.h"
#include <string.h>

static const char *s_names[AT_ERR_COUNT_] = {
    [AT_OK] = "ok",
    [AT_ERR_MSGPACK] = "msgpack",
    [AT_ERR_TRAILING] = "trailing_bytes",
    [AT_ERR_SHAPE] = "shape",
    [AT_ERR_TYPE] = "type",
    [AT_ERR_VERSION] = "version",
    [AT_ERR_OVERSIZE] = "oversize",
    [AT_ERR_RANGE] = "range",
    [AT_ERR_SIGNATURE] = "signature",
    [AT_ERR_NOT_YET_VALID] = "not_yet_valid",
    [AT_ERR_EXPIRED] = "expired",
    [AT_ERR_UNKNOWN_TYPE] = "unknown_type",
    [AT_ERR_FRAMES] = "frames",
    [AT_ERR_NO_CREDIT] = "no_credit",
    [AT_ERR_PROTOCOL] = "protocol",
    [AT_ERR_BUSY] = "busy",
    [AT_ERR_TIMEOUT] = "timeout",
    [AT_ERR_IO] = "io",
    [AT_ERR_DB] = "db",
    [AT_ERR_MAP_FULL] = "map_full",
    [AT_ERR_CONFIG] = "config",
    [AT_ERR_NOT_FOUND] = "not_found",
    [AT_ERR_DUPLICATE] = "duplicate",
    [AT_ERR_CORRUPT] = "corrupt",
    [AT_ERR_INTERRUPTED] = "interrupted",
    [AT_ERR_QUARANTINED] = "quarantined",
    [AT_ERR_DENIED] = "denied",
    [AT_ERR_REVOKE_UNKNOWN] = "revoke_unknown",
    [AT_ERR_REVOKE_KEY] = "revoke_key",
    [AT_ERR_REVOKE_TWICE] = "revoke_twice",
    [AT_ERR_REVOKE_SUBJECT] = "revoke_subject",
    [AT_ERR_NO_SINK] = "no_sink",
    [AT_ERR_POISON] = "poison",
    [AT_ERR_NO_SPACE] = "no_space",
    [AT_ERR_QUOTA] = "quota",
};

const char *at_strerror(int err)
{
    if (err < 0 || err >= AT_ERR_COUNT_ || !s_names[err])
        return "unknown";
    return s_names[err];
}

int at_err_from_name(const char *name)
{
    for (int i = 0; i < AT_ERR_COUNT_; i++)
        if (s_names[i] && strcmp(s_names[i], name) == 0)
            return i;
    return -1;
}
