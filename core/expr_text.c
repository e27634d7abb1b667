/* expr_text.c - string functions from the spec's additions: lpad, rpad,
 * left, right, strpos, initcap, reverse, repeat, starts_with and sha256.
 *
 * PostgreSQL's semantics with a UTF-8 database: counts and positions are
 * characters, not bytes (a character is a lead byte and the continuation
 * bytes after it, as core/utf8.h counts); any NULL argument gives NULL.
 * Case comes from utf8proc (Debian's libutf8proc): Unicode's simple (one
 * character to one) mappings, which are what PostgreSQL's upper, lower,
 * initcap and ILIKE use in a UTF-8 locale (ß stays ß; İ lowers to i).
 * upper and lower live here too, and expr__case_map serves ILIKE.
 * initcap: a letter, mark or digit continues a word, and a word's first
 * character goes to upper case, the rest to lower.  sha256 hashes with Nettle
 * (Debian's nettle) and returns lower-case hex, as md5 does.
 */
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/expr_int.h"
#include "core/utf8.h"

/* Results longer than this are an error, as PostgreSQL's limit on a value. */
#define MAX_RESULT ((size_t)1 << 30)

/* ---- binding ----------------------------------------------------------- */

/* Arguments typed by a pattern: 's' string, 'i' integer; result rt. */
static int bind_args(expr__node *n, const char *pattern, mr_type_id rt, mr_err *err)
{
    for (int i = 0; i < n->nkids; i++) {
        int rc = expr__need_type(n, i, pattern[i] == 'i' ? MR_T_INT64 : MR_T_STRING, err);
        if (rc < 0)
            return rc;
    }
    n->type = mr_type_make(rt);
    return 0;
}

int expr__bind_pad(expr__node *n, mr_err *err) { return bind_args(n, "sis", MR_T_STRING, err); }
int expr__bind_text_int(expr__node *n, mr_err *err) { return bind_args(n, "si", MR_T_STRING, err); }
int expr__bind_text(expr__node *n, mr_err *err) { return bind_args(n, "s", MR_T_STRING, err); }
int expr__bind_strpos(expr__node *n, mr_err *err) { return bind_args(n, "ss", MR_T_INT32, err); }
int expr__bind_starts_with(expr__node *n, mr_err *err)
{
    return bind_args(n, "ss", MR_T_BOOL, err);
}

/* ---- helpers ----------------------------------------------------------- */

static int too_long(expr__node *n, mr_err *err)
{
    return mr_err_set(err, MR_EINVAL, "%s(): requested length too large", n->name);
}

/* Bytes of the character at s[0..n) (n > 0). */
static size_t char_len(const char *s, size_t n)
{
    size_t i = 1;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

static const char *str(const expr__node *n, int k, size_t i, size_t *len)
{
    return mr_column_str(n->parts[k], i, len);
}

/* ---- case mapping ------------------------------------------------------ */

/* Unicode's simple upper-case mapping, as PostgreSQL's towupper has it:
 * utf8proc alone maps ß to ẞ, which Unicode's UnicodeData.txt does not. */
static uint32_t to_upper(uint32_t cp)
{
    return cp == 0xDF ? cp : (uint32_t)utf8proc_toupper((utf8proc_int32_t)cp);
}

size_t expr__case_map(const char *s, size_t n, char *d, bool upper)
{
    size_t k = 0;
    for (size_t j = 0; j < n;) {
        unsigned char c = (unsigned char)s[j];
        if (c < 0x80) {
            d[k++] = (char)(upper ? (c >= 'a' && c <= 'z' ? c - 32 : c)
                                  : (c >= 'A' && c <= 'Z' ? c + 32 : c));
            j++;
            continue;
        }
        uint32_t cp;
        int l = mr_utf8_decode(s + j, n - j, &cp);
        if (l < 0) { /* not UTF-8: kept as is */
            memcpy(d + k, s + j, (size_t)-l);
            k += (size_t)-l;
            j += (size_t)-l;
            continue;
        }
        uint32_t m = upper ? to_upper(cp) : (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
        k += mr_utf8_encode(d + k, m);
        j += (size_t)l;
    }
    return k;
}

/* upper(s), lower(s) */
int expr__eval_case_map(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    bool upper = n->op == EFN_UPPER;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        if (sn > MAX_RESULT / 2)
            return too_long(n, err);
        char *d = expr__str_room(o, i, EXPR_CASE_MAP_ROOM(sn));
        if (!d)
            return expr__oom(err);
        expr__str_done(o, i, expr__case_map(s, sn, d, upper));
    }
    return 0;
}

/* ---- kernels ----------------------------------------------------------- */

/* lpad(s, len[, fill]) and rpad: s cut to len characters, or filled up to
 * len with fill (default a space) repeated, on the left or the right. */
int expr__eval_pad(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    bool left = n->op == EFN_LPAD;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn, fn = 1;
        const char *s = str(n, 0, i, &sn), *f = " ";
        int64_t want = MR_COL_I64(n->parts[1])[i];
        if (n->nkids > 2)
            f = str(n, 2, i, &fn);
        if (want <= 0) {
            expr__str_done(o, i, 0);
            continue;
        }
        size_t have = mr_utf8_chars(s, sn);
        if ((uint64_t)want <= have || fn == 0) {
            size_t keep = mr_utf8_advance(s, sn, want);
            char *d = expr__str_room(o, i, keep);
            if (!d)
                return expr__oom(err);
            memcpy(d, s, keep);
            expr__str_done(o, i, keep);
            continue;
        }
        /* the fill's bytes for want - have characters */
        uint64_t need = (uint64_t)want - have;
        size_t fchars = mr_utf8_chars(f, fn);
        uint64_t whole = need / fchars;
        size_t part = mr_utf8_advance(f, fn, (int64_t)(need % fchars));
        if (whole > MAX_RESULT / fn || whole * fn + part + sn > MAX_RESULT)
            return too_long(n, err);
        size_t fill = (size_t)whole * fn + part, len = fill + sn;
        char *d = expr__str_room(o, i, len);
        if (!d)
            return expr__oom(err);
        char *p = left ? d : d + sn;
        for (uint64_t k = 0; k < whole; k++, p += fn)
            memcpy(p, f, fn);
        memcpy(p, f, part);
        memcpy(left ? d + fill : d, s, sn);
        expr__str_done(o, i, len);
    }
    return 0;
}

/* left(s, k): the first k characters (k < 0: all but the last -k);
 * right(s, k): the last k (k < 0: all but the first -k). */
int expr__eval_left_right(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    bool left = n->op == EFN_LEFT;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        int64_t k = MR_COL_I64(n->parts[1])[i];
        int64_t chars = (int64_t)mr_utf8_chars(s, sn);
        /* characters to keep from the start (left) or to skip (right) */
        int64_t c = left ? (k >= 0 ? k : chars + k)
                         : (k >= 0 ? chars - k : k < -chars ? chars : -k);
        c = c < 0 ? 0 : c > chars ? chars : c;
        size_t at = mr_utf8_advance(s, sn, c);
        const char *from = left ? s : s + at;
        size_t len = left ? at : sn - at;
        char *d = expr__str_room(o, i, len);
        if (!d)
            return expr__oom(err);
        memcpy(d, from, len);
        expr__str_done(o, i, len);
    }
    return 0;
}

/* strpos(s, sub): the character position of the first sub in s (1-based),
 * 0 when there is none, 1 for an empty sub. */
int expr__eval_strpos(expr__node *n, size_t rows, mr_err *err)
{
    (void)err;
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn, tn;
        const char *s = str(n, 0, i, &sn), *t = str(n, 1, i, &tn);
        int32_t pos = 0;
        if (tn == 0) {
            pos = 1;
        } else {
            const char *at = tn <= sn ? memmem(s, sn, t, tn) : NULL;
            if (at)
                pos = (int32_t)mr_utf8_chars(s, (size_t)(at - s)) + 1;
        }
        MR_COL_I32(o)[i] = pos;
        mr_column_set_valid(o, i, true);
    }
    return 0;
}

/* Whether cp continues a word for initcap: a letter, mark or digit. */
static bool word_char(uint32_t cp)
{
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}


int expr__eval_initcap(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        /* a mapped character may be longer than its original: 4 bytes each */
        if (sn > MAX_RESULT / 4)
            return too_long(n, err);
        char *d = expr__str_room(o, i, 4 * sn);
        if (!d)
            return expr__oom(err);
        size_t k = 0;
        bool in_word = false;
        for (size_t j = 0; j < sn;) {
            uint32_t cp;
            int l = mr_utf8_decode(s + j, sn - j, &cp);
            if (l < 0) { /* not UTF-8: kept as is, and it ends a word */
                memcpy(d + k, s + j, (size_t)-l);
                k += (size_t)-l;
                j += (size_t)-l;
                in_word = false;
                continue;
            }
            uint32_t m = in_word ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp)
                                 : to_upper(cp);
            k += mr_utf8_encode(d + k, m);
            in_word = word_char(cp);
            j += (size_t)l;
        }
        expr__str_done(o, i, k);
    }
    return 0;
}

/* reverse(s): the characters in reverse order. */
int expr__eval_reverse(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        char *d = expr__str_room(o, i, sn);
        if (!d)
            return expr__oom(err);
        for (size_t j = 0; j < sn;) {
            size_t l = char_len(s + j, sn - j);
            memcpy(d + sn - j - l, s + j, l);
            j += l;
        }
        expr__str_done(o, i, sn);
    }
    return 0;
}

/* repeat(s, k): s k times (none for k <= 0). */
int expr__eval_repeat(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        int64_t k = MR_COL_I64(n->parts[1])[i];
        if (k <= 0 || sn == 0) {
            expr__str_done(o, i, 0);
            continue;
        }
        if ((uint64_t)k > MAX_RESULT / sn)
            return too_long(n, err);
        size_t len = (size_t)k * sn;
        char *d = expr__str_room(o, i, len);
        if (!d)
            return expr__oom(err);
        for (int64_t r = 0; r < k; r++)
            memcpy(d + (size_t)r * sn, s, sn);
        expr__str_done(o, i, len);
    }
    return 0;
}

int expr__eval_starts_with(expr__node *n, size_t rows, mr_err *err)
{
    (void)err;
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn, pn;
        const char *s = str(n, 0, i, &sn), *p = str(n, 1, i, &pn);
        MR_COL_U8(o)[i] = pn <= sn && memcmp(s, p, pn) == 0;
        mr_column_set_valid(o, i, true);
    }
    return 0;
}

/* sha256(s): the SHA-256 of the text's bytes as 64 lower-case hex digits. */
int expr__eval_sha256(expr__node *n, size_t rows, mr_err *err)
{
    static const char hex[] = "0123456789abcdef";
    mr_column *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (expr__null_row(n, i))
            continue;
        size_t sn;
        const char *s = str(n, 0, i, &sn);
        struct sha256_ctx ctx;
        uint8_t md[SHA256_DIGEST_SIZE];
        sha256_init(&ctx);
        sha256_update(&ctx, sn, (const uint8_t *)s);
        sha256_digest(&ctx, sizeof md, md);
        char *d = expr__str_room(o, i, 2 * sizeof md);
        if (!d)
            return expr__oom(err);
        for (size_t k = 0; k < sizeof md; k++) {
            d[2 * k] = hex[md[k] >> 4];
            d[2 * k + 1] = hex[md[k] & 15];
        }
        expr__str_done(o, i, 2 * sizeof md);
    }
    return 0;
}
