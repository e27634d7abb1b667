/* test_opbuild.c - the executor's registry of plan operator kinds: every
 * kind has an entry and a oneof member, an operator whose member does not
 * match its kind is refused, and builders take their parameters from the
 * typed plan (a sort from SortKey messages, a join from its JoinKind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/op/source.h"
#include "executor/opbuild.h"
#include "proto/plan_names.h"

static int no_rows(void *ctx, mr_batch **out, mr_err *err)
{
    (void)ctx;
    (void)out;
    (void)err;
    return MR_NEXT_DONE;
}

/* A source of columns id int64, v string. */
static mr_op *source(void)
{
    mr_schema *s = mr_schema_create(2);
    assert_non_null(s);
    assert_int_equal(mr_schema_set(s, 0, "id", mr_type_make(MR_T_INT64)), 0);
    assert_int_equal(mr_schema_set(s, 1, "v", mr_type_make(MR_T_STRING)), 0);
    mr_op *op = mr_source_create(s, no_rows, NULL, NULL, "src");
    mr_schema_destroy(s);
    assert_non_null(op);
    return op;
}

static void test_every_kind_registered(void **state)
{
    (void)state;
    for (int k = MILLRACE__OP_KIND__OP_SCAN; k <= MILLRACE__OP_KIND__OP_LIMIT; k++) {
        const mr_opbuild_entry *e = mr_opbuild_find((Millrace__OpKind)k);
        assert_non_null(e);
        assert_non_null(e->name);
        int source = k == MILLRACE__OP_KIND__OP_SCAN || k == MILLRACE__OP_KIND__OP_SHUFFLE_READ;
        assert_int_equal(e->build == NULL, source);
        assert_int_equal(e->ninputs == 0, source);
        assert_int_not_equal(mr_plan_op_case((Millrace__OpKind)k), MILLRACE__OP_SPEC__OP__NOT_SET);
        assert_non_null(mr_plan_op_message((Millrace__OpKind)k));
    }
    assert_null(mr_opbuild_find(MILLRACE__OP_KIND__OP_UNKNOWN));
    assert_null(mr_opbuild_find((Millrace__OpKind)99));
}

static void test_member_must_match_kind(void **state)
{
    (void)state;
    Millrace__OpSpec op = MILLRACE__OP_SPEC__INIT;
    Millrace__LimitOp lim = MILLRACE__LIMIT_OP__INIT;
    op.kind = MILLRACE__OP_KIND__OP_SORT;
    assert_false(mr_plan_op_ok(&op)); /* no member */
    op.op_case = MILLRACE__OP_SPEC__OP_LIMIT;
    op.limit = &lim;
    assert_false(mr_plan_op_ok(&op)); /* a limit's member on a sort */
    op.kind = MILLRACE__OP_KIND__OP_LIMIT;
    assert_true(mr_plan_op_ok(&op));
}

static mr_op *build_sort(const char *column, int desc, int nulls_first, mr_err *err)
{
    Millrace__SortKey key = MILLRACE__SORT_KEY__INIT, *keys = &key;
    Millrace__SortOp sort = MILLRACE__SORT_OP__INIT;
    Millrace__OpSpec op = MILLRACE__OP_SPEC__INIT;
    key.column = (char *)column;
    key.descending = desc;
    key.nulls_first = nulls_first;
    sort.keys = &keys;
    sort.n_keys = 1;
    sort.limit = -1;
    op.kind = MILLRACE__OP_KIND__OP_SORT;
    op.node = "s";
    op.op_case = MILLRACE__OP_SPEC__OP_SORT;
    op.sort = &sort;
    mr_op *kids[1] = {source()};
    const mr_opbuild_entry *e = mr_opbuild_find(op.kind);
    assert_true(mr_plan_op_ok(&op));
    return e->build(&op, kids, 1, err);
}

static void test_sort_from_sort_keys(void **state)
{
    (void)state;
    mr_err err;
    mr_err_clear(&err);
    mr_op *s = build_sort("v", 1, 0, &err);
    assert_non_null(s);
    assert_int_equal(s->schema->nfields, 2);
    mr_op_close(s);
    /* the key's column is taken as is: an unknown one is the operator's error */
    mr_err_clear(&err);
    assert_null(build_sort("v desc", 1, 0, &err));
    assert_int_not_equal(err.code, 0);
    assert_non_null(strstr(err.msg, "v desc"));
}

static void test_join_kind_checked(void **state)
{
    (void)state;
    char *keys[] = {"id"};
    Millrace__HashJoinOp h = MILLRACE__HASH_JOIN_OP__INIT;
    Millrace__OpSpec op = MILLRACE__OP_SPEC__INIT;
    h.kind = MILLRACE__JOIN_KIND__JOIN_SEMI;
    h.left_keys = h.right_keys = keys;
    h.n_left_keys = h.n_right_keys = 1;
    op.kind = MILLRACE__OP_KIND__OP_HASHJOIN;
    op.node = "j";
    op.op_case = MILLRACE__OP_SPEC__OP_HASHJOIN;
    op.hashjoin = &h;
    const mr_opbuild_entry *e = mr_opbuild_find(op.kind);
    assert_int_equal(e->ninputs, 2);
    mr_err err;
    mr_err_clear(&err);
    mr_op *kids[2] = {source(), source()};
    mr_op *j = e->build(&op, kids, 2, &err);
    assert_non_null(j);
    assert_int_equal(j->schema->nfields, 2); /* semi: the left columns */
    mr_op_close(j);
    h.kind = (Millrace__JoinKind)42; /* from a newer build */
    mr_op *more[2] = {source(), source()};
    assert_null(e->build(&op, more, 2, &err));
    assert_int_equal(err.code, MR_EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_registered),
        cmocka_unit_test(test_member_must_match_kind),
        cmocka_unit_test(test_sort_from_sort_keys),
        cmocka_unit_test(test_join_kind_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
