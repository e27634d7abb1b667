/* test_membudget.c - the executor's one memory budget: the counter, and the
 * shuffle store yielding memory to operators' reservations. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/membudget.h"
#include "executor/shuffle_store.h"
#include "net/transport.h"

static void test_reserve_and_release(void **state)
{
    (void)state;
    mr_membudget *b = mr_membudget_create(100);
    assert_non_null(b);
    assert_true(mr_membudget_try_reserve(b, 60));
    assert_false(mr_membudget_try_reserve(b, 41)); /* 101 > 100 */
    assert_true(mr_membudget_try_reserve(b, 40));
    assert_int_equal(mr_membudget_used(b), 100);
    mr_membudget_reserve(b, 50); /* forced: over the limit */
    assert_int_equal(mr_membudget_used(b), 150);
    assert_false(mr_membudget_try_reserve(b, 1));
    mr_membudget_release(b, 150);
    assert_int_equal(mr_membudget_used(b), 0);
    mr_membudget_release(b, 10); /* never below zero */
    assert_int_equal(mr_membudget_used(b), 0);
    assert_false(mr_membudget_try_reserve(b, UINT64_MAX)); /* no wrap-around */
    assert_int_equal(mr_membudget_limit(b), 100);
    mr_membudget_destroy(b);
    /* no budget, or no limit: everything is granted */
    assert_true(mr_membudget_try_reserve(NULL, 1u << 30));
    mr_membudget *u = mr_membudget_create(0);
    assert_true(mr_membudget_try_reserve(u, UINT64_MAX / 2));
    mr_membudget_destroy(u);
    mr_membudget_destroy(NULL);
}

typedef struct {
    mr_membudget *b;
    int granted;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 100000; i++)
        if (mr_membudget_try_reserve(w->b, 3)) {
            w->granted++;
            if (i % 2)
                mr_membudget_release(w->b, 3), w->granted--;
        }
    return NULL;
}

/* Threads racing for the same bytes never over-commit it. */
static void test_threads_never_exceed(void **state)
{
    (void)state;
    mr_membudget *b = mr_membudget_create(3000);
    worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){b, 0};
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += w[i].granted;
    }
    assert_int_equal(mr_membudget_used(b), (uint64_t)total * 3);
    assert_true(mr_membudget_used(b) <= 3000);
    mr_membudget_destroy(b);
}

static void put(mr_shuffle_store *st, uint32_t map_task, const char *text)
{
    mr_shuffle_key k = {"job", 1, 0};
    mr_frames f = {0};
    assert_int_equal(mr_frames_push(&f, text, strlen(text)), 0);
    mr_err err = {0};
    assert_int_equal(mr_shuffle_store_put(st, &k, map_task, 0, 0, &f, &err), 0);
    mr_frames_free(&f);
}

/* The store keeps messages in memory beyond half its own budget only as
 * far as the shared budget grants them: what operators reserved pushes
 * shuffle data to disk, and releasing the job gives the store's bytes back. */
static void test_store_draws_from_shared_budget(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_membudget-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mr_membudget *b = mr_membudget_create(1000);
    mr_shuffle_store *st = mr_shuffle_store_create();
    mr_err err = {0};
    mr_shuffle_store_set_shared_budget(st, b);
    assert_int_equal(mr_shuffle_store_set_spill(st, 1000, dir, &err), 0);
    mr_membudget_reserve(b, 900); /* running operators' shares */
    char msg[101];
    memset(msg, 'x', 100);
    msg[100] = '\0';
    for (int i = 0; i < 9; i++)
        put(st, 0, msg);
    mr_shuffle_store_stats ss;
    mr_shuffle_store_get_stats(st, &ss);
    /* alone the store would hold all 900 bytes; beside 900 reserved, only
     * the half of its budget it always keeps */
    assert_true(ss.bytes_held <= 500);
    assert_true(ss.bytes_held >= 400);
    assert_true(ss.bytes_spilled > 0);
    assert_int_equal(mr_membudget_used(b), 900 + ss.bytes_held);
    mr_membudget_release(b, 900); /* the operators' tasks ended */
    uint64_t before = ss.bytes_held;
    for (int i = 0; i < 4; i++)
        put(st, 1, msg);
    mr_shuffle_store_get_stats(st, &ss);
    assert_true(ss.bytes_held >= before + 300);
    assert_true(ss.bytes_held <= 1000);
    assert_int_equal(mr_membudget_used(b), ss.bytes_held);
    mr_shuffle_store_release(st, "job");
    assert_int_equal(mr_membudget_used(b), 0);
    mr_shuffle_store_destroy(st);
    mr_membudget_destroy(b);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_and_release),
        cmocka_unit_test(test_threads_never_exceed),
        cmocka_unit_test(test_store_draws_from_shared_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
