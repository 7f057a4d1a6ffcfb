/*  zap.h: the ZAP handler: per-role allowlists of CURVE public keys.
 *
 *  libzmq asks a ZAP handler (RFC 27) about every CURVE handshake on a
 *  listening socket whose ZAP domain is set (curve_server() in curve.h).
 *  zap_new() binds that handler, a REP socket on "inproc://zeromq.zap.01"
 *  in the process's CZMQ context; it has no thread of its own: the daemon
 *  polls zap_handle() in its loop and calls zap_serve(), so it must be made
 *  before the listeners are bound.
 *
 *  Each listener's domain admits keys in roles: zap_allow(z, "backend",
 *  "worker", dir) lets the public certificates in dir connect to the
 *  listener of domain "backend" as role "worker". A request is answered 200
 *  with User-Id "<role>:<Z85 public key>" (the first role of the domain
 *  whose list holds the key) when the mechanism is CURVE and the key is
 *  allowed, else 400 (counted; logged rate-limited with the key in Z85,
 *  which is public). dir "any" admits every key (public submission).
 *
 *  The handshake only decides who may connect. What a peer may say is
 *  checked on every message with zap_permits(z, user_id, role) against the
 *  lists as they are now, so a key removed by zap_reload() (SIGHUP) is
 *  refused on its existing connection too.
 */
#ifndef AT_ZAP_H
#define AT_ZAP_H
#include "at_err.h"
#include "curve.h"
#include <stdbool.h>
#include <stdint.h>

#define ZAP_ANY "any"

typedef struct zap_t zap_t;

/*  Binds the handler; NULL after logging why (e.g. a second one in the
 *  process). */
zap_t *zap_new(void);
void zap_destroy(zap_t **self_p);

/*  Adds role on domain, allowing the keys of directory dir (or ZAP_ANY).
 *  The strings are copied. AT_ERR_IO (logged) when dir cannot be read.
 *  At most 8 roles. */
at_err zap_allow(zap_t *self, const char *domain, const char *role, const char *dir)
    __attribute__((warn_unused_result));
/*  Re-reads every directory. A directory that cannot be read keeps its
 *  previous list (AT_ERR_IO, logged); the others are replaced. */
at_err zap_reload(zap_t *self);

/*  The CZMQ socket (for a zpoller) and its libzmq handle (for zmq_poll). */
void *zap_sock(zap_t *self);
void *zap_handle(zap_t *self);
/*  Answers every request that is waiting, without blocking. */
void zap_serve(zap_t *self);

/*  True when user_id (a message's ZAP User-Id; NULL when plaintext) names a
 *  key allowed in role now. */
bool zap_permits(zap_t *self, const char *user_id, const char *role);
/*  The public key of a User-Id "<role>:<z85>"; false when it has none. */
bool zap_user_key(const char *user_id, uint8_t out[CURVE_KEY_BYTES]);

/*  SIGHUP: zap_watch_sighup() installs a handler that only notes the
 *  signal (a daemon that is not CURVE ignores it that way too);
 *  zap_sighup_take() says whether one came since the last call. */
void zap_watch_sighup(void);
bool zap_sighup_take(void);

uint64_t zap_allowed(const zap_t *self);   /* handshakes admitted */
uint64_t zap_refused(const zap_t *self);   /* handshakes refused */
size_t zap_keys(const zap_t *self, const char *role);   /* keys listed for role now */

#endif
