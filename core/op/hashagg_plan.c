/* hashagg_plan.c - the hash aggregate's plan: the aggregates parsed, bound
 * and typed against the aggregate input, the group columns resolved, and
 * the partial-state schema (hashagg.h) derived from them.  Built once per
 * operator by mr_hashagg_create and shared, read-only, with the operators of
 * its spilled partitions (hashagg_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agg.h"
#include "core/op/hashagg_int.h"

void hashagg__plan_free(plan *p)
{
    if (p->aggs)
        for (int i = 0; i < p->nagg; i++) {
            free(p->aggs[i].name);
            free(p->aggs[i].text);
            free(p->aggs[i].sep);
            mr_expr_destroy(p->aggs[i].arg);
        }
    free(p->aggs);
    free(p->group_idx);
    memset(p, 0, sizeof *p);
}

/* Drops one reference to p; the last frees it.  NULL is a no-op. */
void hashagg__plan_release(plan *p)
{
    if (p && --p->refs == 0) {
        hashagg__plan_free(p);
        free(p);
    }
}

bool hashagg__is_float_sum(const agg_def *d)
{
    return d->arg_type.id != MR_T_DECIMAL &&
           (d->kind == MR_AGG_AVG || d->result.id == MR_T_FLOAT64);
}

/* Type of avg's sum state. */
mr_type hashagg__avg_sum_type(const agg_def *d)
{
    return d->arg_type.id == MR_T_DECIMAL
               ? mr_type_decimal(MR_DECIMAL_MAX_PRECISION, d->arg_type.scale)
               : mr_type_make(MR_T_FLOAT64);
}

/* Parses, binds and types the aggregates and resolves the group columns.
 * Messages start with where ("node 'x': ", or "" outside an operator). */
int hashagg__plan_build(plan *p, const mr_schema *in, const char *const *group_by, int ngroup,
                        const char *const *names, const char *const *exprs, int nagg,
                        const char *where, mr_err *err)
{
    memset(p, 0, sizeof *p);
    if (ngroup < 0 || nagg < 0 || ngroup + nagg == 0)
        return mr_err_set(err, MR_EINVAL,
                          "%san aggregate needs a group column or an aggregate", where);
    p->ngroup = ngroup;
    p->nagg = nagg;
    p->group_idx = calloc(ngroup ? (size_t)ngroup : 1, sizeof *p->group_idx);
    p->aggs = calloc(nagg ? (size_t)nagg : 1, sizeof *p->aggs);
    if (!p->group_idx || !p->aggs)
        return mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
    for (int g = 0; g < ngroup; g++) {
        p->group_idx[g] = mr_schema_find(in, group_by[g]);
        if (p->group_idx[g] < 0)
            return mr_err_set(err, MR_ENOTFOUND, "%sgroup_by column '%s' not found",
                              where, group_by[g]);
    }
    /* Output names: group columns then aggregates, all distinct. */
    for (int i = 0; i < ngroup + nagg; i++) {
        const char *a = i < ngroup ? group_by[i] : names[i - ngroup];
        for (int j = 0; j < i; j++) {
            const char *b = j < ngroup ? group_by[j] : names[j - ngroup];
            if (strcmp(a, b) == 0)
                return mr_err_set(err, MR_EINVAL, "%soutput column '%s' appears twice",
                                  where, a);
        }
    }
    int state_col = ngroup, dkey = ngroup;
    for (int i = 0; i < nagg; i++) {
        agg_def *d = &p->aggs[i];
        d->arg_col = -1;
        d->dkey = -1;
        d->name = strdup(names[i]);
        d->text = strdup(exprs[i]);
        if (!d->name || !d->text)
            return mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
        int rc = mr_agg_parse(exprs[i], &d->kind, &d->arg, err);
        if (rc == 0 && d->arg) {
            rc = mr_expr_bind(d->arg, in, err);
            /* bind offsets are into the argument; make them whole-text */
            if (rc < 0 && err && err->offset >= 0)
                err->offset += mr_agg_arg_offset(exprs[i]);
        }
        if (rc < 0) {
            int off = err ? err->offset : -1;
            mr_err_prefix(err, "%saggregate '%s' (%s)", where, d->name, d->text);
            if (err)
                err->offset = off;
            return rc;
        }
        d->arg_type = d->arg ? mr_expr_type(d->arg) : mr_type_make(MR_T_INT64);
        rc = mr_agg_result_type(d->kind, d->arg_type, &d->result, err);
        if (rc < 0) {
            mr_err_prefix(err, "%saggregate '%s' (%s)", where, d->name, d->text);
            return rc;
        }
        if (d->kind == MR_AGG_STRING_AGG && mr_agg_separator(exprs[i], &d->sep, &d->seplen) < 0)
            return mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
        if (d->arg && mr_expr_column_name(d->arg))
            d->arg_col = mr_schema_find(in, mr_expr_column_name(d->arg));
        d->state_col = state_col;
        d->nstate = d->kind == MR_AGG_AVG ? 2 : MR_AGG_IS_VARIANCE(d->kind) ? 3 : 1;
        state_col += d->nstate;
        if (d->kind == MR_AGG_COUNT_DISTINCT)
            d->dkey = dkey++;
    }
    return 0;
}

/* The state schema of a built plan (see hashagg.h). */
mr_schema *hashagg__plan_state_schema(const plan *p, const mr_schema *in, const char *where,
                                      mr_err *err)
{
    int n = p->ngroup;
    for (int i = 0; i < p->nagg; i++)
        n += p->aggs[i].nstate;
    mr_schema *s = mr_schema_create(n);
    if (!s)
        goto oom;
    for (int g = 0; g < p->ngroup; g++)
        if (mr_schema_set(s, g, in->fields[p->group_idx[g]].name,
                          in->fields[p->group_idx[g]].type) < 0)
            goto oom;
    for (int i = 0; i < p->nagg; i++) {
        const agg_def *d = &p->aggs[i];
        const char *suffix = "$count";
        mr_type t = mr_type_make(MR_T_INT64);
        switch (d->kind) {
        case MR_AGG_COUNT_STAR:
        case MR_AGG_COUNT: break;
        case MR_AGG_COUNT_DISTINCT: suffix = "$value"; t = d->arg_type; break;
        case MR_AGG_SUM: suffix = "$sum"; t = d->result; break;
        case MR_AGG_AVG: suffix = "$sum"; t = hashagg__avg_sum_type(d); break;
        case MR_AGG_MIN: suffix = "$min"; t = d->arg_type; break;
        case MR_AGG_MAX: suffix = "$max"; t = d->arg_type; break;
        case MR_AGG_VAR_SAMP:
        case MR_AGG_VAR_POP:
        case MR_AGG_STDDEV_SAMP:
        case MR_AGG_STDDEV_POP: break; /* $count, then $mean and $m2 below */
        case MR_AGG_BOOL_AND: suffix = "$and"; t = d->result; break;
        case MR_AGG_BOOL_OR: suffix = "$or"; t = d->result; break;
        case MR_AGG_STRING_AGG: suffix = "$str"; t = d->result; break;
        case MR_AGG_APPROX_COUNT_DISTINCT: suffix = "$hll"; t = mr_type_make(MR_T_STRING); break;
        }
        size_t len = strlen(d->name) + 8;
        char *nm = malloc(len);
        if (!nm)
            goto oom;
        snprintf(nm, len, "%s%s", d->name, suffix);
        int rc = mr_schema_set(s, d->state_col, nm, t);
        if (rc == 0 && d->kind == MR_AGG_AVG) {
            snprintf(nm, len, "%s$count", d->name);
            rc = mr_schema_set(s, d->state_col + 1, nm, mr_type_make(MR_T_INT64));
        }
        if (rc == 0 && MR_AGG_IS_VARIANCE(d->kind)) {
            snprintf(nm, len, "%s$mean", d->name);
            rc = mr_schema_set(s, d->state_col + 1, nm, mr_type_make(MR_T_FLOAT64));
            snprintf(nm, len, "%s$m2", d->name);
            if (rc == 0)
                rc = mr_schema_set(s, d->state_col + 2, nm, mr_type_make(MR_T_FLOAT64));
        }
        free(nm);
        if (rc < 0)
            goto oom;
    }
    return s;
oom:
    mr_schema_destroy(s);
    mr_err_set(err, MR_ENOMEM, "%sout of memory", where);
    return NULL;
}

mr_schema *mr_hashagg_state_schema(const mr_schema *agg_input, const char *const *group_by,
                                   int ngroup, const char *const *agg_names,
                                   const char *const *agg_exprs, int nagg, mr_err *err)
{
    plan p;
    mr_schema *s = NULL;
    if (hashagg__plan_build(&p, agg_input, group_by, ngroup, agg_names, agg_exprs, nagg, "",
                            err) == 0)
        s = hashagg__plan_state_schema(&p, agg_input, "", err);
    hashagg__plan_free(&p);
    return s;
}

