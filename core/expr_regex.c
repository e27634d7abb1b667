/* expr_regex.c - regular expressions with PCRE2: the operators ~ ~* !~ !~*
 * (calls of regexp_like), regexp_replace, regexp_substr and regexp_count.
 *
 * A pattern is compiled once, in bind, and must therefore be a literal or
 * fold to one (PostgreSQL also accepts a pattern from a column; millrace
 * does not, so no row ever compiles).  The compiled code, its JIT form
 * when PCRE2 has a JIT for this machine, and the match data live in the
 * node's aux until the node is freed: one compile, one match block and one
 * JIT stack per task.  A bad pattern is a bind error at the pattern literal's offset.
 *
 * PCRE2 runs in UTF mode with Unicode properties (\w, \d, caseless) and
 * accepts subjects that are not valid UTF-8 (they match as far as they are
 * valid).  Options chosen to behave as PostgreSQL's default (advanced)
 * regular expressions do: '.' matches a newline and '$' matches only at the
 * very end.  The syntax is PCRE2's, and where a pattern can match more than
 * one way PCRE2 takes the leftmost-first alternative where PostgreSQL takes
 * the longest ('a|ab' on "ab" matches "a" here, "ab" there).
 *
 * Iteration over several matches follows PostgreSQL: the next search starts
 * where the previous match ended, or one character further after an empty
 * match.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/expr_int.h"
#include "core/utf8.h"

typedef struct rx {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mc; /* with the JIT stack, when there is a JIT */
    pcre2_jit_stack *stack;
    bool global; /* regexp_replace's 'g' */
} rx;

static void rx_free(void *p)
{
    rx *r = p;
    pcre2_match_context_free(r->mc);
    pcre2_jit_stack_free(r->stack);
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    free(r);
}

/* "operator ~" or "regexp_replace()", for messages. */
static const char *what(const expr__node *n, char *buf, size_t cap)
{
    if (n->name[0] == '~' || n->name[0] == '!')
        snprintf(buf, cap, "operator %s", n->name);
    else
        snprintf(buf, cap, "%s()", n->name);
    return buf;
}

static int need_string(expr__node *n, int i, mr_err *err)
{
    char w[48], b[32];
    expr__node *k = n->kids[i];
    if (k->type.id == MR_T_NULL || k->unknown) {
        int rc = expr__coerce(&n->kids[i], mr_type_make(MR_T_STRING), err);
        if (rc < 0)
            return rc;
        k = n->kids[i];
    }
    if (k->type.id != MR_T_STRING)
        return expr__err_at(err, MR_ETYPE, k->off, "%s needs a string as argument %d, got %s",
                            what(n, w, sizeof w), i + 1, mr_type_name(k->type, b, sizeof b));
    return 0;
}

/* Argument i must be a literal (or have folded into one); *null when it is
 * the NULL literal, which makes every result NULL. */
static int need_literal(expr__node *n, int i, const char *param, bool *null, mr_err *err)
{
    char w[48];
    int rc = need_string(n, i, err);
    if (rc < 0)
        return rc;
    expr__node *k = n->kids[i];
    if (k->kind != EN_LIT)
        return expr__err_at(err, MR_EINVAL, k->off,
                            "%s: the %s must be a constant (a quoted literal or an expression "
                            "of literals), since it is compiled once per task",
                            what(n, w, sizeof w), param);
    *null = k->lnull;
    return 0;
}

/* Parses PostgreSQL's flag letters: i (case-insensitive), c (case-sensitive),
 * g (every match; only where allow_g). */
static int parse_flags(expr__node *n, int i, bool allow_g, uint32_t *opts, bool *global,
                       bool *null, mr_err *err)
{
    int rc = need_literal(n, i, "flags", null, err);
    if (rc < 0 || *null)
        return rc;
    expr__node *k = n->kids[i];
    for (size_t j = 0; j < k->lslen; j++) {
        char c = k->ls[j];
        if (c == 'i')
            *opts |= PCRE2_CASELESS;
        else if (c == 'c')
            *opts &= ~(uint32_t)PCRE2_CASELESS;
        else if (c == 'g' && allow_g)
            *global = true;
        else if (c == 'g')
            return expr__err_at(err, MR_EINVAL, k->off,
                                "%s() does not support the global option 'g'", n->name);
        else
            return expr__err_at(err, MR_EINVAL, k->off,
                                "%s(): invalid regular expression option '%c' (valid: %s)",
                                n->name, c, allow_g ? "g, i, c" : "i, c");
    }
    return 0;
}

/* Compiles kids[1] (the pattern) into n->aux with opts added to the
 * defaults; a NULL pattern leaves aux NULL. */
static int compile(expr__node *n, uint32_t opts, bool global, bool null, mr_err *err)
{
    char w[48];
    bool pnull = false;
    int rc = need_literal(n, 1, "pattern", &pnull, err);
    if (rc < 0 || pnull || null)
        return rc;
    expr__node *k = n->kids[1];
    int code;
    PCRE2_SIZE eoff;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)k->ls, k->lslen,
                                  opts | PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                                      PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY,
                                  &code, &eoff, NULL);
    if (!c) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        return expr__err_at(err, MR_EINVAL, k->off,
                            "%s: invalid regular expression: %s at pattern offset %zu",
                            what(n, w, sizeof w), (const char *)msg, (size_t)eoff);
    }
    rx *r = calloc(1, sizeof *r);
    if (!r) {
        pcre2_code_free(c);
        return mr_err_set(err, MR_ENOMEM, "out of memory compiling a regular expression");
    }
    r->code = c;
    if (!(r->md = pcre2_match_data_create_from_pattern(c, NULL))) {
        rx_free(r);
        return mr_err_set(err, MR_ENOMEM, "out of memory compiling a regular expression");
    }
    /* The JIT makes matching several times faster; without one for this
     * machine (or when it fails) the interpreter runs the same pattern.
     * Its stack may grow to 1 MiB (PCRE2's default, 32 KiB, is too small
     * for backtracking over long text); a match that needs more runs in
     * the interpreter (see search). */
    if (pcre2_jit_compile(c, PCRE2_JIT_COMPLETE) == 0) {
        if (!(r->mc = pcre2_match_context_create(NULL)) ||
            !(r->stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL))) {
            rx_free(r);
            return mr_err_set(err, MR_ENOMEM, "out of memory compiling a regular expression");
        }
        pcre2_jit_stack_assign(r->mc, NULL, r->stack);
    }
    r->global = global;
    n->aux = r;
    n->aux_free = rx_free;
    return 0;
}

int expr__bind_regexp_like(expr__node *n, mr_err *err)
{
    uint32_t opts = n->ci ? PCRE2_CASELESS : 0;
    bool g = false, null = false;
    int rc;
    if ((rc = need_string(n, 0, err)) < 0)
        return rc;
    if (n->nkids > 2 && (rc = parse_flags(n, 2, false, &opts, &g, &null, err)) < 0)
        return rc;
    n->type = mr_type_make(MR_T_BOOL);
    return compile(n, opts, false, null, err);
}

int expr__bind_regexp_replace(expr__node *n, mr_err *err)
{
    uint32_t opts = 0;
    bool g = false, null = false;
    int rc;
    if ((rc = need_string(n, 0, err)) < 0 || (rc = need_string(n, 2, err)) < 0)
        return rc;
    if (n->nkids > 3 && (rc = parse_flags(n, 3, true, &opts, &g, &null, err)) < 0)
        return rc;
    n->type = mr_type_make(MR_T_STRING);
    return compile(n, opts, g, null, err);
}

int expr__bind_regexp_substr(expr__node *n, mr_err *err)
{
    int rc;
    if ((rc = need_string(n, 0, err)) < 0)
        return rc;
    for (int i = 2; i < n->nkids; i++)
        if ((rc = expr__need_type(n, i, MR_T_INT64, err)) < 0)
            return rc;
    n->type = mr_type_make(MR_T_STRING);
    return compile(n, 0, false, false, err);
}

int expr__bind_regexp_count(expr__node *n, mr_err *err)
{
    int rc;
    if ((rc = need_string(n, 0, err)) < 0)
        return rc;
    if (n->nkids > 2 && (rc = expr__need_type(n, 2, MR_T_INT64, err)) < 0)
        return rc;
    n->type = mr_type_make(MR_T_INT32);
    return compile(n, 0, false, false, err);
}

/* ---- kernels ----------------------------------------------------------- */

/* True (and row i of the result set to NULL) when the pattern or flags are
 * NULL or any argument is NULL at row i. */
static bool null_row(expr__node *n, size_t i)
{
    if (n->aux)
        return expr__null_row(n, i);
    if (n->out.type.id == MR_T_STRING)
        mr_column_set_str_null(&n->out, i);
    else
        mr_column_set_valid(&n->out, i, false);
    return true;
}

/* One search of s[0..len) from byte start: 1 and the match's ovector, 0
 * when there is none, or an error. */
static int search(expr__node *n, const char *s, size_t len, size_t start, PCRE2_SIZE **ov,
                  mr_err *err)
{
    rx *r = n->aux;
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, start, 0, r->md, r->mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* the interpreter keeps its frames on the heap */
        rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, start, PCRE2_NO_JIT, r->md, r->mc);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        char w[48];
        return mr_err_set(err, MR_EINVAL, "%s: regular expression failed: %s",
                          what(n, w, sizeof w), (const char *)msg);
    }
    *ov = pcre2_get_ovector_pointer(r->md);
    return 1;
}

/* Where the search after the match ov goes on: its end, or one character
 * past an empty match (PostgreSQL's rule). */
static size_t next_start(const char *s, size_t len, const PCRE2_SIZE *ov)
{
    if (ov[1] > ov[0] || ov[1] >= len)
        return ov[1] + (ov[1] == ov[0]);
    uint32_t cp;
    int l = mr_utf8_decode(s + ov[1], len - ov[1], &cp);
    return ov[1] + (size_t)(l < 0 ? -l : l);
}

int expr__eval_regexp_like(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (null_row(n, i))
            continue;
        size_t len;
        const char *s = mr_column_str(a, i, &len);
        PCRE2_SIZE *ov = NULL;
        int m = search(n, s, len, 0, &ov, err);
        if (m < 0)
            return m;
        MR_COL_U8(o)[i] = (uint8_t)((m == 1) != n->negate);
        mr_column_set_valid(o, i, true);
    }
    return 0;
}

/* Appends s[0..k) to string row i of o, whose bytes so far are *used. */
static int put(mr_column *o, size_t i, size_t *used, const char *s, size_t k)
{
    if (!k)
        return 0;
    if (mr_column_reserve_chars(o, o->offsets[i] + *used, k) < 0)
        return MR_ENOMEM;
    memcpy(o->chars + o->offsets[i] + *used, s, k);
    *used += k;
    return 0;
}

/* Appends the replacement rp[0..rl) for the match ov in s: \1..\9 are the
 * groups (empty when a group did not take part), \& the whole match, \\ a
 * backslash; any other backslash is kept as written. */
static int put_replacement(mr_column *o, size_t i, size_t *used, const char *s,
                           const PCRE2_SIZE *ov, uint32_t groups, const char *rp, size_t rl)
{
    size_t j = 0;
    while (j < rl) {
        const char *bs = memchr(rp + j, '\\', rl - j);
        size_t lit = bs ? (size_t)(bs - (rp + j)) : rl - j;
        if (put(o, i, used, rp + j, lit) < 0)
            return MR_ENOMEM;
        j += lit;
        if (!bs)
            break;
        j++; /* the backslash */
        char c = j < rl ? rp[j] : '\0';
        if ((c >= '1' && c <= '9') || c == '&') {
            uint32_t g = c == '&' ? 0 : (uint32_t)(c - '0');
            j++;
            if (g < groups && ov[2 * g] != PCRE2_UNSET &&
                put(o, i, used, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]) < 0)
                return MR_ENOMEM;
        } else if (c == '\\') {
            j++;
            if (put(o, i, used, "\\", 1) < 0)
                return MR_ENOMEM;
        } else if (put(o, i, used, "\\", 1) < 0) {
            return MR_ENOMEM;
        }
    }
    return 0;
}

int expr__eval_regexp_replace(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *r = n->parts[2], *o = &n->out;
    rx *x = n->aux;
    uint32_t groups = x ? pcre2_get_ovector_count(x->md) : 0;
    for (size_t i = 0; i < rows; i++) {
        if (null_row(n, i))
            continue;
        size_t len, rl, used = 0, pos = 0, start = 0;
        const char *s = mr_column_str(a, i, &len), *rp = mr_column_str(r, i, &rl);
        while (start <= len) {
            PCRE2_SIZE *ov = NULL;
            int m = search(n, s, len, start, &ov, err);
            if (m < 0)
                return m;
            if (!m)
                break;
            if (put(o, i, &used, s + pos, ov[0] - pos) < 0 ||
                put_replacement(o, i, &used, s, ov, groups, rp, rl) < 0)
                return expr__oom(err);
            pos = ov[1];
            if (!x->global)
                break;
            start = next_start(s, len, ov);
        }
        if (put(o, i, &used, s + pos, len - pos) < 0)
            return expr__oom(err);
        o->offsets[i + 1] = o->offsets[i] + (uint32_t)used;
        mr_column_set_valid(o, i, true);
    }
    return 0;
}

/* Byte offset of character start (1-based) of s, or an error naming the
 * parameter when start < 1. */
static int start_at(expr__node *n, int k, size_t i, const char *s, size_t len, size_t *at,
                    mr_err *err)
{
    *at = 0;
    if (n->nkids <= k)
        return 0;
    int64_t v = MR_COL_I64(n->parts[k])[i];
    if (v < 1)
        return mr_err_set(err, MR_EINVAL, "%s(): invalid value for parameter \"start\": %lld",
                          n->name, (long long)v);
    *at = mr_utf8_advance(s, len, v - 1);
    return 0;
}

int expr__eval_regexp_substr(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (null_row(n, i))
            continue;
        size_t len, start;
        const char *s = mr_column_str(a, i, &len);
        int rc = start_at(n, 2, i, s, len, &start, err);
        if (rc < 0)
            return rc;
        int64_t want = n->nkids > 3 ? MR_COL_I64(n->parts[3])[i] : 1;
        if (want < 1)
            return mr_err_set(err, MR_EINVAL, "%s(): invalid value for parameter \"n\": %lld",
                              n->name, (long long)want);
        PCRE2_SIZE *ov = NULL;
        int64_t seen = 0;
        while (start <= len) {
            int m = search(n, s, len, start, &ov, err);
            if (m < 0)
                return m;
            if (!m || ++seen == want)
                break;
            start = next_start(s, len, ov);
        }
        if (seen < want) {
            mr_column_set_str_null(o, i);
            continue;
        }
        if (mr_column_set_str(o, i, s + ov[0], ov[1] - ov[0]) < 0)
            return expr__oom(err);
    }
    return 0;
}

int expr__eval_regexp_count(expr__node *n, size_t rows, mr_err *err)
{
    mr_column *a = n->parts[0], *o = &n->out;
    for (size_t i = 0; i < rows; i++) {
        if (null_row(n, i))
            continue;
        size_t len, start;
        const char *s = mr_column_str(a, i, &len);
        int rc = start_at(n, 2, i, s, len, &start, err);
        if (rc < 0)
            return rc;
        int32_t count = 0;
        while (start <= len) {
            PCRE2_SIZE *ov = NULL;
            int m = search(n, s, len, start, &ov, err);
            if (m < 0)
                return m;
            if (!m)
                break;
            count++;
            start = next_start(s, len, ov);
        }
        MR_COL_I32(o)[i] = count;
        mr_column_set_valid(o, i, true);
    }
    return 0;
}
