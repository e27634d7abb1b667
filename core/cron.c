/* cron.c - cron expressions (5 fields) and their next run time in a time zone.
 *
 * Parsing turns each field into a bit set.  The next run is searched on
 * the zone's wall clock, a day, an hour, then a minute at a time (days
 * and hours that cannot match are skipped whole), and each matching wall
 * time is turned into UTC with mr_tz_offset_local, whose choice for
 * skipped and repeated times (PostgreSQL's) gives the DST rules cron.h
 * states.  Wall-clock arithmetic uses gmtime_r on "local seconds", so no
 * process-wide TZ state is touched.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/cron.h"

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i, or NULL */
} field_def;

static const char *const MONTHS[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const DAYS[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"};

static const field_def FIELDS[5] = {{"minute", 0, 59, NULL},
                                    {"hour", 0, 23, NULL},
                                    {"day of month", 1, 31, NULL},
                                    {"month", 1, 12, MONTHS},
                                    {"day of week", 0, 7, DAYS}};

static int fail(mr_err *err, const char *text, const char *at, const char *fmt, const char *what)
{
    int col = (int)(at - text) + 1;
    mr_err_set(err, MR_EPARSE, "cron expression column %d: %s", col, what ? what : fmt);
    if (err)
        err->offset = col - 1;
    return MR_EPARSE;
}

/* A number or a name of field f at *p; advances *p. */
static int value(const field_def *f, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        long v = 0;
        while (isdigit((unsigned char)*s) && v < 1000)
            v = v * 10 + (*s++ - '0');
        if (isdigit((unsigned char)*s))
            return -1;
        *p = s;
        *out = (int)v;
        return 0;
    }
    if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
        isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3]))
        for (int i = 0; i <= f->hi - f->lo; i++)
            if (strncasecmp(s, f->names[i], 3) == 0) {
                *p = s + 3;
                *out = f->lo + i;
                return 0;
            }
    return -1;
}

/* One field (up to a space or the end) into bits; *any: it was `*`. */
static int parse_field(const char *text, const char **p, const field_def *f, uint64_t *bits,
                       int *any, mr_err *err)
{
    char msg[160];
    *bits = 0;
    *any = 0;
    for (;;) {
        const char *start = *p;
        int lo, hi, step = 1, star = 0;
        if (**p == '*') {
            star = 1;
            lo = f->lo;
            hi = f->hi;
            (*p)++;
        } else {
            if (value(f, p, &lo) < 0) {
                snprintf(msg, sizeof msg, "%s: expected a number%s, '*' or a list", f->name,
                         f->names ? " or a name" : "");
                return fail(err, text, *p, NULL, msg);
            }
            hi = lo;
            if (**p == '-') {
                (*p)++;
                if (value(f, p, &hi) < 0) {
                    snprintf(msg, sizeof msg, "%s: expected the end of the range", f->name);
                    return fail(err, text, *p, NULL, msg);
                }
            } else if (**p == '/') {
                hi = f->hi; /* a/n: from a to the end */
            }
        }
        if (**p == '/') {
            (*p)++;
            const char *sp = *p;
            if (!isdigit((unsigned char)**p) || value(f, p, &step) < 0 || step < 1 ||
                step > f->hi - f->lo + 1) {
                snprintf(msg, sizeof msg, "%s: a step must be a number from 1 to %d", f->name,
                         f->hi - f->lo + 1);
                return fail(err, text, sp, NULL, msg);
            }
        }
        if (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi) {
            snprintf(msg, sizeof msg, "%s: %d is out of range %d-%d", f->name,
                     lo < f->lo || lo > f->hi ? lo : hi, f->lo, f->hi);
            return fail(err, text, start, NULL, msg);
        }
        if (lo > hi) {
            snprintf(msg, sizeof msg, "%s: the range %d-%d runs backwards", f->name, lo, hi);
            return fail(err, text, start, NULL, msg);
        }
        if (star && step == 1)
            *any = 1;
        for (int v = lo; v <= hi; v += step)
            *bits |= 1ULL << v;
        if (**p != ',')
            break;
        (*p)++;
    }
    if (**p && **p != ' ' && **p != '\t') {
        snprintf(msg, sizeof msg, "%s: unexpected '%c'", f->name,
                 isprint((unsigned char)**p) ? **p : '?');
        return fail(err, text, *p, NULL, msg);
    }
    return 0;
}

int mr_cron_parse(const char *text, mr_cron *out, mr_err *err)
{
    static const struct { const char *name, *expr; } MACROS[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '@') {
        size_t n = strcspn(p, " \t");
        const char *rest = p + n;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        for (size_t i = 0; i < sizeof MACROS / sizeof *MACROS; i++)
            if (strlen(MACROS[i].name) == n && strncasecmp(p, MACROS[i].name, n) == 0 && !*rest)
                return mr_cron_parse(MACROS[i].expr, out, err);
        return fail(err, text, p, NULL,
                    "unknown shorthand (@yearly, @monthly, @weekly, @daily, @hourly)");
    }
    uint64_t bits[5];
    int any[5];
    for (int f = 0; f < 5; f++) {
        if (!*p)
            return fail(err, text, p, NULL,
                        f == 0 ? "empty: expected 5 fields (minute hour day-of-month month "
                                 "day-of-week)"
                               : "expected 5 fields (minute hour day-of-month month day-of-week)");
        int rc = parse_field(text, &p, &FIELDS[f], &bits[f], &any[f], err);
        if (rc < 0)
            return rc;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (*p)
        return fail(err, text, p, NULL, "more than 5 fields");
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->mday = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->wday = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f); /* 7 is Sunday */
    out->mday_any = any[2];
    out->wday_any = any[4];
    return 0;
}

static int day_matches(const mr_cron *c, const struct tm *tm)
{
    if (!(c->month >> (tm->tm_mon + 1) & 1))
        return 0;
    int md = (int)(c->mday >> tm->tm_mday & 1), wd = c->wday >> tm->tm_wday & 1;
    if (c->mday_any && c->wday_any)
        return 1;
    if (c->mday_any)
        return wd;
    if (c->wday_any)
        return md;
    return md || wd;
}

int64_t mr_cron_next(const mr_cron *c, const mr_tz *tz, int64_t after_utc)
{
    /* wall-clock seconds of the minute after after_utc's */
    int64_t local = after_utc + (tz ? mr_tz_offset_at(tz, after_utc) : 0);
    /* a fall-back hour repeats wall times: search from an hour back, the
     * UTC check below drops what is not after after_utc */
    int64_t t = local - (local % 60 + 60) % 60 + 60 - (tz ? 3600 : 0);
    int64_t end = local + 5LL * 366 * 86400;
    while (t < end) {
        time_t tt = (time_t)t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm))
            return -1;
        if (!day_matches(c, &tm)) {
            t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
            continue;
        }
        if (!(c->hour >> tm.tm_hour & 1)) {
            t += 3600 - (tm.tm_min * 60 + tm.tm_sec);
            continue;
        }
        if (!(c->minute >> tm.tm_min & 1)) {
            t += 60 - tm.tm_sec;
            continue;
        }
        int64_t utc = t - (tz ? mr_tz_offset_local(tz, t) : 0);
        if (utc > after_utc)
            return utc;
        t += 60;
    }
    return -1;
}
