/* sortkey.c - parsing "col [asc|desc] [nulls first|last]" (see sortkey.h).
 *
 * One left-to-right scan: the name (bare or quoted with "" escapes), then
 * up to three words checked against the grammar in order, so an error can
 * point at the first word that does not fit.
 */
#include "core/sortkey.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool word_eq(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* Sets err to a parse error at byte off of text. */
static int key_error(mr_err *err, const char *text, size_t off, const char *what)
{
    mr_err_set(err, MR_EINVAL, "sort key '%s': %s", text, what);
    if (err)
        err->offset = (int)off;
    return MR_EINVAL;
}

/* Reads the name at *pp into a malloc'd string; returns 0, MR_EINVAL or
 * MR_ENOMEM, with *pp moved past it. */
static int read_name(const char *text, const char **pp, char **out, mr_err *err)
{
    const char *p = *pp;
    if (*p != '"') {
        const char *s = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (p == s)
            return key_error(err, text, (size_t)(s - text), "no column name");
        if (!(*out = strndup(s, (size_t)(p - s))))
            return mr_err_oom(err, NULL);
        *pp = p;
        return 0;
    }
    const char *open = p++;
    char *name = malloc(strlen(p) + 1);
    if (!name)
        return mr_err_oom(err, NULL);
    size_t o = 0;
    for (;;) {
        if (!*p) {
            free(name);
            return key_error(err, text, (size_t)(open - text),
                             "unterminated quoted name (close it with \", write \"\" for a "
                             "quote inside)");
        }
        if (*p == '"') {
            if (p[1] != '"')
                break;
            p++;
        }
        name[o++] = *p++;
    }
    p++;
    name[o] = '\0';
    if (o == 0) {
        free(name);
        return key_error(err, text, (size_t)(open - text), "empty column name");
    }
    if (*p && !isspace((unsigned char)*p)) {
        free(name);
        return key_error(err, text, (size_t)(p - text),
                         "expected a blank after the quoted name");
    }
    *out = name;
    *pp = p;
    return 0;
}

int mr_sort_key_parse(const char *text, char **col, int *desc, int *nulls_first, mr_err *err)
{
    *col = NULL;
    const char *t = text ? text : "";
    const char *p = t;
    while (isspace((unsigned char)*p))
        p++;
    char *name = NULL;
    int rc = read_name(t, &p, &name, err);
    if (rc < 0)
        return rc;
    /* 0: expect asc/desc or nulls; 1: expect nulls; 2: expect first/last; 3: end */
    int state = 0, d = 0, nf = -1;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        size_t n = (size_t)(p - w);
        size_t off = (size_t)(w - t);
        if (state == 0 && (word_eq(w, n, "asc") || word_eq(w, n, "desc"))) {
            d = word_eq(w, n, "desc");
            state = 1;
        } else if (state <= 1 && word_eq(w, n, "nulls")) {
            state = 2;
        } else if (state == 2 && (word_eq(w, n, "first") || word_eq(w, n, "last"))) {
            nf = word_eq(w, n, "first");
            state = 3;
        } else {
            free(name);
            return key_error(err, t, off,
                             state == 2   ? "expected FIRST or LAST after NULLS"
                             : state == 3 ? "unexpected text after NULLS FIRST/LAST"
                             : state == 1 ? "expected NULLS FIRST or NULLS LAST after the "
                                            "direction"
                                          : "expected ASC, DESC or NULLS after the column "
                                            "name; write \"column [asc|desc] [nulls "
                                            "first|last]\" (quote a name that has blanks)");
        }
    }
    if (state == 2) {
        free(name);
        return key_error(err, t, strlen(t), "expected FIRST or LAST after NULLS");
    }
    *col = name;
    *desc = d;
    *nulls_first = nf < 0 ? d : nf;
    return 0;
}
