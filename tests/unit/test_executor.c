/* test_executor.c - the executor daemon as a library, run in-process
 * against a coordinator socket and a map-task socket made here with the
 * net/ transport (real loopback TCP, no mocks).
 *
 * It registers with its id, data address, slots, memory and incarnation;
 * heartbeats; registers again (same incarnation) when asked to reconnect;
 * files the shuffle data of an announced job, granting one credit per data
 * message and confirming the end-of-stream marker, holds it until the job
 * is released, and drops a malformed message without credit; stops on mr_executor_stop and on the coordinator's
 * Shutdown, removing its spill folder.  Bad configurations are errors, not
 * crashes.  Waits are bounded only to fail instead of hanging; nothing
 * asserts on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor/daemon.h"
#include "executor/shuffle_send.h"
#include "net/transport.h"
#include "net/wire.h"
#include "proto/millrace.pb-c.h"
#include "testutil.h"

#define WAIT_MS 20000 /* only a bound against hanging */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A coordinator's control socket and an executor running in a thread. */
typedef struct fixture {
    mr_net *net;
    mr_socket *router;
    mr_socket *dealer; /* a map task's, when a test pushes shuffle data */
    char endpoint[256];
    char spill[64];
    mr_executor *ex;
    pthread_t thread;
    int running, run_rc;
} fixture;

static void *run_thread(void *arg)
{
    fixture *f = arg;
    f->run_rc = mr_executor_run(f->ex);
    return NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    mr_err err;
    snprintf(f->spill, sizeof f->spill, "/tmp/mr-test-executor-XXXXXX");
    if (!mkdtemp(f->spill) || !(f->net = mr_net_create()) ||
        !(f->router = mr_socket_open(f->net, MR_SOCK_ROUTER, &err)) ||
        mr_socket_bind(f->router, "tcp://127.0.0.1:*", f->endpoint, sizeof f->endpoint, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->running) {
        mr_executor_stop(f->ex);
        pthread_join(f->thread, NULL);
    }
    mr_executor_destroy(f->ex);
    /* every socket closes before the context ends, even after a failure */
    mr_socket_close(f->dealer);
    mr_socket_close(f->router);
    mr_net_destroy(f->net);
    rmdir(f->spill);
    free(f);
    return 0;
}

static void config_for(const fixture *f, mr_executor_config *cfg)
{
    mr_executor_config_defaults(cfg);
    cfg->coordinator = f->endpoint;
    cfg->id = "unit-exec";
    cfg->slots = 3;
    cfg->memory = 64u << 20;
    cfg->incarnation = 0x1234567890ULL;
    cfg->spill_base = f->spill;
    cfg->heartbeat_ms = 50;
}

static void start(fixture *f, const mr_executor_config *cfg)
{
    mr_err err;
    mr_err_clear(&err);
    f->ex = mr_executor_create(cfg, &err);
    assert_non_null(f->ex);
    /* its spill folder exists below the base while it lives */
    assert_int_equal(count_entries(f->spill), 1);
    assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
    f->running = 1;
}

/* Waits for the next control message of case want from the executor
 * (others are skipped); the caller frees it.  ident receives the routing
 * identity. */
static Millrace__Control *coord_wait(fixture *f, Millrace__Control__MsgCase want, char *ident,
                                     size_t cap)
{
    mr_frames m = {0};
    mr_err err;
    uint64_t end = now_ms() + WAIT_MS;
    while (now_ms() < end) {
        int rc = mr_socket_recv(f->router, &m, 100, &err);
        assert_true(rc >= 0);
        if (rc == 0)
            continue;
        assert_int_equal(m.n, 2);
        Millrace__Control *c =
            millrace__control__unpack(NULL, m.items[1].len, m.items[1].data);
        assert_non_null(c);
        if (c->msg_case == want) {
            assert_true(m.items[0].len < cap);
            memcpy(ident, m.items[0].data, m.items[0].len);
            ident[m.items[0].len] = '\0';
            mr_frames_free(&m);
            return c;
        }
        millrace__control__free_unpacked(c, NULL);
    }
    mr_frames_free(&m);
    fail_msg("no control message of case %d from the executor", (int)want);
    return NULL;
}

static void coord_send(fixture *f, const char *ident, const Millrace__Control *c)
{
    size_t len = millrace__control__get_packed_size(c);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    millrace__control__pack(c, buf);
    mr_frame fr[2] = {{(void *)ident, strlen(ident)}, {buf, len}};
    mr_err err;
    assert_int_equal(mr_socket_send(f->router, fr, 2, 1000, &err), 0);
    free(buf);
}

static void check_register(fixture *f, const Millrace__Control *c)
{
    const Millrace__Register *r = c->register_;
    assert_string_equal(r->executor_id, "unit-exec");
    assert_string_equal(r->data_address, mr_executor_address(f->ex));
    assert_true(strncmp(r->data_address, "tcp://127.0.0.1:", 16) == 0);
    assert_true(strcmp(r->data_address, "tcp://127.0.0.1:*") != 0);
    assert_int_equal(r->slots, 3);
    assert_int_equal(r->memory_bytes, 64u << 20);
    assert_int_equal(r->incarnation, 0x1234567890ULL);
}

static void test_registers_heartbeats_stops(void **state)
{
    fixture *f = *state;
    mr_executor_config cfg;
    config_for(f, &cfg);
    start(f, &cfg);
    char ident[128];
    Millrace__Control *c = coord_wait(f, MILLRACE__CONTROL__MSG_REGISTER, ident, sizeof ident);
    assert_string_equal(ident, "unit-exec");
    check_register(f, c);
    millrace__control__free_unpacked(c, NULL);

    c = coord_wait(f, MILLRACE__CONTROL__MSG_HEARTBEAT, ident, sizeof ident);
    assert_int_equal(c->heartbeat->running_tasks, 0);
    assert_int_equal(c->heartbeat->n_tasks, 0);
    assert_int_equal(c->heartbeat->shuffle_bytes_held, 0);
    millrace__control__free_unpacked(c, NULL);

    /* asked to reconnect (the coordinator restarted): the same registration */
    Millrace__Reconnect rc = MILLRACE__RECONNECT__INIT;
    Millrace__Control out = MILLRACE__CONTROL__INIT;
    out.msg_case = MILLRACE__CONTROL__MSG_RECONNECT;
    out.reconnect = &rc;
    coord_send(f, ident, &out);
    c = coord_wait(f, MILLRACE__CONTROL__MSG_REGISTER, ident, sizeof ident);
    check_register(f, c);
    millrace__control__free_unpacked(c, NULL);

    mr_executor_stop(f->ex);
    pthread_join(f->thread, NULL);
    f->running = 0;
    assert_int_equal(f->run_rc, 0);
    mr_executor_destroy(f->ex);
    f->ex = NULL;
    /* the spill folder went with it */
    assert_int_equal(count_entries(f->spill), 0);
}

static void test_shutdown_message_stops(void **state)
{
    fixture *f = *state;
    mr_executor_config cfg;
    config_for(f, &cfg);
    cfg.incarnation = 0; /* a random one, never 0 */
    start(f, &cfg);
    char ident[128];
    Millrace__Control *c = coord_wait(f, MILLRACE__CONTROL__MSG_REGISTER, ident, sizeof ident);
    assert_true(c->register_->incarnation != 0);
    assert_int_equal(c->register_->incarnation, mr_executor_incarnation(f->ex));
    millrace__control__free_unpacked(c, NULL);

    Millrace__Shutdown sd = MILLRACE__SHUTDOWN__INIT;
    Millrace__Control out = MILLRACE__CONTROL__INIT;
    out.msg_case = MILLRACE__CONTROL__MSG_SHUTDOWN;
    out.shutdown = &sd;
    coord_send(f, ident, &out);
    pthread_join(f->thread, NULL);
    f->running = 0;
    assert_int_equal(f->run_rc, 0);
}

/* Sends one shuffle message (frames of mr_wire_encode) from dealer. */
static void push(mr_socket *dealer, const mr_batch *b, const mr_batch_meta *meta)
{
    mr_frames fr = {0};
    mr_err err;
    assert_int_equal(mr_wire_encode(b, meta, 1, &fr, &err), 0);
    assert_int_equal(mr_socket_send(dealer, fr.items, fr.n, 1000, &err), 0);
    mr_frames_free(&fr);
}

static void test_shuffle_credit_and_release(void **state)
{
    fixture *f = *state;
    mr_executor_config cfg;
    config_for(f, &cfg);
    start(f, &cfg);
    char ident[128];
    Millrace__Control *c = coord_wait(f, MILLRACE__CONTROL__MSG_REGISTER, ident, sizeof ident);
    millrace__control__free_unpacked(c, NULL);

    /* the coordinator announces job j1's stage 2 */
    uint32_t stages[1] = {2};
    Millrace__ShuffleExpect se = MILLRACE__SHUFFLE_EXPECT__INIT;
    se.job_id = "j1";
    se.n_stage_ids = 1;
    se.stage_ids = stages;
    Millrace__Control out = MILLRACE__CONTROL__INIT;
    out.msg_case = MILLRACE__CONTROL__MSG_EXPECT;
    out.expect = &se;
    coord_send(f, ident, &out);

    /* a map task pushes 6 data messages and the end-of-stream marker */
    static const char *const names[] = {"k", "v"};
    static const mr_type types[] = {{.id = MR_T_INT64}, {.id = MR_T_STRING}};
    mr_schema *s = tu_schema(2, names, types);
    mr_batch *b = mr_batch_create(s, 8);
    assert_non_null(b);
    tu_add_row(b, "1|one");
    tu_add_row(b, "2|two");
    tu_add_row(b, "3|NULL");
    mr_err err;
    mr_socket *dealer = f->dealer = mr_socket_open(f->net, MR_SOCK_DEALER, &err);
    assert_non_null(dealer);
    assert_int_equal(mr_socket_connect(dealer, mr_executor_address(f->ex), &err), 0);
    /* a malformed message is dropped (no credit, no crash) */
    mr_frame junk[2] = {{(void *)"not a header", 12}, {(void *)"x", 1}};
    assert_int_equal(mr_socket_send(dealer, junk, 2, 1000, &err), 0);
    const int nmsg = 6;
    for (int i = 0; i <= nmsg; i++) {
        mr_batch_meta meta = {"j1", 2, 0, 7, 0, (uint64_t)i, i == nmsg};
        push(dealer, i == nmsg ? NULL : b, &meta);
    }
    /* every data message is paid for in credit, the marker confirmed */
    uint32_t credit_total = 0;
    int acks = 0;
    mr_frames m = {0};
    uint64_t end = now_ms() + WAIT_MS;
    while ((credit_total < (uint32_t)nmsg || acks < 1) && now_ms() < end) {
        int rc = mr_socket_recv(dealer, &m, 100, &err);
        assert_true(rc >= 0);
        if (rc == 0)
            continue;
        uint32_t credit = 0;
        int kind = mr_shuffle_reply_parse(&m, &credit);
        assert_true(kind == 1 || kind == 2);
        if (kind == 1)
            credit_total += credit;
        else
            acks++;
    }
    assert_int_equal(credit_total, nmsg);
    assert_int_equal(acks, 1);

    /* the heartbeat counts the bytes held; releasing the job frees them */
    uint64_t held = 0;
    end = now_ms() + WAIT_MS;
    while (held == 0 && now_ms() < end) {
        c = coord_wait(f, MILLRACE__CONTROL__MSG_HEARTBEAT, ident, sizeof ident);
        held = c->heartbeat->shuffle_bytes_held;
        millrace__control__free_unpacked(c, NULL);
    }
    assert_true(held > 0);
    Millrace__CancelJob cj = MILLRACE__CANCEL_JOB__INIT;
    cj.job_id = "j1";
    out.msg_case = MILLRACE__CONTROL__MSG_CANCEL;
    out.cancel = &cj;
    coord_send(f, ident, &out);
    end = now_ms() + WAIT_MS;
    while (held != 0 && now_ms() < end) {
        c = coord_wait(f, MILLRACE__CONTROL__MSG_HEARTBEAT, ident, sizeof ident);
        held = c->heartbeat->shuffle_bytes_held;
        millrace__control__free_unpacked(c, NULL);
    }
    assert_int_equal(held, 0);

    mr_frames_free(&m);
    mr_batch_destroy(b);
    mr_schema_destroy(s);
}

static void test_bad_config_is_an_error(void **state)
{
    fixture *f = *state;
    mr_executor_config cfg;
    mr_err err;
    config_for(f, &cfg);
    cfg.coordinator = NULL;
    mr_err_clear(&err);
    assert_null(mr_executor_create(&cfg, &err));
    assert_int_equal(err.code, MR_EINVAL);

    config_for(f, &cfg);
    cfg.shuffle_window = MR_SHUFFLE_WINDOW_MAX + 1;
    assert_null(mr_executor_create(&cfg, &err));
    assert_int_equal(err.code, MR_EINVAL);

    /* a spill base below a regular file cannot be made */
    char file[128];
    snprintf(file, sizeof file, "%s/plain", f->spill);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    char base[160];
    snprintf(base, sizeof base, "%s/sub", file);
    config_for(f, &cfg);
    cfg.spill_base = base;
    mr_err_clear(&err);
    assert_null(mr_executor_create(&cfg, &err));
    assert_int_equal(err.code, MR_EIO);
    assert_non_null(strstr(err.msg, "spill folder"));

    /* a data endpoint that cannot be bound */
    config_for(f, &cfg);
    cfg.bind = "nonsense://nowhere";
    mr_err_clear(&err);
    assert_null(mr_executor_create(&cfg, &err));
    assert_true(err.code < 0);
    /* nothing left behind in the spill base but the file */
    assert_int_equal(count_entries(f->spill), 1);
    unlink(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registers_heartbeats_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_message_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shuffle_credit_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
