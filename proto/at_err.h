/*  at_err.h: the one error enum of the project.
 *
 *  0 is success. The numeric values are part of the wire protocol (they travel
 *  as reason codes in verdicts, refusals and acknowledgements) and of the log
 *  format, so they never change; new codes are appended.
 */
#ifndef AT_ERR_H
#define AT_ERR_H

typedef enum {
    AT_OK = 0,
    AT_ERR_MSGPACK = 1,        /* not well-formed msgpack, or truncated */
    AT_ERR_TRAILING = 2,       /* bytes after the end of the object */
    AT_ERR_SHAPE = 3,          /* not an array, or wrong number of fields */
    AT_ERR_TYPE = 4,           /* a field has the wrong msgpack type */
    AT_ERR_VERSION = 5,        /* unknown format or protocol version */
    AT_ERR_OVERSIZE = 6,       /* a field or message exceeds its bound */
    AT_ERR_RANGE = 7,          /* a value is out of range (length, time order) */
    AT_ERR_SIGNATURE = 8,      /* Ed25519 signature does not verify */
    AT_ERR_NOT_YET_VALID = 9,  /* issued_at beyond the allowed clock skew */
    AT_ERR_EXPIRED = 10,       /* expires_at is not after the verification time */
    AT_ERR_UNKNOWN_TYPE = 11,  /* unknown message type */
    AT_ERR_FRAMES = 12,        /* wrong number of ZeroMQ frames */
    AT_ERR_NO_CREDIT = 13,     /* producer sent beyond the credit it was granted */
    AT_ERR_PROTOCOL = 14,      /* message not allowed in this state */
    AT_ERR_BUSY = 15,          /* backpressure: no credit now, try later */
    AT_ERR_TIMEOUT = 16,       /* timed out */
    AT_ERR_IO = 17,            /* I/O or system error */
    AT_ERR_DB = 18,            /* LMDB error */
    AT_ERR_MAP_FULL = 19,      /* LMDB map full: operator must grow map_size */
    AT_ERR_CONFIG = 20,        /* bad configuration */
    AT_ERR_NOT_FOUND = 21,     /* no such record */
    AT_ERR_DUPLICATE = 22,     /* the attestation id is already in the log */
    AT_ERR_CORRUPT = 23,       /* log failed an integrity check */
    AT_ERR_INTERRUPTED = 24,   /* stopped by a signal */
    AT_ERR_QUARANTINED = 25,   /* the worker is quarantined: the spot audit caught it lying */
    AT_ERR_DENIED = 26,        /* the sender's CURVE key is not allowed in this role */
    /* A revocation (store/revoke.h) the sink logs invalid, judged in log order: */
    AT_ERR_REVOKE_UNKNOWN = 27,  /* its target is not (yet) in the log with a valid entry */
    AT_ERR_REVOKE_KEY = 28,      /* signed by another key than the target's attester */
    AT_ERR_REVOKE_TWICE = 29,    /* its target is revoked already */
    AT_ERR_REVOKE_SUBJECT = 30,  /* the subject is not 64 lowercase hex digits, or names a revocation */
    AT_ERR_NO_SINK = 31,       /* admission closed: the broker has no (confirmed, live) sink; ERROR notice */
    AT_ERR_POISON = 32,        /* logged invalid by the broker: every worker holding it died (poison-deliveries) */
    AT_ERR_NO_SPACE = 33,      /* the filesystem is full (ENOSPC, or LMDB's EIO of a short write on a full disk) */
    AT_ERR_QUOTA = 34,         /* the disk quota is exhausted (EDQUOT) */
    AT_ERR_COUNT_
} at_err;

/*  Short stable name of an error code ("signature", "expired"...).
 *  Never NULL; unknown codes give "unknown". */
const char *at_strerror(int err);

/*  Parses a name given by at_strerror back to its code; -1 if unknown. */
int at_err_from_name(const char *name);

#endif
