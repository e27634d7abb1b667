/* daemon.c - millrace-executor's daemon: a stateless worker that runs tasks
 * and receives the shuffle data pushed to it.
 *
 * Threads: the thread in mr_executor_run owns every long-lived socket and
 * never blocks on work.  It talks to the coordinator (DEALER), receives
 * peers' shuffle messages (ROUTER) into the shuffle store through
 * shuffle_recv.c, and collects task results from worker threads (inproc
 * PULL), forwarding them.  Each task runs in its own thread with its own
 * sockets; the coordinator sends no more tasks than the slots this executor
 * announced.
 *
 * State: nothing outlives a job but what the coordinator asks for; killing
 * the process loses only tasks in flight and shuffle data, which the
 * coordinator knows how to recompute.
 *
 * Shuffle receive path: the shuffle store keeps up to the memory budget in
 * memory and spills the rest to a folder of this process below the spill
 * base (removed at exit; a job's files go when the job is released);
 * credit and end-of-stream confirmations are shuffle_recv.h's.
 *
 * Trust: the shuffle store files data only for (job, stage) pairs the
 * coordinator announced (ShuffleExpect); anything else is kept on
 * probation within small bounds, then dropped (see shuffle_store.h).  Data
 * for a pair not yet announced first makes the loop take what waits on the
 * control socket, where the announcement normally already is.  Task specs
 * carry the warehouse DSN without its password; this executor adds the one
 * of its own DSN (own_dsn) when it names the same server, database and
 * user.  With CURVE keys every TCP connection is CURVE: the coordinator is
 * known by its key, peers by the keys the coordinator announces with their
 * addresses, and those must be authorized here too.
 *
 * Heartbeats carry each running task's progress (rows taken in and handed
 * on, and whether it waits for shuffle input) for the coordinator's task
 * timeout, and the bytes the shuffle store holds and has spilled.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
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
#include "executor/daemon.h"
#include "executor/shuffle_recv.h"
#include "executor/shuffle_send.h"
#include "executor/shuffle_store.h"
#include "executor/task.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"
#include "warehouse/warehouse.h"

#define STATUS_ENDPOINT "inproc://task-status"

typedef struct running_task {
    Millrace__TaskSpec *spec; /* owned */
    volatile int cancel;
    mr_task_progress progress;
    int done;
    pthread_t thread;
    struct mr_executor *ex;
    struct running_task *next;
} running_task;

struct mr_executor {
    char id[128];
    char coordinator[256];
    char bind[256];
    char advertise[256];
    char data_root[PATH_MAX];
    unsigned slots;
    unsigned long long memory;
    uint64_t incarnation; /* random per start: tells the coordinator we restarted */
    char spill_base[PATH_MAX]; /* where this process's spill folder goes */
    char spill_dir[PATH_MAX];  /* this process's folder below it */
    int shuffle_window;
    int delay_attempts;        /* test hook: delay only attempts below this (-1: all) */
    uint64_t spilled_logged;   /* spilled_total at the last log line */
    uint64_t dropped_logged;   /* dropped_msgs at the last log line */
    char curve_dir[PATH_MAX];  /* "" when CURVE is off */
    int64_t max_message;
    char *own_dsn;             /* owned, or NULL */
    int heartbeat_ms;
    atomic_int stop;
    mr_net *net;
    mr_socket *ctl, *data, *status;
    mr_shuffle_store *store;
    mr_shuffle_recv *recv;
    mr_membudget *budget; /* the store and the tasks' operators draw from it */
    running_task *tasks;
    mr_task_env env;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int send_control(mr_executor *ex, const Millrace__Control *c)
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

static void send_register(mr_executor *ex)
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

static void send_heartbeat(mr_executor *ex)
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
    mr_executor *ex = t->ex;
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
    st.groups_skipped = stats.groups_skipped;
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
    Millrace__ReadMark mark = MILLRACE__READ_MARK__INIT;
    if (stats.has_mark) {
        mark.node = stats.mark_node;
        mark.rows = stats.mark_rows;
        mark.has_max = stats.mark_has_max;
        mark.max = stats.mark_max;
        st.read_mark = &mark;
    }
    Millrace__CheckCount *cc = calloc((size_t)stats.nchecks + 1, sizeof *cc);
    Millrace__CheckCount **ccp = calloc((size_t)stats.nchecks + 1, sizeof *ccp);
    for (int i = 0; cc && ccp && i < stats.nchecks; i++) {
        millrace__check_count__init(&cc[i]);
        cc[i].node = stats.checks[i].node;
        cc[i].rule = stats.checks[i].rule;
        cc[i].rows_checked = stats.checks[i].rows_checked;
        cc[i].rows_failed = stats.checks[i].rows_failed;
        cc[i].samples = stats.checks[i].samples;
        cc[i].n_samples = (size_t)stats.checks[i].nsamples;
        ccp[i] = &cc[i];
        st.n_checks++;
    }
    st.checks = ccp;
    if (stats.nchecks > 0 && (!cc || !ccp) && rc >= 0) {
        /* the counts are what the job's checks decide by: never drop them */
        st.state = MILLRACE__TASK_STATE__TASK_FAILED;
        st.error = "out of memory reporting check results";
        st.code = MR_ENOMEM;
        st.retryable = 1;
        st.n_checks = 0;
    }
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
    free(cc);
    free(ccp);
    mr_task_stats_free(&stats);
    return NULL;
}

/* Gives a PostgreSQL warehouse the password of this executor's own DSN
 * (the task spec carries none).  0, or a negative code when the DSN cannot
 * be parsed (the task then fails on connecting, with libpq's message). */
static int task_credentials(mr_executor *ex, Millrace__TaskSpec *spec)
{
    Millrace__Warehouse *w = spec->warehouse;
    if (!w || w->driver != MILLRACE__WAREHOUSE_DRIVER__DRIVER_POSTGRES)
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

static void start_task(mr_executor *ex, Millrace__TaskSpec *spec)
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
static void reap_tasks(mr_executor *ex, const char *job_id, uint32_t stage, uint32_t part,
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

static void on_control(mr_executor *ex, const mr_frames *m)
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
        atomic_store(&ex->stop, 1);
        break;
    default:
        break;
    }
    millrace__control__free_unpacked(c, NULL);
}

static void drain_control(mr_executor *ex)
{
    mr_frames m = {0};
    mr_err err;
    while (mr_socket_recv(ex->ctl, &m, 0, &err) == 1)
        on_control(ex, &m);
    mr_frames_free(&m);
}

static void on_status(mr_executor *ex, const mr_frames *m)
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
static void spill_dir_sweep(const mr_executor *ex)
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
static int spill_dir_make(mr_executor *ex, mr_err *err)
{
    if (mkdir(ex->spill_base, 0700) < 0 && errno != EEXIST)
        return mr_err_set(err, MR_EIO, "spill folder %s: %s", ex->spill_base, strerror(errno));
    spill_dir_sweep(ex);
    if (snprintf(ex->spill_dir, sizeof ex->spill_dir, "%.3900s/millrace-spill-%ld-XXXXXX",
                 ex->spill_base, (long)getpid()) >= (int)sizeof ex->spill_dir ||
        !mkdtemp(ex->spill_dir)) {
        int e = errno;
        ex->spill_dir[0] = '\0';
        return mr_err_set(err, MR_EIO, "cannot make a spill folder in %s: %s", ex->spill_base,
                          strerror(e));
    }
    return 0;
}

/* Removes the spill folder and whatever is left in it. */
static void spill_dir_remove(mr_executor *ex)
{
    if (ex->spill_dir[0])
        nftw(ex->spill_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The shuffle receiver met data not yet announced: take the control
 * messages waiting, where the announcement normally is. */
static void recv_unexpected(void *arg)
{
    drain_control(arg);
}

void mr_executor_config_defaults(mr_executor_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->bind = "tcp://127.0.0.1:*";
    cfg->data_root = "/";
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->slots = cores > 0 ? (unsigned)cores : 2;
    cfg->memory = 1ULL << 30;
    const char *tmp = getenv("TMPDIR");
    cfg->spill_base = tmp && tmp[0] ? tmp : "/tmp";
    cfg->shuffle_window = MR_SHUFFLE_WINDOW;
    cfg->max_message = MR_NET_MAX_FRAME;
    cfg->heartbeat_ms = 1000;
    cfg->delay_attempts = -1;
}

/* Copies src into dst[cap]; MR_EINVAL naming what when it does not fit. */
static int copy_field(char *dst, size_t cap, const char *src, const char *what, mr_err *err)
{
    if (!src)
        src = "";
    if (strlen(src) >= cap)
        return mr_err_set(err, MR_EINVAL, "%s is too long (at most %zu bytes)", what, cap - 1);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int config_copy(mr_executor *ex, const mr_executor_config *cfg, mr_err *err)
{
    if (!cfg->coordinator || !cfg->coordinator[0])
        return mr_err_set(err, MR_EINVAL, "no coordinator endpoint");
    if (cfg->slots < 1 || cfg->memory == 0 || cfg->shuffle_window < 1 ||
        cfg->shuffle_window > MR_SHUFFLE_WINDOW_MAX || cfg->heartbeat_ms < 1)
        return mr_err_set(err, MR_EINVAL,
                          "slots, memory, heartbeat and a shuffle window of 1 to %d are required",
                          MR_SHUFFLE_WINDOW_MAX);
    int rc;
    if ((rc = copy_field(ex->coordinator, sizeof ex->coordinator, cfg->coordinator,
                         "coordinator endpoint", err)) < 0 ||
        (rc = copy_field(ex->id, sizeof ex->id, cfg->id, "executor id", err)) < 0 ||
        (rc = copy_field(ex->bind, sizeof ex->bind, cfg->bind, "bind endpoint", err)) < 0 ||
        (rc = copy_field(ex->advertise, sizeof ex->advertise, cfg->advertise,
                         "advertised endpoint", err)) < 0 ||
        (rc = copy_field(ex->data_root, sizeof ex->data_root,
                         cfg->data_root ? cfg->data_root : "/", "data root", err)) < 0 ||
        (rc = copy_field(ex->spill_base, sizeof ex->spill_base,
                         cfg->spill_base ? cfg->spill_base : "/tmp", "spill folder", err)) < 0 ||
        (rc = copy_field(ex->curve_dir, sizeof ex->curve_dir, cfg->curve_dir, "key folder",
                         err)) < 0)
        return rc;
    if (cfg->own_dsn && !(ex->own_dsn = strdup(cfg->own_dsn)))
        return mr_err_oom(err, NULL);
    ex->slots = cfg->slots;
    ex->memory = cfg->memory;
    ex->shuffle_window = cfg->shuffle_window;
    ex->max_message = cfg->max_message;
    ex->heartbeat_ms = cfg->heartbeat_ms;
    ex->delay_attempts = cfg->delay_attempts;
    ex->env.batch_delay_ms = cfg->batch_delay_ms;
    if (!ex->id[0]) {
        char host[64] = "executor";
        gethostname(host, sizeof host - 1);
        snprintf(ex->id, sizeof ex->id, "%s-%ld", host, (long)getpid());
    }
    ex->incarnation = cfg->incarnation;
    if (ex->incarnation == 0 &&
        getrandom(&ex->incarnation, sizeof ex->incarnation, 0) != sizeof ex->incarnation)
        ex->incarnation = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
    if (ex->incarnation == 0)
        ex->incarnation = 1; /* 0 means "not sent" */
    return 0;
}

mr_executor *mr_executor_create(const mr_executor_config *cfg, mr_err *err)
{
    mr_executor *ex = calloc(1, sizeof *ex);
    if (!ex) {
        mr_err_oom(err, NULL);
        return NULL;
    }
    if (config_copy(ex, cfg, err) < 0)
        goto fail;
    ex->net = mr_net_create();
    ex->store = mr_shuffle_store_create();
    if (!ex->net || !ex->store) {
        mr_err_oom(err, NULL);
        goto fail;
    }
    if (ex->curve_dir[0]) {
        mr_curve_keys *keys = mr_curve_load(ex->curve_dir, err);
        if (!keys || mr_net_set_curve(ex->net, keys, "executor", err) < 0) {
            mr_err_prefix(err, "CURVE keys");
            goto fail;
        }
    }
    /* one budget for the shuffle store and every task's operators */
    if (!(ex->budget = mr_membudget_create(ex->memory))) {
        mr_err_oom(err, NULL);
        goto fail;
    }
    mr_shuffle_store_set_shared_budget(ex->store, ex->budget);
    ex->env.budget = ex->budget;
    if (spill_dir_make(ex, err) < 0 ||
        mr_shuffle_store_set_spill(ex->store, ex->memory, ex->spill_dir, err) < 0)
        goto fail;
    if (mr_shuffle_store_guard(ex->store, MR_SHUFFLE_PROBATION_PART, MR_SHUFFLE_PROBATION_ALL,
                               MR_SHUFFLE_PROBATION_MS) < 0) {
        mr_err_oom(err, NULL);
        goto fail;
    }
    const mr_curve_keys *keys = mr_net_curve(ex->net);
    char bound[256];
    if (!(ex->ctl = mr_socket_open(ex->net, MR_SOCK_DEALER, err)) ||
        mr_socket_set_identity(ex->ctl, ex->id) < 0 ||
        mr_socket_set_curve_client(ex->ctl, keys ? mr_curve_coordinator(keys) : NULL, err) < 0 ||
        mr_socket_connect(ex->ctl, ex->coordinator, err) < 0 ||
        !(ex->data = mr_socket_open(ex->net, MR_SOCK_ROUTER, err)) ||
        mr_socket_set_curve_server(ex->data, err) < 0 ||
        mr_socket_set_max_message(ex->data, ex->max_message) < 0 ||
        mr_socket_bind(ex->data, ex->bind, bound, sizeof bound, err) < 0 ||
        !(ex->status = mr_socket_open(ex->net, MR_SOCK_PULL, err)) ||
        mr_socket_bind(ex->status, STATUS_ENDPOINT, NULL, 0, err) < 0)
        goto fail;
    mr_socket_set_hwm(ex->data, 4096);
    if (!(ex->recv = mr_shuffle_recv_create(ex->data, ex->store, recv_unexpected, ex))) {
        mr_err_oom(err, NULL);
        goto fail;
    }
    if (!ex->advertise[0])
        snprintf(ex->advertise, sizeof ex->advertise, "%s", bound);
    ex->env.net = ex->net;
    ex->env.store = ex->store;
    ex->env.data_root = ex->data_root;
    ex->env.shuffle_wait_ms = 120000;
    ex->env.shuffle_window = ex->shuffle_window;
    /* each running task's stateful operators get an equal share of the memory */
    ex->env.op_memory = (size_t)(ex->memory / (ex->slots ? ex->slots : 1));
    ex->env.op_spill_dir = ex->spill_dir;
    mr_log(MR_LOG_INFO, "executor",
           "id=%s data=%s coordinator=%s slots=%u memory=%llu spill=%s window=%d curve=%s", ex->id,
           ex->advertise, ex->coordinator, ex->slots, ex->memory, ex->spill_dir, ex->shuffle_window,
           keys ? mr_curve_public(keys) : "off");
    return ex;

fail:
    mr_executor_destroy(ex);
    return NULL;
}

void mr_executor_stop(mr_executor *ex)
{
    atomic_store(&ex->stop, 1);
}

int mr_executor_run(mr_executor *ex)
{
    mr_err err;
    send_register(ex);
    uint64_t last_hb = now_ms();
    mr_frames m = {0};
    mr_socket *socks[3] = {ex->ctl, ex->data, ex->status};
    while (!atomic_load(&ex->stop)) {
        int ready[3] = {0, 0, 0};
        int n = mr_socket_poll(socks, 3, 200, ready);
        if (n < 0)
            break;
        /* Drain each ready socket fully so data never waits behind control. */
        if (ready[1])
            mr_shuffle_recv_drain(ex->recv);
        if (ready[2])
            while (mr_socket_recv(ex->status, &m, 0, &err) == 1)
                on_status(ex, &m);
        if (ready[0])
            while (mr_socket_recv(ex->ctl, &m, 0, &err) == 1)
                on_control(ex, &m);
        if (now_ms() - last_hb >= (uint64_t)ex->heartbeat_ms) {
            send_heartbeat(ex);
            last_hb = now_ms();
        }
    }
    mr_log(MR_LOG_INFO, "executor", "id=%s stopping", ex->id);
    for (running_task *t = ex->tasks; t; t = t->next)
        t->cancel = 1;
    /* Give running tasks a moment to notice; a task blocked in I/O is left
     * to process exit rather than holding up shutdown. */
    for (int i = 0; i < 20 && ex->tasks; i++) {
        while (mr_socket_recv(ex->status, &m, 0, &err) == 1)
            on_status(ex, &m);
        if (ex->tasks)
            usleep(100000);
    }
    mr_frames_free(&m);
    return ex->tasks ? 1 : 0;
}

const char *mr_executor_id(const mr_executor *ex)
{
    return ex->id;
}

const char *mr_executor_address(const mr_executor *ex)
{
    return ex->advertise;
}

uint64_t mr_executor_incarnation(const mr_executor *ex)
{
    return ex->incarnation;
}

void mr_executor_destroy(mr_executor *ex)
{
    if (!ex)
        return;
    if (ex->tasks) {
        /* task threads still use everything: only the spill folder goes */
        spill_dir_remove(ex);
        return;
    }
    mr_shuffle_recv_destroy(ex->recv);
    mr_socket_close(ex->ctl);
    mr_socket_close(ex->data);
    mr_socket_close(ex->status);
    mr_shuffle_store_destroy(ex->store);
    mr_membudget_destroy(ex->budget);
    spill_dir_remove(ex);
    mr_net_destroy(ex->net);
    free(ex->own_dsn);
    free(ex);
}
