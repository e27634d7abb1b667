/* test_shuffle.c - both halves of a shuffle: the executor's store of received
 * messages, and the map side's hash partitioning and sending.
 *
 * Store: messages come back per partition, stream by stream in the order the
 * chosen (map task, attempt) list gives and in arrival order within a
 * stream; only the chosen attempt of a map task is read; open() waits for
 * end-of-stream markers put by another thread, times out with a message
 * saying how many arrived, and stops when the cancel flag rises; release()
 * gives every byte back.
 *
 * Send: a map task's TaskSpec (built by hand here) names four partitions
 * owned by two executors; the test plays both executors with ROUTER sockets
 * on loopback TCP in a receiver thread that files every message into a
 * shuffle store and confirms each end-of-stream marker, as executor/main.c
 * does.  The test then reads each partition back through the store, decodes
 * it with the wire codec and checks that every live row arrived exactly once,
 * in partition hash(key) % n (computed with mr_hash_columns), at the socket
 * that owns the partition, with its values intact; that rows outside the
 * selection vector were not sent; and that every partition got its marker.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/hash.h"
#include "executor/shuffle_send.h"
#include "executor/shuffle_store.h"
#include "net/transport.h"
#include "net/wire.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- shuffle store ------------------------------------------------------ */

/* Puts a one-frame message "text" (or an end-of-stream marker). */
static void put(mr_shuffle_store *st, const char *job, uint32_t stage, uint32_t part,
                uint32_t map_task, uint32_t attempt, int eos, const char *text)
{
    mr_shuffle_key k = {job, stage, part};
    mr_frames f = {0};
    assert_int_equal(mr_frames_push(&f, text, strlen(text)), 0);
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_put(st, &k, map_task, attempt, eos, &f, &err), 0);
    /* the store took the frames */
    assert_int_equal(f.n, 0);
    mr_frames_free(&f);
}

/* Reads everything of a reader into "a,b,c". */
static void read_all(mr_shuffle_reader *r, char *out, size_t cap)
{
    out[0] = '\0';
    size_t len = 0;
    const mr_frames *m;
    mr_err err = {0};
    int got;
    while ((got = mr_shuffle_reader_next(r, &m, &err)) == 1) {
        assert_int_equal(m->n, 1);
        int n = snprintf(out + len, cap - len, "%s%.*s", len ? "," : "", (int)m->items[0].len,
                         (const char *)m->items[0].data);
        assert_true(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    assert_int_equal(got, 0);
    assert_null(m);
    /* the end stays the end */
    assert_int_equal(mr_shuffle_reader_next(r, &m, &err), 0);
}

static int open_read(mr_shuffle_store *st, const char *job, uint32_t stage, uint32_t part,
                     const uint32_t *tasks, const uint32_t *attempts, size_t n, int timeout_ms,
                     volatile int *cancel, char *out, size_t cap, mr_err *err)
{
    mr_shuffle_key k = {job, stage, part};
    mr_shuffle_reader *r = NULL;
    int rc = mr_shuffle_store_open(st, &k, tasks, attempts, n, timeout_ms, cancel, &r, err);
    if (rc == 0) {
        assert_non_null(r);
        read_all(r, out, cap);
        mr_shuffle_reader_close(r);
    }
    return rc;
}

static void test_store_order_and_attempts(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    assert_non_null(st);
    /* map task 0 sends a, b, c; map task 1 sends x, y; interleaved */
    put(st, "j1", 1, 0, 0, 0, 0, "a");
    put(st, "j1", 1, 0, 1, 0, 0, "x");
    put(st, "j1", 1, 0, 0, 0, 0, "b");
    put(st, "j1", 1, 0, 1, 0, 0, "y");
    put(st, "j1", 1, 0, 0, 0, 0, "c");
    /* a second attempt of map task 0 that was not chosen */
    put(st, "j1", 1, 0, 0, 1, 0, "STALE");
    put(st, "j1", 1, 0, 0, 1, 1, "");
    /* other partitions, stages and jobs must not leak in */
    put(st, "j1", 1, 1, 0, 0, 0, "other-part");
    put(st, "j1", 2, 0, 0, 0, 0, "other-stage");
    put(st, "j2", 1, 0, 0, 0, 0, "other-job");
    put(st, "j1", 1, 0, 0, 0, 1, "");
    put(st, "j1", 1, 0, 1, 0, 1, "");

    char got[256];
    mr_err err = {0};
    const uint32_t tasks[2] = {0, 1}, att[2] = {0, 0};
    assert_int_equal(open_read(st, "j1", 1, 0, tasks, att, 2, 1000, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "a,b,c,x,y");
    /* the chosen list's order decides the stream order */
    const uint32_t rtasks[2] = {1, 0};
    assert_int_equal(open_read(st, "j1", 1, 0, rtasks, att, 2, 1000, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "x,y,a,b,c");
    /* choosing attempt 1 of map task 0 reads only that attempt */
    const uint32_t att1[2] = {1, 0};
    assert_int_equal(open_read(st, "j1", 1, 0, tasks, att1, 2, 1000, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "STALE,x,y");
    /* data stays until release: a retried reduce task reads it again */
    assert_int_equal(open_read(st, "j1", 1, 0, tasks, att, 2, 1000, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "a,b,c,x,y");
    /* no map tasks at all: an empty reader at once */
    assert_int_equal(open_read(st, "j9", 9, 9, NULL, NULL, 0, 1000, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "");
    mr_shuffle_store_destroy(st);
    mr_shuffle_store_destroy(NULL);
}

typedef struct late_put {
    mr_shuffle_store *st;
    int delay_ms;
    volatile int *cancel; /* set instead of putting, when not NULL */
} late_put;

static void *late_put_main(void *arg)
{
    late_put *lp = arg;
    sleep_ms(lp->delay_ms);
    if (lp->cancel) {
        *lp->cancel = 1;
        return NULL;
    }
    mr_shuffle_key k = {"j1", 1, 0};
    mr_frames f = {0};
    mr_err err;
    mr_frames_push(&f, "late", 4);
    mr_shuffle_store_put(lp->st, &k, 1, 0, 0, &f, &err);
    mr_frames_free(&f);
    mr_shuffle_store_put(lp->st, &k, 1, 0, 1, &f, &err);
    return NULL;
}

static void test_store_waits_for_eos(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    put(st, "j1", 1, 0, 0, 0, 0, "early");
    put(st, "j1", 1, 0, 0, 0, 1, "");
    late_put lp = {st, 100, NULL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_put_main, &lp), 0);
    char got[256];
    mr_err err = {0};
    const uint32_t tasks[2] = {0, 1}, att[2] = {0, 0};
    uint64_t t0 = now_ms();
    int rc = open_read(st, "j1", 1, 0, tasks, att, 2, 5000, NULL, got, sizeof got, &err);
    uint64_t dt = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "early,late");
    assert_true(dt >= 80);
    assert_true(dt < 2000); /* woken by the marker, not by the timeout */
    mr_shuffle_store_destroy(st);
}

static void test_store_timeout(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    put(st, "j1", 1, 0, 0, 0, 0, "data");
    put(st, "j1", 1, 0, 0, 0, 1, "");
    put(st, "j1", 1, 0, 1, 0, 0, "no end yet"); /* map task 1 never ends */
    char got[256];
    mr_err err = {0};
    const uint32_t tasks[2] = {0, 1}, att[2] = {0, 0};
    uint64_t t0 = now_ms();
    int rc = open_read(st, "j1", 1, 0, tasks, att, 2, 120, NULL, got, sizeof got, &err);
    uint64_t dt = now_ms() - t0;
    assert_int_equal(rc, MR_EIO);
    assert_true(dt >= 100);
    assert_true(dt < 1500);
    assert_non_null(strstr(err.msg, "after 120 ms"));
    assert_non_null(strstr(err.msg, "1 of 2 map outputs"));
    /* nothing at all for a partition: 0 of 1 */
    const uint32_t one = 0;
    rc = open_read(st, "nojob", 1, 0, &one, &one, 1, 30, NULL, got, sizeof got, &err);
    assert_int_equal(rc, MR_EIO);
    assert_non_null(strstr(err.msg, "0 of 1"));
    mr_shuffle_store_destroy(st);
}

static void test_store_cancel(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    volatile int cancel = 0;
    late_put lp = {st, 50, &cancel};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_put_main, &lp), 0);
    char got[64];
    mr_err err = {0};
    const uint32_t one = 0;
    uint64_t t0 = now_ms();
    int rc = open_read(st, "j1", 1, 0, &one, &one, 1, 10000, &cancel, got, sizeof got, &err);
    uint64_t dt = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(rc, MR_ECANCELLED);
    assert_non_null(strstr(err.msg, "cancelled"));
    assert_true(dt < 2000);
    /* already cancelled: returns at once */
    t0 = now_ms();
    rc = open_read(st, "j1", 1, 0, &one, &one, 1, 10000, &cancel, got, sizeof got, &err);
    assert_int_equal(rc, MR_ECANCELLED);
    assert_true(now_ms() - t0 < 100);
    mr_shuffle_store_destroy(st);
}

static void test_store_release(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    assert_int_equal(mr_shuffle_store_bytes(st), 0);
    mr_err err = {0};
    put(st, "j1", 1, 0, 0, 0, 0, "12345");
    put(st, "j1", 1, 1, 0, 0, 0, "123");
    put(st, "j1", 2, 0, 4, 1, 0, "1");
    put(st, "j2", 1, 0, 0, 0, 0, "1234567");
    put(st, "j2", 1, 0, 0, 0, 1, "");
    /* a two-frame message counts both frames */
    mr_shuffle_key k = {"j2", 1, 0};
    mr_frames f = {0};
    mr_frames_push(&f, "ab", 2);
    mr_frames_push(&f, "cde", 3);
    assert_int_equal(mr_shuffle_store_put(st, &k, 5, 0, 0, &f, &err), 0);
    assert_int_equal(mr_shuffle_store_bytes(st), 5 + 3 + 1 + 7 + 5);
    mr_shuffle_store_release(st, "j1");
    assert_int_equal(mr_shuffle_store_bytes(st), 7 + 5);
    mr_shuffle_store_release(st, "no-such-job");
    assert_int_equal(mr_shuffle_store_bytes(st), 7 + 5);
    /* j2 is still readable */
    char got[64];
    const uint32_t zero = 0;
    assert_int_equal(open_read(st, "j2", 1, 0, &zero, &zero, 1, 100, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, "1234567");
    mr_shuffle_store_release(st, "j2");
    assert_int_equal(mr_shuffle_store_bytes(st), 0);
    /* released data is gone: waiting for it times out */
    assert_int_equal(open_read(st, "j2", 1, 0, &zero, &zero, 1, 20, NULL, got, sizeof got, &err),
                     MR_EIO);
    mr_shuffle_store_destroy(st);
}


/* ---- memory budget and spill ------------------------------------------- */

#include <dirent.h>
#include <sys/stat.h>

/* Files (not folders) below dir, recursively. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            n += count_files(path);
        else
            n++;
    }
    closedir(d);
    return n;
}

static void make_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/test_shuffle_spill-XXXXXX");
    assert_non_null(mkdtemp(out));
}

/* A budget of 10 bytes: the first messages stay in memory, the rest go to
 * spill files, streams interleaved; every reader sees its stream whole and
 * in order, two frames per message kept apart; release deletes the files at
 * once; late messages for the released job are dropped. */
static void test_store_spill_order(void **state)
{
    (void)state;
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    mr_shuffle_store *st = mr_shuffle_store_create();
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_set_spill(st, 10, dir, &err), 0);
    char want0[512] = "", want1[512] = "";
    for (int i = 0; i < 40; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        int task = i % 3 == 0;
        put(st, "j/../x", 1, 0, (uint32_t)task, 0, 0, text);
        char *w = task ? want1 : want0;
        snprintf(w + strlen(w), 512 - strlen(w), "%s%s", w[0] ? "," : "", text);
    }
    /* a two-frame message goes to disk too and comes back as two frames */
    mr_shuffle_key k = {"j/../x", 1, 1};
    mr_frames f = {0};
    mr_frames_push(&f, "head", 4);
    mr_frames_push(&f, "", 0);
    mr_frames_push(&f, "tail!", 5);
    assert_int_equal(mr_shuffle_store_put(st, &k, 0, 0, 0, &f, &err), 0);
    put(st, "j/../x", 1, 0, 0, 0, 1, "");
    put(st, "j/../x", 1, 0, 1, 0, 1, "");
    put(st, "j/../x", 1, 1, 0, 0, 1, "");

    mr_shuffle_store_stats ss;
    mr_shuffle_store_get_stats(st, &ss);
    assert_true(ss.bytes_held <= 10);
    assert_true(ss.bytes_held > 0);
    assert_true(ss.bytes_spilled > 0);
    assert_int_equal(ss.spill_files, 2);
    assert_int_equal(ss.spilled_total, ss.bytes_spilled);
    assert_int_equal(count_files(dir), 2);

    char got[512];
    const uint32_t t0 = 0, t1 = 1, a0 = 0;
    assert_int_equal(open_read(st, "j/../x", 1, 0, &t0, &a0, 1, 100, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, want0);
    assert_int_equal(open_read(st, "j/../x", 1, 0, &t1, &a0, 1, 100, NULL, got, sizeof got, &err), 0);
    assert_string_equal(got, want1);
    mr_shuffle_key k1 = {"j/../x", 1, 1};
    mr_shuffle_reader *r = NULL;
    assert_int_equal(mr_shuffle_store_open(st, &k1, &t0, &a0, 1, 100, NULL, &r, &err), 0);
    const mr_frames *m;
    assert_int_equal(mr_shuffle_reader_next(r, &m, &err), 1);
    assert_int_equal(m->n, 3);
    assert_memory_equal(m->items[0].data, "head", 4);
    assert_int_equal(m->items[1].len, 0);
    assert_int_equal(m->items[2].len, 5);
    assert_memory_equal(m->items[2].data, "tail!", 5);
    assert_int_equal(mr_shuffle_reader_next(r, &m, &err), 0);
    mr_shuffle_reader_close(r);

    /* release: the files go at once (the job's folder too), nothing in memory */
    mr_shuffle_store_release(st, "j/../x");
    mr_shuffle_store_get_stats(st, &ss);
    assert_int_equal(ss.bytes_held, 0);
    assert_int_equal(ss.bytes_spilled, 0);
    assert_int_equal(ss.spill_files, 0);
    assert_int_equal(count_files(dir), 0);
    /* a late message of the released job is dropped, not kept again */
    put(st, "j/../x", 1, 0, 7, 0, 0, "late and big enough to spill");
    mr_shuffle_store_get_stats(st, &ss);
    assert_int_equal(ss.bytes_held + ss.bytes_spilled, 0);
    assert_int_equal(count_files(dir), 0);
    mr_shuffle_store_destroy(st);
    assert_int_equal(rmdir(dir), 0); /* empty: nothing was left behind */
}

/* A job released while its reader is open: the reader finishes from memory
 * and from the deleted (still open) spill file; closing it frees the rest. */
static void test_store_release_while_reading(void **state)
{
    (void)state;
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    mr_shuffle_store *st = mr_shuffle_store_create();
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_set_spill(st, 4, dir, &err), 0);
    put(st, "j1", 1, 0, 0, 0, 0, "abc");   /* memory */
    put(st, "j1", 1, 0, 0, 0, 0, "defgh"); /* spilled */
    put(st, "j1", 1, 0, 0, 0, 0, "i");     /* memory again: it fits */
    put(st, "j1", 1, 0, 0, 0, 1, "");
    mr_shuffle_key k = {"j1", 1, 0};
    const uint32_t zero = 0;
    mr_shuffle_reader *r = NULL;
    assert_int_equal(mr_shuffle_store_open(st, &k, &zero, &zero, 1, 100, NULL, &r, &err), 0);
    mr_shuffle_store_release(st, "j1");
    assert_int_equal(count_files(dir), 0);
    char got[64];
    read_all(r, got, sizeof got);
    assert_string_equal(got, "abc,defgh,i");
    mr_shuffle_reader_close(r);
    mr_shuffle_store_destroy(st);
    rmdir(dir);
}

/* A message that cannot be kept (the spill folder is gone) breaks its
 * stream: the put says why, and a reader choosing the stream fails rather
 * than read a stream with a hole; data after a stream's end is refused. */
static void test_store_broken_stream(void **state)
{
    (void)state;
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    mr_shuffle_store *st = mr_shuffle_store_create();
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_set_spill(st, 4, dir, &err), 0);
    assert_int_equal(rmdir(dir), 0);
    put(st, "j1", 1, 0, 0, 0, 0, "ok");
    mr_shuffle_key k = {"j1", 1, 0};
    mr_frames f = {0};
    mr_frames_push(&f, "too big for memory", 18);
    assert_int_equal(mr_shuffle_store_put(st, &k, 0, 0, 0, &f, &err), MR_EIO);
    assert_non_null(strstr(err.msg, "spill folder"));
    assert_int_equal(f.n, 0); /* taken (and freed) even so */
    put(st, "j1", 1, 0, 0, 0, 1, "");
    char got[64];
    const uint32_t zero = 0;
    assert_int_equal(open_read(st, "j1", 1, 0, &zero, &zero, 1, 1000, NULL, got, sizeof got, &err),
                     MR_EIO);
    assert_non_null(strstr(err.msg, "map task 0 attempt 0 was not kept"));
    /* another stream of the partition is fine; data after its end is not */
    put(st, "j1", 1, 0, 1, 0, 0, "x");
    put(st, "j1", 1, 0, 1, 0, 1, "");
    mr_frames_push(&f, "y", 1);
    assert_int_equal(mr_shuffle_store_put(st, &k, 1, 0, 0, &f, &err), MR_EPROTO);
    assert_non_null(strstr(err.msg, "after its end of stream"));
    const uint32_t one = 1;
    assert_int_equal(open_read(st, "j1", 1, 0, &one, &zero, 1, 100, NULL, got, sizeof got, &err),
                     MR_EIO);
    mr_shuffle_store_destroy(st);
}

/* ---- shuffle send ------------------------------------------------------- */

#define NPARTS 4
#define NOWNERS 2
#define JOB "job-42"
#define STAGE 3
#define MAP_TASK 5
#define ATTEMPT 2

/* Plays the two executors owning the partitions: receives on both ROUTERs,
 * files messages in a store, grants credit after filing (every
 * credit_every messages and whatever is owed once a socket is drained, as
 * executor/main.c does), confirms end-of-stream markers. */
typedef struct receiver {
    mr_socket *routers[NOWNERS];
    mr_shuffle_store *store;
    int ack;              /* confirm markers */
    int credit;           /* grant credit */
    int credit_every;     /* messages per grant (0: 4) */
    int file_delay_ms;    /* a slow receiver: sleep before filing each message */
    int eos[NPARTS];      /* markers seen per partition */
    int wrong_owner;      /* messages for a partition at the other socket */
    int bad;              /* undecodable messages */
    uint64_t next_seq[NPARTS];
    int bad_seq, bad_meta;
    int stop_after_ms;
    int received[NOWNERS]; /* data messages received per socket */
    int granted[NOWNERS];  /* credit granted per socket */
    int pause_ms;          /* receive nothing at first, for this long */
    int before_grant[NOWNERS]; /* data messages that were there before the first grant */
} receiver;

static void grant(receiver *rv, int o, const mr_frame *ident, int *owed)
{
    if (*owed == 0 || !rv->credit)
        return;
    uint8_t buf[4];
    mr_frame reply[3];
    reply[0] = *ident;
    mr_shuffle_credit_frames((uint32_t)*owed, buf, reply + 1);
    mr_err err;
    if (mr_socket_send(rv->routers[o], reply, 3, 1000, &err) == 0)
        rv->granted[o] += *owed;
    *owed = 0;
}

static void *receiver_main(void *arg)
{
    receiver *rv = arg;
    mr_frames m = {0};
    mr_frame idents[NOWNERS] = {{0}};
    int owed[NOWNERS] = {0};
    int every = rv->credit_every > 0 ? rv->credit_every : 4;
    uint64_t deadline = now_ms() + (uint64_t)rv->stop_after_ms;
    int total_eos = 0;
    sleep_ms(rv->pause_ms);
    while (total_eos < NPARTS && now_ms() < deadline) {
        int ready[NOWNERS];
        if (mr_socket_poll(rv->routers, NOWNERS, 50, ready) <= 0)
            continue;
        for (int o = 0; o < NOWNERS; o++) {
            if (!ready[o])
                continue;
            mr_err err;
            while (mr_socket_recv(rv->routers[o], &m, 0, &err) == 1) {
                Millrace__BatchHeader *h = NULL;
                if (m.n < 2 ||
                    mr_wire_decode_header(m.items[1].data, m.items[1].len, &h, &err) < 0) {
                    rv->bad++;
                    continue;
                }
                if (h->partition >= NPARTS) {
                    rv->bad++;
                    millrace__batch_header__free_unpacked(h, NULL);
                    continue;
                }
                if ((int)(h->partition % NOWNERS) != o)
                    rv->wrong_owner++;
                if (strcmp(h->job_id, JOB) != 0 || h->stage_id != STAGE ||
                    h->map_task != MAP_TASK || h->attempt != ATTEMPT)
                    rv->bad_meta++;
                if (h->seq != rv->next_seq[h->partition]++)
                    rv->bad_seq++;
                free(idents[o].data);
                idents[o] = m.items[0];
                memmove(m.items, m.items + 1, (m.n - 1) * sizeof *m.items);
                m.n--;
                mr_shuffle_key k = {h->job_id, h->stage_id, h->partition};
                int eos = h->eos;
                if (!eos) {
                    rv->received[o]++;
                    rv->before_grant[o] += rv->granted[o] == 0;
                    if (rv->file_delay_ms)
                        sleep_ms(rv->file_delay_ms);
                }
                if (mr_shuffle_store_put(rv->store, &k, h->map_task, h->attempt, eos, &m, &err) < 0)
                    rv->bad++;
                if (!eos && ++owed[o] >= every)
                    grant(rv, o, &idents[o], &owed[o]);
                if (eos) {
                    rv->eos[h->partition]++;
                    total_eos++;
                    if (rv->ack) {
                        mr_frame reply[2] = {idents[o],
                                             {(void *)MR_SHUFFLE_ACK, strlen(MR_SHUFFLE_ACK)}};
                        mr_socket_send(rv->routers[o], reply, 2, 1000, &err);
                    }
                }
                mr_frames_free(&m);
                millrace__batch_header__free_unpacked(h, NULL);
            }
            grant(rv, o, &idents[o], &owed[o]); /* drained: what is owed */
        }
    }
    for (int o = 0; o < NOWNERS; o++)
        free(idents[o].data);
    mr_frames_free(&m);
    mr_wire_thread_release();
    return NULL;
}

/* Three columns: k int64 (every 7th NULL), s string, id float64 (the row's
 * unique number, to recognise it on arrival). */
static mr_schema *send_schema(void)
{
    mr_schema *s = mr_schema_create(3);
    mr_schema_set(s, 0, "k", mr_type_make(MR_T_INT64));
    mr_schema_set(s, 1, "s", mr_type_make(MR_T_STRING));
    mr_schema_set(s, 2, "id", mr_type_make(MR_T_FLOAT64));
    return s;
}

static mr_batch *send_batch(const mr_schema *s, size_t n, size_t first_id)
{
    mr_batch *b = mr_batch_create(s, n);
    assert_non_null(b);
    for (size_t r = 0; r < n; r++) {
        size_t id = first_id + r;
        MR_COL_I64(&b->cols[0])[r] = (int64_t)(id % 97) - 40;
        mr_column_set_valid(&b->cols[0], r, id % 7 != 0);
        char buf[32];
        int len = snprintf(buf, sizeof buf, "s%zu", id % 13);
        assert_int_equal(mr_column_set_str(&b->cols[1], r, buf, (size_t)len), 0);
        MR_COL_F64(&b->cols[2])[r] = (double)id;
        mr_column_set_valid(&b->cols[2], r, true);
    }
    b->nrows = n;
    return b;
}

typedef struct expect {
    size_t nids;
    int *want_part; /* per id: expected partition, -1 when not sent */
    int *seen;      /* per id: times it arrived */
} expect;

/* Records where each live row of b must go, hashing with the same function
 * the sender must use. */
static void expect_batch(expect *ex, const mr_batch *b, const int *keys, int nkeys)
{
    size_t n = mr_batch_live(b);
    uint64_t *h = calloc(n ? n : 1, sizeof *h);
    mr_hash_columns(b, keys, nkeys, h);
    for (size_t i = 0; i < n; i++) {
        size_t id = (size_t)MR_COL_F64(&b->cols[2])[mr_batch_row(b, i)];
        assert_true(id < ex->nids);
        ex->want_part[id] = (int)(h[i] % NPARTS);
    }
    free(h);
}

/* Reads partition p back from the store and checks every row in it. */
static void check_partition(expect *ex, mr_shuffle_store *st, uint32_t p)
{
    mr_shuffle_key k = {JOB, STAGE, p};
    const uint32_t task = MAP_TASK, att = ATTEMPT;
    mr_shuffle_reader *r = NULL;
    mr_err err = {0};
    if (mr_shuffle_store_open(st, &k, &task, &att, 1, 1000, NULL, &r, &err) != 0)
        fail_msg("partition %u: %s", p, err.msg);
    mr_batch *b = NULL;
    const mr_frames *m;
    while (mr_shuffle_reader_next(r, &m, &err) == 1) {
        Millrace__BatchHeader *h = NULL;
        if (mr_wire_decode_header(m->items[0].data, m->items[0].len, &h, &err) != 0)
            fail_msg("partition %u: %s", p, err.msg);
        assert_int_equal(h->partition, p);
        assert_false(h->eos); /* markers are not filed as messages */
        if (mr_wire_decode_batch(h, m->items + 1, m->n - 1, &b, &err) != 0)
            fail_msg("partition %u: %s", p, err.msg);
        assert_int_equal(b->ncols, 3);
        assert_true(b->nrows > 0);
        for (size_t row = 0; row < b->nrows; row++) {
            size_t id = (size_t)MR_COL_F64(&b->cols[2])[row];
            assert_true(id < ex->nids);
            ex->seen[id]++;
            if (ex->want_part[id] != (int)p)
                fail_msg("row id %zu arrived in partition %u, wanted %d", id, p, ex->want_part[id]);
            assert_int_equal(mr_column_is_valid(&b->cols[0], row), id % 7 != 0);
            if (id % 7 != 0)
                assert_int_equal(MR_COL_I64(&b->cols[0])[row], (int64_t)(id % 97) - 40);
            char buf[32];
            int len = snprintf(buf, sizeof buf, "s%zu", id % 13);
            size_t slen;
            const char *sv = mr_column_str(&b->cols[1], row, &slen);
            assert_int_equal(slen, (size_t)len);
            assert_memory_equal(sv, buf, slen);
        }
        millrace__batch_header__free_unpacked(h, NULL);
    }
    mr_batch_destroy(b);
    mr_shuffle_reader_close(r);
}

typedef struct send_fixture {
    mr_net *net;
    mr_socket *routers[NOWNERS];
    char eps[NOWNERS][256];
    char *owners[NPARTS];
    Millrace__TaskSpec spec;
    Millrace__Stage stage;
    Millrace__ShuffleOut shuffle;
    char *keys[2];
} send_fixture;

static int send_setup(void **state)
{
    send_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->net = mr_net_create();
    mr_err err;
    for (int o = 0; o < NOWNERS; o++) {
        f->routers[o] = mr_socket_open(f->net, MR_SOCK_ROUTER, &err);
        if (!f->routers[o] ||
            mr_socket_bind(f->routers[o], "tcp://127.0.0.1:*", f->eps[o], sizeof f->eps[o], &err))
            return -1;
    }
    /* partitions 0 and 2 at owner 0, 1 and 3 at owner 1 */
    for (int p = 0; p < NPARTS; p++)
        f->owners[p] = f->eps[p % NOWNERS];
    millrace__shuffle_out__init(&f->shuffle);
    f->shuffle.partitions = NPARTS;
    f->keys[0] = "k";
    f->keys[1] = "s";
    f->shuffle.keys = f->keys;
    f->shuffle.n_keys = 1;
    millrace__stage__init(&f->stage);
    f->stage.id = STAGE;
    f->stage.shuffle = &f->shuffle;
    millrace__task_spec__init(&f->spec);
    f->spec.job_id = JOB;
    f->spec.stage_id = STAGE;
    f->spec.partition = MAP_TASK;
    f->spec.attempt = ATTEMPT;
    f->spec.stage = &f->stage;
    f->spec.partition_owners = f->owners;
    f->spec.n_partition_owners = NPARTS;
    *state = f;
    return 0;
}

static int send_teardown(void **state)
{
    send_fixture *f = *state;
    for (int o = 0; o < NOWNERS; o++)
        mr_socket_close(f->routers[o]);
    mr_net_destroy(f->net);
    mr_wire_thread_release();
    free(f);
    return 0;
}

/* Sends batches through mr_shuffle_out and checks what arrived.  With sel,
 * the second batch only has rows whose id is not a multiple of 3 live. */
static void run_send(send_fixture *f, int nkeys, int zstd_level, int with_sel)
{
    f->shuffle.n_keys = (size_t)nkeys;
    f->spec.zstd_level = zstd_level;
    mr_schema *schema = send_schema();
    mr_shuffle_store *store = mr_shuffle_store_create();
    receiver rv = {.store = store, .ack = 1, .credit = 1, .stop_after_ms = 5000};
    for (int o = 0; o < NOWNERS; o++)
        rv.routers[o] = f->routers[o];

    mr_err err = {0};
    volatile int cancel = 0;
    mr_shuffle_out *so = mr_shuffle_out_create(f->net, &f->spec, schema, &cancel, &err);
    if (!so)
        fail_msg("mr_shuffle_out_create: %s", err.msg);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, receiver_main, &rv), 0);

    enum { N1 = 1000, N2 = 3000 };
    expect ex = {N1 + N2, malloc((N1 + N2) * sizeof(int)), calloc(N1 + N2, sizeof(int))};
    for (size_t i = 0; i < N1 + N2; i++)
        ex.want_part[i] = -1;
    const int keys[2] = {0, 1};

    mr_batch *b1 = send_batch(schema, N1, 0);
    expect_batch(&ex, b1, keys, nkeys);
    int rc1 = mr_shuffle_out_write(so, b1, &err);

    mr_batch *b2 = send_batch(schema, N2, N1);
    if (with_sel) {
        b2->sel = b2->sel_buf;
        b2->nsel = 0;
        for (uint32_t r = 0; r < N2; r++)
            if ((N1 + r) % 3 != 0)
                b2->sel[b2->nsel++] = r;
    }
    uint32_t *sel_before = b2->sel;
    size_t nsel_before = b2->nsel;
    expect_batch(&ex, b2, keys, nkeys);
    int rc2 = mr_shuffle_out_write(so, b2, &err);
    /* the caller's selection is restored */
    assert_ptr_equal(b2->sel, sel_before);
    assert_int_equal(b2->nsel, nsel_before);
    /* an empty batch sends nothing */
    mr_batch_reset(b1);
    int rc3 = mr_shuffle_out_write(so, b1, &err);

    int rcf = rc1 || rc2 || rc3 ? -1 : mr_shuffle_out_finish(so, 3000, &err);
    pthread_join(th, NULL);
    if (rc1 || rc2 || rc3 || rcf)
        fail_msg("send failed (%d %d %d %d): %s", rc1, rc2, rc3, rcf, err.msg);
    assert_true(mr_shuffle_out_bytes(so) > 0);
    mr_shuffle_out_destroy(so);

    assert_int_equal(rv.bad, 0);
    assert_int_equal(rv.bad_meta, 0);
    assert_int_equal(rv.bad_seq, 0);
    assert_int_equal(rv.wrong_owner, 0);
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(rv.eos[p], 1);
    int used[NPARTS] = {0};
    for (uint32_t p = 0; p < NPARTS; p++)
        check_partition(&ex, store, p);
    for (size_t id = 0; id < N1 + N2; id++) {
        int want = ex.want_part[id] >= 0 ? 1 : 0;
        if (ex.seen[id] != want)
            fail_msg("row id %zu arrived %d times, wanted %d", id, ex.seen[id], want);
        if (want)
            used[ex.want_part[id]]++;
    }
    /* the keys spread over every partition (a constant hash would not) */
    for (int p = 0; p < NPARTS; p++)
        assert_true(used[p] > 0);
    if (with_sel)
        for (size_t id = (N1 + 2) / 3 * 3; id < N1 + N2; id += 3)
            assert_int_equal(ex.seen[id], 0);

    free(ex.want_part);
    free(ex.seen);
    mr_batch_destroy(b1);
    mr_batch_destroy(b2);
    mr_shuffle_store_destroy(store);
    mr_schema_destroy(schema);
}

static void test_send_one_key_sel_raw(void **state)
{
    run_send(*state, 1, 0, 1);
}

static void test_send_two_keys_zstd(void **state)
{
    run_send(*state, 2, 1, 0);
}

static void test_send_two_keys_sel_zstd(void **state)
{
    run_send(*state, 2, 3, 1);
}

static void test_send_errors(void **state)
{
    send_fixture *f = *state;
    mr_schema *schema = send_schema();
    mr_err err = {0};
    /* owners do not match the partition count */
    f->spec.n_partition_owners = NPARTS - 1;
    assert_null(mr_shuffle_out_create(f->net, &f->spec, schema, NULL, &err));
    assert_int_equal(err.code, MR_EPROTO);
    assert_non_null(strstr(err.msg, "3 partition owners for 4 partitions"));
    f->spec.n_partition_owners = NPARTS;
    /* a key that is not an output column */
    char *bad_keys[1] = {"nope"};
    f->shuffle.keys = bad_keys;
    f->shuffle.n_keys = 1;
    assert_null(mr_shuffle_out_create(f->net, &f->spec, schema, NULL, &err));
    assert_int_equal(err.code, MR_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'nope'"));
    f->shuffle.keys = f->keys;
    mr_shuffle_out_destroy(NULL);
    mr_schema_destroy(schema);
}

/* Owners that receive but never confirm: finish() gives up after its
 * timeout with MR_ETIMEDOUT. */
static void test_send_no_ack(void **state)
{
    send_fixture *f = *state;
    mr_schema *schema = send_schema();
    mr_shuffle_store *store = mr_shuffle_store_create();
    receiver rv = {.store = store, .ack = 0, .credit = 1, .stop_after_ms = 3000};
    for (int o = 0; o < NOWNERS; o++)
        rv.routers[o] = f->routers[o];
    f->shuffle.n_keys = 1;
    mr_err err = {0};
    mr_shuffle_out *so = mr_shuffle_out_create(f->net, &f->spec, schema, NULL, &err);
    assert_non_null(so);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, receiver_main, &rv), 0);
    mr_batch *b = send_batch(schema, 100, 0);
    assert_int_equal(mr_shuffle_out_write(so, b, &err), 0);
    uint64_t t0 = now_ms();
    int rc = mr_shuffle_out_finish(so, 150, &err);
    uint64_t dt = now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(rc, MR_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "150 ms"));
    assert_true(dt >= 140);
    assert_true(dt < 2000);
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(rv.eos[p], 1);
    mr_shuffle_out_destroy(so);
    mr_batch_destroy(b);
    mr_shuffle_store_destroy(store);
    mr_schema_destroy(schema);
}

/* Sends nbatches batches of 500 rows (4 messages each, two per owner). */
static int send_many(mr_shuffle_out *so, const mr_schema *schema, int nbatches, mr_err *err)
{
    int rc = 0;
    for (int i = 0; i < nbatches && rc == 0; i++) {
        mr_batch *b = send_batch(schema, 500, (size_t)i * 500);
        rc = mr_shuffle_out_write(so, b, err);
        mr_batch_destroy(b);
    }
    return rc;
}

/* A receiver that takes nothing for 300 ms, then files slowly (3 ms a
 * message) and grants credit every 4 messages or when drained (a window
 * smaller than the grant batch must not stall).  A sender with a window of
 * 3 has exactly 3 messages queued at each owner when the receiver starts
 * (without credit it would have queued all 80), never more than 3
 * unconfirmed afterwards, and still gets everything through. */
static void test_flow_slow_receiver(void **state)
{
    send_fixture *f = *state;
    f->shuffle.n_keys = 1;
    mr_schema *schema = send_schema();
    mr_shuffle_store *store = mr_shuffle_store_create();
    receiver rv = {.store = store, .ack = 1, .credit = 1, .credit_every = 4, .file_delay_ms = 3,
                   .pause_ms = 300, .stop_after_ms = 10000};
    for (int o = 0; o < NOWNERS; o++)
        rv.routers[o] = f->routers[o];
    mr_err err = {0};
    mr_shuffle_out *so = mr_shuffle_out_create(f->net, &f->spec, schema, NULL, &err);
    assert_non_null(so);
    mr_shuffle_out_set_flow(so, 3, 5000);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, receiver_main, &rv), 0);
    int rc = send_many(so, schema, 40, &err);
    if (rc == 0)
        rc = mr_shuffle_out_finish(so, 5000, &err);
    pthread_join(th, NULL);
    int max_out = mr_shuffle_out_max_outstanding(so);
    /* close the sockets before asserting, or a failure hangs the teardown */
    mr_shuffle_out_destroy(so);
    if (rc)
        fail_msg("send failed: %s", err.msg);
    assert_int_equal(rv.received[0] + rv.received[1], 160);
    assert_int_equal(rv.before_grant[0], 3);
    assert_int_equal(rv.before_grant[1], 3);
    assert_int_equal(max_out, 3);
    for (int p = 0; p < NPARTS; p++)
        assert_int_equal(rv.eos[p], 1);
    assert_int_equal(rv.bad + rv.bad_seq + rv.wrong_owner, 0);
    mr_shuffle_store_destroy(store);
    mr_schema_destroy(schema);
}

/* A receiver that files but never grants credit: the sender stops at its
 * window and gives up after the stall timeout with a message naming the
 * owner; with the cancel flag raised it stops at once instead. */
static void test_flow_no_credit(void **state)
{
    send_fixture *f = *state;
    f->shuffle.n_keys = 1;
    mr_schema *schema = send_schema();
    mr_shuffle_store *store = mr_shuffle_store_create();
    receiver rv = {.store = store, .ack = 1, .credit = 0, .stop_after_ms = 1500};
    for (int o = 0; o < NOWNERS; o++)
        rv.routers[o] = f->routers[o];
    mr_err err = {0};
    volatile int cancel = 0;
    mr_shuffle_out *so = mr_shuffle_out_create(f->net, &f->spec, schema, &cancel, &err);
    assert_non_null(so);
    mr_shuffle_out_set_flow(so, 2, 300);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, receiver_main, &rv), 0);
    uint64_t t0 = now_ms();
    int rc = send_many(so, schema, 10, &err);
    uint64_t dt = now_ms() - t0;
    char msg[sizeof err.msg];
    memcpy(msg, err.msg, sizeof msg);
    cancel = 1;
    uint64_t t1 = now_ms();
    int rc2 = send_many(so, schema, 1, &err);
    uint64_t dt2 = now_ms() - t1;
    pthread_join(th, NULL);
    int max_out = mr_shuffle_out_max_outstanding(so);
    mr_shuffle_out_destroy(so); /* before asserting: see above */
    assert_int_equal(rc, MR_ETIMEDOUT);
    assert_non_null(strstr(msg, "filed none of 2 messages for 300 ms"));
    assert_true(strstr(msg, f->eps[0]) || strstr(msg, f->eps[1]));
    assert_true(dt >= 290 && dt < 3000);
    assert_int_equal(max_out, 2);
    assert_int_equal(rc2, MR_ECANCELLED);
    assert_true(dt2 < 1000);
    assert_true(rv.received[0] <= 2 && rv.received[1] <= 2);
    mr_shuffle_store_destroy(store);
    mr_schema_destroy(schema);
}

/* Reply parsing: credit counts round-trip; anything else is nothing. */
static void test_flow_reply_parse(void **state)
{
    (void)state;
    uint8_t buf[4];
    mr_frame fr[2];
    mr_shuffle_credit_frames(70000, buf, fr);
    mr_frames m = {0};
    mr_frames_push(&m, fr[0].data, fr[0].len);
    mr_frames_push(&m, fr[1].data, fr[1].len);
    uint32_t credit = 0;
    assert_int_equal(mr_shuffle_reply_parse(&m, &credit), 1);
    assert_int_equal(credit, 70000);
    mr_frames_clear(&m);
    mr_frames_push(&m, MR_SHUFFLE_ACK, strlen(MR_SHUFFLE_ACK));
    assert_int_equal(mr_shuffle_reply_parse(&m, &credit), 2);
    mr_frames_clear(&m);
    mr_frames_push(&m, "credit", 6);
    mr_frames_push(&m, "abc", 3); /* wrong size */
    assert_int_equal(mr_shuffle_reply_parse(&m, &credit), 0);
    mr_frames_clear(&m);
    mr_frames_push(&m, "eos-ac", 6);
    assert_int_equal(mr_shuffle_reply_parse(&m, &credit), 0);
    mr_frames_free(&m);
}

/* Puts message seq of a stream ("x" bytes of payload) under a guard. */
static int put_seq(mr_shuffle_store *st, const char *job, uint32_t stage, uint32_t map_task,
                   uint64_t seq, int eos, size_t bytes)
{
    mr_shuffle_key k = {job, stage, 0};
    mr_frames f = {0};
    char *buf = calloc(1, bytes + 1);
    assert_non_null(buf);
    assert_int_equal(mr_frames_push(&f, buf, bytes), 0);
    free(buf);
    mr_err err = {0};
    int rc = mr_shuffle_store_put_seq(st, &k, map_task, 0, seq, eos, &f, &err);
    mr_frames_free(&f);
    return rc;
}

/* Unannounced data is held within the bounds, the rest dropped and
 * counted; an announcement adopts what was held; releasing frees it. */
static void test_store_guard_bounds(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    assert_int_equal(mr_shuffle_store_guard(st, 4096, 16384, 60000), 0);
    assert_false(mr_shuffle_store_expected(st, "made-up", 0));
    /* data that outran its announcement is adopted */
    assert_int_equal(put_seq(st, "late", 0, 0, 0, 0, 100), 0);
    assert_int_equal(put_seq(st, "late", 0, 0, 1, 1, 0), 0);
    assert_int_equal(mr_shuffle_store_expect(st, "late", 0), 0);
    mr_shuffle_key k = {"late", 0, 0};
    uint32_t mt = 0, at = 0;
    mr_shuffle_reader *r = NULL;
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_open(st, &k, &mt, &at, 1, 1000, NULL, &r, &err), 0);
    const mr_frames *m;
    assert_int_equal(mr_shuffle_reader_next(r, &m, &err), 1);
    assert_int_equal(m->items[0].len, 100);
    assert_int_equal(mr_shuffle_reader_next(r, &m, &err), 0);
    mr_shuffle_reader_close(r);
    /* a flood under one made-up pair: at most the per-partition bound */
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(put_seq(st, "made-up", 0, 0, i, 0, 1000), 0);
    mr_shuffle_store_stats ss;
    mr_shuffle_store_get_stats(st, &ss);
    assert_true(ss.bytes_held <= 4096);
    assert_true(ss.probation_bytes <= 4096);
    assert_true(ss.dropped_msgs >= 96);
    /* under many made-up ids: at most the total bound */
    char job[32];
    for (int j = 0; j < 200; j++) {
        snprintf(job, sizeof job, "flood-%d", j);
        put_seq(st, job, 1, 0, 0, 0, 1000);
    }
    mr_shuffle_store_get_stats(st, &ss);
    assert_true(ss.probation_bytes <= 16384);
    assert_true(ss.bytes_held <= 16384);
    /* an announced pair is filed whatever its size */
    assert_int_equal(mr_shuffle_store_expect(st, "real", 3), 0);
    assert_true(mr_shuffle_store_expected(st, "real", 3));
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(put_seq(st, "real", 3, 0, i, 0, 1000), 0);
    uint64_t before = ss.bytes_held;
    mr_shuffle_store_get_stats(st, &ss);
    assert_int_equal(ss.bytes_held, before + 20000);
    /* release forgets the announcement */
    mr_shuffle_store_release(st, "real");
    assert_false(mr_shuffle_store_expected(st, "real", 3));
    mr_shuffle_store_destroy(st);
}

/* A stream whose sequence skips (a message was dropped) is broken, so its
 * reader fails instead of reading a stream with a hole. */
static void test_store_seq_gap_breaks(void **state)
{
    (void)state;
    mr_shuffle_store *st = mr_shuffle_store_create();
    assert_int_equal(mr_shuffle_store_guard(st, 4096, 4096, 60000), 0);
    /* message 0 is dropped (over the bound), then the job is announced */
    assert_int_equal(put_seq(st, "j", 0, 0, 0, 0, 8000), 0);
    assert_int_equal(mr_shuffle_store_expect(st, "j", 0), 0);
    assert_int_equal(put_seq(st, "j", 0, 0, 1, 0, 10), MR_EPROTO);
    put_seq(st, "j", 0, 0, 2, 1, 0);
    mr_shuffle_key k = {"j", 0, 0};
    uint32_t mt = 0, at = 0;
    mr_shuffle_reader *r = NULL;
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_open(st, &k, &mt, &at, 1, 300, NULL, &r, &err), MR_EIO);
    assert_non_null(strstr(err.msg, "was due"));
    mr_shuffle_store_destroy(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_order_and_attempts),
        cmocka_unit_test(test_store_waits_for_eos),
        cmocka_unit_test(test_store_timeout),
        cmocka_unit_test(test_store_cancel),
        cmocka_unit_test(test_store_release),
        cmocka_unit_test(test_store_spill_order),
        cmocka_unit_test(test_store_release_while_reading),
        cmocka_unit_test(test_store_broken_stream),
        cmocka_unit_test(test_store_guard_bounds),
        cmocka_unit_test(test_store_seq_gap_breaks),
        cmocka_unit_test(test_flow_reply_parse),
        cmocka_unit_test_setup_teardown(test_send_one_key_sel_raw, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_send_two_keys_zstd, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_send_two_keys_sel_zstd, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_send_errors, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_send_no_ack, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_flow_slow_receiver, send_setup, send_teardown),
        cmocka_unit_test_setup_teardown(test_flow_no_credit, send_setup, send_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
