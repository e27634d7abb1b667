/* task.c - build a stage's operator pipeline from its plan and drain it.
 *
 * A stage plan (proto Stage) is a list of fused operators: a source
 * (OP_SCAN over one byte-range split, or OP_SHUFFLE_READ over this task's
 * partition) followed by narrow operators and aggregate halves.  The task
 * pulls batches from the last operator and hands them to the sink: the
 * shuffle sender for a stage that feeds a shuffle, or a warehouse staging
 * table for a stage that writes.  Each task attempt stages under its own
 * name, so the coordinator's commit picks exactly one attempt per task.
 */
#include "executor/task.h"

#include <limits.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agg.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/op.h"
#include "core/op/filter.h"
#include "core/op/hashagg.h"
#include "core/op/project.h"
#include "core/op/scan_csv.h"
#include "core/op/source.h"
#include "dag/schema_pb.h"
#include "executor/shuffle_send.h"
#include "warehouse/warehouse.h"

int mr_task_error_retryable(int code)
{
    return code == MR_EIO || code == MR_ENOMEM || code == MR_EPROTO || code == MR_EWAREHOUSE ||
           code == MR_ETIMEDOUT;
}

int mr_path_check_root(const char *root, const char *path, mr_err *err)
{
    if (!root || strcmp(root, "/") == 0)
        return 0;
    char real[PATH_MAX];
    /* The file may not exist yet (an output); check its folder then. */
    if (!realpath(path, real)) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        if (!realpath(slash ? dir : ".", real))
            return mr_err_set(err, MR_ENOTFOUND, "cannot resolve '%s'", path);
    }
    size_t n = strlen(root);
    if (strncmp(real, root, n) != 0 || (real[n] != '/' && real[n] != '\0'))
        return mr_err_set(err, MR_EINVAL, "'%s' is outside the data root '%s'", path, root);
    return 0;
}

/* ---- shuffle input as an operator source ---- */

typedef struct shuffle_src {
    mr_shuffle_reader *reader;
    mr_batch *batch;
} shuffle_src;

static int shuffle_src_next(void *ctx, mr_batch **out, mr_err *err)
{
    shuffle_src *s = ctx;
    for (;;) {
        const mr_frames *m = mr_shuffle_reader_next(s->reader);
        if (!m)
            return MR_NEXT_DONE;
        if (m->n < 1)
            return mr_err_set(err, MR_EPROTO, "empty shuffle message");
        Millrace__BatchHeader *h = NULL;
        int rc = mr_wire_decode_header(m->items[0].data, m->items[0].len, &h, err);
        if (rc < 0)
            return rc;
        rc = mr_wire_decode_batch(h, m->items + 1, m->n - 1, &s->batch, err);
        millrace__batch_header__free_unpacked(h, NULL);
        if (rc < 0)
            return rc;
        if (mr_batch_live(s->batch) == 0)
            continue;
        *out = s->batch;
        return MR_NEXT_BATCH;
    }
}

static void shuffle_src_close(void *ctx)
{
    shuffle_src *s = ctx;
    mr_shuffle_reader_close(s->reader);
    mr_batch_destroy(s->batch);
    free(s);
}

static mr_op *open_shuffle_read(const Millrace__TaskSpec *spec, const Millrace__OpSpec *op,
                                const Millrace__OpSpec *after, const mr_task_env *env,
                                volatile int *cancel, mr_err *err)
{
    mr_schema *schema = NULL;
    if (after && after->kind == MILLRACE__OP_KIND__OP_AGG_FINAL) {
        /* The wire carries the partial aggregate's state layout; rebuild it
         * from the aggregate's own description so both halves agree. */
        mr_schema *in = mr_schema_from_pb(after->input, err);
        if (!in)
            return NULL;
        const char **aggn = calloc(after->n_aggregates + 1, sizeof *aggn);
        const char **agge = calloc(after->n_aggregates + 1, sizeof *agge);
        if (aggn && agge)
            for (size_t i = 0; i < after->n_aggregates; i++) {
                aggn[i] = after->aggregates[i]->name;
                agge[i] = after->aggregates[i]->expr;
            }
        if (aggn && agge)
            schema = mr_hashagg_state_schema(in, (const char *const *)after->group_by,
                                             (int)after->n_group_by, aggn, agge,
                                             (int)after->n_aggregates, err);
        else
            mr_err_set(err, MR_ENOMEM, "out of memory");
        free(aggn);
        free(agge);
        mr_schema_destroy(in);
    } else {
        schema = mr_schema_from_pb(op->input, err);
    }
    if (!schema)
        return NULL;

    size_t n = spec->n_inputs;
    uint32_t *tasks = calloc(n + 1, sizeof *tasks), *attempts = calloc(n + 1, sizeof *attempts);
    shuffle_src *src = calloc(1, sizeof *src);
    mr_op *result = NULL;
    if (!tasks || !attempts || !src) {
        mr_err_set(err, MR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tasks[i] = spec->inputs[i]->map_task;
        attempts[i] = spec->inputs[i]->attempt;
    }
    mr_shuffle_key key = {spec->job_id, spec->input_stage, spec->partition};
    if (mr_shuffle_store_open(env->store, &key, tasks, attempts, n, env->shuffle_wait_ms, cancel,
                              &src->reader, err) < 0)
        goto out;
    result = mr_source_create(schema, shuffle_src_next, shuffle_src_close, src, op->node);
    if (!result)
        mr_err_set(err, MR_ENOMEM, "out of memory");
    else
        src = NULL; /* owned by the operator now */
out:
    if (src) {
        mr_shuffle_reader_close(src->reader);
        free(src);
    }
    free(tasks);
    free(attempts);
    mr_schema_destroy(schema);
    return result;
}

static mr_op *open_scan(const Millrace__TaskSpec *spec, const Millrace__OpSpec *op,
                        const mr_task_env *env, mr_err *err)
{
    const Millrace__ReadSpec *rd = op->read;
    const Millrace__Split *sp = spec->split;
    if (!rd || !sp)
        return mr_err_set(err, MR_EPROTO, "scan task without read spec or split"), NULL;
    if (strcmp(rd->format, "csv") != 0)
        return mr_err_set(err, MR_ENOTSUP, "node '%s': format '%s' is not supported yet",
                          op->node, rd->format), NULL;
    if (mr_path_check_root(env->data_root, sp->path, err) < 0)
        return mr_err_prefix(err, "node '%s'", op->node), NULL;
    mr_schema *schema = mr_schema_from_pb(rd->schema, err);
    if (!schema)
        return NULL;
    mr_csv_options o;
    memset(&o, 0, sizeof o);
    const Millrace__CsvOptions *c = rd->csv;
    o.header = c ? c->header : true;
    o.delimiter = c && c->delimiter && c->delimiter[0] ? c->delimiter[0] : ',';
    o.quote = c && c->quote && c->quote[0] ? c->quote[0] : '"';
    o.null_string = c ? c->null_string : "";
    o.on_error = (int)rd->on_error;
    o.max_errors = rd->max_errors;
    mr_op *scan = mr_scan_csv_create(sp->path, sp->offset, sp->length, schema, &o, op->node, err);
    mr_schema_destroy(schema);
    return scan;
}

static mr_op *open_agg(mr_op *child, const Millrace__OpSpec *op, mr_agg_mode mode, mr_err *err)
{
    mr_schema *in = mr_schema_from_pb(op->input, err);
    const char **aggn = calloc(op->n_aggregates + 1, sizeof *aggn);
    const char **agge = calloc(op->n_aggregates + 1, sizeof *agge);
    mr_op *agg = NULL;
    if (!in || !aggn || !agge) {
        if (in)
            mr_err_set(err, MR_ENOMEM, "out of memory");
        mr_op_close(child);
        goto out;
    }
    for (size_t i = 0; i < op->n_aggregates; i++) {
        aggn[i] = op->aggregates[i]->name;
        agge[i] = op->aggregates[i]->expr;
    }
    agg = mr_hashagg_create(child, mode, (const char *const *)op->group_by, (int)op->n_group_by,
                            aggn, agge, (int)op->n_aggregates, in, op->node, err);
out:
    free(aggn);
    free(agge);
    mr_schema_destroy(in);
    return agg;
}

static mr_op *open_project(mr_op *child, const Millrace__OpSpec *op, mr_err *err)
{
    const char **names = calloc(op->n_exprs + 1, sizeof *names);
    const char **exprs = calloc(op->n_exprs + 1, sizeof *exprs);
    mr_op *p = NULL;
    if (!names || !exprs) {
        mr_err_set(err, MR_ENOMEM, "out of memory");
        mr_op_close(child);
    } else {
        for (size_t i = 0; i < op->n_exprs; i++) {
            names[i] = op->exprs[i]->name;
            exprs[i] = op->exprs[i]->expr;
        }
        p = mr_project_create(child, names, exprs, (int)op->n_exprs, op->node, err);
    }
    free(names);
    free(exprs);
    return p;
}

/* Builds the pipeline; returns the last operator (owning the chain) and
 * the source through *source (for counters). */
static mr_op *build_pipeline(const Millrace__TaskSpec *spec, const mr_task_env *env,
                             volatile int *cancel, mr_op **source, mr_err *err)
{
    const Millrace__Stage *st = spec->stage;
    if (!st || st->n_ops == 0)
        return mr_err_set(err, MR_EPROTO, "task without operators"), NULL;
    const Millrace__OpSpec *first = st->ops[0];
    mr_op *op;
    if (first->kind == MILLRACE__OP_KIND__OP_SCAN)
        op = open_scan(spec, first, env, err);
    else if (first->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ)
        op = open_shuffle_read(spec, first, st->n_ops > 1 ? st->ops[1] : NULL, env, cancel, err);
    else
        return mr_err_set(err, MR_EPROTO, "stage does not start with a source"), NULL;
    if (!op)
        return NULL;
    op->cancel = cancel;
    *source = op;
    for (size_t i = 1; i < st->n_ops && op; i++) {
        const Millrace__OpSpec *o = st->ops[i];
        switch (o->kind) {
        case MILLRACE__OP_KIND__OP_FILTER:
            if (o->n_exprs != 1) {
                mr_op_close(op);
                return mr_err_set(err, MR_EPROTO, "filter without a predicate"), NULL;
            }
            op = mr_filter_create(op, o->exprs[0]->expr, o->node, err);
            break;
        case MILLRACE__OP_KIND__OP_PROJECT: op = open_project(op, o, err); break;
        case MILLRACE__OP_KIND__OP_AGG_PARTIAL: op = open_agg(op, o, MR_AGG_PARTIAL, err); break;
        case MILLRACE__OP_KIND__OP_AGG_FINAL: op = open_agg(op, o, MR_AGG_FINAL, err); break;
        default:
            mr_op_close(op);
            return mr_err_set(err, MR_EPROTO, "unknown operator kind %d", (int)o->kind), NULL;
        }
    }
    return op;
}

static void batch_pause(const mr_task_env *env)
{
    if (env->batch_delay_ms > 0) {
        struct timespec ts = {env->batch_delay_ms / 1000, (long)(env->batch_delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int drain_to_shuffle(mr_op *top, const Millrace__TaskSpec *spec, const mr_task_env *env,
                            volatile int *cancel, mr_task_stats *stats, mr_err *err)
{
    mr_shuffle_out *so = mr_shuffle_out_create(env->net, spec, top->schema, cancel, err);
    if (!so)
        return err->code ? err->code : MR_EIO;
    int rc;
    mr_batch *b;
    while ((rc = mr_op_next(top, &b, err)) == MR_NEXT_BATCH) {
        if ((rc = mr_shuffle_out_write(so, b, err)) < 0)
            break;
        batch_pause(env);
    }
    if (rc == MR_NEXT_DONE)
        rc = mr_shuffle_out_finish(so, env->shuffle_wait_ms, err);
    stats->bytes_shuffled = mr_shuffle_out_bytes(so);
    mr_shuffle_out_destroy(so);
    return rc < 0 ? rc : 0;
}

static int drain_to_warehouse(mr_op *top, const Millrace__TaskSpec *spec, const mr_task_env *env,
                              mr_err *err)
{
    const Millrace__Warehouse *w = spec->warehouse;
    if (!w || !spec->staging_table || !spec->staging_table[0])
        return mr_err_set(err, MR_EPROTO, "write task without warehouse or staging table");
    mr_wh_config cfg = {w->driver, w->path, w->dsn, w->schema};
    mr_wh_stage *stage = NULL;
    int rc = mr_wh_stage_open(&cfg, spec->staging_table, top->schema, &stage, err);
    if (rc < 0)
        return rc;
    mr_batch *b;
    while ((rc = mr_op_next(top, &b, err)) == MR_NEXT_BATCH) {
        if ((rc = mr_wh_stage_append(stage, b, err)) < 0)
            break;
        batch_pause(env);
    }
    if (rc == MR_NEXT_DONE)
        return mr_wh_stage_finish(stage, err);
    mr_wh_stage_abort(stage);
    return rc;
}

int mr_task_run(const Millrace__TaskSpec *spec, const mr_task_env *env, volatile int *cancel,
                mr_task_stats *stats, mr_err *err)
{
    memset(stats, 0, sizeof *stats);
    mr_op *source = NULL;
    mr_op *top = build_pipeline(spec, env, cancel, &source, err);
    if (!top)
        return err->code ? err->code : MR_EINVAL;
    int rc = mr_op_open(top, err);
    if (rc >= 0) {
        const Millrace__Stage *st = spec->stage;
        if (st->shuffle)
            rc = drain_to_shuffle(top, spec, env, cancel, stats, err);
        else if (st->write && strcmp(st->write->target, "warehouse") == 0)
            rc = drain_to_warehouse(top, spec, env, err);
        else
            rc = mr_err_set(err, MR_ENOTSUP, "stage %u: output target '%s' is not supported yet",
                            st->id, st->write ? st->write->target : "(none)");
    }
    stats->rows_in = source->rows_out;
    stats->rows_out = top->rows_out;
    if (spec->stage->ops[0]->kind == MILLRACE__OP_KIND__OP_SCAN)
        stats->bytes_read = mr_scan_csv_bytes_read(source);
    mr_op_close(top);
    return rc < 0 ? rc : 0;
}
