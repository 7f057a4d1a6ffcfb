/*  endpoint.h: ZeroMQ endpoints as people write them.
 *
 *  Wherever an endpoint is expected (--broker, --frontend, --backend, --sink,
 *  --verdicts and their config keys) the short host:port form is accepted
 *  too, and normalised once, when the setting is read (config.c), so the
 *  socket code only ever sees a full endpoint:
 *      tcp://H:P, ipc://..., inproc://...  (anything with "://")  unchanged
 *      HOST:PORT, [V6ADDR]:PORT           -> tcp://HOST:PORT
 *      :PORT  (bind)                      -> tcp://ANY:PORT, ANY being "*"
 *      :PORT  (connect)                   -> tcp://127.0.0.1:PORT
 *      ""                                 -> ""  (a setting that may be off)
 *  PORT is 1..65535 in decimal; HOST is a name, an address, an interface or
 *  "*", without spaces or slashes.
 */
#ifndef AT_ENDPOINT_H
#define AT_ENDPOINT_H
#include "at_err.h"
#include <stddef.h>

typedef enum { ENDPOINT_BIND = 1, ENDPOINT_CONNECT = 2 } endpoint_use;

/*  Writes the full form of `in` to out[0..cap) (NUL-terminated). Returns
 *  AT_OK; AT_ERR_CONFIG when `in` is neither an endpoint nor HOST:PORT or
 *  :PORT; AT_ERR_OVERSIZE when the result does not fit. */
at_err endpoint_normalise(const char *in, endpoint_use use, char *out, size_t cap)
    __attribute__((warn_unused_result));

#endif
