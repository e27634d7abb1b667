/* params.c - ${name}, ${env:NAME} and $$ substitution in DAG values.
 *
 * One left-to-right pass copies text into an output buffer, replacing each
 * reference.  Alongside, it records for every output byte the offset of the
 * input byte it came from (a replaced reference maps every byte of its
 * value to the reference's '$'), so an error found later inside the result
 * (an expression's type error, say) can still be shown at the right column
 * of the file.  Values are not substituted again: a param whose value
 * contains "${x}" yields that text literally.
 */
#include "dag/dag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    int *map;
    size_t n, cap;
    int oom;
} sbuf;

static void sbuf_put(sbuf *b, const char *s, size_t n, int src)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        int *m = realloc(b->map, cap * sizeof *m);
        if (!m) {
            b->oom = 1;
            return;
        }
        b->map = m;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    for (size_t i = 0; i < n; i++)
        b->map[b->n + i] = src;
    b->n += n;
}

static int is_name_char(char ch, int env)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || (!env && (ch == '-' || ch == '.'));
}

int dag_subst(dag_arena *a, const char *text, size_t len, const dag_params *params,
              const char *(*getenv_fn)(const char *), char **out, size_t *outlen, int **map,
              int *erroff, char *msg, size_t cap)
{
    sbuf b = {0};
    int rc = 0;
    *erroff = -1;
    if (!memchr(text, '$', len)) {
        *out = dag_arena_strndup(a, text, len);
        *outlen = len;
        *map = NULL;
        return *out ? 0 : MR_ENOMEM;
    }
    size_t i = 0;
    while (i < len) {
        if (text[i] != '$' || i + 1 >= len || (text[i + 1] != '$' && text[i + 1] != '{')) {
            sbuf_put(&b, text + i, 1, (int)i);
            i++;
            continue;
        }
        if (text[i + 1] == '$') {
            sbuf_put(&b, "$", 1, (int)i);
            i += 2;
            continue;
        }
        const char *close = memchr(text + i + 2, '}', len - i - 2);
        if (!close) {
            *erroff = (int)i;
            snprintf(msg, cap, "unterminated '${' (write '$$' for a literal '$')");
            rc = MR_EINVAL;
            goto done;
        }
        const char *name = text + i + 2;
        size_t nlen = (size_t)(close - name);
        int env = nlen >= 4 && memcmp(name, "env:", 4) == 0;
        if (env) {
            name += 4;
            nlen -= 4;
        }
        int ok = nlen > 0;
        for (size_t k = 0; k < nlen; k++)
            ok = ok && is_name_char(name[k], env);
        if (!ok) {
            *erroff = (int)i;
            snprintf(msg, cap, "bad reference '%.*s': write ${param} or ${env:NAME}",
                     (int)(close - (text + i) + 1), text + i);
            rc = MR_EINVAL;
            goto done;
        }
        const char *val = NULL;
        if (env) {
            char key[256];
            if (nlen >= sizeof key) {
                *erroff = (int)i;
                snprintf(msg, cap, "environment variable name too long");
                rc = MR_EINVAL;
                goto done;
            }
            memcpy(key, name, nlen);
            key[nlen] = '\0';
            val = getenv_fn(key);
            if (!val) {
                *erroff = (int)i;
                snprintf(msg, cap, "environment variable '%s' is not set", key);
                rc = MR_EINVAL;
                goto done;
            }
        } else {
            for (size_t k = 0; params && k < params->n; k++)
                if (strlen(params->keys[k]) == nlen && memcmp(params->keys[k], name, nlen) == 0)
                    val = params->values[k];
            if (!val) {
                char key[128];
                snprintf(key, sizeof key, "%.*s", (int)(nlen < 100 ? nlen : 100), name);
                *erroff = (int)i;
                if (!params)
                    snprintf(msg, cap, "param values cannot refer to params ('${%s}'); only "
                             "${env:NAME} and $$ work here", key);
                else {
                    const char *sugg = dag_suggest(key, params->keys, params->n);
                    int m = snprintf(msg, cap, "unknown param '%s'", key);
                    if (m >= 0 && (size_t)m < cap) {
                        if (sugg)
                            snprintf(msg + m, cap - (size_t)m, " (did you mean '%s'?)", sugg);
                        else if (params->n == 0)
                            snprintf(msg + m, cap - (size_t)m, " (the DAG declares no params)");
                    }
                }
                rc = MR_EINVAL;
                goto done;
            }
        }
        sbuf_put(&b, val, strlen(val), (int)i);
        i = (size_t)(close - text) + 1;
    }
done:
    if (rc == 0 && b.oom)
        rc = MR_ENOMEM;
    if (rc == 0) {
        *outlen = b.n;
        *out = dag_arena_strndup(a, b.p ? b.p : "", b.n);
        *map = dag_arena_alloc(a, (b.n + 1) * sizeof **map);
        if (!*out || !*map) {
            rc = MR_ENOMEM;
        } else {
            if (b.n)
                memcpy(*map, b.map, b.n * sizeof **map);
            (*map)[b.n] = (int)len;
        }
    }
    free(b.p);
    free(b.map);
    return rc;
}
