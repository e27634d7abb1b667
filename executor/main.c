/* main.c - millrace-executor: a stateless worker that runs tasks and
 * receives the shuffle data pushed to it.
 *
 * Threads: the main thread owns every long-lived socket and never blocks on
 * work.  It talks to the coordinator (DEALER), receives peers' shuffle
 * messages (ROUTER) into the shuffle store, and collects task results from
 * worker threads (inproc PULL), forwarding them.  Each task runs in its own
 * thread with its own sockets; the coordinator sends no more tasks than the
 * slots this executor announced.
 *
 * State: nothing outlives a job but what the coordinator asks for; killing
 * the process loses only tasks in flight and shuffle data, which the
 * coordinator knows how to recompute.
 *
 * Shuffle receive path: the main thread files every message it receives
 * into the shuffle store, which keeps up to --memory bytes in memory and
 * spills the rest to a folder of this process below --spill-dir (removed
 * at exit; a job's files go when the job is released).  After filing it
 * grants the sender credit on the same connection: one reply per
 * CREDIT_BATCH messages, and whatever is owed whenever the socket has been
 * drained, so a sender with a window smaller than CREDIT_BATCH never
 * waits for a grant that is not coming.  End-of-stream markers are
 * confirmed one by one ("eos-ack").
 *
 * Trust: the shuffle store files data only for (job, stage) pairs the
 * coordinator announced (ShuffleExpect); anything else is kept on
 * probation within small bounds, then dropped (see shuffle_store.h).  Data
 * for a pair not yet announced first makes the loop take what waits on the
 * control socket, where the announcement normally already is.  Task specs
 * carry the warehouse DSN without its password; this executor adds the one
 * of its own MILLRACE_WAREHOUSE_DSN when it names the same server,
 * database and user.  With --curve-keys every TCP connection is CURVE:
 * the coordinator is known by its key, peers by the keys the coordinator
 * announces with their addresses, and those must be authorized here too.
 *
 * Heartbeats carry each running task's progress (rows taken in and handed
 * on, and whether it waits for shuffle input) for the coordinator's task
 * timeout, and the bytes the shuffle store holds and has spilled.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "executor/shuffle_send.h"
#include "executor/shuffle_store.h"
#include "executor/task.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"
#include "warehouse/warehouse.h"

#define STATUS_ENDPOINT "inproc://task-status"
/* Filed messages acknowledged per credit reply (see the top comment). */
#define CREDIT_BATCH 4

/* Credit owed to one sender (identified by its ROUTER routing id). */
typedef struct credit_owed {
    mr_frame ident; /* owned */
    uint32_t n;
} credit_owed;

typedef struct running_task {
    Millrace__TaskSpec *spec; /* owned */
    volatile int cancel;
    mr_task_progress progress;
    int done;
    pthread_t thread;
    struct executor *ex;
    struct running_task *next;
} running_task;

typedef struct executor {
    char id[128];
    char coordinator[256];
    char bind[256];
    char advertise[256];
    char data_root[PATH_MAX];
    unsigned slots;
    unsigned long long memory;
    uint64_t incarnation; /* random per start: tells the coordinator we restarted */
    char spill_base[PATH_MAX]; /* --spill-dir, or $TMPDIR, or /tmp */
    char spill_dir[PATH_MAX];  /* this process's folder below it */
    int shuffle_window;
    int delay_attempts;        /* test hook: delay only attempts below this (-1: all) */
    credit_owed *owed;
    size_t nowed, cap_owed;
    uint64_t spilled_logged;   /* spilled_total at the last log line */
    uint64_t dropped_logged;   /* dropped_msgs at the last log line */
    char curve_dir[PATH_MAX];  /* --curve-keys, "" when off */
    long long max_message;     /* --max-message-bytes */
    const char *own_dsn;       /* MILLRACE_WAREHOUSE_DSN, or NULL */
    int heartbeat_ms;
    mr_net *net;
    mr_socket *ctl, *data, *status;
    mr_shuffle_store *store;
    mr_membudget *budget; /* --memory: the store and the tasks' operators draw from it */
    running_task *tasks;
    mr_task_env env;
} executor;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
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

static int send_control(executor *ex, const Millrace__Control *c)
{
    size_t len = millrace__control__get_packed_size(c);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return MR_ENOMEM;
    millrace__control__pack(c, buf);
    mr_frame f = {buf, len};
    mr_err err;
    int rc = mr_socket_send(ex->ctl, &f, 1, 1000, &err);
    free(buf);
    if (rc < 0)
        mr_log(MR_LOG_WARN, "executor", "id=%s cannot reach coordinator: %s", ex->id, err.msg);
    return rc;
}

static void send_register(executor *ex)
{
    Millrace__Register reg = MILLRACE__REGISTER__INIT;
    reg.executor_id = ex->id;
    reg.data_address = ex->advertise;
    reg.slots = ex->slots;
    reg.memory_bytes = ex->memory;
    reg.incarnation = ex->incarnation;
    Millrace__Control c = MILLRACE__CONTROL__INIT;
    c.msg_case = MILLRACE__CONTROL__MSG_REGISTER;
    c.register_ = &reg;
    send_control(ex, &c);
}

static void send_heartbeat(executor *ex)
{
    unsigned n = 0;
    for (running_task *t = ex->tasks; t; t = t->next)
        n += !t->done;
    Millrace__Heartbeat hb = MILLRACE__HEARTBEAT__INIT;
    hb.running_tasks = n;
    Millrace__TaskProgress *tp = calloc(n + 1, sizeof *tp);
    Millrace__TaskProgress **tpp = calloc(n + 1, sizeof *tpp);
    if (tp && tpp) {
        size_t k = 0;
        for (running_task *t = ex->tasks; t && k < n; t = t->next) {
            if (t->done)
                continue;
            const Millrace__TaskSpec *s = t->spec;
            millrace__task_progress__init(&tp[k]);
            tp[k].job_id = s->job_id;
            tp[k].stage_id = s->stage_id;
            tp[k].partition = s->partition;
            tp[k].attempt = s->attempt;
            tp[k].rows = atomic_load(&t->progress.rows_in) + atomic_load(&t->progress.rows_out);
            tp[k].waiting = atomic_load(&t->progress.waiting) != 0;
            tpp[k] = &tp[k];
            k++;
        }
        hb.n_tasks = k;
        hb.tasks = tpp;
    }
    mr_shuffle_store_stats ss;
    mr_shuffle_store_get_stats(ex->store, &ss);
    hb.shuffle_bytes_held = ss.bytes_held;
    hb.shuffle_bytes_spilled = ss.bytes_spilled;
    if (ss.dropped_msgs != ex->dropped_logged) {
        mr_log(MR_LOG_WARN, "executor",
               "id=%s shuffle store: %llu messages (%llu bytes) dropped in all for jobs the "
               "coordinator did not announce; %llu bytes held on probation",
               ex->id, (unsigned long long)ss.dropped_msgs, (unsigned long long)ss.dropped_bytes,
               (unsigned long long)ss.probation_bytes);
        ex->dropped_logged = ss.dropped_msgs;
    }
    if (ss.spilled_total != ex->spilled_logged) {
        mr_log(MR_LOG_INFO, "executor",
               "id=%s shuffle store: %llu bytes in memory (budget %llu), %llu bytes in %llu spill "
               "files, %llu bytes spilled in all",
               ex->id, (unsigned long long)ss.bytes_held, ex->memory,
               (unsigned long long)ss.bytes_spilled, (unsigned long long)ss.spill_files,
               (unsigned long long)ss.spilled_total);
        ex->spilled_logged = ss.spilled_total;
    }
    Millrace__Control c = MILLRACE__CONTROL__INIT;
    c.msg_case = MILLRACE__CONTROL__MSG_HEARTBEAT;
    c.heartbeat = &hb;
    send_control(ex, &c);
    free(tp);
    free(tpp);
}

/* Worker thread: runs one task, then reports through the inproc socket. */
static void *task_thread(void *arg)
{
    running_task *t = arg;
    executor *ex = t->ex;
    const Millrace__TaskSpec *s = t->spec;
    mr_err err;
    mr_err_clear(&err);
    mr_task_stats stats;
    uint64_t start = now_ms();
    mr_task_env env = ex->env;
    env.progress = &t->progress;
    if (ex->delay_attempts >= 0 && s->attempt >= (uint32_t)ex->delay_attempts)
        env.batch_delay_ms = 0;
    int rc = mr_task_run(s, &env, &t->cancel, &stats, &err);

    Millrace__TaskStatus st = MILLRACE__TASK_STATUS__INIT;
    st.job_id = s->job_id;
    st.stage_id = s->stage_id;
    st.partition = s->partition;
    st.attempt = s->attempt;
    st.state = rc < 0 ? MILLRACE__TASK_STATE__TASK_FAILED : MILLRACE__TASK_STATE__TASK_SUCCEEDED;
    st.error = rc < 0 ? err.msg : "";
    st.code = rc;
    st.retryable = rc < 0 && mr_task_error_retryable(rc);
    st.rows_in = stats.rows_in;
    st.rows_out = stats.rows_out;
    st.bytes_shuffled = stats.bytes_shuffled;
    st.bytes_read = stats.bytes_read;
    st.rejected_rows = stats.rejected_rows;
    st.skipped_rows = stats.skipped_rows;
    Millrace__Reject rj[MR_TASK_REJECT_SAMPLE], *rjp[MR_TASK_REJECT_SAMPLE];
    for (int i = 0; i < stats.nsample; i++) {
        millrace__reject__init(&rj[i]);
        rj[i].node = stats.sample[i].node ? stats.sample[i].node : "";
        rj[i].file = stats.sample[i].file ? stats.sample[i].file : "";
        rj[i].reason = stats.sample[i].reason ? stats.sample[i].reason : "";
        rj[i].raw = stats.sample[i].raw ? stats.sample[i].raw : "";
        rj[i].line = stats.sample[i].line;
        rjp[i] = &rj[i];
    }
    st.n_rejects = (size_t)stats.nsample;
    st.rejects = rjp;
    if (rc < 0)
        mr_log(MR_LOG_WARN, "executor", "job=%s stage=%u task=%u attempt=%u failed: %s", s->job_id,
               s->stage_id, s->partition, s->attempt, err.msg);
    else
        mr_log(MR_LOG_INFO, "executor",
               "job=%s stage=%u task=%u attempt=%u done rows_in=%llu rows_out=%llu in %llu ms",
               s->job_id, s->stage_id, s->partition, s->attempt, (unsigned long long)stats.rows_in,
               (unsigned long long)stats.rows_out, (unsigned long long)(now_ms() - start));

    Millrace__Control c = MILLRACE__CONTROL__INIT;
    c.msg_case = MILLRACE__CONTROL__MSG_STATUS;
    c.status = &st;
    size_t len = millrace__control__get_packed_size(&c);
    uint8_t *buf = malloc(len ? len : 1);
    mr_socket *push = mr_socket_open(ex->net, MR_SOCK_PUSH, &err);
    if (buf && push && mr_socket_connect(push, STATUS_ENDPOINT, &err) == 0) {
        millrace__control__pack(&c, buf);
        mr_frame f = {buf, len};
        mr_socket_set_linger(push, -1);
        mr_socket_send(push, &f, 1, -1, &err);
    }
    mr_socket_close(push);
    free(buf);
    mr_task_stats_free(&stats);
    return NULL;
}

/* Gives a PostgreSQL warehouse the password of this executor's own DSN
 * (the task spec carries none).  0, or a negative code when the DSN cannot
 * be parsed (the task then fails on connecting, with libpq's message). */
static int task_credentials(executor *ex, Millrace__TaskSpec *spec)
{
    Millrace__Warehouse *w = spec->warehouse;
    if (!w || !w->driver || strcmp(w->driver, "postgres") != 0)
        return 0;
    char *dsn = NULL;
    mr_err err;
    int rc = mr_wh_dsn_with_secret(w->dsn, ex->own_dsn, &dsn, &err);
    if (rc < 0)
        return rc;
    /* protobuf-c's default allocator is malloc: free_unpacked frees it */
    free(w->dsn);
    w->dsn = dsn;
    return 0;
}

static void start_task(executor *ex, Millrace__TaskSpec *spec)
{
    running_task *t = calloc(1, sizeof *t);
    if (!t) {
        millrace__task_spec__free_unpacked(spec, NULL);
        return;
    }
    task_credentials(ex, spec);
    t->spec = spec;
    t->ex = ex;
    mr_log(MR_LOG_INFO, "executor", "job=%s stage=%u task=%u attempt=%u started", spec->job_id,
           spec->stage_id, spec->partition, spec->attempt);
    if (pthread_create(&t->thread, NULL, task_thread, t) != 0) {
        mr_log(MR_LOG_ERROR, "executor", "cannot start a thread for job=%s", spec->job_id);
        millrace__task_spec__free_unpacked(spec, NULL);
        free(t);
        return;
    }
    t->next = ex->tasks;
    ex->tasks = t;
}

/* Joins finished task threads and frees them. */
static void reap_tasks(executor *ex, const char *job_id, uint32_t stage, uint32_t part,
                       uint32_t attempt)
{
    for (running_task **pp = &ex->tasks; *pp;) {
        running_task *t = *pp;
        const Millrace__TaskSpec *s = t->spec;
        if (strcmp(s->job_id, job_id) == 0 && s->stage_id == stage && s->partition == part &&
            s->attempt == attempt) {
            pthread_join(t->thread, NULL);
            *pp = t->next;
            millrace__task_spec__free_unpacked(t->spec, NULL);
            free(t);
        } else {
            pp = &t->next;
        }
    }
}

static void on_control(executor *ex, const mr_frames *m)
{
    if (m->n != 1) {
        mr_log(MR_LOG_WARN, "executor", "ignoring control message of %zu frames", m->n);
        return;
    }
    Millrace__Control *c = millrace__control__unpack(NULL, m->items[0].len, m->items[0].data);
    if (!c) {
        mr_log(MR_LOG_WARN, "executor", "ignoring malformed control message");
        return;
    }
    switch (c->msg_case) {
    case MILLRACE__CONTROL__MSG_TASK:
        start_task(ex, c->task);
        c->task = NULL; /* the running task owns it now */
        c->msg_case = MILLRACE__CONTROL__MSG__NOT_SET;
        break;
    case MILLRACE__CONTROL__MSG_CANCEL: {
        const Millrace__CancelJob *cj = c->cancel;
        for (running_task *t = ex->tasks; t; t = t->next) {
            const Millrace__TaskSpec *s = t->spec;
            if (strcmp(s->job_id, cj->job_id) != 0)
                continue;
            if (!cj->has_task || (s->stage_id == cj->stage_id && s->partition == cj->partition &&
                                  s->attempt == cj->attempt))
                t->cancel = 1;
        }
        if (!cj->has_task && !cj->keep_data) {
            mr_shuffle_store_stats before, after;
            mr_shuffle_store_get_stats(ex->store, &before);
            mr_shuffle_store_release(ex->store, cj->job_id);
            mr_shuffle_store_get_stats(ex->store, &after);
            if (before.bytes_held != after.bytes_held || before.spill_files != after.spill_files)
                mr_log(MR_LOG_INFO, "executor",
                       "job=%s released: %llu bytes of memory, %llu spill files (%llu bytes) "
                       "deleted",
                       cj->job_id, (unsigned long long)(before.bytes_held - after.bytes_held),
                       (unsigned long long)(before.spill_files - after.spill_files),
                       (unsigned long long)(before.bytes_spilled - after.bytes_spilled));
        }
        break;
    }
    case MILLRACE__CONTROL__MSG_EXPECT:
        for (size_t i = 0; i < c->expect->n_stage_ids; i++)
            if (mr_shuffle_store_expect(ex->store, c->expect->job_id, c->expect->stage_ids[i]) < 0)
                mr_log(MR_LOG_ERROR, "executor", "job=%s out of memory noting a shuffle",
                       c->expect->job_id);
        break;
    case MILLRACE__CONTROL__MSG_WELCOME:
        mr_log(MR_LOG_INFO, "executor", "id=%s registered with coordinator", ex->id);
        break;
    case MILLRACE__CONTROL__MSG_RECONNECT:
        send_register(ex);
        break;
    case MILLRACE__CONTROL__MSG_SHUTDOWN:
        g_stop = 1;
        break;
    default:
        break;
    }
    millrace__control__free_unpacked(c, NULL);
}

/* Sends sender i the credit owed to it and forgets the entry. */
static void credit_flush(executor *ex, size_t i)
{
    credit_owed *o = &ex->owed[i];
    uint8_t buf[4];
    mr_frame reply[3];
    reply[0] = o->ident;
    mr_shuffle_credit_frames(o->n, buf, reply + 1);
    mr_err err;
    if (mr_socket_send(ex->data, reply, 3, 0, &err) < 0)
        mr_log(MR_LOG_DEBUG, "executor", "cannot grant shuffle credit (sender gone?): %s",
               err.msg);
    free(o->ident.data);
    ex->owed[i] = ex->owed[--ex->nowed];
}

/* One more message of the sender ident filed: owes it credit, granted
 * every CREDIT_BATCH messages. */
static void credit_add(executor *ex, const mr_frame *ident)
{
    size_t i;
    for (i = 0; i < ex->nowed; i++)
        if (ex->owed[i].ident.len == ident->len &&
            memcmp(ex->owed[i].ident.data, ident->data, ident->len) == 0)
            break;
    if (i == ex->nowed) {
        if (ex->nowed == ex->cap_owed) {
            size_t ncap = ex->cap_owed ? ex->cap_owed * 2 : 16;
            credit_owed *p = realloc(ex->owed, ncap * sizeof *p);
            if (!p)
                return; /* the sender times out and its task is retried */
            ex->owed = p;
            ex->cap_owed = ncap;
        }
        void *copy = malloc(ident->len ? ident->len : 1);
        if (!copy)
            return;
        memcpy(copy, ident->data, ident->len);
        ex->owed[i] = (credit_owed){{copy, ident->len}, 0};
        ex->nowed++;
    }
    if (++ex->owed[i].n >= CREDIT_BATCH)
        credit_flush(ex, i);
}

static void credit_flush_all(executor *ex)
{
    while (ex->nowed > 0)
        credit_flush(ex, ex->nowed - 1);
}

static void drain_control(executor *ex);

static void on_data(executor *ex, mr_frames *m)
{
    /* ROUTER: frame 0 is the sender's identity, then header and columns. */
    if (m->n < 2) {
        mr_log(MR_LOG_WARN, "executor", "ignoring shuffle message of %zu frames", m->n);
        return;
    }
    mr_err err;
    Millrace__BatchHeader *h = NULL;
    if (mr_wire_decode_header(m->items[1].data, m->items[1].len, &h, &err) < 0) {
        mr_log(MR_LOG_WARN, "executor", "ignoring malformed shuffle message: %s", err.msg);
        return;
    }
    mr_shuffle_key k = {h->job_id, h->stage_id, h->partition};
    /* Its announcement travels on the control connection: take what waits
     * there before deciding the data is unasked for. */
    if (!mr_shuffle_store_expected(ex->store, h->job_id, h->stage_id))
        drain_control(ex);
    /* Keep the sender's identity to grant credit and confirm markers. */
    mr_frame ident = m->items[0];
    memmove(m->items, m->items + 1, (m->n - 1) * sizeof *m->items);
    m->n--;
    int eos = h->eos;
    int rc = mr_shuffle_store_put_seq(ex->store, &k, h->map_task, h->attempt, h->seq, eos, m,
                                      &err);
    if (rc < 0)
        mr_log(MR_LOG_ERROR, "executor", "job=%s stage=%u partition=%u map task=%u attempt=%u: %s",
               h->job_id, h->stage_id, h->partition, h->map_task, h->attempt, err.msg);
    if (!eos) {
        /* Credit even when filing failed: the message is consumed, and the
         * broken stream fails its reader instead. */
        credit_add(ex, &ident);
    } else if (rc == 0) {
        mr_frame reply[2] = {ident, {(void *)MR_SHUFFLE_ACK, strlen(MR_SHUFFLE_ACK)}};
        if (mr_socket_send(ex->data, reply, 2, 0, &err) < 0)
            mr_log(MR_LOG_WARN, "executor", "job=%s cannot confirm a shuffle stream: %s",
                   h->job_id, err.msg);
    }
    free(ident.data);
    millrace__batch_header__free_unpacked(h, NULL);
}

static void drain_control(executor *ex)
{
    mr_frames m = {0};
    mr_err err;
    while (mr_socket_recv(ex->ctl, &m, 0, &err) == 1)
        on_control(ex, &m);
    mr_frames_free(&m);
}

static void on_status(executor *ex, const mr_frames *m)
{
    if (m->n != 1)
        return;
    Millrace__Control *c = millrace__control__unpack(NULL, m->items[0].len, m->items[0].data);
    if (!c)
        return;
    if (c->msg_case == MILLRACE__CONTROL__MSG_STATUS) {
        send_control(ex, c);
        const Millrace__TaskStatus *s = c->status;
        reap_tasks(ex, s->job_id, s->stage_id, s->partition, s->attempt);
    }
    millrace__control__free_unpacked(c, NULL);
}

static int parse_args(executor *ex, int argc, char **argv)
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
    snprintf(ex->bind, sizeof ex->bind, "tcp://127.0.0.1:*");
    snprintf(ex->data_root, sizeof ex->data_root, "/");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ex->slots = cores > 0 ? (unsigned)cores : 2;
    ex->memory = 1ULL << 30;
    ex->heartbeat_ms = 1000;
    ex->shuffle_window = MR_SHUFFLE_WINDOW;
    ex->max_message = MR_NET_MAX_FRAME;
    const char *tmp = getenv("TMPDIR");
    snprintf(ex->spill_base, sizeof ex->spill_base, "%s", tmp && tmp[0] ? tmp : "/tmp");
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c': snprintf(ex->coordinator, sizeof ex->coordinator, "%s", optarg); break;
        case 'b': snprintf(ex->bind, sizeof ex->bind, "%s", optarg); break;
        case 'a': snprintf(ex->advertise, sizeof ex->advertise, "%s", optarg); break;
        case 'r':
            if (!realpath(optarg, ex->data_root)) {
                fprintf(stderr, "millrace-executor: data root '%s': %s\n", optarg, strerror(errno));
                return 2;
            }
            break;
        case 'm':
            ex->memory = strtoull(optarg, &end, 10);
            if (*end || ex->memory == 0) {
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
            ex->slots = (unsigned)v;
            break;
        }
        case 'i': snprintf(ex->id, sizeof ex->id, "%s", optarg); break;
        case 'S': snprintf(ex->spill_base, sizeof ex->spill_base, "%s", optarg); break;
        case 'W': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > MR_SHUFFLE_WINDOW_MAX) {
                fprintf(stderr, "millrace-executor: --shuffle-window wants a number from 1 to %d\n",
                        MR_SHUFFLE_WINDOW_MAX);
                return 2;
            }
            ex->shuffle_window = (int)v;
            break;
        }
        case 'C': snprintf(ex->curve_dir, sizeof ex->curve_dir, "%s", optarg); break;
        case 'X':
            ex->max_message = strtoll(optarg, &end, 10);
            if (*end || ex->max_message < 1024) {
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
    if (!ex->coordinator[0]) {
        fprintf(stderr, "millrace-executor: --coordinator ENDPOINT is required (see --help)\n");
        return 2;
    }
    if (!ex->id[0]) {
        char host[64] = "executor";
        gethostname(host, sizeof host - 1);
        snprintf(ex->id, sizeof ex->id, "%s-%ld", host, (long)getpid());
    }
    if (getrandom(&ex->incarnation, sizeof ex->incarnation, 0) != sizeof ex->incarnation)
        ex->incarnation = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
    if (ex->incarnation == 0)
        ex->incarnation = 1; /* 0 means "not sent" */
    return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes the spill folders below spill_base of executors that are gone
 * (killed with SIGKILL: nothing ran to remove them).  A folder is named
 * millrace-spill-PID-XXXXXX; one whose PID is no live process is stale. */
static void spill_dir_sweep(const executor *ex)
{
    DIR *d = opendir(ex->spill_base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        char tail[16];
        if (sscanf(e->d_name, "millrace-spill-%ld-%15s", &pid, tail) != 2 || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", ex->spill_base, e->d_name) < (int)sizeof path) {
            nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
            mr_log(MR_LOG_INFO, "executor", "id=%s removed the stale spill folder %s", ex->id,
                   path);
        }
    }
    closedir(d);
}

/* Makes this process's spill folder below spill_base. */
static int spill_dir_make(executor *ex)
{
    if (mkdir(ex->spill_base, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "millrace-executor: spill folder %s: %s\n", ex->spill_base,
                strerror(errno));
        return -1;
    }
    spill_dir_sweep(ex);
    if (snprintf(ex->spill_dir, sizeof ex->spill_dir, "%.3900s/millrace-spill-%ld-XXXXXX",
                 ex->spill_base, (long)getpid()) >= (int)sizeof ex->spill_dir ||
        !mkdtemp(ex->spill_dir)) {
        fprintf(stderr, "millrace-executor: cannot make a spill folder in %s: %s\n",
                ex->spill_base, strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes the spill folder and whatever is left in it. */
static void spill_dir_remove(executor *ex)
{
    if (ex->spill_dir[0])
        nftw(ex->spill_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    executor ex;
    memset(&ex, 0, sizeof ex);
    int rc = parse_args(&ex, argc, argv);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mr_err err;
    mr_err_clear(&err);
    ex.net = mr_net_create();
    ex.store = mr_shuffle_store_create();
    if (!ex.net || !ex.store) {
        fprintf(stderr, "millrace-executor: out of memory\n");
        return 1;
    }
    if (ex.curve_dir[0]) {
        mr_curve_keys *keys = mr_curve_load(ex.curve_dir, &err);
        if (!keys || mr_net_set_curve(ex.net, keys, "executor", &err) < 0) {
            fprintf(stderr, "millrace-executor: --curve-keys: %s\n", err.msg);
            return 1;
        }
    }
    ex.own_dsn = getenv("MILLRACE_WAREHOUSE_DSN");
    /* one budget for the shuffle store and every task's operators */
    if (!(ex.budget = mr_membudget_create(ex.memory))) {
        fprintf(stderr, "millrace-executor: out of memory\n");
        return 1;
    }
    mr_shuffle_store_set_shared_budget(ex.store, ex.budget);
    ex.env.budget = ex.budget;
    if (spill_dir_make(&ex) < 0 ||
        mr_shuffle_store_set_spill(ex.store, ex.memory, ex.spill_dir, &err) < 0 ||
        mr_shuffle_store_guard(ex.store, MR_SHUFFLE_PROBATION_PART, MR_SHUFFLE_PROBATION_ALL,
                               MR_SHUFFLE_PROBATION_MS) < 0) {
        spill_dir_remove(&ex);
        return 1;
    }
    const mr_curve_keys *keys = mr_net_curve(ex.net);
    char bound[256];
    if (!(ex.ctl = mr_socket_open(ex.net, MR_SOCK_DEALER, &err)) ||
        mr_socket_set_identity(ex.ctl, ex.id) < 0 ||
        mr_socket_set_curve_client(ex.ctl, keys ? mr_curve_coordinator(keys) : NULL, &err) < 0 ||
        mr_socket_connect(ex.ctl, ex.coordinator, &err) < 0 ||
        !(ex.data = mr_socket_open(ex.net, MR_SOCK_ROUTER, &err)) ||
        mr_socket_set_curve_server(ex.data, &err) < 0 ||
        mr_socket_set_max_message(ex.data, ex.max_message) < 0 ||
        mr_socket_bind(ex.data, ex.bind, bound, sizeof bound, &err) < 0 ||
        !(ex.status = mr_socket_open(ex.net, MR_SOCK_PULL, &err)) ||
        mr_socket_bind(ex.status, STATUS_ENDPOINT, NULL, 0, &err) < 0) {
        fprintf(stderr, "millrace-executor: %s\n", err.msg);
        return 1;
    }
    mr_socket_set_hwm(ex.data, 4096);
    if (!ex.advertise[0])
        snprintf(ex.advertise, sizeof ex.advertise, "%s", bound);
    ex.env.net = ex.net;
    ex.env.store = ex.store;
    ex.env.data_root = ex.data_root;
    ex.env.shuffle_wait_ms = 120000;
    ex.env.shuffle_window = ex.shuffle_window;
    /* each running task's stateful operators get an equal share of --memory */
    ex.env.op_memory = (size_t)(ex.memory / (ex.slots ? ex.slots : 1));
    ex.env.op_spill_dir = ex.spill_dir;
    const char *delay = getenv("MILLRACE_TEST_BATCH_DELAY_MS");
    if (delay)
        ex.env.batch_delay_ms = atoi(delay);
    /* test hook: delay only the first N attempts of each task */
    const char *delay_attempts = getenv("MILLRACE_TEST_DELAY_ATTEMPTS");
    ex.delay_attempts = delay_attempts ? atoi(delay_attempts) : -1;

    mr_log(MR_LOG_INFO, "executor",
           "id=%s data=%s coordinator=%s slots=%u memory=%llu spill=%s window=%d curve=%s", ex.id,
           ex.advertise, ex.coordinator, ex.slots, ex.memory, ex.spill_dir, ex.shuffle_window,
           keys ? mr_curve_public(keys) : "off");
    send_register(&ex);
    uint64_t last_hb = now_ms();
    mr_frames m = {0};
    mr_socket *socks[3] = {ex.ctl, ex.data, ex.status};
    while (!g_stop) {
        int ready[3] = {0, 0, 0};
        int n = mr_socket_poll(socks, 3, 200, ready);
        if (n < 0)
            break;
        /* Drain each ready socket fully so data never waits behind control. */
        if (ready[1]) {
            while (mr_socket_recv(ex.data, &m, 0, &err) == 1)
                on_data(&ex, &m);
            credit_flush_all(&ex);
        }
        if (ready[2])
            while (mr_socket_recv(ex.status, &m, 0, &err) == 1)
                on_status(&ex, &m);
        if (ready[0])
            while (mr_socket_recv(ex.ctl, &m, 0, &err) == 1)
                on_control(&ex, &m);
        if (now_ms() - last_hb >= (uint64_t)ex.heartbeat_ms) {
            send_heartbeat(&ex);
            last_hb = now_ms();
        }
    }
    mr_log(MR_LOG_INFO, "executor", "id=%s stopping", ex.id);
    for (running_task *t = ex.tasks; t; t = t->next)
        t->cancel = 1;
    /* Give running tasks a moment to notice; a task blocked in I/O is left
     * to process exit rather than holding up shutdown. */
    for (int i = 0; i < 20 && ex.tasks; i++) {
        while (mr_socket_recv(ex.status, &m, 0, &err) == 1)
            on_status(&ex, &m);
        if (ex.tasks)
            usleep(100000);
    }
    mr_frames_free(&m);
    if (ex.tasks) {
        spill_dir_remove(&ex);
        _exit(0);
    }
    mr_socket_close(ex.ctl);
    mr_socket_close(ex.data);
    mr_socket_close(ex.status);
    mr_shuffle_store_destroy(ex.store);
    mr_membudget_destroy(ex.budget);
    spill_dir_remove(&ex);
    for (size_t i = 0; i < ex.nowed; i++)
        free(ex.owed[i].ident.data);
    free(ex.owed);
    mr_net_destroy(ex.net);
    return 0;
}
