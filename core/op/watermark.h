/* watermark.h - the scan side of an incremental column read: passes the
 * rows whose column is above a watermark and remembers the largest value
 * it passed (docs/bookmarks.md).
 *
 * The executor puts it right above the scan of a read with
 * `incremental: {column: NAME}`; the coordinator sends the last run's
 * watermark as text and takes the largest value back as text, so the
 * watermark's text form is the one of core/text.c (numbers, decimals at
 * the column's scale, ISO dates and timestamps, strings as they are).
 * Rows whose column is NULL never pass a watermark (NULL > x is unknown,
 * as in SQL); without a watermark (the first run, a full refresh) every
 * row passes.
 */
#ifndef MR_OP_WATERMARK_H
#define MR_OP_WATERMARK_H

#include "core/op.h"

/* Creates the operator over child for column `column` of child's schema,
 * passing rows above bound (text; NULL: every row).  Takes ownership of
 * child, also when it fails.  NULL with err set: MR_ENOTFOUND (no such
 * column), MR_ETYPE (bool), MR_EPARSE (bound is not a value of the column's
 * type), MR_ENOMEM. */
mr_op *mr_watermark_create(mr_op *child, const char *column, const char *bound, const char *node,
                           mr_err *err);

/* The largest value passed so far, as text into buf (NUL-terminated,
 * truncated to cap - 1 bytes; strings longer than that are refused by the
 * operator, so a watermark is never cut).  Returns 1 when some non-NULL
 * value passed, else 0. */
int mr_watermark_max(const mr_op *op, char *buf, size_t cap);

/* Rows the operator passed. */
uint64_t mr_watermark_rows(const mr_op *op);

/* Compares two watermark texts as values of type t: *out < 0, 0, > 0.
 * 0, or MR_EPARSE when either is not a value of t. */
int mr_watermark_cmp(mr_type t, const char *a, const char *b, int *out, mr_err *err);

/* Writes text, a value of type t, in the watermark's canonical text form
 * into buf (cap bytes: MR_WATERMARK_MAX + 1 always fits).  0, or
 * MR_EPARSE / MR_EOVERFLOW / MR_ETOOBIG with err set. */
int mr_watermark_canon(mr_type t, const char *text, char *buf, size_t cap, mr_err *err);

/* Longest text a watermark may have (bytes, without the NUL). */
#define MR_WATERMARK_MAX 1024

#endif
