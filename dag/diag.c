/* diag.c - DAG diagnostics: recording errors at file positions, mapping an
 * offset inside a YAML value back to its line and column, sorting, printing,
 * and "did you mean" suggestions.
 *
 * Positions: libyaml gives every value's start (line, column in characters).
 * An error inside a value (an expression's type error at byte k) is mapped
 * back through the params substitution map to the value as parsed, then
 * through the scalar's quoting to the file: plain and single-line quoted
 * scalars are walked character by character in the source (so '' and \"
 * escapes count right), literal blocks by their lines; other multi-line
 * forms fall back to the value's start.
 *
 * A hostile file could produce an error per byte; after DAG_MAX_ERRORS the
 * rest are summarized in one line so output stays bounded.
 */
#include "dag/dag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"

#define DAG_MAX_ERRORS 500

void mr_diags_free(mr_diags *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].file);
        free(d->items[i].node);
        free(d->items[i].message);
    }
    free(d->items);
    d->items = NULL;
    d->n = d->cap = 0;
}

void mr_diags_print(const mr_diags *d, FILE *out)
{
    for (size_t i = 0; d && i < d->n; i++)
        fprintf(out, "%s:%d:%d: error: %s\n", d->items[i].file, d->items[i].line,
                d->items[i].column, d->items[i].message);
}

static void diag_vadd(dag_ctx *c, int line, int col, const char *node, const char *fmt, va_list ap)
{
    c->nerrors++;
    if (c->nerrors > DAG_MAX_ERRORS + 1)
        return;
    mr_diags *d = c->diags;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        mr_diag *items = realloc(d->items, cap * sizeof *items);
        if (!items) {
            c->oom = 1;
            return;
        }
        d->items = items;
        d->cap = cap;
    }
    char buf[2048];
    if (c->nerrors == DAG_MAX_ERRORS + 1)
        snprintf(buf, sizeof buf, "too many errors; stopped reporting after %d", DAG_MAX_ERRORS);
    else
        vsnprintf(buf, sizeof buf, fmt, ap);
    mr_diag *g = &d->items[d->n];
    g->file = strdup(c->file);
    g->line = line > 0 ? line : 1;
    g->column = col > 0 ? col : 1;
    g->node = node ? strdup(node) : NULL;
    g->message = strdup(buf);
    if (!g->file || !g->message || (node && !g->node)) {
        free(g->file);
        free(g->node);
        free(g->message);
        c->oom = 1;
        return;
    }
    d->n++;
}

void dag_error_at(dag_ctx *c, int line, int col, const char *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(c, line, col, node, fmt, ap);
    va_end(ap);
}

void dag_error(dag_ctx *c, const ynode *n, const char *node, const char *fmt, ...)
{
    if (n && n->subst_failed)
        return; /* a consequence of the params error already reported there */
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(c, n ? n->line : 1, n ? n->col : 1, node, fmt, ap);
    va_end(ap);
}

/* Byte offset in the source of 1-based (line, col), or -1. */
static long src_offset(const dag_ctx *c, int line, int col)
{
    size_t i = 0;
    for (int l = 1; l < line; l++) {
        while (i < c->srclen && c->src[i] != '\n' && c->src[i] != '\r')
            i++;
        if (i >= c->srclen)
            return -1;
        if (c->src[i] == '\r' && i + 1 < c->srclen && c->src[i + 1] == '\n')
            i++;
        i++;
    }
    for (int k = 1; k < col; k++) {
        if (i >= c->srclen)
            return -1;
        i++;
        while (i < c->srclen && ((unsigned char)c->src[i] & 0xC0) == 0x80)
            i++;
    }
    return (long)i;
}

/* Column of value byte ro of a single-line quoted scalar starting at source
 * byte p (its opening quote) in column col. */
static int quoted_column(const dag_ctx *c, long p, int col, ynode_style style, size_t ro)
{
    size_t vb = 0;
    size_t i = (size_t)p + 1;
    col++;
    while (vb < ro && i < c->srclen) {
        const char *s = c->src + i;
        size_t rest = c->srclen - i;
        size_t src_bytes = 1, val_bytes = 1;
        if (style == YS_SINGLE && s[0] == '\'' && rest > 1 && s[1] == '\'') {
            src_bytes = 2;
        } else if (style == YS_DOUBLE && s[0] == '\\' && rest > 1) {
            int hex = s[1] == 'x' ? 2 : s[1] == 'u' ? 4 : s[1] == 'U' ? 8 : 0;
            src_bytes = 2 + (size_t)hex;
            if (hex && rest >= src_bytes) {
                char tmp[9];
                memcpy(tmp, s + 2, (size_t)hex);
                tmp[hex] = '\0';
                val_bytes = mr_utf8_encoded_len((uint32_t)strtoul(tmp, NULL, 16));
            } else if (s[1] == 'N' || s[1] == '_') {
                val_bytes = 2;
            } else if (s[1] == 'L' || s[1] == 'P') {
                val_bytes = 3;
            }
        } else {
            while (src_bytes < rest && ((unsigned char)s[src_bytes] & 0xC0) == 0x80)
                src_bytes++;
            val_bytes = src_bytes;
        }
        vb += val_bytes;
        col += (int)mr_utf8_chars(s, src_bytes);
        i += src_bytes;
    }
    return col;
}

void dag_pos_in(const dag_ctx *c, const ynode *n, int off, int *line_out, int *col_out)
{
    int line = n->line, col = n->col;
    size_t ro = off < 0 ? 0 : (size_t)off;
    if (ro > n->len)
        ro = n->len;
    if (n->srcmap)
        ro = (size_t)n->srcmap[ro];
    if (ro > n->raw_len)
        ro = n->raw_len;
    int single_line = n->end_line == n->line;
    if (n->style == YS_PLAIN && single_line) {
        col += (int)mr_utf8_chars(n->raw, ro);
    } else if ((n->style == YS_SINGLE || n->style == YS_DOUBLE) && single_line) {
        long p = src_offset(c, n->line, n->col);
        if (p >= 0)
            col = quoted_column(c, p, n->col, n->style, ro);
    } else if (n->style == YS_LITERAL) {
        int k = 0;
        size_t last = 0;
        for (size_t i = 0; i < ro; i++)
            if (n->raw[i] == '\n') {
                k++;
                last = i + 1;
            }
        line = n->line + 1 + k;
        /* The block's indentation is that of its first content line. */
        long p = src_offset(c, n->line + 1, 1);
        int indent = 0;
        while (p >= 0 && (size_t)p + (size_t)indent < c->srclen && c->src[p + indent] == ' ')
            indent++;
        col = indent + 1 + (int)mr_utf8_chars(n->raw + last, ro - last);
    }
    *line_out = line;
    *col_out = col;
}

void dag_error_in(dag_ctx *c, const ynode *n, int off, const char *node, const char *fmt, ...)
{
    if (n->subst_failed)
        return; /* see dag_error */
    int line, col;
    dag_pos_in(c, n, off, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(c, line, col, node, fmt, ap);
    va_end(ap);
}

void dag_diags_sort(mr_diags *d)
{
    /* Insertion sort: stable, and the list is short and mostly ordered. */
    for (size_t i = 1; i < d->n; i++) {
        mr_diag x = d->items[i];
        size_t j = i;
        while (j > 0 && (d->items[j - 1].line > x.line ||
                         (d->items[j - 1].line == x.line && d->items[j - 1].column > x.column))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

/* Edit distance counting an adjacent transposition as one edit (optimal
 * string alignment), so "fliter" is one edit from "filter". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t m[65][65];
    for (size_t i = 0; i <= la; i++)
        m[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        m[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t best = m[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (m[i - 1][j] + 1 < best)
                best = m[i - 1][j] + 1;
            if (m[i][j - 1] + 1 < best)
                best = m[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                m[i - 2][j - 2] + 1 < best)
                best = m[i - 2][j - 2] + 1;
            m[i][j] = best;
        }
    return m[la][lb];
}

const char *dag_suggest(const char *word, const char *const *cands, size_t n)
{
    size_t len = strlen(word);
    size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], word) == 0)
            continue;
        size_t d = strcasecmp(cands[i], word) == 0 ? 0 : edit_distance(word, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit && bestd < len ? best : NULL;
}

#define DAG_SUGGEST_ERRORS 100

const char *dag_did_you_mean(dag_ctx *c, const char *word, const char *const *cands, size_t n)
{
    /* Each suggestion costs an edit distance per candidate: past the first
     * DAG_SUGGEST_ERRORS errors a hostile file (thousands of misspelt
     * inputs among thousands of nodes) would make that n^2. */
    if (c->nerrors >= DAG_SUGGEST_ERRORS)
        return "";
    const char *s = dag_suggest(word, cands, n);
    if (!s)
        return "";
    const char *r = dag_arena_printf(&c->arena, " (did you mean '%s'?)", s);
    return r ? r : "";
}
