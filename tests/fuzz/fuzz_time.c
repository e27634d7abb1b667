/* fuzz_time.c - libFuzzer target for the time parsers: timestamptz and
 * interval text, to_char / to_timestamp / to_date formats, and TZif files.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target).  By hand, from the repository root:
 */
// fuzz-sources: core core/op core/formats
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
//   tests/fuzz/fuzz_time.c core/[a-z]*.c -lm -lpthread -o fuzz_time
// ./fuzz_time -max_total_time=60 tests/fuzz/corpus/fuzz_time
/*
 * The first byte picks the parser; the rest is its input.  Checks beyond
 * the sanitizers:
 *   - a timestamptz or interval that parses prints text that parses back
 *     to the same value (the printed form is PostgreSQL's, so this is the
 *     warehouse round trip);
 *   - formats: to_timestamp / to_date over text and format from the input,
 *     to_char of awkward instants by the format: success or a message,
 *     never a write past the result;
 *   - a TZif file that loads answers offsets within +-26 hours anywhere
 *     in time, for instants and for local times.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/expr.h"
#include "core/tz.h"
#include "core/types.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz_time: %s\n", what);
    abort();
}

static void check_timestamptz(const char *s, size_t n)
{
    int64_t v, back;
    mr_err err;
    if (mr_parse_timestamptz(s, n, &v, NULL, &err) != 0) {
        if (!err.msg[0])
            die("timestamptz refused without a message");
        return;
    }
    char buf[48];
    size_t len = mr_format_timestamptz(v, buf, sizeof buf);
    if (len >= sizeof buf)
        die("timestamptz text too long");
    if (mr_parse_timestamptz(buf, len, &back, NULL, &err) != 0 || back != v)
        die("timestamptz does not read back");
}

static void check_interval(const char *s, size_t n)
{
    mr_interval v, back;
    mr_err err;
    if (mr_parse_interval(s, n, &v, &err) != 0) {
        if (!err.msg[0])
            die("interval refused without a message");
        return;
    }
    char buf[128];
    size_t len = mr_format_interval(&v, buf, sizeof buf);
    if (len >= 96)
        die("interval text too long");
    if (mr_parse_interval(buf, len, &back, &err) != 0 || back.months != v.months ||
        back.days != v.days || back.micros != v.micros)
        die("interval does not read back");
}

/* Appends s[0..n) to d as a quoted SQL literal. */
static size_t quote(char *d, const char *s, size_t n)
{
    size_t o = 0;
    d[o++] = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            d[o++] = '\'';
        d[o++] = s[i] ? s[i] : ' ';
    }
    d[o++] = '\'';
    return o;
}

static void eval_text(const char *text)
{
    mr_expr *e = NULL;
    mr_err err;
    mr_schema *s = mr_schema_create(0);
    if (!s)
        die("out of memory");
    if (mr_expr_parse(text, &e, &err) == 0 && mr_expr_bind(e, s, &err) == 0) {
        mr_batch *b = mr_batch_create(s, 1);
        if (!b)
            die("out of memory");
        b->nrows = 1;
        mr_column out;
        if (mr_column_init(&out, mr_expr_type(e), 1) != 0)
            die("out of memory");
        int rc = mr_expr_eval(e, b, &out, &err);
        if (rc != 0 && !err.msg[0])
            die("evaluation failed without a message");
        mr_column_free(&out);
        mr_batch_destroy(b);
    } else if (!err.msg[0]) {
        die("refused without a message");
    }
    mr_expr_destroy(e);
    mr_schema_destroy(s);
}

/* to_timestamp / to_date with text and format split at the first '|';
 * to_char of a few instants by the whole input as format. */
static void check_formats(const char *s, size_t n)
{
    const char *bar = memchr(s, '|', n);
    size_t tl = bar ? (size_t)(bar - s) : n;
    const char *f = bar ? bar + 1 : "YYYY-MM-DD HH24:MI:SS";
    size_t fl = bar ? n - tl - 1 : strlen(f);
    char *text = malloc(2 * n + 200);
    if (!text)
        die("out of memory");
    static const char *const fns[] = {"to_timestamp", "to_date"};
    for (int k = 0; k < 2; k++) {
        size_t o = (size_t)sprintf(text, "CAST(%s(", fns[k]);
        o += quote(text + o, s, tl);
        text[o++] = ',';
        o += quote(text + o, f, fl);
        strcpy(text + o, ") AS text)");
        eval_text(text);
    }
    static const char *const when[] = {"TIMESTAMPTZ '2024-02-29 23:59:59.999999+14'",
                                       "TIMESTAMP '0001-01-01 00:00'", "DATE '9999-12-31'",
                                       "TIMESTAMP '294276-12-31 23:59:59.999999'"};
    for (int k = 0; k < 4; k++) {
        size_t o = (size_t)sprintf(text, "to_char(%s, ", when[k]);
        o += quote(text + o, s, n);
        strcpy(text + o, ")");
        eval_text(text);
    }
    free(text);
}

static void check_tzif(const uint8_t *d, size_t n)
{
    mr_tz *z;
    mr_err err;
    if (mr_tz_parse(d, n, &z, &err) != 0)
        return;
    static const int64_t at[] = {INT64_C(-9000000000000), -2208988800, -1, 0, 1711846800,
                                 2147483647, 4102444800, INT64_C(9000000000000)};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        int32_t a = mr_tz_offset_at(z, at[i]), b = mr_tz_offset_local(z, at[i]);
        if (a < -26 * 3600 || a > 26 * 3600 || b < -26 * 3600 || b > 26 * 3600)
            die("zone offset out of range");
    }
    mr_tz_free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0: check_timestamptz(s, n); break;
    case 1: check_interval(s, n); break;
    case 2: check_formats(s, n); break;
    default: check_tzif(data + 1, n); break;
    }
    return 0;
}
