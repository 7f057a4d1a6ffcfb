/*  note.c: skeleton, implemented on branch h-note (see note.h). */
#include "note.h"
#include <stdlib.h>

struct note_signer_t { int unused; };

at_err note_keygen(const char *name, char *skey, size_t skey_cap, char *vkey, size_t vkey_cap)
{ (void) name; (void) skey; (void) skey_cap; (void) vkey; (void) vkey_cap; return AT_ERR_CONFIG; }
note_signer_t *note_signer_parse(const char *skey, at_err *err) { (void) skey; *err = AT_ERR_CONFIG; return NULL; }
note_signer_t *note_signer_load(const char *path, at_err *err) { (void) path; *err = AT_ERR_CONFIG; return NULL; }
void note_signer_destroy(note_signer_t **self_p) { if (self_p) { free(*self_p); *self_p = NULL; } }
void note_signer_verifier(const note_signer_t *self, note_verifier_t *out) { (void) self; (void) out; }
at_err note_sign(const note_signer_t *self, const char *body, size_t body_len, char *out, size_t cap, size_t *len)
{ (void) self; (void) body; (void) body_len; (void) out; (void) cap; (void) len; return AT_ERR_CONFIG; }
at_err note_verifier_parse(note_verifier_t *out, const char *vkey) { (void) out; (void) vkey; return AT_ERR_CONFIG; }
at_err note_verifier_load(note_verifier_t *out, const char *path) { (void) out; (void) path; return AT_ERR_CONFIG; }
size_t note_verifier_format(const note_verifier_t *v, char *out, size_t cap) { (void) v; (void) out; (void) cap; return 0; }
at_err note_open(const note_verifier_t *v, const char *note, size_t len, size_t *body_len)
{ (void) v; (void) note; (void) len; (void) body_len; return AT_ERR_SHAPE; }
