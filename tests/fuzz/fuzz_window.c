/* fuzz_window.c - libFuzzer target for window expressions: the parser of
 * calls and frames (core/op/window_fn.c) and, for a text it accepts, the
 * window operator over a small partitioned input (core/op/window.c,
 * window_eval.c).
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it.
 */
// fuzz-sources: core core/op core/formats
/*
 * The input is the expression text (a NUL ends it early).  Checks beyond
 * the sanitizers:
 *   - success gives the input's four columns and one more; failure gives
 *     a message and an offset of -1 or inside the text;
 *   - an accepted expression runs over eight rows in three partitions
 *     (NULLs, ties) and returns eight rows or a clean error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/op/source.h"
#include "core/op/window.h"

static mr_schema *in_schema(void)
{
    mr_schema *s = mr_schema_create(4);
    if (!s || mr_schema_set(s, 0, "g", mr_type_make(MR_T_INT64)) ||
        mr_schema_set(s, 1, "v", mr_type_make(MR_T_INT32)) ||
        mr_schema_set(s, 2, "x", mr_type_decimal(8, 2)) ||
        mr_schema_set(s, 3, "s", mr_type_make(MR_T_STRING)))
        abort();
    return s;
}

typedef struct feed {
    mr_batch *b;
    int done;
} feed;

static int feed_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)err;
    feed *f = ctx;
    if (f->done++)
        return MR_NEXT_DONE;
    static const int64_t g[] = {1, 1, 1, 1, 2, 3, 3, 3};
    static const int32_t v[] = {1, 2, 2, 0, 5, 7, 7, 9};
    mr_batch *b = f->b;
    for (size_t r = 0; r < 8; r++) {
        MR_COL_I64(&b->cols[0])[r] = g[r];
        mr_column_set_valid(&b->cols[0], r, true);
        MR_COL_I32(&b->cols[1])[r] = v[r];
        mr_column_set_valid(&b->cols[1], r, r != 3);
        MR_COL_I64(&b->cols[2])[r] = (int64_t)r * 125 - 300;
        mr_column_set_valid(&b->cols[2], r, r % 3 != 1);
        if (r % 4 == 2)
            mr_column_set_str_null(&b->cols[3], r);
        else if (mr_column_set_str(&b->cols[3], r, r % 2 ? "b" : "ab", 2 - r % 2) != 0)
            abort();
    }
    b->nrows = 8;
    *out = b;
    return MR_NEXT_BATCH;
}

static void feed_close(void *ctx)
{
    feed *f = ctx;
    mr_batch_destroy(f->b);
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    mr_schema *in = in_schema();
    const char *name = "w", *t = text;
    int bad;
    mr_err err;
    mr_err_clear(&err);
    const char *part[] = {"g"}, *ord[] = {"v"};
    mr_window_order order = {ord, NULL, 1};
    mr_schema *out = mr_window_schema(in, &order, &name, &t, 1, &bad, &err);
    if (!out) {
        if (bad != 0 || !err.msg[0] || err.offset < -1 || (err.offset > 0 && (size_t)err.offset > strlen(text)))
            abort();
    } else {
        if (out->nfields != 5)
            abort();
        mr_schema_destroy(out);
        feed *f = calloc(1, sizeof *f);
        if (!f || !(f->b = mr_batch_create(in, 8)))
            abort();
        mr_op *src = mr_source_create(in, feed_next, feed_close, f, "src");
        mr_op *w = mr_window_create(src, part, 1, &order, &name, &t, 1, "w", &err);
        if (!w)
            abort();
        mr_batch *b;
        size_t rows = 0;
        int rc = -1;
        if (mr_op_open(w, NULL, &err) == 0)
            while ((rc = mr_op_next(w, &b, &err)) == MR_NEXT_BATCH)
                rows += mr_batch_live(b);
        if (rc == MR_NEXT_DONE && rows != 8)
            abort();
        mr_op_close(w);
    }
    mr_schema_destroy(in);
    free(text);
    return 0;
}
