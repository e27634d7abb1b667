/* window_int.h - private to the window operator: one parsed and bound
 * window expression (window_fn.c), and the evaluation of one partition
 * (window_eval.c).
 */
#ifndef MR_OP_WINDOW_INT_H
#define MR_OP_WINDOW_INT_H

#include <stdint.h>

#include "core/batch.h"
#include "core/expr.h"

typedef enum wf_kind {
    WF_ROW_NUMBER, WF_RANK, WF_DENSE_RANK, WF_PERCENT_RANK, WF_CUME_DIST, WF_NTILE,
    WF_LAG, WF_LEAD, WF_FIRST_VALUE, WF_LAST_VALUE, WF_NTH_VALUE,
    WF_COUNT_STAR, WF_COUNT, WF_SUM, WF_AVG, WF_MIN, WF_MAX,
} wf_kind;

typedef enum wb_kind { WB_UNB_PREC, WB_PREC, WB_CURRENT, WB_FOLL, WB_UNB_FOLL } wb_kind;

typedef struct wf_bound {
    wb_kind kind;
    int64_t n; /* WB_PREC, WB_FOLL */
} wf_bound;

typedef struct wf_fn {
    wf_kind kind;
    int range;          /* frame mode: 1 range, 0 rows */
    wf_bound start, end;
    int64_t n;          /* ntile buckets, lag/lead offset, nth_value position */
    mr_expr *x;         /* the value argument, bound (NULL when none) */
    mr_expr *d;         /* lag/lead default, bound (NULL when none) */
    mr_type xtype;      /* type of x (and of d) */
    mr_type rtype;      /* result type */
    int xcol, dcol;     /* their columns in the partition buffer (-1: none) */
    int rcol, rdesc;    /* range frame with offsets: the order column, its direction */
    int frame_off;      /* where the frame starts in the text */
} wf_fn;

/* The window's order as wf_parse needs it: one column (-1 otherwise), its
 * direction, and how many order columns there are. */
typedef struct wf_order {
    int col, desc, n;
} wf_order;

/* Parses and binds one window expression against in.  0, or a negative
 * code with err (offset into text). */
int wf_parse(const char *text, const mr_schema *in, const wf_order *ord, wf_fn *out,
             mr_err *err);
void wf_free(wf_fn *f);

/* One partition: rows [0, n) of the columns cols (input, then arguments),
 * written to rows at..at+n of res. */
typedef struct wf_part {
    const mr_column *cols;
    size_t n;
    const int *ocols; /* order_by columns */
    int nord;
    const char *node;
} wf_part;

/* Scratch kept between partitions. */
typedef struct wf_scratch {
    size_t cap;
    uint32_t *pstart, *pend; /* peer group bounds per row */
    uint32_t *fs, *fe;       /* frame per row, [fs, fe) */
    uint32_t *rows;          /* gather list */
    uint32_t *dq;            /* min/max queue */
    int64_t *cnt;            /* prefix counts */
    __extension__ __int128 *isum; /* prefix integer sums */
    long double *fsum;       /* prefix float sums */
    int64_t *nan, *pinf, *ninf;
} wf_scratch;

void wf_scratch_free(wf_scratch *s);

/* Evaluates f over partition p (rows p->cols[..][from, from + p->n)) into
 * rows from.. of res.  0 or a negative code with err set. */
int wf_eval(const wf_fn *f, const wf_part *p, size_t from, mr_column *res, wf_scratch *s,
            mr_err *err);

#endif
