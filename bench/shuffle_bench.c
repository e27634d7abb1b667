/* shuffle_bench.c - shuffle throughput between two executors on loopback,
 * against raw ZeroMQ throughput of the same messages, measured by one harness.
 *
 * The receiving side is a real millrace-executor process: the harness plays
 * its coordinator (a ROUTER the executor registers with, which tells us its
 * data address, and through which we release each run's shuffle data with a
 * CancelJob, as the coordinator does when a job ends).  The sending side is
 * the harness's main thread running the real map-side code: mr_shuffle_out
 * hash-partitions prepared batches into 4 partitions owned by the executor,
 * encodes them with the wire codec at the zstd level under test, and pushes
 * them with credit-based flow control; mr_shuffle_out_finish returns once
 * the executor has confirmed every end-of-stream marker, i.e. every byte is
 * filed in its shuffle store.  So one run times shuffle_send -> executor data
 * socket -> store, end to end.
 *
 * Raw ZeroMQ: the same messages (captured once from a level-0 run into a
 * local ROUTER, so the sizes match the shuffle's exactly) are sent by a
 * DEALER to a ROUTER drained by a thread of this process, which copies
 * every frame out as the executor does and answers once all have arrived.
 *
 * Figures are logical bytes (the level-0 wire size, i.e. the column
 * buffers uncompressed) per second, so levels compare on the work done;
 * the wire size after compression is printed beside them.  Built and run
 * by bench/shuffle_bench.py; not part of the build or the tests.
 *
 * --curve runs everything over ZeroMQ CURVE (encrypted, authenticated), as
 * a cluster started with --curve-keys does: one key pair made for the run
 * in a private temporary folder, shared by the harness and the executor;
 * the raw ZeroMQ figure is then CURVE too.  Each run's shuffle is announced
 * to the executor first (ShuffleExpect), as the coordinator does.
 *
 *   [SHUFFLE_BENCH_WINDOW=N] shuffle_bench [--curve] EXECUTOR_BINARY MEGABYTES LEVEL...
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executor/shuffle_send.h"
#include "net/transport.h"
#include "net/wire.h"

extern char **environ;

#define NPARTS 4
#define NBATCH 16
#define ROWS 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const mr_err *err)
{
    fprintf(stderr, "shuffle_bench: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

/* Sales-like rows: id int64, buyer int32, price float64, name string
 * (10-30 bytes, from a small vocabulary, so it compresses as real text
 * does), when timestamp. */
static mr_batch *make_batch(const mr_schema *s, unsigned seed)
{
    static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                        "foxtrot", "golf", "hotel", "india", "juliet"};
    mr_batch *b = mr_batch_create(s, ROWS);
    if (!b)
        die("out of memory", NULL);
    for (size_t r = 0; r < ROWS; r++) {
        unsigned x = seed * 2654435761u + (unsigned)r * 40503u;
        MR_COL_I64(&b->cols[0])[r] = (int64_t)seed * ROWS + (int64_t)r;
        MR_COL_I32(&b->cols[1])[r] = (int32_t)(x % 50000);
        MR_COL_F64(&b->cols[2])[r] = (double)(x % 100000) / 100.0;
        char name[64];
        int len = snprintf(name, sizeof name, "%s %s %u", words[x % 10], words[(x >> 8) % 10],
                           x % 1000);
        mr_column_set_str(&b->cols[3], r, name, (size_t)len);
        MR_COL_I64(&b->cols[4])[r] = 1230768000000000LL + (int64_t)(x % 31536000) * 1000000LL;
        for (int c = 0; c < 5; c++)
            mr_column_set_valid(&b->cols[c], r, true);
    }
    b->nrows = ROWS;
    return b;
}

typedef struct bench {
    mr_net *net;
    mr_socket *coord;
    char exec_id[128];
    char data_addr[256];
    mr_schema *schema;
    mr_batch *batches[NBATCH];
    int window; /* credit window ($SHUFFLE_BENCH_WINDOW; 0: the default) */
    char keys[256]; /* --curve: the key folder, "" otherwise */
    char pub[MR_CURVE_KEY_LEN + 1];
} bench;

static char *g_owner_keys[NPARTS]; /* --curve: the executor's key per partition */

static void spec_init(Millrace__TaskSpec *spec, Millrace__Stage *st, Millrace__ShuffleOut *sh,
                      char **keys, char **owners, const char *job, int level)
{
    millrace__shuffle_out__init(sh);
    sh->partitions = NPARTS;
    keys[0] = "buyer";
    sh->keys = keys;
    sh->n_keys = 1;
    millrace__stage__init(st);
    st->id = 1;
    st->shuffle = sh;
    millrace__task_spec__init(spec);
    spec->job_id = (char *)job;
    spec->stage_id = 1;
    spec->stage = st;
    spec->partition_owners = owners;
    spec->n_partition_owners = NPARTS;
    spec->zstd_level = level;
    if (g_owner_keys[0]) {
        spec->partition_owner_keys = g_owner_keys;
        spec->n_partition_owner_keys = NPARTS;
    }
}

/* Sends the executor one control message, as its coordinator. */
static void to_executor(bench *b, const Millrace__Control *c, const char *what)
{
    size_t len = millrace__control__get_packed_size(c);
    uint8_t *buf = malloc(len);
    millrace__control__pack(c, buf);
    mr_frame f[2] = {{b->exec_id, strlen(b->exec_id)}, {buf, len}};
    mr_err err;
    if (mr_socket_send(b->coord, f, 2, 1000, &err) < 0)
        die(what, &err);
    free(buf);
}

/* Announces a run's shuffle (stage 1 of job), as the coordinator does. */
static void announce(bench *b, const char *job)
{
    uint32_t stage = 1;
    Millrace__ShuffleExpect ex = MILLRACE__SHUFFLE_EXPECT__INIT;
    ex.job_id = (char *)job;
    ex.n_stage_ids = 1;
    ex.stage_ids = &stage;
    Millrace__Control c = MILLRACE__CONTROL__INIT;
    c.msg_case = MILLRACE__CONTROL__MSG_EXPECT;
    c.expect = &ex;
    to_executor(b, &c, "announce");
}

/* Pushes nbatches batches through mr_shuffle_out to owner; returns seconds
 * and the wire bytes. */
static double shuffle_run(bench *b, const char *owner, const char *job, int level, int nbatches,
                          uint64_t *wire)
{
    Millrace__TaskSpec spec;
    Millrace__Stage st;
    Millrace__ShuffleOut sh;
    char *keys[1], *owners[NPARTS];
    for (int p = 0; p < NPARTS; p++)
        owners[p] = (char *)owner;
    spec_init(&spec, &st, &sh, keys, owners, job, level);
    mr_err err;
    announce(b, job);
    mr_shuffle_out *so = mr_shuffle_out_create(b->net, &spec, b->schema, NULL, &err);
    if (!so)
        die("shuffle_out_create", &err);
    if (b->window)
        mr_shuffle_out_set_flow(so, b->window, 0);
    double t0 = now();
    for (int i = 0; i < nbatches; i++)
        if (mr_shuffle_out_write(so, b->batches[i % NBATCH], &err) < 0)
            die("shuffle write", &err);
    if (mr_shuffle_out_finish(so, 120000, &err) < 0)
        die("shuffle finish", &err);
    double dt = now() - t0;
    *wire = mr_shuffle_out_bytes(so);
    mr_shuffle_out_destroy(so);
    return dt;
}

/* Tells the executor to free a run's data, as a finished job does. */
static void release(bench *b, const char *job)
{
    Millrace__CancelJob cj = MILLRACE__CANCEL_JOB__INIT;
    cj.job_id = (char *)job;
    Millrace__Control c = MILLRACE__CONTROL__INIT;
    c.msg_case = MILLRACE__CONTROL__MSG_CANCEL;
    c.cancel = &cj;
    to_executor(b, &c, "release");
}

/* ---- raw ZeroMQ ---------------------------------------------------------- */

typedef struct msgset {
    mr_frames *m;
    size_t n, cap;
} msgset;

/* Captures the level-0 messages of one pass over the batches. */
static void capture(bench *b, msgset *out)
{
    mr_err err;
    mr_socket *r = mr_socket_open(b->net, MR_SOCK_ROUTER, &err);
    char ep[256];
    if (!r || mr_socket_set_curve_server(r, &err) < 0 ||
        mr_socket_bind(r, "tcp://127.0.0.1:*", ep, sizeof ep, &err) < 0)
        die("capture socket", &err);
    Millrace__TaskSpec spec;
    Millrace__Stage st;
    Millrace__ShuffleOut sh;
    char *keys[1], *owners[NPARTS];
    for (int p = 0; p < NPARTS; p++)
        owners[p] = ep;
    spec_init(&spec, &st, &sh, keys, owners, "capture", 0);
    mr_shuffle_out *so = mr_shuffle_out_create(b->net, &spec, b->schema, NULL, &err);
    if (!so)
        die("capture", &err);
    mr_shuffle_out_set_flow(so, MR_SHUFFLE_WINDOW_MAX, 0);
    for (int i = 0; i < NBATCH; i++)
        if (mr_shuffle_out_write(so, b->batches[i], &err) < 0)
            die("capture write", &err);
    mr_frames m = {0};
    while (mr_socket_recv(r, &m, 500, &err) == 1) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->m = realloc(out->m, out->cap * sizeof *out->m);
        }
        /* drop the routing identity: the DEALER side sends the rest */
        free(m.items[0].data);
        memmove(m.items, m.items + 1, (m.n - 1) * sizeof *m.items);
        m.n--;
        out->m[out->n++] = m;
        memset(&m, 0, sizeof m);
    }
    mr_shuffle_out_destroy(so);
    mr_socket_close(r);
}

typedef struct raw_rx {
    mr_socket *router;
    size_t expect;
} raw_rx;

static void *raw_receiver(void *arg)
{
    raw_rx *rx = arg;
    mr_frames m = {0};
    mr_err err;
    size_t got = 0;
    while (got < rx->expect)
        if (mr_socket_recv(rx->router, &m, -1, &err) == 1)
            got++;
    /* m holds the last message: answer its sender */
    mr_frame reply[2] = {m.items[0], {"done", 4}};
    mr_socket_send(rx->router, reply, 2, 1000, &err);
    mr_frames_free(&m);
    return NULL;
}

static double raw_run(bench *b, const msgset *ms, size_t nmsgs)
{
    mr_err err;
    mr_socket *router = mr_socket_open(b->net, MR_SOCK_ROUTER, &err);
    mr_socket *dealer = mr_socket_open(b->net, MR_SOCK_DEALER, &err);
    char ep[256];
    if (!router || !dealer || mr_socket_set_curve_server(router, &err) < 0 ||
        mr_socket_bind(router, "tcp://127.0.0.1:*", ep, sizeof ep, &err) < 0 ||
        mr_socket_set_curve_client(dealer, b->keys[0] ? b->pub : NULL, &err) < 0 ||
        mr_socket_connect(dealer, ep, &err) < 0)
        die("raw sockets", &err);
    mr_socket_set_hwm(router, 4096); /* as the executor's data socket */
    mr_socket_set_hwm(dealer, 256);  /* as a shuffle sender */
    raw_rx rx = {router, nmsgs};
    pthread_t th;
    pthread_create(&th, NULL, raw_receiver, &rx);
    double t0 = now();
    for (size_t i = 0; i < nmsgs; i++) {
        const mr_frames *m = &ms->m[i % ms->n];
        if (mr_socket_send(dealer, m->items, m->n, -1, &err) < 0)
            die("raw send", &err);
    }
    mr_frames reply = {0};
    if (mr_socket_recv(dealer, &reply, 60000, &err) != 1)
        die("raw: no answer", &err);
    double dt = now() - t0;
    pthread_join(th, NULL);
    mr_frames_free(&reply);
    mr_socket_close(dealer);
    mr_socket_close(router);
    return dt;
}

/* ---- main ---------------------------------------------------------------- */

static pid_t start_executor(bench *b, const char *binary, const char *coord_ep)
{
    snprintf(b->exec_id, sizeof b->exec_id, "bench-exec-%ld", (long)getpid());
    char *argv[] = {(char *)binary, "--coordinator", (char *)coord_ep, "--id", b->exec_id,
                    "--memory", "8589934592", "--slots", "1",
                    b->keys[0] ? "--curve-keys" : NULL, b->keys, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    if (posix_spawn(&pid, binary, &fa, NULL, argv, environ) != 0)
        die("cannot start the executor", NULL);
    posix_spawn_file_actions_destroy(&fa);
    /* its Register message says where it receives shuffle data */
    mr_frames m = {0};
    mr_err err;
    double end = now() + 10;
    while (now() < end) {
        if (mr_socket_recv(b->coord, &m, 200, &err) != 1 || m.n != 2)
            continue;
        Millrace__Control *c = millrace__control__unpack(NULL, m.items[1].len, m.items[1].data);
        if (c && c->msg_case == MILLRACE__CONTROL__MSG_REGISTER) {
            snprintf(b->data_addr, sizeof b->data_addr, "%s", c->register_->data_address);
            millrace__control__free_unpacked(c, NULL);
            break;
        }
        if (c)
            millrace__control__free_unpacked(c, NULL);
    }
    mr_frames_free(&m);
    if (!b->data_addr[0])
        die("the executor did not register", NULL);
    return pid;
}

/* --curve: a key pair for the run, authorized for both ends. */
static void curve_setup(bench *b)
{
    char dir[] = "/tmp/shuffle-bench-keys-XXXXXX";
    if (!mkdtemp(dir))
        die("cannot make a key folder", NULL);
    snprintf(b->keys, sizeof b->keys, "%s/k", dir);
    mr_err err;
    if (mr_curve_keygen(b->keys, &err) < 0)
        die("keygen", &err);
    mr_curve_keys *k = mr_curve_load(b->keys, &err);
    if (!k)
        die("keys", &err);
    snprintf(b->pub, sizeof b->pub, "%s", mr_curve_public(k));
    mr_curve_free(k);
    char path[400];
    snprintf(path, sizeof path, "%s/authorized", b->keys);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/authorized/bench.key", b->keys);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot authorize the key", NULL);
    fprintf(f, "%s\n", b->pub);
    fclose(f);
    if (!(k = mr_curve_load(b->keys, &err)) || mr_net_set_curve(b->net, k, "bench", &err) < 0)
        die("curve", &err);
    for (int p = 0; p < NPARTS; p++)
        g_owner_keys[p] = b->pub;
}

static void curve_cleanup(const bench *b)
{
    if (!b->keys[0])
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(b->keys) - 2), b->keys);
    if (system(cmd) != 0)
        fprintf(stderr, "shuffle_bench: cannot remove %s\n", b->keys);
}

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    int curve = argc > 1 && strcmp(argv[1], "--curve") == 0;
    if (curve) {
        argv++;
        argc--;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: shuffle_bench [--curve] EXECUTOR_BINARY MEGABYTES LEVEL...\n");
        return 2;
    }
    mr_err err;
    b.net = mr_net_create();
    if (curve)
        curve_setup(&b);
    printf("curve %s\n", curve ? "on" : "off");
    const char *w = getenv("SHUFFLE_BENCH_WINDOW");
    b.window = w ? atoi(w) : 0;
    printf("credit window %d\n", b.window ? b.window : MR_SHUFFLE_WINDOW);
    char coord_ep[256];
    if (!(b.coord = mr_socket_open(b.net, MR_SOCK_ROUTER, &err)) ||
        mr_socket_set_curve_server(b.coord, &err) < 0 ||
        mr_socket_bind(b.coord, "tcp://127.0.0.1:*", coord_ep, sizeof coord_ep, &err) < 0)
        die("coordinator socket", &err);
    b.schema = mr_schema_create(5);
    mr_schema_set(b.schema, 0, "id", mr_type_make(MR_T_INT64));
    mr_schema_set(b.schema, 1, "buyer", mr_type_make(MR_T_INT32));
    mr_schema_set(b.schema, 2, "price", mr_type_make(MR_T_FLOAT64));
    mr_schema_set(b.schema, 3, "name", mr_type_make(MR_T_STRING));
    mr_schema_set(b.schema, 4, "when", mr_type_make(MR_T_TIMESTAMP));
    for (int i = 0; i < NBATCH; i++)
        b.batches[i] = make_batch(b.schema, (unsigned)i + 1);
    pid_t pid = start_executor(&b, argv[1], coord_ep);

    /* logical size of one pass over the batches, from a level-0 capture */
    msgset ms = {0};
    capture(&b, &ms);
    uint64_t pass_bytes = 0;
    for (size_t i = 0; i < ms.n; i++)
        for (size_t f = 0; f < ms.m[i].n; f++)
            pass_bytes += ms.m[i].items[f].len;
    double mb = atof(argv[2]);
    int passes = (int)(mb * 1e6 / (double)pass_bytes) + 1;
    double logical = (double)pass_bytes * passes;
    printf("messages: %zu per pass of %d batches x %d rows, %.1f KB average; %d passes, %.0f MB\n",
           ms.n, NBATCH, ROWS, (double)pass_bytes / (double)ms.n / 1e3, passes, logical / 1e6);

    /* warm up both paths once */
    uint64_t wire;
    shuffle_run(&b, b.data_addr, "warm", 1, NBATCH, &wire);
    release(&b, "warm");
    raw_run(&b, &ms, ms.n);

    double best_raw = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t = raw_run(&b, &ms, ms.n * (size_t)passes);
        if (t < best_raw)
            best_raw = t;
    }
    double raw_gbs = logical / best_raw / 1e9;
    printf("raw zeromq          %6.2f GB/s\n", raw_gbs);
    for (int a = 3; a < argc; a++) {
        int level = atoi(argv[a]);
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            char job[64];
            snprintf(job, sizeof job, "bench-%d-%d", level, rep);
            double t = shuffle_run(&b, b.data_addr, job, level, NBATCH * passes, &wire);
            release(&b, job);
            if (t < best)
                best = t;
        }
        double gbs = logical / best / 1e9;
        printf("shuffle zstd %-2d     %6.2f GB/s  (wire %6.1f MB, %4.2fx smaller)  ratio to raw "
               "%4.2f\n",
               level, gbs, (double)wire / 1e6, logical / (double)wire, gbs / raw_gbs);
        fflush(stdout);
    }

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    for (size_t i = 0; i < ms.n; i++)
        mr_frames_free(&ms.m[i]);
    free(ms.m);
    for (int i = 0; i < NBATCH; i++)
        mr_batch_destroy(b.batches[i]);
    mr_schema_destroy(b.schema);
    mr_socket_close(b.coord);
    mr_wire_thread_release();
    mr_net_destroy(b.net);
    curve_cleanup(&b);
    return 0;
}
