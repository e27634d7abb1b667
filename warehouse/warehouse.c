/* warehouse.c - the driver-neutral front: picks the driver by name and checks
 * the arguments every driver relies on, so drivers only do database work. */
#include "warehouse/warehouse.h"

#include "core/strbuf.h"
#include "proto/plan_names.h"
#include "proto/schema_pb.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>
#include <strings.h>

static int pick(const mr_wh_config *cfg, const mr_wh__driver **out, mr_err *err)
{
    /* Set on every path: gcc -O3 cannot see that an error return is negative
     * and would warn that callers use *out uninitialized. */
    *out = NULL;
    if (!cfg)
        return mr_err_set(err, MR_EINVAL, "warehouse: no configuration");
    const char *d = cfg->driver && *cfg->driver ? cfg->driver : "sqlite";
    if (strcasecmp(d, "sqlite") == 0) {
        if (!cfg->path || !*cfg->path)
            return mr_err_set(err, MR_EINVAL, "warehouse: the sqlite driver needs a database path");
        *out = &mr_wh__sqlite;
        return 0;
    }
    if (strcasecmp(d, "postgres") == 0) {
        if (!cfg->dsn || !*cfg->dsn)
            return mr_err_set(err, MR_EINVAL,
                              "warehouse: the postgres driver needs a dsn (a libpq connection string)");
        *out = &mr_wh__postgres;
        return 0;
    }
    if (strcmp(d, "csv") == 0 || strcmp(d, "jsonl") == 0 || strcmp(d, "parquet") == 0) {
        if (!cfg->path || !*cfg->path || !cfg->job_id || !*cfg->job_id)
            return mr_err_set(err, MR_EINVAL, "file output: needs a path and a job");
        *out = &mr_wh__files;
        return 0;
    }
    return mr_err_set(err, MR_EINVAL,
                      "warehouse: unknown driver '%s' (drivers: sqlite, postgres, csv, jsonl, parquet)", d);
}

/* A step the driver d does not have. */
static int unsupported(const mr_wh__driver *d, const char *what, mr_err *err)
{
    return mr_err_set(err, MR_ENOTSUP, "warehouse: the %s driver has no %s", d->name, what);
}

static int check_schema(const mr_schema *s, const char *what, mr_err *err)
{
    if (!s || s->nfields < 1)
        return mr_err_set(err, MR_EINVAL, "warehouse: %s has no columns", what);
    for (int i = 0; i < s->nfields; i++)
        if (!s->fields[i].name || !*s->fields[i].name)
            return mr_err_set(err, MR_EINVAL, "warehouse: %s: column %d has no name", what, i + 1);
    return 0;
}

int mr_wh_stage_open(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                     mr_wh_stage **out, mr_err *err)
{
    *out = NULL;
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    if (!staging_table || !*staging_table)
        return mr_err_set(err, MR_EINVAL, "warehouse: no staging table name");
    if ((rc = check_schema(schema, staging_table, err)) < 0)
        return rc;
    return d->stage_open(cfg, staging_table, schema, out, err);
}

int mr_wh_stage_append(mr_wh_stage *s, const mr_batch *b, mr_err *err)
{
    return s->driver->stage_append(s, b, err);
}

int mr_wh_stage_finish(mr_wh_stage *s, mr_err *err)
{
    return s->driver->stage_finish(s, err);
}

void mr_wh_stage_abort(mr_wh_stage *s)
{
    if (s)
        s->driver->stage_abort(s);
}

static int check_target(const mr_wh_target *t, mr_err *err)
{
    if (!t->table || !*t->table)
        return mr_err_set(err, MR_EINVAL, "warehouse commit: a target has no table name");
    if (t->bookmarks) /* bookmarks.c: no schema, no staging */
        return t->bookmarks->dag && t->nstaging == 0
                   ? 0 : mr_err_set(err, MR_EINVAL, "warehouse commit: bookmarks without a DAG");
    int rc = check_schema(t->schema, t->table, err);
    if (rc < 0)
        return rc;
    const char *m = t->mode ? t->mode : "append";
    if (strcmp(m, "append") && strcmp(m, "overwrite") && strcmp(m, "upsert"))
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table %s: unknown write mode '%s' (append, overwrite, upsert)",
                          t->table, m);
    if (strcmp(m, "upsert") == 0) {
        if (t->nkey < 1 || !t->key)
            return mr_err_set(err, MR_EINVAL, "warehouse commit: table %s: upsert needs a key", t->table);
        for (int k = 0; k < t->nkey; k++)
            if (!t->key[k] || mr_schema_find(t->schema, t->key[k]) < 0)
                return mr_err_set(err, MR_EINVAL,
                                  "warehouse commit: table %s: upsert key '%s' is not a written column",
                                  t->table, t->key[k] ? t->key[k] : "(null)");
    }
    int up = strcmp(m, "upsert") == 0;
    if ((t->ndedupe > 0 || (t->delete_column && *t->delete_column)) && !up)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table %s: dedupe and delete_where need mode upsert",
                          t->table);
    if (t->ndedupe < 0 || (t->ndedupe > 0 && !t->dedupe))
        return mr_err_set(err, MR_EINVAL, "warehouse commit: table %s: bad dedupe list", t->table);
    for (int k = 0; k < t->ndedupe; k++)
        if (!t->dedupe[k] || !t->dedupe[k]->column ||
            mr_schema_find(t->schema, t->dedupe[k]->column) < 0)
            return mr_err_set(err, MR_EINVAL,
                              "warehouse commit: table %s: dedupe column '%s' is not a written "
                              "column",
                              t->table, t->dedupe[k] && t->dedupe[k]->column ? t->dedupe[k]->column
                                                                             : "(null)");
    if (t->delete_column && *t->delete_column && mr_schema_find(t->schema, t->delete_column) >= 0)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table %s: the delete flag '%s' is a written column",
                          t->table, t->delete_column);
    const char *sc = t->on_schema_change ? t->on_schema_change : "fail";
    if (mr_plan_lookup(mr_plan_schema_change_names, sc) < 0)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table %s: unknown on_schema_change '%s' (fail, "
                          "add_columns, recreate)",
                          t->table, sc);
    if (strcmp(sc, "recreate") == 0 && strcmp(m, "overwrite") != 0)
        return mr_err_set(err, MR_EINVAL,
                          "warehouse commit: table %s: on_schema_change recreate needs mode overwrite",
                          t->table);
    if (t->nstaging < 0 || (t->nstaging > 0 && !t->staging_tables))
        return mr_err_set(err, MR_EINVAL, "warehouse commit: table %s: bad staging table list", t->table);
    for (int i = 0; i < t->nstaging; i++)
        if (!t->staging_tables[i] || !*t->staging_tables[i])
            return mr_err_set(err, MR_EINVAL, "warehouse commit: table %s: empty staging table name",
                              t->table);
    return 0;
}

int mr_wh_commit(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                 const char *const *post_sql, int npost, mr_err *err)
{
    for (int i = 0; i < ntargets; i++)
        targets[i].rows = 0;
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < ntargets && rc == 0; i++)
        rc = check_target(&targets[i], err);
    for (int i = 0; i < npost && rc == 0; i++)
        if (!post_sql[i])
            rc = mr_err_set(err, MR_EINVAL, "warehouse commit: post_sql statement %d is missing", i + 1);
    if (rc < 0) {
        /* the contract: staging tables go away whatever the outcome */
        for (int i = 0; i < ntargets; i++)
            if (targets[i].nstaging > 0 && !targets[i].staging_tables)
                return rc;
        if (d->drop_named)
            d->drop_named(cfg, targets, ntargets);
        return rc;
    }
    if (!d->commit)
        return unsupported(d, "transaction", err);
    return d->commit(cfg, targets, ntargets, post_sql, npost, err);
}

int mr_wh_begin(const mr_wh_config *cfg, const mr_wh_target *target, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    return d->begin ? d->begin(cfg, target, err) : 0;
}

int mr_wh_prepare(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < ntargets; i++)
        if (targets[i].nstaging < 0 || (targets[i].nstaging > 0 && !targets[i].staging_tables))
            return mr_err_set(err, MR_EINVAL, "warehouse prepare: bad staging list");
    return d->prepare ? d->prepare(cfg, targets, ntargets, err) : 0;
}

int mr_wh_publish(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    return d->publish ? d->publish(cfg, targets, ntargets, err) : 0;
}

int mr_wh_drop_staging(const mr_wh_config *cfg, const char *prefix, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    return d->drop_staging(cfg, prefix ? prefix : "", err);
}

int mr_wh_check(const mr_wh_config *cfg, const mr_wh_target *targets, int ntargets, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < ntargets; i++)
        if (!targets[i].table || !targets[i].table[0] || !targets[i].schema)
            return mr_err_set(err, MR_EINVAL, "warehouse check: target %d has no table or schema", i);
    if (ntargets > 0 && !d->check)
        return unsupported(d, "table check", err);
    return ntargets > 0 ? d->check(cfg, targets, ntargets, err) : 0;
}

int mr_wh_check_plan(const Millrace__JobPlan *plan, const mr_wh_config *cfg, mr_err *err)
{
    size_t n = 0;
    for (size_t s = 0; s < plan->n_stages; s++) {
        const Millrace__WriteSpec *w = plan->stages[s]->write;
        n += w && w->target == MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE;
    }
    if (n == 0)
        return 0;
    mr_wh_target *t = calloc(n, sizeof *t);
    if (!t)
        return mr_err_oom(err, NULL);
    int k = 0, rc = 0;
    for (size_t s = 0; s < plan->n_stages && rc == 0; s++) {
        const Millrace__WriteSpec *w = plan->stages[s]->write;
        if (!w || w->target != MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE)
            continue;
        mr_schema *schema = mr_schema_from_pb(w->schema, err);
        if (!schema) {
            rc = err->code ? err->code : MR_ENOMEM;
            break;
        }
        mr_wh_target_from_plan(w, &t[k]);
        t[k].schema = schema;
        k++;
    }
    if (rc == 0)
        rc = mr_wh_check(cfg, t, k, err);
    for (int i = 0; i < k; i++)
        mr_schema_destroy((mr_schema *)t[i].schema);
    free(t);
    return rc;
}

void mr_wh_target_from_plan(const Millrace__WriteSpec *w, mr_wh_target *t)
{
    t->table = w->table;
    t->mode = mr_plan_name(mr_plan_mode_names, w->mode);
    t->key = (const char *const *)w->key;
    t->nkey = (int)w->n_key;
    t->node = w->node;
    t->dedupe = w->dedupe;
    t->ndedupe = (int)w->n_dedupe;
    t->delete_column = w->delete_column;
    t->on_schema_change = mr_plan_name(mr_plan_schema_change_names, w->on_schema_change);
}

void mr_wh_staging_name(char *buf, size_t cap, char kind, const char *job_id, uint32_t stage,
                        uint32_t task, uint32_t attempt)
{
    snprintf(buf, cap, "%c_%s_%u_%u_%u", kind, job_id, stage, task, attempt);
}

mr_schema *mr_wh_rejects_schema(void)
{
    static const char *names[] = {"job_id", "node", "file", "line", "reason", "raw"};
    mr_schema *s = mr_schema_create(6);
    if (!s)
        return NULL;
    for (int i = 0; i < 6; i++)
        if (mr_schema_set(s, i, names[i], mr_type_make(i == 3 ? MR_T_INT64 : MR_T_STRING)) < 0) {
            mr_schema_destroy(s);
            return NULL;
        }
    return s;
}

/* ---- staging leases and the sweep ------------------------------------------ */

static int check_owner(const mr_wh_owner *me, mr_err *err)
{
    if (!me || !me->owner || !me->instance)
        return mr_err_set(err, MR_EINVAL, "warehouse: staging lease without an owner");
    return 0;
}

int mr_wh_lease_take(const mr_wh_config *cfg, const char *job_id, const mr_wh_owner *me,
                     mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc == 0)
        rc = check_owner(me, err);
    if (rc == 0 && !d->lease_take)
        rc = unsupported(d, "staging leases", err);
    return rc < 0 ? rc : d->lease_take(cfg, job_id, me, err);
}

int mr_wh_lease_renew(const mr_wh_config *cfg, const char *const *job_ids, int n,
                      const mr_wh_owner *me, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc == 0)
        rc = check_owner(me, err);
    if (rc == 0 && !d->lease_renew)
        rc = unsupported(d, "staging leases", err);
    if (rc < 0 || n <= 0)
        return rc;
    /* job ids are letters and digits (coordinator/jobs.c), so a comma list
     * is unambiguous and needs no array type in SQL */
    mr_strbuf ids = {0};
    for (int i = 0; i < n; i++) {
        if (i)
            mr_strbuf_put(&ids, ",", 1);
        mr_strbuf_puts(&ids, job_ids[i]);
    }
    rc = ids.oom ? mr_err_set(err, MR_ENOMEM, "out of memory renewing staging leases")
                 : d->lease_renew(cfg, ids.p, me, err);
    mr_strbuf_free(&ids);
    return rc;
}

int mr_wh_job_cleanup(const mr_wh_config *cfg, const char *job_id, mr_err *err)
{
    const mr_wh__driver *d;
    int rc = pick(cfg, &d, err);
    if (rc < 0)
        return rc;
    char prefix[64];
    for (const char *k = "sr"; *k; k++) {
        snprintf(prefix, sizeof prefix, "%c_%s_", *k, job_id);
        if ((rc = d->drop_staging(cfg, prefix, err)) < 0)
            return rc;
    }
    return d->lease_release ? d->lease_release(cfg, job_id, err) : 0;
}

int mr_wh_sweep(const mr_wh_config *cfg, const mr_wh_owner *me, int64_t expire_ms, int *swept,
                mr_err *err)
{
    const mr_wh__driver *d;
    int n = 0;
    int rc = pick(cfg, &d, err);
    if (rc == 0)
        rc = check_owner(me, err);
    if (rc == 0 && !d->sweep)
        rc = unsupported(d, "staging sweep", err);
    if (rc == 0)
        rc = d->sweep(cfg, me, expire_ms, &n, err);
    if (swept)
        *swept = n;
    return rc;
}
