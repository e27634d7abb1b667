/* fuzz_expr.c - libFuzzer target for the expression language: parse, bind
 * against a fixed schema, evaluate over a small batch of awkward values.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target).  By hand, from the repository root:
 */
// fuzz-sources: core core/op core/formats
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
//   tests/fuzz/fuzz_expr.c core/[a-z]*.c -lm -lpthread -o fuzz_expr
// ./fuzz_expr -max_total_time=60 -dict=tests/fuzz/corpus/fuzz_expr.dict tests/fuzz/corpus/fuzz_expr
/*
 * The input is the expression text (NUL bytes end it early, as they would
 * in a YAML string).  Checks beyond the sanitizers:
 *   - a parse or bind failure is a negative code with a message and an
 *     offset inside the text (or -1);
 *   - evaluating over a batch with a selection vector gives exactly what
 *     evaluating over the same rows compacted gives (same code; on success
 *     the same values), and evaluating twice gives the same result (the
 *     expression's reused scratch must not leak state between calls);
 *   - results are well formed: string offsets from 0, non-decreasing;
 *     bools 0/1.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/expr.h"

#define ROWS 9

static void die(const char *what)
{
    fprintf(stderr, "fuzz_expr: %s\n", what);
    abort();
}

static mr_schema *schema(void)
{
    static mr_schema *s;
    if (s)
        return s;
    s = mr_schema_create(9);
    mr_schema_set(s, 0, "i", mr_type_make(MR_T_INT32));
    mr_schema_set(s, 1, "l", mr_type_make(MR_T_INT64));
    mr_schema_set(s, 2, "f", mr_type_make(MR_T_FLOAT64));
    mr_schema_set(s, 3, "d", mr_type_decimal(10, 2));
    mr_schema_set(s, 4, "s", mr_type_make(MR_T_STRING));
    mr_schema_set(s, 5, "b", mr_type_make(MR_T_BOOL));
    mr_schema_set(s, 6, "dt", mr_type_make(MR_T_DATE));
    mr_schema_set(s, 7, "ts", mr_type_make(MR_T_TIMESTAMP));
    mr_schema_set(s, 8, "Order Total", mr_type_decimal(18, 4));
    return s;
}

/* Row 0 is all NULL; the others hold zeros, extremes and odd strings. */
static mr_batch *make_batch(void)
{
    static const int32_t iv[ROWS] = {0, 0, 1, -1, INT32_MAX, INT32_MIN, 7, -7, 100};
    static const int64_t lv[ROWS] = {0, 0, 1, -1, INT64_MAX, INT64_MIN, 3, -3000000000LL, 42};
    static const double fv[ROWS] = {0, -0.0, 1.5, -1.5, 1e308, -1e-308, 0.1, 3, 1e15};
    static const int64_t dv[ROWS] = {0, 0, 100, -100, 9999999999LL, -9999999999LL, 1, -1, 12345};
    static const char *sv[ROWS] = {"", "", "abc", "ÉtÉ", "a_b%c", "  pad  ", "2024-01-31",
                                   "12.5", "\xff\xfe"};
    static const int32_t dtv[ROWS] = {0, 0, 19753, -1, 2932896, -719162, 11016, 365, 60};
    static const int64_t tsv[ROWS] = {0, 0, 1706745600000000LL, -1, 253402300799999999LL,
                                      -62135596800000000LL, 86399999999LL, 1, 1000000};
    static const int64_t ov[ROWS] = {0, 0, 1, -1, 999999999999999999LL, -999999999999999999LL,
                                     50000, 10000, 5};
    mr_batch *b = mr_batch_create(schema(), ROWS);
    if (!b)
        die("out of memory");
    for (size_t r = 0; r < ROWS; r++) {
        MR_COL_I32(&b->cols[0])[r] = iv[r];
        MR_COL_I64(&b->cols[1])[r] = lv[r];
        MR_COL_F64(&b->cols[2])[r] = fv[r];
        MR_COL_I64(&b->cols[3])[r] = dv[r];
        if (mr_column_set_str(&b->cols[4], r, sv[r], strlen(sv[r])) != 0)
            die("out of memory");
        MR_COL_U8(&b->cols[5])[r] = (uint8_t)(r & 1);
        MR_COL_I32(&b->cols[6])[r] = dtv[r];
        MR_COL_I64(&b->cols[7])[r] = tsv[r];
        MR_COL_I64(&b->cols[8])[r] = ov[r];
        for (int c = 0; c < b->ncols; c++)
            mr_column_set_valid(&b->cols[c], r, r != 0);
    }
    b->nrows = ROWS;
    return b;
}

/* Rows 0, 2, 3, 5, 8 live. */
static void select_rows(mr_batch *b)
{
    static const uint32_t sel[5] = {0, 2, 3, 5, 8};
    memcpy(b->sel_buf, sel, sizeof sel);
    b->sel = b->sel_buf;
    b->nsel = 5;
}

static void check_column(const mr_column *c, size_t n)
{
    if (c->type.id == MR_T_STRING) {
        if (c->offsets[0] != 0)
            die("result offsets do not start at 0");
        for (size_t r = 0; r < n; r++)
            if (c->offsets[r + 1] < c->offsets[r])
                die("result offsets decrease");
    } else if (c->type.id == MR_T_BOOL) {
        for (size_t r = 0; r < n; r++)
            if (mr_column_is_valid(c, r) && MR_COL_U8(c)[r] > 1)
                die("result bool not 0/1");
    }
}

/* Whether row ra of a and row rb of b (same type) hold the same value. */
static int same_row(const mr_column *a, size_t ra, const mr_column *b, size_t rb)
{
    int va = mr_column_is_valid(a, ra);
    if (va != mr_column_is_valid(b, rb))
        return 0;
    if (!va)
        return 1;
    if (a->type.id == MR_T_STRING) {
        size_t la, lb;
        const char *pa = mr_column_str(a, ra, &la), *pb = mr_column_str(b, rb, &lb);
        return la == lb && (la == 0 || memcmp(pa, pb, la) == 0);
    }
    if (a->type.id == MR_T_FLOAT64) {
        double x = MR_COL_F64(a)[ra], y = MR_COL_F64(b)[rb];
        return x == y || (isnan(x) && isnan(y));
    }
    size_t w = mr_type_width(a->type);
    return memcmp((const char *)a->data + ra * w, (const char *)b->data + rb * w, w) == 0;
}

static int same(const mr_column *a, const mr_column *b, size_t n)
{
    for (size_t r = 0; r < n; r++)
        if (!same_row(a, r, b, r))
            return 0;
    return 1;
}

static int eval(const mr_expr *e, const mr_batch *in, mr_column *out)
{
    mr_err err = {0};
    if (mr_column_init(out, mr_expr_type(e), ROWS) != 0)
        die("out of memory");
    int rc = mr_expr_eval(e, in, out, &err);
    if (rc < 0 && !err.msg[0])
        die("eval failed without a message");
    if (rc > 0)
        die("eval returned a positive code");
    if (rc == 0)
        check_column(out, mr_batch_live(in));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int len = (int)strlen(text);

    mr_err err = {0};
    mr_expr *e = NULL;
    int rc = mr_expr_parse(text, &e, &err);
    if (rc != 0) {
        if (rc > 0 || e || !err.msg[0] || err.offset < -1 || err.offset > len)
            die("parse failure without a code, message or sane offset");
        free(text);
        return 0;
    }
    if (!e)
        die("parse success without a tree");
    rc = mr_expr_bind(e, schema(), &err);
    if (rc != 0) {
        if (rc > 0 || !err.msg[0] || err.offset < -1 || err.offset > len)
            die("bind failure without a code, message or sane offset");
        mr_expr_destroy(e);
        free(text);
        return 0;
    }

    mr_batch *with_sel = make_batch();
    select_rows(with_sel);
    mr_batch *compacted = make_batch();
    select_rows(compacted);
    mr_batch_compact(compacted);
    mr_batch *full = make_batch();

    mr_column a, b, c, d;
    int ra = eval(e, with_sel, &a);
    int rb = eval(e, compacted, &b);
    int rc2 = eval(e, full, &c);
    int rd = eval(e, with_sel, &d);
    if (ra != rb)
        die("selection vector and compacted batch disagree on success");
    if (ra != rd)
        die("second evaluation disagrees with the first");
    if (ra == 0 && (!same(&a, &b, 5) || !same(&a, &d, 5)))
        die("selection vector, compacted batch or a second run gave different values");
    /* a success over all rows implies one over a subset with the same values */
    if (rc2 == 0 && ra != 0)
        die("failed on a subset of rows that succeed together");
    if (rc2 == 0) {
        static const uint32_t sel[5] = {0, 2, 3, 5, 8};
        for (size_t i = 0; i < 5; i++)
            if (!same_row(&a, i, &c, sel[i]))
                die("a row's value depends on the other rows evaluated with it");
    }
    mr_column_free(&a);
    mr_column_free(&b);
    mr_column_free(&c);
    mr_column_free(&d);
    mr_batch_destroy(with_sel);
    mr_batch_destroy(compacted);
    mr_batch_destroy(full);
    mr_expr_destroy(e);
    free(text);
    return 0;
}
