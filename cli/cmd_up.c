/*  cmd_up.c: `attest up`: the embedded local cluster, supervised until Ctrl-C. */
#include "cluster.h"
#include "commands.h"
#include "config.h"
#include <czmq.h>
#include <unistd.h>

static const cfg_def_t s_settings[] = {
    { "data-dir", CFG_STR, "attest-data", 0, 0, "where the log (DIR/log) and process logs live" },
    { "workers", CFG_INT, "2", 0, 64, "worker processes" },
    { "threads", CFG_INT, "1", 0, 64, "verifier threads per worker (0: one per core)" },
    { "frontend-port", CFG_INT, "5555", 0, 65535, "producers connect here (0: any free port)" },
    { "backend-port", CFG_INT, "5556", 0, 65535, "workers and the sink connect here" },
    { "sink-port", CFG_INT, "5557", 0, 65535, "workers send verdicts here" },
    { "log-level", CFG_STR, "info", 0, 0, "log level of the processes" },
    { "broker-args", CFG_STR, "", 0, 0, "extra flags for the broker, e.g. \"--window 8192\"" },
    { "sink-args", CFG_STR, "", 0, 0, "extra flags for the sink, e.g. \"--commit-delay-us 5000\"" },
    { "worker-args", CFG_STR, "", 0, 0, "extra flags for every worker, e.g. \"--window 128\"" },
};

static int s_up(const cfg_t *cfg)
{
    zsys_init();
    zsys_set_logstream(NULL);
    cluster_opts_t o = { .data_dir = cfg_str(cfg, "data-dir"),
                         .frontend_port = (int) cfg_int(cfg, "frontend-port"),
                         .backend_port = (int) cfg_int(cfg, "backend-port"),
                         .sink_port = (int) cfg_int(cfg, "sink-port"),
                         .workers = (int) cfg_int(cfg, "workers"),
                         .threads = (int) cfg_int(cfg, "threads"),
                         .log_level = cfg_str(cfg, "log-level"),
                         .broker_args = cfg_str(cfg, "broker-args"),
                         .sink_args = cfg_str(cfg, "sink-args"),
                         .worker_args = cfg_str(cfg, "worker-args") };
    cluster_t *c = cluster_start(&o);
    if (!c)
        return 1;
    fprintf(stderr, "attest up: producers connect to %s; the log is %s\n"
                    "attest up: try 'attest submit --broker %s --key KEYFILE < lines.jsonl'; Ctrl-C stops\n",
            cluster_frontend(c), cluster_log_dir(c), cluster_frontend(c));
    while (!zsys_interrupted) {
        usleep(200000);
        if (!zsys_interrupted)
            cluster_supervise(c);
    }
    fprintf(stderr, "attest up: stopping\n");
    cluster_stop(&c);
    return 0;
}

int cmd_up(int argc, char **argv)
{
    return cfg_run("attest up",
                   "attest up: runs broker, sink and workers on loopback, restarts any that\n"
                   "exit, and stops them cleanly on Ctrl-C.\n\nUsage: attest up [options]",
                   s_settings, sizeof s_settings / sizeof s_settings[0], argc, argv, s_up);
}
