/*  checkpoint.c: skeleton, implemented on branch h-note (see checkpoint.h). */
#include "checkpoint.h"

size_t checkpoint_format(const checkpoint_t *c, char *out, size_t cap) { (void) c; (void) out; (void) cap; return 0; }
at_err checkpoint_parse(checkpoint_t *out, const char *body, size_t len)
{ (void) out; (void) body; (void) len; return AT_ERR_SHAPE; }
