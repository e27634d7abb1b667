/* main.c - millrace-coordinator: owns job state, schedules tasks on
 * executors, commits finished jobs, and serves the REST API.
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
#include "warehouse/pg_source.h"
#include "coordinator/coordinator.h"
#include "coordinator/store.h"
#include "coordinator/schedules.h"
#include "core/log.h"

/* Largest control frame taken from an executor: registrations, heartbeats
 * and task statuses (with at most 20 sample rejects) are far smaller. */
#define COORD_MAX_MESSAGE ((int64_t)16 << 20)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: millrace-coordinator [options]\n"
            "\n"
            "Owns job state, compiles submitted DAGs, schedules their tasks on executors,\n"
            "commits results to the warehouse, and serves the REST API.\n"
            "\n"
            "  --http ADDR          REST API address (default 127.0.0.1:8080; port 0 picks one)\n"
            "  --bind ENDPOINT      control endpoint executors connect to\n"
            "                       (default tcp://127.0.0.1:7070; tcp://HOST:* picks a port)\n"
            "  --data-root DIR      jobs read and write only below DIR; relative paths in\n"
            "                       submitted DAGs resolve here (default: current folder)\n"
            "  --token-file F       require 'Authorization: Bearer <contents of F>'\n"
            "                       (MILLRACE_TOKEN in the environment does the same)\n"
            "  --partitions N       shuffle partitions (default: total executor slots)\n"
            "  --split-bytes N      input split size in bytes (default 33554432)\n"
            "  --zstd-level N       shuffle compression level, 0 for none (default 0)\n"
            "  --lost-after-ms N    declare an executor lost after N ms of silence (default 5000)\n"
            "  --no-executor-timeout-ms N\n"
            "                       fail running jobs when no executor has been alive for N ms\n"
            "                       (default 30000); queued jobs keep waiting\n"
            "  --task-timeout-ms N  restart a task attempt whose progress has not changed for N ms\n"
            "                       (default 600000; waiting for shuffle input does not count)\n"
            "  --retry-deadline-ms N\n"
            "                       retry a task (or a commit that cannot reach the warehouse)\n"
            "                       whose failure is retryable, backing off 100 ms doubling to\n"
            "                       5 s with full jitter, until N ms after its first failure\n"
            "                       (default 60000; at least 3 attempts either way)\n"
            "  --staging-lease-ms N\n"
            "                       a job's staging lease is renewed every N/4 ms; staging of a\n"
            "                       job whose lease is N ms old is swept (default 60000)\n"
            "  --max-body-bytes N   largest request body accepted, 413 beyond (default 16777216)\n"
            "  --http-timeout S     close HTTP connections idle for S seconds, or whose request\n"
            "                       has not fully arrived S seconds after it began (default 30)\n"
            "  --allow-env PATTERN  environment variables a DAG's ${env:NAME} may read (glob;\n"
            "                       repeatable; default MILLRACE_DAG_*)\n"
            "  --allow-host NAME    also answer requests whose Host is NAME (repeatable; IP\n"
            "                       addresses and localhost are always answered; '*' for any)\n"
            "  --allow-origin O     also answer browser requests from origin O, e.g.\n"
            "                       https://ui.example.com (repeatable)\n"
            "  --max-nodes N        largest DAG accepted, in nodes (default 10000)\n"
            "  --max-compile-ms N   a DAG taking longer to compile is refused (default 10000)\n"
            "  --history N          finished jobs kept, in memory and stored (default 1000)\n"
            "  --state-dir DIR      keep jobs in DIR/state.db (SQLite) so history survives a\n"
            "                       restart; jobs running when the coordinator died are marked\n"
            "                       failed at start-up and their staging dropped (default\n"
            "                       DATA_ROOT/.millrace-state; ':memory:' keeps nothing)\n"
            "  --history-days N     drop stored jobs finished more than N days ago (default 0:\n"
            "                       keep them all)\n"
            "  --ready-file F       write the bound addresses as JSON to F once listening\n"
            "  --curve-keys DIR     encrypt and authenticate the control port with ZeroMQ CURVE:\n"
            "                       the key pair in DIR (public.key, secret.key), and only\n"
            "                       executors whose public keys are files in DIR/authorized/\n"
            "                       may connect (refusals are logged); see docs/security.md\n"
            "  --keygen DIR         make a key pair in DIR and exit (what `millrace keygen` runs)\n"
            "  --help               this text\n");
}

static char *read_token(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return n ? strdup(buf) : NULL;
}

static int parse_num(const char *opt, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "millrace-coordinator: %s wants a number from %lld to %lld\n", opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Appends optarg (it lives as long as argv) to a repeatable flag's list. */
static int add_str(const char ***list, size_t *n, const char *v)
{
    const char **p = realloc(*list, (*n + 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "millrace-coordinator: out of memory\n");
        return -1;
    }
    p[(*n)++] = v;
    *list = p;
    return 0;
}

/* --state-dir DIR, empty when not given (then DATA_ROOT/.millrace-state). */
static char g_state_dir[PATH_MAX + 32];

/* --curve-keys DIR, empty when not given. */
static char g_curve_dir[PATH_MAX];

static int parse_args(mr_coord *c, int argc, char **argv, char *ready_file, size_t rcap)
{
    static const struct option opts[] = {
        {"http", required_argument, 0, 'H'},        {"bind", required_argument, 0, 'b'},
        {"data-root", required_argument, 0, 'r'},   {"token-file", required_argument, 0, 't'},
        {"partitions", required_argument, 0, 'p'},  {"split-bytes", required_argument, 0, 's'},
        {"zstd-level", required_argument, 0, 'z'},  {"lost-after-ms", required_argument, 0, 'l'},
        {"ready-file", required_argument, 0, 'R'},  {"help", no_argument, 0, 'h'},
        {"max-body-bytes", required_argument, 0, 'M'}, {"http-timeout", required_argument, 0, 'T'},
        {"history", required_argument, 0, 'Y'},
        {"no-executor-timeout-ms", required_argument, 0, 'N'},
        {"task-timeout-ms", required_argument, 0, 'K'},
        {"allow-env", required_argument, 0, 'E'},  {"allow-host", required_argument, 0, 'A'},
        {"allow-origin", required_argument, 0, 'O'}, {"max-nodes", required_argument, 0, 'n'},
        {"max-compile-ms", required_argument, 0, 'C'},
        {"curve-keys", required_argument, 0, 'k'},
        {"keygen", required_argument, 0, 'G'},
        {"retry-deadline-ms", required_argument, 0, 'D'},
        {"staging-lease-ms", required_argument, 0, 'L'},
        {"state-dir", required_argument, 0, 'S'},
        {"history-days", required_argument, 0, 'y'},
        {0, 0, 0, 0}};
    snprintf(c->http_addr, sizeof c->http_addr, "127.0.0.1:8080");
    snprintf(c->bind, sizeof c->bind, "tcp://127.0.0.1:7070");
    if (!getcwd(c->data_root, sizeof c->data_root))
        snprintf(c->data_root, sizeof c->data_root, "/");
    c->zstd_level = 0; /* on loopback compression costs more than it saves: docs/runtime.md */
    c->split_bytes = 32ULL << 20;
    c->lost_after_ms = 5000;
    c->no_executor_fail_ms = 30000;
    c->task_timeout_ms = 600000;
    c->retry_deadline_ms = 60000;
    c->staging_lease_ms = 60000;
    c->max_body = 16u << 20;
    c->history = 1000;
    c->http_timeout_s = 30;
    const char *env_token = getenv("MILLRACE_TOKEN");
    if (env_token && env_token[0])
        c->token = strdup(env_token);
    int o;
    long long v;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'H': snprintf(c->http_addr, sizeof c->http_addr, "%s", optarg); break;
        case 'b': snprintf(c->bind, sizeof c->bind, "%s", optarg); break;
        case 'r':
            if (!realpath(optarg, c->data_root)) {
                fprintf(stderr, "millrace-coordinator: data root '%s': %s\n", optarg,
                        strerror(errno));
                return 2;
            }
            break;
        case 't':
            free(c->token);
            c->token = read_token(optarg);
            if (!c->token) {
                fprintf(stderr, "millrace-coordinator: cannot read a token from '%s'\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (parse_num("--partitions", optarg, 1, 4096, &v) < 0)
                return 2;
            c->partitions = (uint32_t)v;
            break;
        case 's':
            if (parse_num("--split-bytes", optarg, 4096, 1LL << 40, &v) < 0)
                return 2;
            c->split_bytes = (uint64_t)v;
            break;
        case 'z':
            if (parse_num("--zstd-level", optarg, 0, 19, &v) < 0)
                return 2;
            c->zstd_level = (int)v;
            break;
        case 'l':
            if (parse_num("--lost-after-ms", optarg, 100, 3600000, &v) < 0)
                return 2;
            c->lost_after_ms = (int)v;
            break;
        case 'N':
            if (parse_num("--no-executor-timeout-ms", optarg, 100, 86400000, &v) < 0)
                return 2;
            c->no_executor_fail_ms = (int)v;
            break;
        case 'K':
            if (parse_num("--task-timeout-ms", optarg, 100, 86400000, &v) < 0)
                return 2;
            c->task_timeout_ms = (int)v;
            break;
        case 'D':
            if (parse_num("--retry-deadline-ms", optarg, 0, 86400000, &v) < 0)
                return 2;
            c->retry_deadline_ms = (int)v;
            break;
        case 'L':
            if (parse_num("--staging-lease-ms", optarg, 1000, 86400000, &v) < 0)
                return 2;
            c->staging_lease_ms = (int)v;
            break;
        case 'M':
            if (parse_num("--max-body-bytes", optarg, 1024, 1LL << 32, &v) < 0)
                return 2;
            c->max_body = (size_t)v;
            break;
        case 'T':
            if (parse_num("--http-timeout", optarg, 1, 3600, &v) < 0)
                return 2;
            c->http_timeout_s = (unsigned)v;
            break;
        case 'Y':
            if (parse_num("--history", optarg, 0, 1000000, &v) < 0)
                return 2;
            c->history = (size_t)v;
            break;
        case 'E':
            if (add_str(&c->allow_env, &c->nallow_env, optarg) < 0)
                return 2;
            break;
        case 'A':
            if (add_str(&c->allow_hosts, &c->nallow_hosts, optarg) < 0)
                return 2;
            break;
        case 'O':
            if (add_str(&c->allow_origins, &c->nallow_origins, optarg) < 0)
                return 2;
            break;
        case 'n':
            if (parse_num("--max-nodes", optarg, 1, 1000000, &v) < 0)
                return 2;
            c->max_nodes = (size_t)v;
            break;
        case 'C':
            if (parse_num("--max-compile-ms", optarg, 1, 3600000, &v) < 0)
                return 2;
            c->max_compile_ms = (unsigned)v;
            break;
        case 'S': snprintf(g_state_dir, sizeof g_state_dir, "%s", optarg); break;
        case 'y':
            if (parse_num("--history-days", optarg, 0, 100000, &v) < 0)
                return 2;
            c->history_days = (int)v;
            break;
        case 'R': snprintf(ready_file, rcap, "%s", optarg); break;
        case 'k': snprintf(g_curve_dir, sizeof g_curve_dir, "%s", optarg); break;
        case 'G': {
            mr_err err;
            if (mr_curve_keygen(optarg, &err) < 0) {
                fprintf(stderr, "millrace-coordinator: %s\n", err.msg);
                exit(1);
            }
            exit(0);
        }
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "millrace-coordinator: unexpected argument '%s' (see --help)\n",
                argv[optind]);
        return 2;
    }
    return 0;
}

static int write_ready(const char *path, const char *http, const char *bind)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"http\": \"%s\", \"bind\": \"%s\", \"pid\": %ld}\n", http, bind, (long)getpid());
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static void on_message(mr_coord *c, const mr_frames *m, const char *key)
{
    if (m->n != 2 || m->items[0].len == 0 || m->items[0].len > 255) {
        mr_log(MR_LOG_WARN, "coordinator", "ignoring control message of %zu frames", m->n);
        return;
    }
    char identity[256];
    memcpy(identity, m->items[0].data, m->items[0].len);
    identity[m->items[0].len] = '\0';
    Millrace__Control *msg = millrace__control__unpack(NULL, m->items[1].len, m->items[1].data);
    if (!msg) {
        mr_log(MR_LOG_WARN, "coordinator", "ignoring malformed message from %s", identity);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (msg->msg_case != MILLRACE__CONTROL__MSG_REGISTER && !coord_sender_ok(c, identity, key)) {
        mr_log(MR_LOG_WARN, "coordinator",
               "ignoring a message as executor=%s signed by key %s, not the key it registered with",
               identity, key);
        msg->msg_case = MILLRACE__CONTROL__MSG__NOT_SET;
    }
    switch (msg->msg_case) {
    case MILLRACE__CONTROL__MSG_REGISTER:
        coord_on_register(c, identity, key, msg->register_);
        break;
    case MILLRACE__CONTROL__MSG_HEARTBEAT: coord_on_heartbeat(c, identity, msg->heartbeat); break;
    case MILLRACE__CONTROL__MSG_STATUS: coord_on_status(c, identity, msg->status); break;
    case MILLRACE__CONTROL__MSG__NOT_SET: break;
    default:
        mr_log(MR_LOG_WARN, "coordinator", "unexpected message %d from %s", (int)msg->msg_case,
               identity);
        break;
    }
    pthread_mutex_unlock(&c->mu);
    millrace__control__free_unpacked(msg, NULL);
}

int main(int argc, char **argv)
{
    static mr_coord c;
    char ready_file[PATH_MAX] = "";
    int rc = parse_args(&c, argc, argv, ready_file, sizeof ready_file);
    if (rc)
        return rc;
    pthread_mutex_init(&c.mu, NULL);
    signal(SIGPIPE, SIG_IGN);
    {
        /* s3:// inputs, configured by the AWS environment */
        mr_err serr;
        mr_err_clear(&serr);
        if (os_store_install(&serr) < 0) {
            fprintf(stderr, "millrace-coordinator: %s\n", serr.msg);
            return 1;
        }
    }
    mr_pg_source_plug(); /* format postgres reads: schemas at compile (core/dbsrc.h) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mr_err err;
    mr_err_clear(&err);
    char bound[256];
    c.net = mr_net_create();
    if (!c.net) {
        fprintf(stderr, "millrace-coordinator: out of memory\n");
        return 1;
    }
    if (g_curve_dir[0]) {
        mr_curve_keys *keys = mr_curve_load(g_curve_dir, &err);
        if (!keys || mr_net_set_curve(c.net, keys, "coordinator", &err) < 0) {
            fprintf(stderr, "millrace-coordinator: --curve-keys: %s\n", err.msg);
            return 1;
        }
        c.curve = 1;
        const mr_curve_keys *k = mr_net_curve(c.net);
        mr_log(MR_LOG_INFO, "coordinator", "CURVE on: key %s, %zu authorized executor key(s)",
               mr_curve_public(k), mr_curve_count(k));
        if (mr_curve_count(k) == 0)
            mr_log(MR_LOG_WARN, "coordinator",
                   "%s/authorized/ lists no key: no executor can join", g_curve_dir);
    }
    if (!(c.ctl = mr_socket_open(c.net, MR_SOCK_ROUTER, &err)) ||
        mr_socket_set_curve_server(c.ctl, &err) < 0 ||
        mr_socket_set_max_message(c.ctl, COORD_MAX_MESSAGE) < 0 ||
        mr_socket_bind(c.ctl, c.bind, bound, sizeof bound, &err) < 0) {
        fprintf(stderr, "millrace-coordinator: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    if (!g_state_dir[0])
        snprintf(g_state_dir, sizeof g_state_dir, "%s/.millrace-state", c.data_root);
    if (coord_store_open(&c, g_state_dir, &err) < 0 || coord_store_recover(&c, &err) < 0) {
        fprintf(stderr, "millrace-coordinator: %s\n", err.msg);
        return 1;
    }
    int port = 0;
    if (coord_http_start(&c, c.http_addr, &port, &err) < 0) {
        fprintf(stderr, "millrace-coordinator: %s\n", err.msg);
        return 1;
    }
    coord_schedules_load(&c); /* compiles their DAGs: after the API's set-up */
    if (coord_staging_start(&c, bound) < 0) {
        fprintf(stderr, "millrace-coordinator: cannot start the staging keeper thread\n");
        return 1;
    }
    char http[160];
    snprintf(http, sizeof http, "%.*s:%d", (int)strcspn(c.http_addr, ":"), c.http_addr, port);
    mr_log(MR_LOG_INFO, "coordinator", "listening http=%s control=%s data_root=%s auth=%s curve=%s",
           http, bound, c.data_root, c.token ? "token" : "none", c.curve ? "on" : "off");
    if (ready_file[0] && write_ready(ready_file, http, bound) < 0) {
        fprintf(stderr, "millrace-coordinator: cannot write %s: %s\n", ready_file, strerror(errno));
        return 1;
    }

    mr_frames m = {0};
    mr_socket *socks[1] = {c.ctl};
    uint64_t retained_ms = coord_now_ms();
    while (!g_stop) {
        if (coord_now_ms() - retained_ms > 3600000) { /* --history-days, hourly */
            retained_ms = coord_now_ms();
            coord_store_retain(&c);
        }
        int ready[1] = {0};
        if (mr_socket_poll(socks, 1, 50, ready) < 0)
            break;
        char key[MR_CURVE_KEY_LEN + 1];
        if (ready[0])
            while (mr_socket_recv_from(c.ctl, &m, 0, key, sizeof key, &err) == 1)
                on_message(&c, &m, key);
        pthread_mutex_lock(&c.mu);
        coord_check_executors(&c);
        coord_check_tasks(&c);
        coord_schedule(&c);
        coord_commit_ready(&c);
        pthread_mutex_unlock(&c.mu);
        coord_schedules_tick(&c);
    }
    mr_log(MR_LOG_INFO, "coordinator", "stopping");
    coord_http_stop();
    coord_schedules_free();
    coord_staging_stop(&c);
    coord_store_close(&c);
    mr_frames_free(&m);
    mr_socket_close(c.ctl);
    mr_net_destroy(c.net);
    free(c.token);
    free(c.allow_env);
    free(c.allow_hosts);
    free(c.allow_origins);
    return 0;
}
