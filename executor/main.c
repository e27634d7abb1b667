/* main.c - millrace-executor: parses the command line into an executor
 * configuration and runs the daemon (executor/daemon.h) until a signal or
 * the coordinator's Shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "objstore/store.h"
#include "executor/daemon.h"
#include "executor/shuffle_send.h"

static mr_executor *g_ex;

static void on_signal(int sig)
{
    (void)sig;
    if (g_ex)
        mr_executor_stop(g_ex);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: millrace-executor --coordinator ENDPOINT [options]\n"
            "\n"
            "A stateless millrace worker: registers with the coordinator, runs the tasks\n"
            "it is given, and receives the shuffle data other executors push to it.\n"
            "\n"
            "  --coordinator ENDPOINT  coordinator control endpoint, e.g. tcp://127.0.0.1:7070\n"
            "  --bind ENDPOINT         where to receive shuffle data (default tcp://127.0.0.1:*)\n"
            "  --advertise ENDPOINT    address peers use to reach --bind (default: the bound one)\n"
            "  --data-root DIR         only read and write below DIR (default /)\n"
            "  --memory BYTES          memory budget (default 1 GiB): shuffle data received\n"
            "                          beyond it is spilled to disk; each stateful operator\n"
            "                          (aggregate, join, sort, distinct) of a task spills\n"
            "                          beyond --memory / --slots\n"
            "  --spill-dir DIR         where spill files go: a folder of this process is made\n"
            "                          below DIR and removed at exit (default $TMPDIR or /tmp)\n"
            "  --shuffle-window N      shuffle messages a task may have unfiled at one executor\n"
            "                          before it waits for credit (default 64, at most 256)\n"
            "  --slots N               tasks run at once (default: number of cores)\n"
            "  --id NAME               executor id (default host-pid)\n"
            "  --curve-keys DIR        ZeroMQ CURVE on every connection: the key pair in DIR\n"
            "                          (public.key, secret.key); the coordinator's key is\n"
            "                          DIR/authorized/coordinator.key (default: this pair's\n"
            "                          own key); only peers whose keys are files in\n"
            "                          DIR/authorized/ may send shuffle data (docs/security.md)\n"
            "  --max-message-bytes N   largest frame taken from the network (default 268435456)\n"
            "  --help                  this text\n");
}

/* Fills cfg from argv (strings point into argv or root); 0, or the exit
 * status after a message. */
static int parse_args(mr_executor_config *cfg, char root[PATH_MAX], int argc, char **argv)
{
    static const struct option opts[] = {
        {"coordinator", required_argument, 0, 'c'}, {"bind", required_argument, 0, 'b'},
        {"advertise", required_argument, 0, 'a'},   {"data-root", required_argument, 0, 'r'},
        {"memory", required_argument, 0, 'm'},      {"slots", required_argument, 0, 's'},
        {"id", required_argument, 0, 'i'},          {"help", no_argument, 0, 'h'},
        {"spill-dir", required_argument, 0, 'S'},   {"shuffle-window", required_argument, 0, 'W'},
        {"curve-keys", required_argument, 0, 'C'},
        {"max-message-bytes", required_argument, 0, 'X'},
        {0, 0, 0, 0}};
    mr_executor_config_defaults(cfg);
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': cfg->coordinator = optarg; break;
        case 'b': cfg->bind = optarg; break;
        case 'a': cfg->advertise = optarg; break;
        case 'r':
            if (!realpath(optarg, root)) {
                fprintf(stderr, "millrace-executor: data root '%s': %s\n", optarg, strerror(errno));
                return 2;
            }
            cfg->data_root = root;
            break;
        case 'm':
            cfg->memory = strtoull(optarg, &end, 10);
            if (*end || cfg->memory == 0) {
                fprintf(stderr, "millrace-executor: --memory wants a number of bytes\n");
                return 2;
            }
            break;
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 1024) {
                fprintf(stderr, "millrace-executor: --slots wants a number from 1 to 1024\n");
                return 2;
            }
            cfg->slots = (unsigned)v;
            break;
        }
        case 'i': cfg->id = optarg; break;
        case 'S': cfg->spill_base = optarg; break;
        case 'W': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > MR_SHUFFLE_WINDOW_MAX) {
                fprintf(stderr, "millrace-executor: --shuffle-window wants a number from 1 to %d\n",
                        MR_SHUFFLE_WINDOW_MAX);
                return 2;
            }
            cfg->shuffle_window = (int)v;
            break;
        }
        case 'C': cfg->curve_dir = optarg; break;
        case 'X':
            cfg->max_message = strtoll(optarg, &end, 10);
            if (*end || cfg->max_message < 1024) {
                fprintf(stderr, "millrace-executor: --max-message-bytes wants a number of bytes "
                                "(at least 1024)\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "millrace-executor: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (!cfg->coordinator || !cfg->coordinator[0]) {
        fprintf(stderr, "millrace-executor: --coordinator ENDPOINT is required (see --help)\n");
        return 2;
    }
    cfg->own_dsn = getenv("MILLRACE_WAREHOUSE_DSN");
    /* test hooks: sleep after each batch, only in the first N attempts of a task */
    const char *delay = getenv("MILLRACE_TEST_BATCH_DELAY_MS");
    if (delay)
        cfg->batch_delay_ms = atoi(delay);
    const char *delay_attempts = getenv("MILLRACE_TEST_DELAY_ATTEMPTS");
    cfg->delay_attempts = delay_attempts ? atoi(delay_attempts) : -1;
    return 0;
}

int main(int argc, char **argv)
{
    mr_executor_config cfg;
    char root[PATH_MAX];
    int rc = parse_args(&cfg, root, argc, argv);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    mr_err err;
    mr_err_clear(&err);
    /* s3:// inputs, configured by the AWS environment */
    if (os_store_install(&err) < 0) {
        fprintf(stderr, "millrace-executor: %s\n", err.msg);
        return 1;
    }
    mr_executor *ex = mr_executor_create(&cfg, &err);
    if (!ex) {
        fprintf(stderr, "millrace-executor: %s\n", err.msg);
        return 1;
    }
    g_ex = ex;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int left = mr_executor_run(ex);
    mr_executor_destroy(ex);
    if (left)
        _exit(0); /* a task blocked in I/O still runs: do not wait for it */
    return 0;
}
