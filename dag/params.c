/* params.c - ${name}, ${env:NAME} and $$ substitution in DAG values, which
 * environment variables a DAG may read, and masking what must not be shown.
 *
 * One left-to-right pass copies text into an output buffer, replacing each
 * reference.  Alongside, it records for every output byte the offset of the
 * input byte it came from (a replaced reference maps every byte of its
 * value to the reference's '$'), so an error found later inside the result
 * (an expression's type error, say) can still be shown at the right column
 * of the file.  Values are not substituted again: a param whose value
 * contains "${x}" yields that text literally.
 *
 * ${env:NAME} reads only names the policy allows (MILLRACE_DAG_* unless
 * configured): a submitted DAG is someone else's text running with the
 * coordinator's environment, which holds its own secrets.  Every value
 * read is recorded as a secret, and mr_redact masks secrets and DSN
 * passwords in whatever is shown (plans, errors, job documents).
 */
#include "dag/dag_int.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static void env_allowed_text(char *out, size_t cap);

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
            if (val == dag_env_denied) {
                char allowed[256];
                env_allowed_text(allowed, sizeof allowed);
                *erroff = (int)i;
                snprintf(msg, cap, "environment variable '%s' is not allowed: a DAG may read only "
                         "%s (the coordinator's --allow-env PATTERN allows more)", key, allowed);
                rc = MR_EINVAL;
                goto done;
            }
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

/* ---- the environment a DAG may read ---------------------------------------- */

const char dag_env_denied[] = "";

static _Thread_local dag_env_policy *tl_env;

void dag_env_begin(dag_env_policy *p)
{
    tl_env = p;
}

void dag_env_end(void)
{
    tl_env = NULL;
}

static int env_allowed(const dag_env_policy *p, const char *name)
{
    if (!p->allow)
        return fnmatch("MILLRACE_DAG_*", name, 0) == 0;
    for (size_t i = 0; i < p->nallow; i++)
        if (fnmatch(p->allow[i], name, 0) == 0)
            return 1;
    return 0;
}

const char *dag_env_get(const char *name)
{
    dag_env_policy *p = tl_env;
    if (!p)
        return NULL;
    if (!env_allowed(p, name))
        return dag_env_denied;
    const char *v = p->getenv ? p->getenv(name) : getenv(name);
    if (v && ((p->secrets && mr_dag_secrets_add(p->secrets, v) < 0) ||
              mr_dag_secrets_add(&p->env_values, v) < 0))
        p->oom = 1;
    return v;
}

/* "MILLRACE_DAG_*" or the configured patterns, for the error message. */
static void env_allowed_text(char *out, size_t cap)
{
    const dag_env_policy *p = tl_env;
    if (!p || !p->allow || p->nallow == 0) {
        snprintf(out, cap, "%s", p && p->allow ? "none" : "MILLRACE_DAG_*");
        return;
    }
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p->nallow && off + 1 < cap; i++) {
        int m = snprintf(out + off, cap - off, "%s%s", i ? ", " : "", p->allow[i]);
        if (m < 0)
            break;
        off += (size_t)m;
    }
}

/* ---- secrets and masking ----------------------------------------------------- */

void mr_dag_secrets_free(mr_dag_secrets *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
    s->items = NULL;
    s->n = 0;
}

int mr_dag_secrets_add(mr_dag_secrets *s, const char *v)
{
    if (!s || !v || !v[0])
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i], v) == 0)
            return 0;
    char **items = realloc(s->items, (s->n + 1) * sizeof *items);
    if (!items)
        return MR_ENOMEM;
    s->items = items;
    if (!(s->items[s->n] = strdup(v)))
        return MR_ENOMEM;
    s->n++;
    return 0;
}

/* Appends n bytes to a malloc'd growing buffer; -1 when out of memory. */
static int buf_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 64;
        while (c < *len + n + 1)
            c *= 2;
        char *p = realloc(*buf, c);
        if (!p)
            return -1;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* Where a "password=" value ends: a quoted value at its closing quote, else
 * at white space, ';', '&' or a quote. */
static size_t dsn_value_len(const char *v)
{
    if (*v == '\'') {
        size_t i = 1;
        while (v[i] && v[i] != '\'')
            i += v[i] == '\\' && v[i + 1] ? 2 : 1;
        return v[i] ? i + 1 : i;
    }
    return strcspn(v, " \t\r\n;&\"'");
}

/* text with DSN passwords masked (malloc'd). */
static char *mask_dsn(const char *text)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    const char *p = text;
    int fail = buf_put(&out, &len, &cap, "", 0);
    while (*p && !fail) {
        if (strncasecmp(p, "password", 8) == 0) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                size_t vl = dsn_value_len(q);
                fail = buf_put(&out, &len, &cap, p, (size_t)(q - p)) ||
                       buf_put(&out, &len, &cap, "***", 3);
                p = q + vl;
                continue;
            }
        }
        if (strncmp(p, "://", 3) == 0) {
            const char *auth = p + 3;
            size_t alen = strcspn(auth, "/?# \t\r\n\"'");
            const char *at = NULL;
            for (size_t i = 0; i < alen; i++)
                if (auth[i] == '@')
                    at = auth + i;
            const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
            if (colon) {
                fail = buf_put(&out, &len, &cap, p, (size_t)(colon + 1 - p)) ||
                       buf_put(&out, &len, &cap, "***", 3);
                p = at;
                continue;
            }
        }
        fail = buf_put(&out, &len, &cap, p, 1);
        p++;
    }
    if (fail) {
        free(out);
        return NULL;
    }
    return out;
}

int mr_param_is_secret(const char *key, const char *value)
{
    static const char *const words[] = {"password", "passwd", "secret", "token", "key",
                                        "dsn", "credential", "auth", NULL};
    for (int i = 0; key && words[i]; i++)
        if (strcasestr(key, words[i]))
            return 1;
    if (!value)
        return 0;
    char *m = mask_dsn(value);
    int secret = !m || strcmp(m, value) != 0;
    free(m);
    return secret;
}

static int by_len_desc(const void *a, const void *b)
{
    size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
    return (x < y) - (x > y);
}

char *mr_redact(const char *text, const mr_dag_secrets *s)
{
    if (!text)
        return NULL;
    size_t n = s ? s->n : 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, s->items[i]) == 0)
            return strdup("***");
    char *cur = strdup(text);
    char **order = n ? malloc(n * sizeof *order) : NULL;
    if (!cur || (n && !order)) {
        free(cur);
        free(order);
        return NULL;
    }
    if (n) {
        /* longest first, so a secret that contains another goes whole */
        memcpy(order, s->items, n * sizeof *order);
        qsort(order, n, sizeof *order, by_len_desc);
    }
    for (size_t i = 0; i < n && cur; i++) {
        size_t sl = strlen(order[i]);
        if (sl < 4 || !strstr(cur, order[i]))
            continue;
        char *out = NULL;
        size_t len = 0, cap = 0;
        int fail = buf_put(&out, &len, &cap, "", 0);
        const char *p = cur, *hit;
        while (!fail && (hit = strstr(p, order[i])) != NULL) {
            fail = buf_put(&out, &len, &cap, p, (size_t)(hit - p)) ||
                   buf_put(&out, &len, &cap, "***", 3);
            p = hit + sl;
        }
        if (!fail)
            fail = buf_put(&out, &len, &cap, p, strlen(p));
        free(cur);
        cur = fail ? NULL : out;
        if (fail)
            free(out);
    }
    free(order);
    if (!cur)
        return NULL;
    char *masked = mask_dsn(cur);
    free(cur);
    return masked;
}

/* Replaces *p by its redacted form when that differs. */
static int redact_str(char **p, const mr_dag_secrets *s)
{
    if (!*p || !**p)
        return 0;
    char *r = mr_redact(*p, s);
    if (!r)
        return MR_ENOMEM;
    if (strcmp(r, *p) == 0) {
        free(r);
        return 0;
    }
    free(*p);
    *p = r;
    return 0;
}

/* Every string field of m and of the messages under it, through the
 * message descriptors, so a field added to the plan later is covered. */
static int redact_msg(ProtobufCMessage *m, const mr_dag_secrets *s)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    char *base = (char *)m;
    int rc = 0;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(uint32_t *)(void *)(base + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *)(void *)(base + f->quantifier_offset);
            void **arr = *(void ***)(void *)(base + f->offset);
            for (size_t k = 0; k < n && rc == 0; k++)
                rc = f->type == PROTOBUF_C_TYPE_STRING ? redact_str((char **)&arr[k], s)
                                                       : redact_msg(arr[k], s);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            rc = redact_str((char **)(void *)(base + f->offset), s);
        } else {
            ProtobufCMessage *sub = *(ProtobufCMessage **)(void *)(base + f->offset);
            if (sub)
                rc = redact_msg(sub, s);
        }
    }
    return rc;
}

int mr_plan_redact(Millrace__JobPlan *plan, const mr_dag_secrets *s)
{
    return plan ? redact_msg(&plan->base, s) : 0;
}

char *mr_redact_fragments(const char *text, const mr_dag_secrets *frag, const mr_dag_secrets *s)
{
    if (!text)
        return NULL;
    char *out = NULL;
    size_t len = 0, cap = 0, n = strlen(text);
    int fail = buf_put(&out, &len, &cap, "", 0);
    for (size_t i = 0; i < n && !fail;) {
        /* the longest run from i found in any value */
        size_t best = 0;
        for (size_t k = 0; frag && k < frag->n; k++)
            for (const char *v = frag->items[k]; *v; v++) {
                size_t l = 0;
                while (i + l < n && v[l] && v[l] == text[i + l])
                    l++;
                if (l > best)
                    best = l;
            }
        if (best >= 4) {
            fail = buf_put(&out, &len, &cap, "***", 3);
            i += best;
        } else {
            fail = buf_put(&out, &len, &cap, text + i, 1);
            i++;
        }
    }
    if (fail) {
        free(out);
        return NULL;
    }
    char *r = mr_redact(out, s);
    free(out);
    return r;
}
