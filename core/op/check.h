/* check.h - the check operator: a check node's data-quality rules over the
 * rows that pass through it.
 *
 * One operator carries the rules of one place in the plan (dag/op_check.c
 * puts them there):
 *   expect     a boolean per row; a row fails when it is false or NULL.
 *              fail and reject drop failing rows from the output (reject
 *              keeps each as a rejected row: reason the rule's name, raw the
 *              row as a JSON object); warn keeps them.
 *   row_count  counts the rows (the bounds are the coordinator's business:
 *              it sums every task's count).
 *   unique     counts, among the rows with no NULL key column, those whose
 *              key occurs more than once.  The plan hashes the rows on the
 *              key into this operator's partition first, so a key's rows
 *              all meet in one task and the per-task counts add up.  The
 *              keys seen are held in memory (core/hashtab.h): no spilling.
 *   aggregate  the boolean over the one row of a global final aggregate
 *              (its columns are named after the aggregate calls); the row
 *              count comes from its "count(*)" column.  The whole input
 *              fails or passes: rows_failed is then every row or none.
 * Only expect drops rows; the output schema is the input's.
 *
 * Results: per rule, rows checked, rows failed and up to MR_CHECK_SAMPLES
 * failing values as JSON objects (a failing row for expect and aggregate,
 * {key columns..., "rows": n} for unique), read after the stream ended
 * with mr_check_results; rejected rows with mr_check_rejects.  Both stay
 * owned by the operator until it is closed.  Rejected rows are kept in
 * memory, as a read's are (core/badrows.h).
 */
#ifndef MR_OP_CHECK_H
#define MR_OP_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/badrows.h"
#include "core/op.h"

#define MR_CHECK_SAMPLES 5

/* Numbered like the plan's CheckKind and CheckAction. */
typedef enum mr_check_kind {
    MR_CHECK_EXPECT = 0,
    MR_CHECK_UNIQUE = 1,
    MR_CHECK_ROW_COUNT = 2,
    MR_CHECK_AGGREGATE = 3,
} mr_check_kind;

typedef enum mr_check_action {
    MR_CHECK_FAIL = 0,
    MR_CHECK_REJECT = 1,
    MR_CHECK_WARN = 2,
} mr_check_action;

typedef struct mr_check_rule {
    const char *name;
    mr_check_kind kind;
    mr_check_action action;
    const char *expr;            /* expect, aggregate: a boolean over the input */
    const char *const *columns;  /* unique: the key */
    int ncolumns;
} mr_check_rule;

typedef struct mr_check_result {
    const char *rule; /* the rule's name (owned by the operator) */
    uint64_t rows_checked, rows_failed;
    char *samples[MR_CHECK_SAMPLES]; /* JSON objects */
    int nsamples;
} mr_check_result;

/* Creates the operator over child with rules[0..n) (copied).  Takes
 * ownership of child, also when it fails.  NULL with err set: an
 * expression that does not parse, bind or is not boolean (err->offset into
 * it, the message naming the rule), an unknown key column, MR_ENOMEM. */
mr_op *mr_check_create(mr_op *child, const mr_check_rule *rules, int n, const char *node,
                       mr_err *err);

/* Whether op is a check operator. */
bool mr_check_is(const mr_op *op);

/* The per-rule results (in the rules' order); complete once next() has
 * returned DONE. */
void mr_check_results(const mr_op *op, const mr_check_result **res, int *n);

/* The rows reject rules dropped, in order (file "", line -1). */
void mr_check_rejects(const mr_op *op, const mr_reject **rows, size_t *n);

/* A string value as a JSON string (quotes, escapes) appended to b. */
struct mr_strbuf;
void mr_check_json_str(struct mr_strbuf *b, const char *s, size_t n);

#endif
