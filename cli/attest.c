/*  attest.c: the `attest` tool: dispatches to a subcommand.
 *  Exit codes (every subcommand too, see commands.h): 0 success or --help /
 *  --version; 1 failure; 2 bad usage (no or unknown command, unknown option,
 *  bad value, stray argument). */
#include "commands.h"
#include "attestation.h"
#include "config.h"
#include "log.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} s_command_t;

static const s_command_t s_commands[] = {
    { "up", cmd_up, "run a local cluster (broker, sink, workers) until Ctrl-C" },
    { "status", cmd_status, "one screen about a running cluster, from its metrics (--json too)" },
    { "top", cmd_top, "attest status, refreshed every second until Ctrl-C" },
    { "demo", cmd_demo, "start a local cluster, feed it signed attestations, show the log" },
    { "keygen", cmd_keygen, "make an Ed25519 key pair for an attester (--curve, --log, --witness: other keys)" },
    { "submit", cmd_submit, "submit attestations read as JSON lines; print acknowledgements" },
    { "revoke", cmd_revoke, "revoke an attestation: sign and submit its revocation; print the outcome" },
    { "log", cmd_log, "read, export and verify the LMDB log" },
    { "note", cmd_note, "sign and verify signed notes (the log's checkpoints) with a log key" },
    { "trace", cmd_trace, "everything about one attestation: lineage, stages, checkpoint, proof, status" },
    { "bench", cmd_bench, "benchmark a local cluster and print one summary line" },
    { "verify-receipt", cmd_verify_receipt, "check receipts offline with the log's public key alone" },
    { "witness", cmd_witness, "witness a log: check its checkpoints are consistent, cosign them" },
};
#define S_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static void s_usage(FILE *out)
{
    fprintf(out, "attest: Attest's command-line tool\n\nUsage: attest COMMAND [options]\n\nCommands:\n");
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", s_commands[i].name, s_commands[i].help);
    fprintf(out, "\nRun 'attest COMMAND --help' (or 'attest help COMMAND') for a command's options; 'attest --version' for the version.\n"
                 "Exit status: 0 success, 1 failure, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || (strcmp(argv[1], "help") == 0 && argc == 2)) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        cfg_print_version("attest", stdout);
        return 0;
    }
    at_log_init("attest", AT_LOG_WARN);
    if (at_crypto_init() != AT_OK) {
        fprintf(stderr, "attest: libsodium failed to initialise\n");
        return 1;
    }
    if (strcmp(argv[1], "help") == 0 && argc == 3) {   /* attest help CMD: CMD --help */
        char *help_argv[] = { argv[2], "--help", NULL };
        argc = 3;
        argv[1] = argv[2];
        argv[2] = help_argv[1];
    }
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    const char *names[S_NCOMMANDS];
    for (size_t i = 0; i < S_NCOMMANDS; i++)
        names[i] = s_commands[i].name;
    const char *best = cfg_suggest(argv[1], strlen(argv[1]), names, S_NCOMMANDS);
    if (best)
        fprintf(stderr, "attest: unknown command '%s'; did you mean 'attest %s'?\n\n", argv[1], best);
    else
        fprintf(stderr, "attest: unknown command '%s'\n\n", argv[1]);
    s_usage(stderr);
    return 2;
}
