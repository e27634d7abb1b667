/* copy_format.c - times the PostgreSQL driver's staging (COPY text vs binary) and its commit, alone.
 *
 * Builds one 4096-row batch of lineitem-like columns (int64, 3 x int32,
 * 4 x decimal(12,2), 2 short strings, 3 dates, 3 strings of 10-40 bytes) in
 * memory, then for each COPY format stages it `rounds` times through one
 * mr_wh_stage (one connection, one COPY, as one task does) and commits the
 * staging table into a fresh target.  Prints rows/s of the staging and of
 * the commit separately, so the format's effect is not hidden behind CSV
 * parsing.  Built and run by bench/load_pg.py (cc against build/'s static
 * libraries); not part of the build or the tests.
 *
 *   copy_format DSN ROWS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "warehouse/warehouse.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static mr_schema *lineitem(void)
{
    static const char *const names[] = {"orderkey", "partkey", "suppkey", "linenumber", "quantity",
                                        "extendedprice", "discount", "tax", "returnflag", "linestatus",
                                        "shipdate", "commitdate", "receiptdate", "shipinstruct",
                                        "shipmode", "comment"};
    mr_schema *s = mr_schema_create(16);
    for (int i = 0; i < 16; i++) {
        mr_type t = mr_type_make(MR_T_STRING);
        if (i == 0)
            t = mr_type_make(MR_T_INT64);
        else if (i <= 3)
            t = mr_type_make(MR_T_INT32);
        else if (i <= 7)
            t = mr_type_decimal(12, 2);
        else if (i >= 10 && i <= 12)
            t = mr_type_make(MR_T_DATE);
        mr_schema_set(s, i, names[i], t);
    }
    return s;
}

static mr_batch *make_batch(const mr_schema *s, size_t n)
{
    static const char *const words[] = {"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN",
                                        "TRUCK", "MAIL", "REG AIR", "carefully final deposits sleep"};
    mr_batch *b = mr_batch_create(s, n);
    for (size_t r = 0; r < n; r++) {
        for (int c = 0; c < 16; c++) {
            mr_column *col = &b->cols[c];
            mr_column_set_valid(col, r, true);
            switch (col->type.id) {
            case MR_T_INT64: MR_COL_I64(col)[r] = (int64_t)(r * 7919); break;
            case MR_T_INT32: MR_COL_I32(col)[r] = (int32_t)(r * 31 + c); break;
            case MR_T_DECIMAL: MR_COL_I64(col)[r] = (int64_t)((r * 104729) % 10000000); break;
            case MR_T_DATE: MR_COL_I32(col)[r] = 8000 + (int32_t)(r % 2500); break;
            default: {
                const char *w = c == 8 ? "R" : c == 9 ? "F" : words[(r + (size_t)c) % 8];
                mr_column_set_str(col, r, w, strlen(w));
            }
            }
        }
    }
    b->nrows = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DSN ROWS\n", argv[0]);
        return 2;
    }
    mr_wh_config cfg = {"postgres", NULL, argv[1], NULL, NULL, NULL, 0};
    long rounds = atol(argv[2]) / 4096;
    mr_schema *s = lineitem();
    mr_batch *b = make_batch(s, 4096);
    static const char *const formats[] = {"text", "binary", "text", "binary"};
    for (int f = 0; f < 4; f++) {
        setenv("MILLRACE_PG_COPY_FORMAT", formats[f], 1);
        char stage[64], table[64];
        snprintf(stage, sizeof stage, "s_bench_%s_%d", formats[f], f);
        snprintf(table, sizeof table, "bench_%s_%d", formats[f], f);
        mr_err err;
        mr_wh_stage *st;
        double t0 = now();
        if (mr_wh_stage_open(&cfg, stage, s, &st, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (long i = 0; i < rounds; i++)
            if (mr_wh_stage_append(st, b, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        if (mr_wh_stage_finish(st, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t1 = now();
        const char *sts[] = {stage};
        mr_wh_target t = {.table = table, .mode = "overwrite", .schema = s, .staging_tables = sts,
                          .nstaging = 1};
        if (mr_wh_commit(&cfg, &t, 1, NULL, 0, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t2 = now();
        double rows = (double)rounds * 4096;
        printf("COPY %-6s staging %10.0f rows/s (%.2f s)   commit %10.0f rows/s (%.2f s)\n",
               formats[f], rows / (t1 - t0), t1 - t0, rows / (t2 - t1), t2 - t1);
    }
    mr_batch_destroy(b);
    mr_schema_destroy(s);
    return 0;
}
