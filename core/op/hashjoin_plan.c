/* hashjoin_plan.c - the hash join's plan: key columns on both sides, their
 * common types (core/keys.h), and where each output column comes from
 * (hashjoin.h has the semantics); also the join type names.  Built once by
 * mr_hashjoin_create and shared, read-only, with the joins of spilled
 * partitions (hashjoin_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/op/hashjoin_int.h"

void hashjoin__plan_free(jplan *p)
{
    free(p->lk);
    free(p->rk);
    free(p->ktype);
    free(p->lconv);
    free(p->rconv);
    free(p->oc);
    mr_schema_destroy(p->schema);
    memset(p, 0, sizeof *p);
}

/* Writes "a, b, c" (cut short with "...") into buf. */
static const char *column_list(const mr_schema *s, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->nfields && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", s->fields[i].name);
        if (n < 0 || (size_t)n >= cap - used) {
            if (cap > 4)
                memcpy(buf + cap - 4, "...", 4);
            break;
        }
        used += (size_t)n;
    }
    return buf;
}

static int find_key(const mr_schema *s, const char *name, const char *side, const char *node,
                    mr_err *err)
{
    int i = name ? mr_schema_find(s, name) : -1;
    if (i < 0) {
        char cols[256];
        mr_err_set(err, MR_ENOTFOUND,
                   "node '%s': join key '%s' not found in the %s input (columns: %s)",
                   node, name ? name : "(null)", side, column_list(s, cols, sizeof cols));
    }
    return i;
}

static bool is_merged(const jplan *p, const char *const *lkeys, const char *const *rkeys, int k)
{
    return p->how != MR_JOIN_SEMI && p->how != MR_JOIN_ANTI && strcmp(lkeys[k], rkeys[k]) == 0;
}

int hashjoin__plan_build(jplan *p, const mr_schema *left, const mr_schema *right,
                         mr_join_type how, const char *const *lkeys, const char *const *rkeys,
                         int nkeys, const char *prefix, const char *node, mr_err *err)
{
    memset(p, 0, sizeof *p);
    p->how = how;
    if ((int)how < MR_JOIN_INNER || how > MR_JOIN_ANTI)
        return mr_err_set(err, MR_EINVAL, "node '%s': unknown join type %d", node, (int)how);
    if (nkeys <= 0 || !lkeys || !rkeys)
        return mr_err_set(err, MR_EINVAL, "node '%s': a join needs at least one key pair in 'on'",
                          node);
    if (!prefix)
        prefix = "";
    p->nkeys = nkeys;
    size_t nk = (size_t)nkeys;
    p->lk = malloc(nk * sizeof *p->lk);
    p->rk = malloc(nk * sizeof *p->rk);
    p->ktype = malloc(nk * sizeof *p->ktype);
    p->lconv = calloc(nk, sizeof *p->lconv);
    p->rconv = calloc(nk, sizeof *p->rconv);
    p->oc = malloc((size_t)(left->nfields + right->nfields + 1) * sizeof *p->oc);
    if (!p->lk || !p->rk || !p->ktype || !p->lconv || !p->rconv || !p->oc)
        return mr_err_oom(err, node);
    for (int k = 0; k < nkeys; k++) {
        if ((p->lk[k] = find_key(left, lkeys[k], "left", node, err)) < 0 ||
            (p->rk[k] = find_key(right, rkeys[k], "right", node, err)) < 0)
            return MR_ENOTFOUND;
        mr_type lt = left->fields[p->lk[k]].type, rt = right->fields[p->rk[k]].type;
        if (mr_keys_common_type(lt, rt, &p->ktype[k], err) < 0) {
            mr_err_prefix(err, "node '%s': join keys '%s' (left) and '%s' (right)", node,
                          lkeys[k], rkeys[k]);
            return MR_ETYPE;
        }
        p->lconv[k] = mr_keys_needs_convert(lt, p->ktype[k]);
        p->rconv[k] = mr_keys_needs_convert(rt, p->ktype[k]);
    }
    /* Output columns: left (a merged key takes its pair's common type),
     * then right columns that are not merged keys. */
    int n = 0;
    for (int c = 0; c < left->nfields; c++) {
        p->oc[n].kind = OUT_LEFT;
        p->oc[n].col = c;
        for (int k = 0; k < nkeys; k++)
            if (p->lk[k] == c && is_merged(p, lkeys, rkeys, k)) {
                p->oc[n].kind = OUT_KEY;
                p->oc[n].col = k;
                break;
            }
        n++;
    }
    if (how != MR_JOIN_SEMI && how != MR_JOIN_ANTI)
        for (int c = 0; c < right->nfields; c++) {
            bool skip = false;
            for (int k = 0; k < nkeys && !skip; k++)
                skip = p->rk[k] == c && is_merged(p, lkeys, rkeys, k);
            if (!skip) {
                p->oc[n].kind = OUT_RIGHT;
                p->oc[n].col = c;
                n++;
            }
        }
    p->nout = n;
    p->schema = mr_schema_create(n);
    if (!p->schema)
        return mr_err_oom(err, node);
    size_t plen = strlen(prefix);
    for (int o = 0; o < n; o++) {
        const out_col *oc = &p->oc[o];
        int rc;
        if (oc->kind == OUT_RIGHT) {
            const mr_field *f = &right->fields[oc->col];
            size_t len = plen + strlen(f->name) + 1;
            char *name = malloc(len);
            if (!name)
                return mr_err_oom(err, node);
            snprintf(name, len, "%s%s", prefix, f->name);
            rc = mr_schema_set(p->schema, o, name, f->type);
            free(name);
        } else {
            const mr_field *f = &left->fields[oc->kind == OUT_KEY ? p->lk[oc->col] : oc->col];
            rc = mr_schema_set(p->schema, o, f->name,
                               oc->kind == OUT_KEY ? p->ktype[oc->col] : f->type);
        }
        if (rc < 0)
            return mr_err_oom(err, node);
    }
    for (int o = 0; o < n; o++)
        for (int q = 0; q < o; q++)
            if (strcmp(p->schema->fields[o].name, p->schema->fields[q].name) == 0) {
                if (p->oc[o].kind == OUT_RIGHT && p->oc[q].kind != OUT_RIGHT)
                    return mr_err_set(err, MR_EINVAL,
                                      "node '%s': output column '%s' comes from both the left and "
                                      "the right input; set right_prefix, rename one of them or "
                                      "join on it",
                                      node, p->schema->fields[o].name);
                return mr_err_set(err, MR_EINVAL, "node '%s': output column '%s' appears twice",
                                  node, p->schema->fields[o].name);
            }
    return 0;
}

mr_schema *mr_hashjoin_schema(const mr_schema *left, const mr_schema *right, mr_join_type how,
                              const char *const *left_keys, const char *const *right_keys,
                              int nkeys, const char *right_prefix, const char *node, mr_err *err)
{
    jplan p;
    mr_schema *s = NULL;
    if (hashjoin__plan_build(&p, left, right, how, left_keys, right_keys, nkeys, right_prefix,
                   node ? node : "", err) == 0) {
        s = p.schema;
        p.schema = NULL;
    }
    hashjoin__plan_free(&p);
    return s;
}

static const char *const join_names[] = {"inner", "left", "right", "full", "semi", "anti"};

int mr_join_type_parse(const char *text, mr_join_type *out, mr_err *err)
{
    for (int i = 0; i <= MR_JOIN_ANTI; i++)
        if (text && strcmp(text, join_names[i]) == 0) {
            *out = (mr_join_type)i;
            return 0;
        }
    return mr_err_set(err, MR_EINVAL,
                      "unknown join type '%s' (expected inner, left, right, full, semi or anti)",
                      text ? text : "(null)");
}

const char *mr_join_type_name(mr_join_type how)
{
    return (int)how >= 0 && how <= MR_JOIN_ANTI ? join_names[how] : "?";
}

void hashjoin__plan_release(jplan *p)
{
    if (p && --p->refs == 0) {
        hashjoin__plan_free(p);
        free(p);
    }
}
