/* fuzz_cron.c - libFuzzer target for cron expressions (core/cron.c).
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it (FUZZ_SECONDS per
 * target).  By hand, from the repository root:
 */
// fuzz-sources: core core/op core/formats
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
//   tests/fuzz/fuzz_cron.c core/[a-z]*.c -lm -lpthread -o fuzz_cron
// ./fuzz_cron -max_total_time=60 tests/fuzz/corpus/fuzz_cron
/*
 * The first 4 bytes pick an instant (in 2000-2100) and a zone; the rest is
 * the expression.  Checks beyond the sanitizers:
 *   - a refused expression has a message and an offset inside the text;
 *   - a parsed one has at least one value in each field's bit set and
 *     none outside its range;
 *   - its next run time is strictly later, within 5 years and a day, and
 *     falls on a wall-clock minute the expression names (or, for a time a
 *     spring-forward change skipped, that change earlier).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cron.h"
#include "core/tz.h"

static mr_tz *zones[3];

/* Whether the wall-clock minute local is one c names (day fields aside). */
static int minute_named(const mr_cron *c, int64_t local)
{
    time_t tt = (time_t)local;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        abort();
    return (c->minute >> tm.tm_min & 1) && (c->hour >> tm.tm_hour & 1) &&
           (c->month >> (tm.tm_mon + 1) & 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!zones[0]) {
        static const char *names[] = {"Europe/Paris", "America/New_York", "Australia/Lord_Howe"};
        for (int i = 0; i < 3; i++) {
            mr_err e;
            if (mr_tz_load(NULL, names[i], strlen(names[i]), &zones[i], &e) != 0)
                zones[i] = NULL;
        }
    }
    if (size < 4 || size > 512)
        return 0;
    uint32_t pick = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 |
                    data[3];
    char *text = malloc(size - 4 + 1);
    if (!text)
        return 0;
    memcpy(text, data + 4, size - 4);
    text[size - 4] = '\0';
    size_t len = strlen(text);
    mr_cron c;
    mr_err err;
    mr_err_clear(&err);
    if (mr_cron_parse(text, &c, &err) != 0) {
        if (!err.msg[0] || err.offset < 0 || (size_t)err.offset > len)
            abort();
        free(text);
        return 0;
    }
    if (!c.minute || c.minute >> 60 || !c.hour || c.hour >> 24 || !(c.mday >> 1) ||
        (c.mday & 1) || !(c.month >> 1) || (c.month & 1) || c.month >> 13 || !c.wday ||
        c.wday >> 7)
        abort();
    int64_t after = 946684800 + (int64_t)(pick % (100U * 365 * 86400 / 60)) * 60 + pick % 61;
    const mr_tz *tz = zones[pick % 4 == 3 ? 0 : pick % 4];
    if (pick % 4 == 3)
        tz = NULL;
    int64_t next = mr_cron_next(&c, tz, after);
    if (next != -1) {
        if (next <= after || next > after + 5LL * 366 * 86400 + 86400 || next % 60)
            abort();
        int64_t local = next + (tz ? mr_tz_offset_at(tz, next) : 0);
        if (!minute_named(&c, local)) {
            /* only a wall time a spring-forward change skipped, run at the
             * same wall time in summer time: the named minute is earlier
             * by the change, and did not exist */
            int64_t shift = tz ? mr_tz_offset_at(tz, next) - mr_tz_offset_at(tz, next - 4 * 3600)
                               : 0;
            if (shift <= 0 || shift > 7200 || !minute_named(&c, local - shift))
                abort();
        }
    }
    free(text);
    return 0;
}
