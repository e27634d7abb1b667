/* test_transport.c - the ZeroMQ transport over real loopback TCP and inproc.
 *
 * Binding to a '*' port reports the port the OS chose; DEALER -> ROUTER
 * carries multipart messages with the identity frame and replies route back;
 * PUSH/PULL keeps order; receive and poll time out as promised; a send to a
 * peer whose queue is full gives up with an error after its timeout instead
 * of hanging; an unroutable identity on a ROUTER is an error.  Every wait is
 * short (tens of milliseconds), so the whole file runs in well under a
 * second.
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
#include <sys/stat.h>
#include <unistd.h>

#include "net/transport.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

typedef struct fixture {
    mr_net *net;
    mr_socket *s[4];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->net = mr_net_create();
    if (!f->net) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 4; i++)
        mr_socket_close(f->s[i]);
    mr_net_destroy(f->net);
    free(f);
    return 0;
}

static mr_socket *open_sock(fixture *f, int slot, mr_sock_type type)
{
    mr_err err = {0};
    f->s[slot] = mr_socket_open(f->net, type, &err);
    if (!f->s[slot])
        fail_msg("mr_socket_open: %s", err.msg);
    return f->s[slot];
}

static void bind_any(mr_socket *s, const char *endpoint, char *actual, size_t cap)
{
    mr_err err = {0};
    if (mr_socket_bind(s, endpoint, actual, cap, &err) != 0)
        fail_msg("bind %s: %s", endpoint, err.msg);
}

static void connect_to(mr_socket *s, const char *endpoint)
{
    mr_err err = {0};
    if (mr_socket_connect(s, endpoint, &err) != 0)
        fail_msg("connect %s: %s", endpoint, err.msg);
}

static void frame_is(const mr_frames *m, size_t i, const void *data, size_t len)
{
    assert_true(i < m->n);
    assert_int_equal(m->items[i].len, len);
    if (len)
        assert_memory_equal(m->items[i].data, data, len);
}

static void test_bind_wildcard_port(void **state)
{
    fixture *f = *state;
    mr_socket *r = open_sock(f, 0, MR_SOCK_ROUTER);
    char actual[256];
    bind_any(r, "tcp://127.0.0.1:*", actual, sizeof actual);
    assert_int_equal(strncmp(actual, "tcp://127.0.0.1:", 16), 0);
    char *end;
    long port = strtol(actual + 16, &end, 10);
    assert_true(*end == '\0');
    assert_true(port > 0 && port < 65536);

    /* the same endpoint again is taken: an error naming it, not a crash */
    mr_socket *r2 = open_sock(f, 1, MR_SOCK_ROUTER);
    mr_err err = {0};
    assert_int_equal(mr_socket_bind(r2, actual, NULL, 0, &err), MR_EIO);
    assert_non_null(strstr(err.msg, actual));
    assert_int_equal(mr_socket_bind(r2, "nonsense://x", NULL, 0, &err), MR_EIO);
    assert_non_null(strstr(err.msg, "cannot bind nonsense://x"));
    assert_int_equal(mr_socket_connect(r2, "tcp://", &err), MR_EIO);
    assert_non_null(strstr(err.msg, "cannot connect"));

    /* inproc names come back as given */
    mr_socket *p = open_sock(f, 2, MR_SOCK_PULL);
    bind_any(p, "inproc://status", actual, sizeof actual);
    assert_string_equal(actual, "inproc://status");
}

static void test_dealer_router(void **state)
{
    fixture *f = *state;
    mr_socket *r = open_sock(f, 0, MR_SOCK_ROUTER);
    mr_socket *d = open_sock(f, 1, MR_SOCK_DEALER);
    char ep[256];
    bind_any(r, "tcp://127.0.0.1:*", ep, sizeof ep);
    assert_int_equal(mr_socket_set_identity(d, "exec-7"), 0);
    connect_to(d, ep);

    /* three frames, one empty and one large enough to span TCP segments */
    size_t big_len = 200000;
    unsigned char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    mr_frame out[3] = {{(void *)"hello", 5}, {(void *)"", 0}, {big, big_len}};
    mr_err err = {0};
    assert_int_equal(mr_socket_send(d, out, 3, 2000, &err), 0);

    mr_frames in = {0};
    assert_int_equal(mr_socket_recv(r, &in, 2000, &err), 1);
    assert_int_equal(in.n, 4);
    frame_is(&in, 0, "exec-7", 6);
    frame_is(&in, 1, "hello", 5);
    frame_is(&in, 2, "", 0);
    frame_is(&in, 3, big, big_len);

    /* a reply addressed by identity reaches the dealer without it */
    mr_frame reply[2] = {{(void *)"exec-7", 6}, {(void *)"pong", 4}};
    assert_int_equal(mr_socket_send(r, reply, 2, 2000, &err), 0);
    assert_int_equal(mr_socket_recv(d, &in, 2000, &err), 1);
    assert_int_equal(in.n, 1);
    frame_is(&in, 0, "pong", 4);

    /* messages keep their order on one connection */
    for (int i = 0; i < 50; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "m%d", i);
        mr_frame fr = {s, (size_t)n};
        assert_int_equal(mr_socket_send(d, &fr, 1, 2000, &err), 0);
    }
    for (int i = 0; i < 50; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "m%d", i);
        assert_int_equal(mr_socket_recv(r, &in, 2000, &err), 1);
        assert_int_equal(in.n, 2);
        frame_is(&in, 1, s, (size_t)n);
    }

    /* an identity the router does not know is an error, not a silent drop */
    mr_frame lost[2] = {{(void *)"nobody", 6}, {(void *)"x", 1}};
    int rc = mr_socket_send(r, lost, 2, 100, &err);
    assert_true(rc < 0);
    assert_true(err.msg[0] != '\0');

    mr_frames_free(&in);
    free(big);
}

static void test_push_pull_inproc(void **state)
{
    fixture *f = *state;
    mr_socket *pull = open_sock(f, 0, MR_SOCK_PULL);
    mr_socket *push = open_sock(f, 1, MR_SOCK_PUSH);
    bind_any(pull, "inproc://pp", NULL, 0);
    connect_to(push, "inproc://pp");
    mr_err err = {0};
    for (uint32_t i = 0; i < 200; i++) {
        mr_frame fr[2] = {{&i, sizeof i}, {(void *)"tail", 4}};
        assert_int_equal(mr_socket_send(push, fr, 2, 1000, &err), 0);
    }
    mr_frames in = {0};
    for (uint32_t i = 0; i < 200; i++) {
        assert_int_equal(mr_socket_recv(pull, &in, 1000, &err), 1);
        assert_int_equal(in.n, 2);
        frame_is(&in, 0, &i, sizeof i);
        frame_is(&in, 1, "tail", 4);
    }
    /* and nothing more */
    assert_int_equal(mr_socket_recv(pull, &in, 0, &err), 0);
    assert_int_equal(in.n, 0);
    mr_frames_free(&in);
}

static void test_push_pull_tcp(void **state)
{
    fixture *f = *state;
    mr_socket *pull = open_sock(f, 0, MR_SOCK_PULL);
    mr_socket *push = open_sock(f, 1, MR_SOCK_PUSH);
    char ep[256];
    bind_any(pull, "tcp://127.0.0.1:*", ep, sizeof ep);
    connect_to(push, ep);
    mr_err err = {0};
    mr_frame fr = {(void *)"over tcp", 8};
    assert_int_equal(mr_socket_send(push, &fr, 1, 2000, &err), 0);
    mr_frames in = {0};
    assert_int_equal(mr_socket_recv(pull, &in, 2000, &err), 1);
    assert_int_equal(in.n, 1);
    frame_is(&in, 0, "over tcp", 8);
    mr_frames_free(&in);
}

static void test_recv_timeout(void **state)
{
    fixture *f = *state;
    mr_socket *pull = open_sock(f, 0, MR_SOCK_PULL);
    bind_any(pull, "inproc://quiet", NULL, 0);
    mr_frames in = {0};
    /* a stale frame in `in` is dropped by recv even when nothing arrives */
    assert_int_equal(mr_frames_push(&in, "stale", 5), 0);
    mr_err err = {0};
    uint64_t t0 = now_ms();
    assert_int_equal(mr_socket_recv(pull, &in, 60, &err), 0);
    uint64_t dt = now_ms() - t0;
    assert_true(dt >= 50);
    assert_true(dt < 1000);
    assert_int_equal(in.n, 0);
    t0 = now_ms();
    assert_int_equal(mr_socket_recv(pull, &in, 0, &err), 0);
    assert_true(now_ms() - t0 < 50);
    mr_frames_free(&in);
    mr_frames_free(&in); /* freeing twice is fine: it was left empty */
    mr_frames_free(NULL);
}

static void test_poll(void **state)
{
    fixture *f = *state;
    mr_socket *a = open_sock(f, 0, MR_SOCK_PULL);
    mr_socket *b = open_sock(f, 1, MR_SOCK_PULL);
    mr_socket *push = open_sock(f, 2, MR_SOCK_PUSH);
    bind_any(a, "inproc://poll-a", NULL, 0);
    bind_any(b, "inproc://poll-b", NULL, 0);
    connect_to(push, "inproc://poll-b");
    mr_socket *const socks[2] = {a, b};
    int ready[2] = {7, 7};

    uint64_t t0 = now_ms();
    assert_int_equal(mr_socket_poll(socks, 2, 40, ready), 0);
    assert_true(now_ms() - t0 >= 30);
    assert_int_equal(ready[0], 0);
    assert_int_equal(ready[1], 0);

    mr_err err = {0};
    mr_frame fr = {(void *)"x", 1};
    assert_int_equal(mr_socket_send(push, &fr, 1, 1000, &err), 0);
    assert_int_equal(mr_socket_poll(socks, 2, 1000, ready), 1);
    assert_int_equal(ready[0], 0);
    assert_int_equal(ready[1], 1);
    /* readiness stays until the message is read */
    assert_int_equal(mr_socket_poll(socks, 2, 0, ready), 1);
    mr_frames in = {0};
    assert_int_equal(mr_socket_recv(b, &in, 0, &err), 1);
    assert_int_equal(mr_socket_poll(socks, 2, 0, ready), 0);
    assert_int_equal(ready[1], 0);
    mr_frames_free(&in);

    mr_socket *many[17];
    for (int i = 0; i < 17; i++)
        many[i] = a;
    int r17[17];
    assert_int_equal(mr_socket_poll(many, 17, 0, r17), MR_EINVAL);
}

/* A peer that never reads: with high-water marks of one message, the queue
 * fills after a few sends and the next send must give up after its timeout. */
static void test_send_full_peer_inproc(void **state)
{
    fixture *f = *state;
    mr_socket *pull = open_sock(f, 0, MR_SOCK_PULL);
    mr_socket *push = open_sock(f, 1, MR_SOCK_PUSH);
    assert_int_equal(mr_socket_set_hwm(pull, 1), 0);
    assert_int_equal(mr_socket_set_hwm(push, 1), 0);
    bind_any(pull, "inproc://full", NULL, 0);
    connect_to(push, "inproc://full");
    mr_err err = {0};
    mr_frame fr[2] = {{(void *)"head", 4}, {(void *)"body", 4}};
    int rc = 0, sent = 0;
    uint64_t t0 = now_ms();
    while (sent < 100 && (rc = mr_socket_send(push, fr, 2, 30, &err)) == 0)
        sent++;
    assert_true(now_ms() - t0 < 1500);
    assert_true(sent >= 1 && sent < 100);
    assert_int_equal(rc, MR_ETIMEDOUT);
    assert_non_null(strstr(err.msg, "timed out"));
    /* nothing of the refused message went out: after draining, exactly the
     * accepted messages arrive, each whole */
    mr_frames in = {0};
    int got = 0;
    while (mr_socket_recv(pull, &in, 50, &err) == 1) {
        assert_int_equal(in.n, 2);
        frame_is(&in, 0, "head", 4);
        frame_is(&in, 1, "body", 4);
        got++;
    }
    assert_int_equal(got, sent);
    /* and the queue accepts again */
    assert_int_equal(mr_socket_send(push, fr, 2, 500, &err), 0);
    mr_frames_free(&in);
}

/* The same over TCP to a ROUTER that never reads: kernel socket buffers add
 * room, so messages are large to fill them quickly. */
static void test_send_full_peer_tcp(void **state)
{
    fixture *f = *state;
    mr_socket *r = open_sock(f, 0, MR_SOCK_ROUTER);
    mr_socket *d = open_sock(f, 1, MR_SOCK_DEALER);
    assert_int_equal(mr_socket_set_hwm(r, 1), 0);
    assert_int_equal(mr_socket_set_hwm(d, 1), 0);
    char ep[256];
    bind_any(r, "tcp://127.0.0.1:*", ep, sizeof ep);
    connect_to(d, ep);
    size_t len = 1 << 20;
    char *payload = calloc(1, len);
    assert_non_null(payload);
    mr_frame fr = {payload, len};
    mr_err err = {0};
    int rc = 0, sent = 0;
    uint64_t t0 = now_ms();
    while (sent < 200 && (rc = mr_socket_send(d, &fr, 1, 50, &err)) == 0)
        sent++;
    assert_true(sent < 200);
    assert_int_equal(rc, MR_ETIMEDOUT);
    assert_true(now_ms() - t0 < 1800);
    free(payload);
}

static void test_frames(void **state)
{
    (void)state;
    mr_frames f = {0};
    for (int i = 0; i < 20; i++)
        assert_int_equal(mr_frames_push(&f, &i, sizeof i), 0);
    assert_int_equal(f.n, 20);
    assert_true(f.cap >= 20);
    for (int i = 0; i < 20; i++)
        frame_is(&f, (size_t)i, &i, sizeof i);
    assert_int_equal(mr_frames_push(&f, NULL, 0), 0);
    assert_int_equal(f.items[20].len, 0);
    assert_non_null(f.items[20].data);
    mr_frames_clear(&f);
    assert_int_equal(f.n, 0);
    assert_int_equal(mr_frames_push(&f, "again", 5), 0);
    frame_is(&f, 0, "again", 5);
    /* a caller may take a frame's data over */
    void *taken = f.items[0].data;
    f.items[0].data = NULL;
    mr_frames_free(&f);
    free(taken);
    assert_int_equal(f.n, 0);
    assert_null(f.items);
}

/* ---- CURVE -------------------------------------------------------------- */

/* A key pair in a new folder below /tmp; its public key in pub. */
static void make_pair(char *dir, size_t cap, char pub[MR_CURVE_KEY_LEN + 1])
{
    snprintf(dir, cap, "/tmp/mr-test-curve-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/k", dir);
    mr_err err = {0};
    if (mr_curve_keygen(sub, &err) != 0)
        fail_msg("keygen: %s", err.msg);
    snprintf(dir + strlen(dir), cap - strlen(dir), "/k");
    mr_curve_keys *k = mr_curve_load(dir, &err);
    if (!k)
        fail_msg("load: %s", err.msg);
    snprintf(pub, MR_CURVE_KEY_LEN + 1, "%s", mr_curve_public(k));
    mr_curve_free(k);
}

static void authorize(const char *dir, const char *name, const char *key)
{
    char path[400];
    snprintf(path, sizeof path, "%s/authorized", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/authorized/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", key);
    fclose(f);
}

static void remove_pair(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(dir) - 2), dir);
    assert_int_equal(system(cmd), 0);
}

static mr_net *curve_net(const char *dir)
{
    mr_err err = {0};
    mr_net *n = mr_net_create();
    assert_non_null(n);
    mr_curve_keys *k = mr_curve_load(dir, &err);
    if (!k || mr_net_set_curve(n, k, "test", &err) != 0)
        fail_msg("curve: %s", err.msg);
    return n;
}

/* An authorized client reaches the server, which sees its key; a client
 * with another key is refused; keygen never overwrites; a secret readable
 * by others and a non-key in authorized/ are refused at load. */
static void test_curve(void **state)
{
    (void)state;
    char sdir[300], adir[300], udir[300];
    char spub[MR_CURVE_KEY_LEN + 1], apub[MR_CURVE_KEY_LEN + 1], upub[MR_CURVE_KEY_LEN + 1];
    make_pair(sdir, sizeof sdir, spub);
    make_pair(adir, sizeof adir, apub);
    make_pair(udir, sizeof udir, upub);
    authorize(sdir, "a.key", apub);
    mr_err err = {0};
    assert_int_equal(mr_curve_keygen(sdir, &err), MR_EINVAL);

    mr_net *sn = curve_net(sdir), *an = curve_net(adir), *un = curve_net(udir);
    assert_true(mr_curve_authorized(mr_net_curve(sn), apub));
    assert_false(mr_curve_authorized(mr_net_curve(sn), upub));
    mr_socket *srv = mr_socket_open(sn, MR_SOCK_ROUTER, &err);
    char ep[256];
    assert_int_equal(mr_socket_set_curve_server(srv, &err), 0);
    assert_int_equal(mr_socket_bind(srv, "tcp://127.0.0.1:*", ep, sizeof ep, &err), 0);

    mr_socket *a = mr_socket_open(an, MR_SOCK_DEALER, &err);
    assert_int_equal(mr_socket_set_curve_client(a, NULL, &err), MR_EINVAL);
    assert_int_equal(mr_socket_set_curve_client(a, spub, &err), 0);
    assert_int_equal(mr_socket_connect(a, ep, &err), 0);
    mr_frame hello = {"hello", 5};
    assert_int_equal(mr_socket_send(a, &hello, 1, 1000, &err), 0);
    mr_frames m = {0};
    char peer[MR_CURVE_KEY_LEN + 1];
    assert_int_equal(mr_socket_recv_from(srv, &m, 2000, peer, sizeof peer, &err), 1);
    assert_string_equal(peer, apub);
    frame_is(&m, 1, "hello", 5);

    /* not authorized: the handshake is refused, nothing arrives */
    mr_socket *u = mr_socket_open(un, MR_SOCK_DEALER, &err);
    assert_int_equal(mr_socket_set_curve_client(u, spub, &err), 0);
    assert_int_equal(mr_socket_connect(u, ep, &err), 0);
    mr_socket_send(u, &hello, 1, 300, &err);
    assert_int_equal(mr_socket_recv(srv, &m, 500, &err), 0);

    mr_frames_free(&m);
    mr_socket_close(u);
    mr_socket_close(a);
    mr_socket_close(srv);
    mr_net_destroy(un);
    mr_net_destroy(an);
    mr_net_destroy(sn);

    char path[400];
    snprintf(path, sizeof path, "%s/secret.key", udir);
    chmod(path, 0644);
    assert_null(mr_curve_load(udir, &err));
    assert_non_null(strstr(err.msg, "chmod 600"));
    authorize(adir, "junk", "not a key");
    assert_null(mr_curve_load(adir, &err));
    assert_non_null(strstr(err.msg, "not a CURVE public key"));
    remove_pair(sdir);
    remove_pair(adir);
    remove_pair(udir);
}

/* A frame over the socket's maximum is never delivered (the connection
 * that sent it is dropped); others still get through. */
static void test_max_message(void **state)
{
    fixture *f = *state;
    mr_socket *r = open_sock(f, 0, MR_SOCK_ROUTER);
    assert_int_equal(mr_socket_set_max_message(r, 1024), 0);
    char ep[256];
    bind_any(r, "tcp://127.0.0.1:*", ep, sizeof ep);
    mr_socket *big = open_sock(f, 1, MR_SOCK_DEALER);
    connect_to(big, ep);
    char *buf = calloc(1, 4096);
    assert_non_null(buf);
    mr_frame fr = {buf, 4096};
    mr_err err = {0};
    assert_int_equal(mr_socket_send(big, &fr, 1, 1000, &err), 0);
    mr_frames m = {0};
    assert_int_equal(mr_socket_recv(r, &m, 300, &err), 0);
    mr_socket *small = open_sock(f, 2, MR_SOCK_DEALER);
    connect_to(small, ep);
    fr.len = 1000;
    assert_int_equal(mr_socket_send(small, &fr, 1, 1000, &err), 0);
    assert_int_equal(mr_socket_recv(r, &m, 2000, &err), 1);
    assert_int_equal(m.items[1].len, 1000);
    mr_frames_free(&m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_wildcard_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dealer_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pull_inproc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pull_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recv_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_full_peer_inproc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_full_peer_tcp, setup, teardown),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_curve),
        cmocka_unit_test_setup_teardown(test_max_message, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
