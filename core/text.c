/* text.c - parsing and printing the text forms of millrace's column types.
 *
 * These functions sit on the hottest path of an ETL job (every CSV field
 * goes through one of them), so they work on a (pointer, length) slice
 * straight out of the read buffer, never allocate, and parse integers and
 * decimals by hand instead of through strtol/strtod:
 *
 *   integers  an unsigned accumulator checked against the magnitude limit of
 *             the sign before every step, so INT64_MIN parses and
 *             INT64_MAX + 1 is MR_EOVERFLOW.
 *   decimals  exact: digits accumulate into an unsigned 64-bit integer in
 *             units of 10^-scale; the first digit past the scale decides
 *             rounding (half away from zero); the result must stay below
 *             10^precision.  An exponent ("1.5e3") shifts the digits.
 *   floats    strtod on a bounded NUL-terminated copy (correct rounding is
 *             worth its cost there); hex forms and blanks are refused so
 *             that the accepted language does not depend on the C library.
 *   dates     proleptic Gregorian, converted with the days-from-civil
 *             arithmetic on 400-year eras (no tables, no time zones).
 *
 * Printing follows PostgreSQL's output so that values written to files and
 * to the warehouse look the same: decimals with exactly `scale` fraction
 * digits, floats in the shortest form that reads back to the same double
 * (fixed notation for decimal exponents -4..14, else d.ddde+XX), timestamps
 * with a fraction only when it is non-zero, trailing zeros trimmed.
 *
 * Error messages quote at most 64 bytes of the offending text.
 */
#include "core/types.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_QUOTE_MAX 64

/* The text for an error message: at most TEXT_QUOTE_MAX bytes of s. */
#define TQ(s, n) (int)((n) > TEXT_QUOTE_MAX ? TEXT_QUOTE_MAX : (n)), (s)

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

static inline char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* True when s[0..n) equals the lower-case word w, ignoring ASCII case. */
static bool eq_nocase(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n; i++)
        if (w[i] == '\0' || lower_ascii(s[i]) != w[i])
            return false;
    return w[i] == '\0';
}

/* ---- booleans ----------------------------------------------------------- */

int mr_parse_bool(const char *s, size_t n, uint8_t *out, mr_err *err)
{
    static const char *const yes[] = {"true", "t", "1", "yes"};
    static const char *const no[] = {"false", "f", "0", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (eq_nocase(s, n, yes[i])) {
            *out = 1;
            return 0;
        }
        if (eq_nocase(s, n, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return mr_err_set(err, MR_EPARSE,
                      "invalid bool '%.*s' (expected true/false/t/f/1/0/yes/no)", TQ(s, n));
}

/* ---- integers ----------------------------------------------------------- */

/* Parses [+-]digits into a sign and a magnitude no larger than limit_pos
 * (for '+') or limit_neg (for '-').  Returns 0, MR_EPARSE or MR_EOVERFLOW
 * without a message. */
static int parse_int_raw(const char *s, size_t n, uint64_t limit_pos, uint64_t limit_neg,
                         bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        *neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return MR_EPARSE;
    uint64_t limit = *neg ? limit_neg : limit_pos;
    uint64_t acc = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9)
            return MR_EPARSE;
        if (acc > (limit - d) / 10) {
            /* Keep going only to tell "too big" from "not a number". */
            for (i++; i < n; i++)
                if (!is_digit(s[i]))
                    return MR_EPARSE;
            return MR_EOVERFLOW;
        }
        acc = acc * 10 + d;
    }
    *mag = acc;
    return 0;
}

int mr_parse_int64(const char *s, size_t n, int64_t *out, mr_err *err)
{
    bool neg;
    uint64_t mag;
    int rc = parse_int_raw(s, n, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, &neg, &mag);
    if (rc == MR_EPARSE)
        return mr_err_set(err, rc, "invalid int64 '%.*s'", TQ(s, n));
    if (rc == MR_EOVERFLOW)
        return mr_err_set(err, rc, "int64 value '%.*s' out of range", TQ(s, n));
    /* -(2^63) does not fit a positive int64: negate in unsigned arithmetic. */
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return 0;
}

int mr_parse_int32(const char *s, size_t n, int32_t *out, mr_err *err)
{
    bool neg;
    uint64_t mag;
    int rc = parse_int_raw(s, n, (uint64_t)INT32_MAX, (uint64_t)INT32_MAX + 1, &neg, &mag);
    if (rc == MR_EPARSE)
        return mr_err_set(err, rc, "invalid int32 '%.*s'", TQ(s, n));
    if (rc == MR_EOVERFLOW)
        return mr_err_set(err, rc, "int32 value '%.*s' out of range", TQ(s, n));
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return 0;
}

/* ---- floats ------------------------------------------------------------- */

#define FLOAT_TEXT_MAX 511

int mr_parse_float64(const char *s, size_t n, double *out, mr_err *err)
{
    char buf[FLOAT_TEXT_MAX + 1];
    if (n == 0)
        return mr_err_set(err, MR_EPARSE, "invalid float64 ''");
    if (n > FLOAT_TEXT_MAX)
        return mr_err_set(err, MR_EPARSE, "invalid float64 '%.*s...' (longer than %d bytes)",
                          TQ(s, n), FLOAT_TEXT_MAX);
    /* strtod skips blanks and reads hex; the text form allows neither. */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == 'x' || c == 'X' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
            c == '\v' || c == '\f' || c == '\0')
            return mr_err_set(err, MR_EPARSE, "invalid float64 '%.*s'", TQ(s, n));
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod accepts "nan(chars)"; only the plain spellings are ours. */
    const char *body = buf + (buf[0] == '-' || buf[0] == '+');
    size_t blen = n - (size_t)(body - buf);
    if (blen >= 3 && lower_ascii(body[0]) == 'n') {
        if (!eq_nocase(body, blen, "nan"))
            return mr_err_set(err, MR_EPARSE, "invalid float64 '%.*s'", TQ(s, n));
    }
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + n)
        return mr_err_set(err, MR_EPARSE, "invalid float64 '%.*s'", TQ(s, n));
    /* As PostgreSQL's float8in: overflow, and underflow to zero, are out of
     * range; a subnormal result (ERANGE, not zero) is kept. */
    if (errno == ERANGE && (isinf(v) || v == 0.0))
        return mr_err_set(err, MR_EOVERFLOW, "float64 value '%.*s' out of range", TQ(s, n));
    *out = v;
    return 0;
}

/* Writes the shortest %.*e form of v that reads back as v; returns the
 * number of significant digits used. */
static int shortest_e(double v, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*e", prec - 1, v);
        if (strtod(buf, NULL) == v)
            return prec;
    }
    return 17;
}

size_t mr_format_float64(double v, char *buf, size_t cap)
{
    char out[64];
    size_t len = 0;
    if (isnan(v)) {
        len = (size_t)snprintf(out, sizeof out, "NaN");
    } else if (isinf(v)) {
        len = (size_t)snprintf(out, sizeof out, "%s", v < 0 ? "-Infinity" : "Infinity");
    } else if (v == 0) {
        len = (size_t)snprintf(out, sizeof out, "%s", signbit(v) ? "-0" : "0");
    } else {
        /* Take the shortest round-trip digits from %e, then lay them out
         * the way PostgreSQL does. */
        char e[64];
        shortest_e(v, e, sizeof e);
        char digits[24];
        int nd = 0;
        const char *p = e;
        bool neg = false;
        if (*p == '-') {
            neg = true;
            p++;
        }
        for (; *p && *p != 'e'; p++)
            if (is_digit(*p))
                digits[nd++] = *p;
        int exp10 = atoi(p + 1);
        while (nd > 1 && digits[nd - 1] == '0')
            nd--;
        char *o = out;
        if (neg)
            *o++ = '-';
        if (exp10 < -4 || exp10 >= 15) {
            *o++ = digits[0];
            if (nd > 1) {
                *o++ = '.';
                memcpy(o, digits + 1, (size_t)nd - 1);
                o += nd - 1;
            }
            o += sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        } else if (exp10 < 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp10 - 1; i++)
                *o++ = '0';
            memcpy(o, digits, (size_t)nd);
            o += nd;
        } else {
            for (int i = 0; i <= exp10; i++)
                *o++ = i < nd ? digits[i] : '0';
            if (nd > exp10 + 1) {
                *o++ = '.';
                memcpy(o, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
                o += nd - exp10 - 1;
            }
        }
        *o = '\0';
        len = (size_t)(o - out);
    }
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, out, k);
        buf[k] = '\0';
    }
    return len;
}

/* ---- decimals ----------------------------------------------------------- */

int mr_parse_decimal(const char *s, size_t n, int precision, int scale, int64_t *out,
                     mr_err *err)
{
    if (precision < 1 || precision > MR_DECIMAL_MAX_PRECISION || scale < 0 || scale > precision)
        return mr_err_set(err, MR_EINVAL, "bad decimal(%d,%d)", precision, scale);
    size_t i = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    /* Syntax pass: mantissa digits with at most one point, then an optional
     * exponent. */
    size_t mstart = i, dot = (size_t)-1;
    size_t ndig = 0, nint = 0;
    for (; i < n; i++) {
        if (is_digit(s[i])) {
            ndig++;
            if (dot == (size_t)-1)
                nint++;
        } else if (s[i] == '.' && dot == (size_t)-1) {
            dot = i;
        } else {
            break;
        }
    }
    size_t mend = i;
    if (ndig == 0)
        goto bad;
    int64_t exp10 = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '-' || s[i] == '+')) {
            eneg = s[i] == '-';
            i++;
        }
        if (i == n)
            goto bad;
        for (; i < n; i++) {
            if (!is_digit(s[i]))
                goto bad;
            if (exp10 < 100000) /* beyond this every value over- or underflows */
                exp10 = exp10 * 10 + (s[i] - '0');
        }
        if (eneg)
            exp10 = -exp10;
    }
    if (i != n)
        goto bad;

    /* Value pass.  The first mantissa digit has weight 10^(nint-1+exp10);
     * in units of 10^-scale that is position t = nint-1+exp10+scale, and t
     * drops by one per digit.  Digits with t >= 0 accumulate (acc is the
     * value in units of 10^t of the last one taken); the digit at t == -1
     * rounds; later ones cannot matter. */
    const uint64_t bound = (uint64_t)mr_pow10[precision];
    uint64_t acc = 0;
    int64_t t = (int64_t)nint - 1 + exp10 + scale;
    int64_t t_last = 0;
    unsigned round_digit = 0;
    for (size_t k = mstart; k < mend; k++) {
        if (s[k] == '.')
            continue;
        unsigned d = (unsigned)(s[k] - '0');
        if (t >= 0) {
            if (acc == 0 && d == 0) {
                /* leading zero: contributes nothing */
            } else {
                acc = acc * 10 + d;
                if (acc >= bound)
                    goto overflow;
            }
            t_last = t;
        } else if (t == -1) {
            round_digit = d;
            break;
        } else {
            break;
        }
        t--;
    }
    /* The mantissa may end before reaching units (e.g. "12" at scale 2). */
    if (acc != 0 && t_last > 0) {
        if (t_last > 18 || acc > (bound - 1) / (uint64_t)mr_pow10[t_last])
            goto overflow;
        acc *= (uint64_t)mr_pow10[t_last];
    }
    if (round_digit >= 5 && ++acc >= bound)
        goto overflow;
    *out = neg ? -(int64_t)acc : (int64_t)acc;
    return 0;
bad:
    return mr_err_set(err, MR_EPARSE, "invalid decimal '%.*s'", TQ(s, n));
overflow:
    return mr_err_set(err, MR_EOVERFLOW, "decimal value '%.*s' out of range for decimal(%d,%d)",
                      TQ(s, n), precision, scale);
}

size_t mr_format_decimal(int64_t v, int scale, char *buf, size_t cap)
{
    char tmp[48];
    char *end = tmp + sizeof tmp;
    char *p = end;
    /* Work on the unsigned magnitude so INT64_MIN prints too. */
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    int digits = 0;
    do {
        *--p = (char)('0' + mag % 10);
        mag /= 10;
        digits++;
        if (digits == scale && scale > 0)
            *--p = '.';
    } while (mag != 0 || digits < scale + 1);
    if (v < 0)
        *--p = '-';
    size_t len = (size_t)(end - p);
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, p, k);
        buf[k] = '\0';
    }
    return len;
}

/* ---- dates and timestamps ----------------------------------------------- */

/* Days from 1970-01-01 to y-m-d: shift the year to start in March so the
 * leap day is last, then count whole 400-year eras (146097 days each),
 * years in the era, and days in the year from a linear formula over the
 * month lengths 31,30,31,30,31 (March..July) repeating. */
int32_t mr_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int64_t)doe - 719468);
}

void mr_civil_from_days(int32_t days, int64_t *y, unsigned *m, unsigned *d)
{
    const int64_t z = (int64_t)days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return len[m - 1];
}

/* Reads exactly k digits at s into *v. */
static bool read_digits(const char *s, size_t k, unsigned *v)
{
    unsigned acc = 0;
    for (size_t i = 0; i < k; i++) {
        if (!is_digit(s[i]))
            return false;
        acc = acc * 10 + (unsigned)(s[i] - '0');
    }
    *v = acc;
    return true;
}

/* Parses "YYYY-MM-DD" at the start of s[0..n) (exactly 10 bytes). Returns
 * 0, or MR_EPARSE (bad syntax) / MR_EINVAL (out-of-range field) without a
 * message. */
static int parse_ymd(const char *s, size_t n, int32_t *out)
{
    unsigned y, m, d;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !read_digits(s, 4, &y) ||
        !read_digits(s + 5, 2, &m) || !read_digits(s + 8, 2, &d))
        return MR_EPARSE;
    if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return MR_EINVAL;
    *out = mr_days_from_civil(y, m, d);
    return 0;
}

int mr_parse_date(const char *s, size_t n, int32_t *out, mr_err *err)
{
    int rc = n == 10 ? parse_ymd(s, n, out) : MR_EPARSE;
    if (rc == MR_EPARSE)
        return mr_err_set(err, MR_EPARSE, "invalid date '%.*s' (expected YYYY-MM-DD)", TQ(s, n));
    if (rc < 0)
        return mr_err_set(err, MR_EPARSE, "date '%.*s' out of range (no such day)", TQ(s, n));
    return 0;
}

#define MICROS_PER_DAY INT64_C(86400000000)

int mr_parse_timestamp(const char *s, size_t n, int64_t *out, mr_err *err)
{
    int32_t days;
    int rc = parse_ymd(s, n, &days);
    if (rc == MR_EINVAL)
        goto range;
    if (rc < 0)
        goto bad;
    if (n == 10) {
        *out = (int64_t)days * MICROS_PER_DAY;
        return 0;
    }
    /* [ T]HH:MM[:SS[.f...]] */
    unsigned hh, mi, ss = 0;
    if (n < 16 || (s[10] != ' ' && s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        !read_digits(s + 11, 2, &hh) || !read_digits(s + 14, 2, &mi))
        goto bad;
    size_t i = 16;
    int64_t frac = 0;
    if (i < n) {
        if (s[i] != ':' || n < i + 3 || !read_digits(s + i + 1, 2, &ss))
            goto bad;
        i += 3;
        if (i < n) {
            if (s[i] != '.' || i + 1 == n)
                goto bad;
            i++;
            /* Up to 6 digits are microseconds; a 7th rounds half up. */
            int k = 0;
            for (; i < n; i++, k++) {
                if (!is_digit(s[i]))
                    goto bad;
                if (k < 6)
                    frac = frac * 10 + (s[i] - '0');
                else if (k == 6 && s[i] >= '5')
                    frac++;
            }
            for (; k < 6; k++)
                frac *= 10;
        }
    }
    if (hh > 23 || mi > 59 || ss > 59)
        goto range;
    *out = (int64_t)days * MICROS_PER_DAY +
           ((int64_t)hh * 3600 + (int64_t)mi * 60 + ss) * INT64_C(1000000) + frac;
    return 0;
bad:
    return mr_err_set(err, MR_EPARSE,
                      "invalid timestamp '%.*s' (expected YYYY-MM-DD HH:MM:SS[.ffffff])",
                      TQ(s, n));
range:
    return mr_err_set(err, MR_EPARSE, "timestamp '%.*s' out of range", TQ(s, n));
}

/* Writes "YYYY-MM-DD" (years past 9999 get more digits; years before 1
 * print as astronomical years with a sign). */
static int format_ymd(int32_t days, char *out)
{
    int64_t y;
    unsigned m, d;
    mr_civil_from_days(days, &y, &m, &d);
    return sprintf(out, "%04lld-%02u-%02u", (long long)y, m, d);
}

static size_t copy_out(const char *src, size_t len, char *buf, size_t cap)
{
    if (cap > 0) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(buf, src, k);
        buf[k] = '\0';
    }
    return len;
}

size_t mr_format_date(int32_t days, char *buf, size_t cap)
{
    char tmp[48];
    int len = format_ymd(days, tmp);
    return copy_out(tmp, (size_t)len, buf, cap);
}

size_t mr_format_timestamp(int64_t micros, char *buf, size_t cap)
{
    char tmp[64];
    /* Floor division so times before 1970 land in the right day. */
    int64_t days = micros / MICROS_PER_DAY;
    int64_t rem = micros % MICROS_PER_DAY;
    if (rem < 0) {
        rem += MICROS_PER_DAY;
        days--;
    }
    int len = format_ymd((int32_t)days, tmp);
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    len += sprintf(tmp + len, " %02d:%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60),
                   (int)(secs % 60));
    if (frac) {
        len += sprintf(tmp + len, ".%06d", (int)frac);
        while (tmp[len - 1] == '0')
            len--;
        tmp[len] = '\0';
    }
    return copy_out(tmp, (size_t)len, buf, cap);
}

/* ---- timestamptz ---------------------------------------------------------
 * The offset is found from the end: after the date (10 bytes) the text may
 * hold only '+' or '-' as an offset sign, so the first of them past byte 10
 * starts it.  PostgreSQL also takes zone names there; millrace takes
 * numeric offsets only (a name needs AT TIME ZONE). */

int mr_parse_timestamptz(const char *s, size_t n, int64_t *out, int *has_offset, mr_err *err)
{
    size_t end = n;
    int64_t off_s = 0;
    int has = 0;
    if (n > 10 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
        end = n - 1;
        has = 1;
    } else {
        for (size_t i = 10; i < n; i++)
            if (s[i] == '+' || s[i] == '-') {
                const char *o = s + i + 1;
                size_t k = n - i - 1;
                unsigned hh = 0, mm = 0;
                bool ok = (k == 2 && read_digits(o, 2, &hh)) ||
                          (k == 4 && read_digits(o, 2, &hh) && read_digits(o + 2, 2, &mm)) ||
                          (k == 5 && o[2] == ':' && read_digits(o, 2, &hh) &&
                           read_digits(o + 3, 2, &mm));
                if (!ok || hh > 15 || mm > 59)
                    return mr_err_set(err, MR_EPARSE,
                                      "invalid time zone offset in '%.*s' (expected Z, +HH, "
                                      "+HH:MM or +HHMM, at most 15:59)", TQ(s, n));
                off_s = ((int64_t)hh * 3600 + mm * 60) * (s[i] == '-' ? -1 : 1);
                end = i;
                has = 1;
                break;
            }
    }
    if (has && end > 10 && s[end - 1] == ' ')
        end--;
    int64_t local;
    int rc = mr_parse_timestamp(s, end, &local, err);
    if (rc < 0)
        return rc;
    *out = local - off_s * INT64_C(1000000);
    if (has_offset)
        *has_offset = has;
    return 0;
}

size_t mr_format_timestamptz(int64_t micros, char *buf, size_t cap)
{
    char tmp[80];
    size_t len = mr_format_timestamp(micros, tmp, sizeof tmp);
    memcpy(tmp + len, "+00:00", 7);
    return copy_out(tmp, len + 6, buf, cap);
}

/* ---- intervals -----------------------------------------------------------
 * PostgreSQL's "postgres" input: a sequence of "number unit" pairs, an
 * optional [-]HH:MM[:SS[.f]] clock part, an optional leading '@' and a
 * trailing "ago" that negates everything.  Units as PostgreSQL spells them.
 * A fraction spills down as PostgreSQL's does: years to whole months,
 * months to 30-day days then time, weeks and days to 24-hour time. */

typedef struct iv_unit {
    const char *names; /* '|'-separated spellings */
    int kind;          /* 0 months, 1 days, 2 micros */
    int64_t mul;       /* months, days or micros per unit */
} iv_unit;

static const iv_unit iv_units[] = {
    {"millennium|millennia|millenniums|mil|mils", 0, 12000},
    {"century|centuries|cent|c", 0, 1200},
    {"decade|decades|dec|decs", 0, 120},
    {"year|years|yr|yrs|y", 0, 12},
    {"month|months|mon|mons", 0, 1},
    {"week|weeks|w", 1, 7},
    {"day|days|d", 1, 1},
    {"hour|hours|hr|hrs|h", 2, INT64_C(3600000000)},
    {"minute|minutes|min|mins|m", 2, INT64_C(60000000)},
    {"second|seconds|sec|secs|s", 2, INT64_C(1000000)},
    {"millisecond|milliseconds|msec|msecs|ms", 2, INT64_C(1000)},
    {"microsecond|microseconds|usec|usecs|us", 2, 1},
};

static const iv_unit *iv_unit_find(const char *w, size_t n)
{
    for (size_t u = 0; u < sizeof iv_units / sizeof iv_units[0]; u++) {
        const char *p = iv_units[u].names;
        while (*p) {
            const char *q = strchr(p, '|');
            size_t l = q ? (size_t)(q - p) : strlen(p);
            if (l == n) {
                size_t i = 0;
                while (i < n && lower_ascii(w[i]) == p[i])
                    i++;
                if (i == n)
                    return &iv_units[u];
            }
            p += l + (q ? 1 : 0);
        }
    }
    return NULL;
}

#define IV_LIMIT 1e17 /* far past any interval a timestamp can use */
#define IV_MICROS_MAX 2e18

/* Adds value (with a fraction) of unit u to the three parts, spilling the
 * fraction down. */
static bool iv_add(mr_interval *v, double x, const iv_unit *u)
{
    if (!(x < IV_LIMIT && x > -IV_LIMIT))
        return false;
    if (u->kind == 0) {
        double months = x * (double)u->mul;
        double whole = months < 0 ? ceil(months) : floor(months);
        if (u->mul >= 12) /* PostgreSQL drops a year's fraction of a month */
            months = whole;
        double fd = (months - whole) * 30;
        double wd = fd < 0 ? ceil(fd) : floor(fd);
        double us = (fd - wd) * 86400e6;
        if (fabs((double)v->months + whole) > INT32_MAX || fabs((double)v->days + wd) > INT32_MAX)
            return false;
        if (fabs((double)v->micros + us) > IV_MICROS_MAX)
            return false;
        v->months += (int32_t)whole;
        v->days += (int32_t)wd;
        v->micros += (int64_t)llround(us);
    } else if (u->kind == 1) {
        double days = x * (double)u->mul;
        double whole = days < 0 ? ceil(days) : floor(days);
        if (fabs((double)v->days + whole) > INT32_MAX)
            return false;
        double us = (days - whole) * 86400e6;
        if (fabs((double)v->micros + us) > IV_MICROS_MAX)
            return false;
        v->days += (int32_t)whole;
        v->micros += (int64_t)llround(us);
    } else {
        double us = x * (double)u->mul;
        if (fabs((double)v->micros + us) > IV_MICROS_MAX)
            return false;
        v->micros += (int64_t)llround(us);
    }
    return true;
}

/* [-]H+:MM[:SS[.f]] at s[0..n) as microseconds. */
static bool iv_clock(const char *s, size_t n, int64_t *out)
{
    bool neg = false;
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    int64_t part[3] = {0, 0, 0};
    int np = 0;
    double frac = 0;
    while (np < 3) {
        size_t st = i;
        while (i < n && is_digit(s[i]) && i - st < 9)
            part[np] = part[np] * 10 + (s[i++] - '0');
        if (i == st)
            return false;
        np++;
        if (i < n && s[i] == ':' && np < 3) {
            i++;
            continue;
        }
        break;
    }
    if (np < 2 || part[1] > 59 || part[2] > 59)
        return false;
    if (i < n && s[i] == '.' && np == 3) {
        double scale = 0.1;
        for (i++; i < n && is_digit(s[i]); i++, scale /= 10)
            frac += (s[i] - '0') * scale;
    }
    if (i != n)
        return false;
    int64_t us = ((part[0] * 60 + part[1]) * 60 + part[2]) * INT64_C(1000000) +
                 (int64_t)llround(frac * 1e6);
    *out = neg ? -us : us;
    return true;
}

int mr_parse_interval(const char *s, size_t n, mr_interval *out, mr_err *err)
{
    mr_interval v = {0, 0, 0};
    size_t i = 0;
    bool any = false, ago = false;
    while (i < n && s[i] == ' ')
        i++;
    if (i < n && s[i] == '@')
        i++;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        if (i == n)
            break;
        if (ago)
            goto bad; /* "ago" must be last */
        size_t st = i;
        if (!is_digit(s[i]) && s[i] != '-' && s[i] != '+' && s[i] != '.') {
            while (i < n && s[i] != ' ')
                i++;
            if (eq_nocase(s + st, i - st, "ago")) {
                ago = true;
                continue;
            }
            goto bad; /* a unit with no number */
        }
        i++;
        bool clock = false;
        int dots = 0;
        while (i < n && (is_digit(s[i]) || s[i] == '.' || s[i] == ':')) {
            clock |= s[i] == ':';
            dots += s[i] == '.';
            i++;
        }
        const char *w = s + st;
        size_t wl = i - st;
        if (clock) {
            int64_t us;
            if (!iv_clock(w, wl, &us))
                goto bad;
            if (fabs((double)v.micros + (double)us) > IV_MICROS_MAX)
                goto range;
            v.micros += us;
            any = true;
            continue;
        }
        char num[40];
        if (wl >= sizeof num || dots > 1)
            goto bad;
        memcpy(num, w, wl);
        num[wl] = '\0';
        char *e;
        double x = strtod(num, &e);
        if (e == num || *e)
            goto bad;
        while (i < n && s[i] == ' ')
            i++;
        st = i;
        while (i < n && s[i] != ' ' && !is_digit(s[i]) && s[i] != '-' && s[i] != '+')
            i++;
        const iv_unit *u = iv_unit_find(s + st, i - st);
        if (!u && i == st) /* a bare number is seconds, as in PostgreSQL */
            u = &iv_units[9];
        if (!u)
            goto bad;
        if (!iv_add(&v, x, u))
            goto range;
        any = true;
    }
    if (!any)
        goto bad;
    if (ago) {
        v.months = -v.months;
        v.days = -v.days;
        v.micros = -v.micros;
    }
    *out = v;
    return 0;
bad:
    return mr_err_set(err, MR_EPARSE,
                      "invalid interval '%.*s' (expected e.g. '1 day 2 hours', '3 mons', "
                      "'-01:30:00')", TQ(s, n));
range:
    return mr_err_set(err, MR_EPARSE, "interval '%.*s' out of range", TQ(s, n));
}

/* PostgreSQL's EncodeInterval in its default style: year, mon and day
 * fields each when non-zero, a '+' on a positive field once a negative one
 * came before it, then the clock when non-zero or when all is zero. */
size_t mr_format_interval(const mr_interval *v, char *buf, size_t cap)
{
    char tmp[128];
    int len = 0;
    bool zero = true, before = false;
    const int64_t f[3] = {v->months / 12, v->months % 12, v->days};
    static const char *const unit[3] = {"year", "mon", "day"};
    for (int k = 0; k < 3; k++) {
        if (f[k] == 0)
            continue;
        len += sprintf(tmp + len, "%s%s%lld %s%s", zero ? "" : " ", before && f[k] > 0 ? "+" : "",
                       (long long)f[k], unit[k], f[k] != 1 ? "s" : "");
        before |= f[k] < 0;
        zero = false;
    }
    if (v->micros != 0 || zero) {
        int64_t us = v->micros;
        bool minus = us < 0;
        uint64_t a = minus ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
        uint64_t secs = a / 1000000, frac = a % 1000000;
        len += sprintf(tmp + len, "%s%s%02llu:%02llu:%02llu", zero ? "" : " ",
                       minus ? "-" : (before ? "+" : ""), (unsigned long long)(secs / 3600),
                       (unsigned long long)(secs / 60 % 60), (unsigned long long)(secs % 60));
        if (frac) {
            len += sprintf(tmp + len, ".%06llu", (unsigned long long)frac);
            while (tmp[len - 1] == '0')
                len--;
            tmp[len] = '\0';
        }
    }
    return copy_out(tmp, (size_t)len, buf, cap);
}
