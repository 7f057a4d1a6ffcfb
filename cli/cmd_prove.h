/*  cmd_prove.h: the proof subcommands of `attest log` (cmd_log.c dispatches
 *  to them; cmd_prove.c holds them so that cmd_log.c stays readable):
 *  checkpoint, prove, consistency, and the tree part of verify. Each runs
 *  inside the read snapshot cmd_log.c opened on db, reads its options from
 *  cfg (cmd_log.c's table) and returns the exit code: 0 ok, 1 failure, 2
 *  usage error. */
#ifndef AT_CMD_PROVE_H
#define AT_CMD_PROVE_H
#include "config.h"
#include "logdb.h"
#include <stdint.h>

int prove_checkpoint(logdb_t *db, const cfg_t *cfg);
int prove_inclusion(logdb_t *db, const cfg_t *cfg);
int prove_consistency(logdb_t *db, const cfg_t *cfg);
/*  verify's tree checks, after its entry checks passed on [from, to) of a
 *  log of n entries: the whole tree recomputed (from == 0 and to == n) or the
 *  range's leaf hashes against the tiles; the newest checkpoint's root and
 *  signature; --since. Prints one line per check. */
int prove_verify_tree(logdb_t *db, const cfg_t *cfg, uint64_t from, uint64_t to, uint64_t n);

#endif
