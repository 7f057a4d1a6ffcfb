/*  commands.h: the subcommands of the `attest` tool. Each takes the argv
 *  after the subcommand name (argv[0] is the subcommand) and returns the
 *  process exit code: 0 success, 1 failure, 2 usage error. */
#ifndef AT_COMMANDS_H
#define AT_COMMANDS_H

int cmd_keygen(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_verify_receipt(int argc, char **argv);
int cmd_note(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_witness(int argc, char **argv);

#endif
