/* tz.c - TZif files and POSIX TZ rules, read into immutable zones.
 *
 * A TZif file (RFC 8536) holds a sorted list of transition instants, the
 * local time type (UTC offset) that starts at each, and a footer with a
 * POSIX TZ rule for instants after the last transition.  We read the
 * version 2+ body (64-bit times) when there is one, else the version 1
 * body, keep transitions and offsets in two arrays, and answer "offset at
 * instant" by binary search, falling back to the rule past the end.
 *
 * Local time to UTC is not a function (clocks skip and repeat hours), so
 * mr_tz_offset_local asks which of the offsets in force two days before
 * and after reads the wall time consistently, and breaks ties the way
 * PostgreSQL does (see tz.h).  Zones are never modified after loading,
 * hence safe to share between threads; files are read with plain stdio.
 */
#include "core/tz.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/types.h"

#define TZ_DIR "/usr/share/zoneinfo"
#define TZ_MAX_FILE (1 << 20) /* real files are a few KB */

/* A POSIX TZ rule date: Mm.w.d (kind 'M'), Jn (kind 'J', no leap day) or n
 * (kind 'N', zero-based with leap day); secs: the local time of day. */
typedef struct tz_rdate {
    char kind;
    int m, w, d;
    int32_t secs;
} tz_rdate;

typedef struct tz_rule {
    bool present, has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    tz_rdate start, end;
} tz_rule;

struct mr_tz {
    char *name;
    size_t ntrans;
    int64_t *trans;  /* transition instants, ascending */
    int32_t *off;    /* offset in force from trans[i] on */
    int32_t off0;    /* offset before the first transition */
    tz_rule rule;    /* after the last transition (when present) */
};

/* ---- the POSIX rule ------------------------------------------------------ */

/* Skips a zone abbreviation: <...> or three or more letters. */
static const char *rule_name(const char *p)
{
    if (*p == '<') {
        const char *q = strchr(p, '>');
        return q ? q + 1 : NULL;
    }
    const char *q = p;
    while (isalpha((unsigned char)*q))
        q++;
    return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]] as seconds; hours up to 167 (RFC 8536 extension). */
static const char *rule_time(const char *p, int32_t *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    int32_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
        if (!isdigit((unsigned char)*p))
            return NULL;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 3)
            v[k] = v[k] * 10 + (*p++ - '0'), digits++;
        if (*p != ':' || k == 2)
            break;
        p++;
    }
    if (v[0] > 167 || v[1] > 59 || v[2] > 59)
        return NULL;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return p;
}

static const char *rule_num(const char *p, int *out, int lo, int hi)
{
    int v = 0, digits = 0;
    while (isdigit((unsigned char)*p) && digits < 4)
        v = v * 10 + (*p++ - '0'), digits++;
    if (!digits || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

static const char *rule_date(const char *p, tz_rdate *r)
{
    r->secs = 7200; /* 02:00 by default */
    if (*p == 'M') {
        r->kind = 'M';
        if (!(p = rule_num(p + 1, &r->m, 1, 12)) || *p++ != '.' ||
            !(p = rule_num(p, &r->w, 1, 5)) || *p++ != '.' || !(p = rule_num(p, &r->d, 0, 6)))
            return NULL;
    } else if (*p == 'J') {
        r->kind = 'J';
        if (!(p = rule_num(p + 1, &r->d, 1, 365)))
            return NULL;
    } else {
        r->kind = 'N';
        if (!(p = rule_num(p, &r->d, 0, 365)))
            return NULL;
    }
    if (*p == '/' && !(p = rule_time(p + 1, &r->secs)))
        return NULL;
    return p;
}

/* Parses "STDoff[DST[off][,start[/time],end[/time]]]".  POSIX offsets are
 * west of UTC, so they are negated. */
static bool rule_parse(const char *s, tz_rule *r)
{
    memset(r, 0, sizeof *r);
    const char *p = rule_name(s);
    int32_t t;
    if (!p || !(p = rule_time(p, &t)))
        return false;
    r->std_off = -t;
    r->present = true;
    if (*p == '\0')
        return true;
    if (!(p = rule_name(p)))
        return false;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (!(p = rule_time(p, &t)))
            return false;
        r->dst_off = -t;
    }
    if (*p == '\0') { /* no dates: the US rules POSIX implies */
        r->start = (tz_rdate){'M', 3, 2, 0, 7200};
        r->end = (tz_rdate){'M', 11, 1, 0, 7200};
        return true;
    }
    if (*p++ != ',' || !(p = rule_date(p, &r->start)) || *p++ != ',' ||
        !(p = rule_date(p, &r->end)) || *p != '\0')
        return false;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Seconds since epoch of the rule date in year y, as local time. */
static int64_t rule_local(const tz_rdate *r, int64_t y)
{
    int64_t day;
    if (r->kind == 'J') {
        day = mr_days_from_civil(y, 1, 1) + r->d - 1;
        if (is_leap(y) && r->d >= 60)
            day++;
    } else if (r->kind == 'N') {
        day = mr_days_from_civil(y, 1, 1) + r->d;
    } else {
        int64_t first = mr_days_from_civil(y, (unsigned)r->m, 1);
        int64_t dow = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
        day = first + ((r->d - dow) % 7 + 7) % 7 + (int64_t)(r->w - 1) * 7;
        static const int mlen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int len = mlen[r->m - 1] + (r->m == 2 && is_leap(y));
        while (day >= first + len)
            day -= 7;
    }
    return day * 86400 + r->secs;
}

static int32_t rule_offset(const tz_rule *r, int64_t utc)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t days = utc / 86400 - (utc % 86400 < 0);
    int64_t y;
    unsigned m, d;
    mr_civil_from_days((int32_t)days, &y, &m, &d);
    /* the year's changes, as instants; check the neighbouring years too
     * since a change near New Year may fall in the other UTC year */
    for (int64_t yy = y + 1; yy >= y - 1; yy--) {
        int64_t start = rule_local(&r->start, yy) - r->std_off;
        int64_t end = rule_local(&r->end, yy) - r->dst_off;
        if (start < end) {
            if (utc >= end)
                return r->std_off;
            if (utc >= start)
                return r->dst_off;
        } else {
            if (utc >= start)
                return r->dst_off;
            if (utc >= end)
                return r->std_off;
        }
    }
    return r->std_off;
}

/* ---- TZif ---------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_hdr {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_hdr;

static bool hdr_read(const unsigned char *p, size_t len, tzif_hdr *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    return h->type >= 1 && h->type <= 256 && h->time <= 100000 && h->leap <= 100000 &&
           h->chars <= 100000 && (h->isut == 0 || h->isut == h->type) &&
           (h->isstd == 0 || h->isstd == h->type);
}

static size_t body_len(const tzif_hdr *h, int tsize)
{
    return (size_t)h->time * (size_t)(tsize + 1) + (size_t)h->type * 6 + h->chars +
           (size_t)h->leap * (size_t)(tsize + 4) + h->isstd + h->isut;
}

int mr_tz_parse(const unsigned char *data, size_t len, mr_tz **out, mr_err *err)
{
    *out = NULL;
    tzif_hdr h;
    if (!hdr_read(data, len, &h))
        goto bad;
    const unsigned char *p = data + 44;
    size_t left = len - 44;
    int tsize = 4;
    if (data[4] >= '2') { /* skip the 32-bit body for the 64-bit one */
        size_t skip = body_len(&h, 4);
        if (skip > left || !hdr_read(p + skip, left - skip, &h))
            goto bad;
        p += skip + 44;
        left -= skip + 44;
        tsize = 8;
    }
    size_t blen = body_len(&h, tsize);
    if (blen > left)
        goto bad;
    mr_tz *tz = calloc(1, sizeof *tz);
    if (!tz)
        return mr_err_set(err, MR_ENOMEM, "out of memory loading a time zone");
    tz->ntrans = h.time;
    tz->trans = malloc((h.time ? h.time : 1) * sizeof *tz->trans);
    tz->off = malloc((h.time ? h.time : 1) * sizeof *tz->off);
    if (!tz->trans || !tz->off) {
        mr_tz_free(tz);
        return mr_err_set(err, MR_ENOMEM, "out of memory loading a time zone");
    }
    const unsigned char *times = p, *idx = p + (size_t)h.time * tsize;
    const unsigned char *types = idx + h.time;
    for (uint32_t i = 0; i < h.time; i++) {
        tz->trans[i] = tsize == 8 ? be64(times + (size_t)i * 8)
                                  : (int64_t)(int32_t)be32(times + (size_t)i * 4);
        if (idx[i] >= h.type || (i && tz->trans[i] <= tz->trans[i - 1])) {
            mr_tz_free(tz);
            goto bad;
        }
        tz->off[i] = (int32_t)be32(types + (size_t)idx[i] * 6);
    }
    /* before the first transition: the first standard type (RFC 8536 3.2
     * says type 0) */
    tz->off0 = (int32_t)be32(types);
    for (uint32_t i = 0; i < h.type; i++) {
        int32_t o = (int32_t)be32(types + (size_t)i * 6);
        if (o < -25 * 3600 || o > 26 * 3600) {
            mr_tz_free(tz);
            goto bad;
        }
    }
    p += blen;
    left -= blen;
    if (tsize == 8 && left >= 2 && p[0] == '\n') {
        const unsigned char *e = memchr(p + 1, '\n', left - 1);
        if (e && e - p - 1 < 128) {
            char rule[128];
            memcpy(rule, p + 1, (size_t)(e - p - 1));
            rule[e - p - 1] = '\0';
            if (rule[0] && !rule_parse(rule, &tz->rule)) {
                mr_tz_free(tz);
                goto bad;
            }
        }
    }
    *out = tz;
    return 0;
bad:
    return mr_err_set(err, MR_EPARSE, "not a valid TZif time zone file");
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 200 || s[0] == '/' || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!isalnum((unsigned char)c) && c != '/' && c != '_' && c != '+' && c != '-' &&
            c != '.')
            return false;
        if (c == '.' && i + 1 < n && s[i + 1] == '.')
            return false;
        if (c == '/' && i + 1 < n && s[i + 1] == '.')
            return false;
    }
    return true;
}

int mr_tz_load(const char *dir, const char *name, size_t n, mr_tz **out, mr_err *err)
{
    *out = NULL;
    if (!name_ok(name, n))
        return mr_err_set(err, MR_ENOTFOUND, "time zone \"%.*s\" not recognized",
                          (int)(n > 64 ? 64 : n), name);
    char path[512];
    const char *file = name;
    size_t flen = n;
    if ((n == 3 && strncasecmp(name, "utc", 3) == 0) || (n == 3 && strncasecmp(name, "gmt", 3) == 0)) {
        file = "UTC";
        flen = 3;
    }
    snprintf(path, sizeof path, "%s/%.*s", dir ? dir : TZ_DIR, (int)flen, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mr_err_set(err, MR_ENOTFOUND,
                          "time zone \"%.*s\" not recognized (no such zone in %s)", (int)n, name,
                          dir ? dir : TZ_DIR);
    unsigned char *buf = malloc(TZ_MAX_FILE);
    if (!buf) {
        fclose(f);
        return mr_err_set(err, MR_ENOMEM, "out of memory loading a time zone");
    }
    size_t len = fread(buf, 1, TZ_MAX_FILE, f);
    fclose(f);
    int rc = mr_tz_parse(buf, len, out, err);
    free(buf);
    if (rc < 0) {
        if (rc == MR_EPARSE)
            return mr_err_set(err, MR_ENOTFOUND, "time zone \"%.*s\" not recognized (%s is "
                              "not a zone file)", (int)n, name, path);
        return rc;
    }
    if (!((*out)->name = strndup(name, n))) {
        mr_tz_free(*out);
        *out = NULL;
        return mr_err_set(err, MR_ENOMEM, "out of memory loading a time zone");
    }
    return 0;
}

void mr_tz_free(mr_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->off);
    free(tz);
}

const char *mr_tz_name(const mr_tz *tz)
{
    return tz->name ? tz->name : "?";
}

int32_t mr_tz_offset_at(const mr_tz *tz, int64_t utc)
{
    if (tz->ntrans == 0 || utc < tz->trans[0])
        return tz->ntrans == 0 && tz->rule.present ? rule_offset(&tz->rule, utc) : tz->off0;
    if (utc >= tz->trans[tz->ntrans - 1] && tz->rule.present)
        return rule_offset(&tz->rule, utc);
    size_t lo = 0, hi = tz->ntrans; /* last transition <= utc */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= utc)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

int32_t mr_tz_offset_local(const mr_tz *tz, int64_t local)
{
    int32_t before = mr_tz_offset_at(tz, local - 86400 - 26 * 3600);
    int32_t after = mr_tz_offset_at(tz, local + 86400 + 26 * 3600);
    bool ok_b = mr_tz_offset_at(tz, local - before) == before;
    bool ok_a = mr_tz_offset_at(tz, local - after) == after;
    if (before == after) {
        int32_t o = mr_tz_offset_at(tz, local - before);
        return ok_b ? before : o;
    }
    if (ok_b && !ok_a)
        return before;
    if (ok_a && !ok_b)
        return after;
    /* A repeated hour (both read it) or a skipped one (neither does):
     * PostgreSQL takes the smaller offset, i.e. the later instant -- the
     * standard-time reading of a repeated 01:30, and for a skipped 02:30
     * the offset before the change, which lands on 03:30 summer time. */
    return after < before ? after : before;
}
