/* task.c - build a stage's operator pipeline from its plan and drain it.
 *
 * A stage plan (proto Stage) is a tree of fused operators kept as a list
 * (each operator names its inputs by index; a plain pipeline needs none):
 * sources (OP_SCAN over this task's byte-range split, or OP_SHUFFLE_READ of
 * this task's partition of an input stage), then narrow operators, joins,
 * unions and aggregate halves.  It is built recursively from the root: the
 * task builds the sources, every other operator comes from its kind's
 * builder (executor/opbuild.c), from typed plan fields only.  The task
 * pulls batches from the last operator and hands them to the sink: the
 * shuffle sender for a stage that feeds a shuffle, or a warehouse staging
 * table for a stage that writes.  Each task attempt stages under its own
 * name, so the coordinator's commit picks exactly one attempt per task.
 */
#include "executor/task.h"

#include <limits.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/csv.h"
#include "core/expr.h"
#include "core/log.h"
#include "core/op.h"
#include "core/op/filter.h"
#include "core/op/check.h"
#include "core/op/scan.h"
#include "core/op/scan_csv.h"
#include "core/io.h"
#include "core/op/source.h"
#include "core/op/union.h"
#include "core/utf8.h"
#include "proto/plan_names.h"
#include "proto/schema_pb.h"
#include "executor/opbuild.h"
#include "executor/shuffle_send.h"
#include "warehouse/pg_source.h"
#include "warehouse/warehouse.h"

static int task_run(const Millrace__TaskSpec *spec, const mr_task_env *env, volatile int *cancel,
                    mr_task_stats *stats, mr_err *err);

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
    struct stat sb;
    /* The file may not exist yet (an output); check its folder then.  A
     * symlink that leads nowhere is refused: creating the file would
     * follow it wherever it points. */
    if (!realpath(path, real)) {
        if (lstat(path, &sb) == 0)
            return mr_err_set(err, MR_EINVAL, "'%s' is a symlink to nothing", path);
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

/* A SQLite warehouse file and the staging file beside it must both stay
 * under the data root (the coordinator checks too; an executor trusts no
 * task spec with its file system). */
static int check_warehouse_root(const mr_task_env *env, const Millrace__Warehouse *w, mr_err *err)
{
    if (!w || w->driver != MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE)
        return 0;
    if (!w->path || !w->path[0])
        return mr_err_set(err, MR_EPROTO, "SQLite warehouse without a path");
    char staging[PATH_MAX + 16];
    snprintf(staging, sizeof staging, "%s.staging", w->path);
    int rc = mr_path_check_root(env->data_root, w->path, err);
    if (rc >= 0)
        rc = mr_path_check_root(env->data_root, staging, err);
    if (rc < 0)
        mr_err_prefix(err, "warehouse");
    return rc;
}

/* ---- shuffle input as an operator source ---- */

typedef struct shuffle_src {
    mr_shuffle_reader *reader;
    mr_batch *batch;
} shuffle_src;

/* The running task's progress and cancel flag, for the per-batch hooks
 * (a task runs in one thread). */
static _Thread_local mr_task_progress *tl_progress;
static _Thread_local volatile int *tl_cancel;
static _Thread_local mr_op *tl_root;

static int shuffle_src_next(void *ctx, mr_batch **out, mr_err *err)
{
    shuffle_src *s = ctx;
    for (;;) {
        const mr_frames *m;
        int got = mr_shuffle_reader_next(s->reader, &m, err);
        if (got < 0)
            return got;
        if (got == 0)
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
        if (tl_progress)
            atomic_fetch_add(&tl_progress->rows_in, mr_batch_live(s->batch));
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

/* What building one task's operator tree needs to carry around. */
typedef struct build_ctx {
    const Millrace__TaskSpec *spec;
    const Millrace__Stage *st;
    const mr_task_env *env;
    volatile int *cancel;
    mr_op *sources[64]; /* for counters: every source built */
    int nsources;
    mr_op *scan;        /* the scan that reads this task's split, if any */
    mr_op *mark;        /* above it, an incremental column read's watermark */
} build_ctx;

/* Indices of op idx's inputs: its `children`, or the op before it when it
 * lists none and is not a source.  Children must come before their parent,
 * which also rules out cycles. */
static int op_children(const Millrace__Stage *st, size_t idx, uint32_t *out, size_t cap,
                       mr_err *err)
{
    const Millrace__OpSpec *o = st->ops[idx];
    if (o->kind == MILLRACE__OP_KIND__OP_SCAN || o->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ)
        return 0;
    if (o->n_children == 0) {
        if (idx == 0)
            return mr_err_set(err, MR_EPROTO, "operator %zu has no input", idx);
        out[0] = (uint32_t)idx - 1;
        return 1;
    }
    if (o->n_children > cap)
        return mr_err_set(err, MR_EPROTO, "operator %zu has too many inputs", idx);
    for (size_t i = 0; i < o->n_children; i++) {
        if (o->children[i] >= idx)
            return mr_err_set(err, MR_EPROTO, "operator %zu reads a later operator", idx);
        out[i] = o->children[i];
    }
    return (int)o->n_children;
}

static int empty_next(void *ctx, mr_batch **out, mr_err *err)
{
    (void)ctx;
    (void)out;
    (void)err;
    return MR_NEXT_DONE;
}

static mr_op *open_shuffle_read(build_ctx *bc, size_t idx, mr_err *err)
{
    const Millrace__OpSpec *op = bc->st->ops[idx];
    const Millrace__TaskSpec *spec = bc->spec;
    uint32_t stage_id = bc->st->n_inputs == 1 ? bc->st->inputs[0] : op->shuffle_read->input_stage;
    const Millrace__ShuffleInput *in = NULL;
    for (size_t i = 0; i < spec->n_shuffle_inputs; i++)
        if (spec->shuffle_inputs[i]->stage_id == stage_id)
            in = spec->shuffle_inputs[i];
    if (!in)
        return mr_err_set(err, MR_EPROTO, "task has no shuffle input for stage %u", stage_id), NULL;

    /* The wire schema, as the producing stage's root emits it (for an
     * aggregate, the partial's states: the compiler put them in the plan). */
    mr_schema *schema = mr_schema_from_pb(op->input, err);
    if (!schema)
        return NULL;
    size_t n = in->n_attempts;
    uint32_t *tasks = calloc(n + 1, sizeof *tasks), *attempts = calloc(n + 1, sizeof *attempts);
    shuffle_src *src = calloc(1, sizeof *src);
    mr_op *result = NULL;
    if (!tasks || !attempts || !src) {
        mr_err_oom(err, NULL);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        tasks[i] = in->attempts[i]->map_task;
        attempts[i] = in->attempts[i]->attempt;
    }
    mr_shuffle_key key = {spec->job_id, stage_id, spec->partition};
    /* waiting for producers is not being stuck (see docs/runtime.md) */
    if (bc->env->progress)
        atomic_store(&bc->env->progress->waiting, 1);
    int orc = mr_shuffle_store_open(bc->env->store, &key, tasks, attempts, n,
                                    bc->env->shuffle_wait_ms, bc->cancel, &src->reader, err);
    if (bc->env->progress)
        atomic_store(&bc->env->progress->waiting, 0);
    if (orc < 0)
        goto out;
    result = mr_source_create(schema, shuffle_src_next, shuffle_src_close, src, op->node);
    if (!result)
        mr_err_oom(err, NULL);
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

/* A postgres read's scan.  The dsn comes from the executor's own
 * environment variable the plan names (never from the plan itself, which
 * carries no password), or is the DAG's literal dsn without one; with an
 * incremental column the watermark becomes the query's WHERE. */
static mr_op *open_db_scan(build_ctx *bc, const Millrace__OpSpec *op, const mr_schema *schema,
                           mr_err *err)
{
    const Millrace__ReadSpec *rd = op->read;
    const char *dsn = rd->dsn;
    if (rd->dsn_env && rd->dsn_env[0]) {
        dsn = getenv(rd->dsn_env);
        if (!dsn)
            return mr_err_set(err, MR_EINVAL, "node '%s': the executor has no environment "
                              "variable %s (the source dsn; set it on every executor as on the "
                              "coordinator)", op->node, rd->dsn_env), NULL;
    }
    int inc = rd->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN;
    const Millrace__Split *sp = bc->spec->split;
    mr_pg_read r = {dsn, rd->table, rd->query, inc ? rd->incremental_column : NULL,
                    inc && bc->spec->has_watermark ? bc->spec->watermark : NULL,
                    sp && sp->db_range && sp->db_range[0] ? sp->db_range : NULL};
    return mr_pg_source_scan(&r, schema, op->node, err);
}

/* A scan of split sp of read op (schema: its output), with the read's
 * watermark and pushed filter; track: the task's own split, whose scan
 * the task's statistics and rejects come from. */
static mr_op *scan_split(build_ctx *bc, const Millrace__OpSpec *op, const Millrace__Split *sp,
                         const mr_schema *schema, int track, mr_err *err)
{
    const Millrace__ReadSpec *rd = op->read;
    int pruned = rd->n_columns > 0;
    mr_op *scan = NULL;
    /* the data root confines local files; an s3:// object is the store's */
    if (!mr_io_is_remote(sp->path) && mr_path_check_root(bc->env->data_root, sp->path, err) < 0) {
        mr_err_prefix(err, "node '%s'", op->node);
        return NULL;
    }
    mr_csv_options o;
    mr_csv_options_init(&o);
    const Millrace__CsvOptions *c = rd->csv;
    if (c) {
        o.header = c->header;
        if (c->delimiter && c->delimiter[0])
            o.delimiter = c->delimiter[0];
        if (c->quote && c->quote[0])
            o.quote = c->quote[0];
        o.null_string = c->null_string;
    }
    o.on_error = (int)rd->on_error;
    o.max_errors = rd->max_errors;
    o.start_in_quote = sp->in_quote;
    o.schema_inferred = rd->schema_inferred;
    o.compression = (int)rd->compression;
    if (pruned) {
        o.fields = rd->columns;
        o.nfields = (int)rd->schema->n_fields;
    }
    /* Parquet skips row groups by it, except where the watermark must see
     * every row read (an incremental column read) */
    if (rd->filter && rd->filter[0] && rd->incremental != MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN)
        o.filter = rd->filter;
    const char *fname = mr_plan_name(mr_plan_format_names, rd->format);
    const mr_format *fmt = mr_format_find(fname);
    if (fmt)
        scan = mr_scan_create(fmt, sp->path, sp->offset, sp->length, schema, &o, op->node, err);
    else
        mr_err_set(err, MR_ENOTSUP, "node '%s': format '%s' is not supported", op->node,
                   fname);
    if (scan && track)
        bc->scan = scan;
    if (scan && rd->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN) {
        /* only rows above the last run's watermark (docs/bookmarks.md) */
        const char *bound = bc->spec->has_watermark ? bc->spec->watermark : NULL;
        scan = mr_watermark_create(scan, rd->incremental_column, bound, op->node, err);
        bc->scan = NULL; /* closed with the watermark, also when it failed */
        if (scan) {
            bc->scan = scan->child;
            bc->mark = scan;
        }
    }
    /* filter pushdown: the condition runs on each batch the scan parses
     * (after an incremental read's watermark, which sees every row read) */
    if (scan && rd->filter && rd->filter[0]) {
        mr_op *top = mr_filter_create(scan, rd->filter, op->node, err);
        if (!top && track && bc->mark == scan)
            bc->mark = NULL;
        if (!top && track)
            bc->scan = NULL; /* closed with the filter */
        scan = top;
    }
    return scan;
}

/* A broadcast read: every split of it (TaskSpec.broadcast_reads) in one
 * union, whichever split the task itself reads. */
static mr_op *scan_broadcast(build_ctx *bc, size_t idx, const mr_schema *schema, mr_err *err)
{
    const Millrace__OpSpec *op = bc->st->ops[idx];
    const Millrace__BroadcastRead *br = NULL;
    for (size_t i = 0; i < bc->spec->n_broadcast_reads; i++)
        if (bc->spec->broadcast_reads[i]->op == idx)
            br = bc->spec->broadcast_reads[i];
    if (!br)
        return mr_err_set(err, MR_EPROTO, "node '%s': broadcast read without its files",
                          op->node), NULL;
    if (br->n_splits == 0) {
        mr_op *e = mr_source_create(schema, empty_next, NULL, NULL, op->node);
        return e ? e : (mr_err_oom(err, NULL), NULL);
    }
    mr_op **in = calloc(br->n_splits, sizeof *in);
    if (!in)
        return mr_err_oom(err, NULL), NULL;
    size_t n = 0;
    for (; n < br->n_splits; n++)
        if (!(in[n] = scan_split(bc, op, br->splits[n], schema, 0, err)))
            break;
    mr_op *result = NULL;
    if (n == 1)
        result = in[0];
    else if (n == br->n_splits)
        result = mr_union_create(in, (int)n, 0, op->node, err);
    else
        for (size_t i = 0; i < n; i++)
            mr_op_close(in[i]);
    free(in);
    return result;
}

static mr_op *open_scan(build_ctx *bc, size_t idx, mr_err *err)
{
    const Millrace__OpSpec *op = bc->st->ops[idx];
    const Millrace__ReadSpec *rd = op->read;
    const Millrace__Split *sp = bc->spec->split;
    if (!rd)
        return mr_err_set(err, MR_EPROTO, "scan without a read spec"), NULL;
    /* Column pruning: the scan outputs op->output, the columns
     * rd->columns names in the file's schema rd->schema. */
    int pruned = rd->n_columns > 0;
    if (pruned && (!rd->schema || !op->output || op->output->n_fields != rd->n_columns))
        return mr_err_set(err, MR_EPROTO, "node '%s': scan columns do not match its output",
                          op->node), NULL;
    for (size_t i = 0; pruned && i < rd->n_columns; i++)
        if (rd->columns[i] >= rd->schema->n_fields)
            return mr_err_set(err, MR_EPROTO, "node '%s': scan column %u out of range",
                              op->node, rd->columns[i]), NULL;
    mr_schema *schema = mr_schema_from_pb(pruned ? op->output : rd->schema, err);
    if (!schema)
        return NULL;
    if (rd->broadcast) {
        mr_op *all = scan_broadcast(bc, idx, schema, err);
        mr_schema_destroy(schema);
        return all;
    }
    mr_op *scan = NULL;
    if (idx != bc->spec->scan_op || !sp) {
        /* another read of this stage: this task reads nothing of it */
        scan = mr_source_create(schema, empty_next, NULL, NULL, op->node);
        if (!scan)
            mr_err_oom(err, NULL);
        mr_schema_destroy(schema);
        return scan;
    }
    if (rd->format == MILLRACE__FILE_FORMAT__FORMAT_POSTGRES) { /* a database (pg_source.h) */
        scan = open_db_scan(bc, op, schema, err);
        mr_schema_destroy(schema);
        if (scan && rd->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN) {
            const char *bound = bc->spec->has_watermark ? bc->spec->watermark : NULL;
            scan = bc->mark = mr_watermark_create(scan, rd->incremental_column, bound, op->node,
                                                  err);
        }
        /* a pushed-down filter runs on the rows the database sent */
        if (scan && rd->filter && rd->filter[0]) {
            mr_op *top = mr_filter_create(scan, rd->filter, op->node, err);
            if (!top && bc->mark == scan)
                bc->mark = NULL; /* closed with the filter */
            scan = top;
        }
        return scan;
    }
    scan = scan_split(bc, op, sp, schema, 1, err);
    mr_schema_destroy(schema);
    return scan;
}

/* Builds op idx and, first, its inputs; returns it owning them. */
static mr_op *build_op(build_ctx *bc, size_t idx, int depth, mr_err *err)
{
    const Millrace__OpSpec *o = bc->st->ops[idx];
    if (depth > 256)
        return mr_err_set(err, MR_EPROTO, "operator tree too deep"), NULL;
    if (!mr_plan_op_ok(o)) /* its kind's parameters are missing */
        return mr_err_set(err, MR_EPROTO, "operator %zu (kind %d) without its parameters", idx,
                          (int)o->kind), NULL;
    if (o->kind == MILLRACE__OP_KIND__OP_SCAN || o->kind == MILLRACE__OP_KIND__OP_SHUFFLE_READ) {
        if (bc->nsources == (int)(sizeof bc->sources / sizeof bc->sources[0]))
            return mr_err_set(err, MR_EPROTO, "too many sources in one stage"), NULL;
        mr_op *src = o->kind == MILLRACE__OP_KIND__OP_SCAN ? open_scan(bc, idx, err)
                                                           : open_shuffle_read(bc, idx, err);
        if (src)
            bc->sources[bc->nsources++] = src;
        return src;
    }
    uint32_t ci[64];
    int nc = op_children(bc->st, idx, ci, 64, err);
    if (nc < 0)
        return NULL;
    mr_op *kids[64];
    for (int i = 0; i < nc; i++) {
        kids[i] = build_op(bc, ci[i], depth + 1, err);
        if (!kids[i]) {
            for (int k = 0; k < i; k++)
                mr_op_close(kids[k]);
            return NULL;
        }
    }
    const mr_opbuild_entry *e = mr_opbuild_find(o->kind);
    if (!e || !e->build || (e->ninputs > 0 && nc != e->ninputs) || (e->ninputs < 0 && nc < 1)) {
        for (int k = 0; k < nc; k++)
            mr_op_close(kids[k]);
        if (!e || !e->build)
            return mr_err_set(err, MR_EPROTO, "unknown operator kind %d", (int)o->kind), NULL;
        return mr_err_set(err, MR_EPROTO, "operator %zu has %d inputs", idx, nc), NULL;
    }
    return e->build(o, kids, nc, err);
}

/* Builds the stage's operator tree; returns its root. */
static mr_op *build_pipeline(build_ctx *bc, mr_err *err)
{
    const Millrace__Stage *st = bc->st;
    if (!st || st->n_ops == 0)
        return mr_err_set(err, MR_EPROTO, "task without operators"), NULL;
    return build_op(bc, st->n_ops - 1, 0, err);
}

/* After each batch the sink took: records progress, then (test hook)
 * sleeps batch_delay_ms in short slices, stopping early on cancel. */
static void batch_pause(const mr_task_env *env)
{
    if (tl_progress && tl_root)
        atomic_store(&tl_progress->rows_out, tl_root->rows_out);
    for (int left = env->batch_delay_ms; left > 0 && !(tl_cancel && *tl_cancel); left -= 50) {
        int ms = left < 50 ? left : 50;
        struct timespec ts = {0, (long)ms * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int drain_to_shuffle(mr_op *top, const Millrace__TaskSpec *spec, const mr_task_env *env,
                            volatile int *cancel, mr_task_stats *stats, mr_err *err)
{
    mr_shuffle_out *so = mr_shuffle_out_create(env->net, spec, top->schema, cancel, err);
    if (!so)
        return err->code ? err->code : MR_EIO;
    if (env->shuffle_window > 0)
        mr_shuffle_out_set_flow(so, env->shuffle_window, 0);
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

/* The write sink: the task's rows into its staging through
 * warehouse/warehouse.h, whatever the driver (a warehouse staging table, a
 * file output's part file). */
static int drain_to_stage(mr_op *top, const mr_wh_config *cfg, const char *staging,
                          const mr_task_env *env, mr_err *err)
{
    mr_wh_stage *stage = NULL;
    int rc = mr_wh_stage_open(cfg, staging, top->schema, &stage, err);
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

static int drain_to_warehouse(mr_op *top, const Millrace__TaskSpec *spec, const mr_task_env *env,
                              mr_err *err)
{
    const Millrace__Warehouse *w = spec->warehouse;
    if (!w || !spec->staging_table || !spec->staging_table[0])
        return mr_err_set(err, MR_EPROTO, "write task without warehouse or staging table");
    mr_wh_config cfg = {mr_plan_name(mr_plan_driver_names, w->driver), w->path, w->dsn, w->schema, NULL, NULL, 0};
    int rc = check_warehouse_root(env, w, err);
    if (rc < 0)
        return rc;
    return drain_to_stage(top, &cfg, spec->staging_table, env, err);
}

void mr_task_stats_free(mr_task_stats *stats)
{
    for (int i = 0; i < stats->nsample; i++) {
        free(stats->sample[i].node);
        free(stats->sample[i].file);
        free(stats->sample[i].reason);
        free(stats->sample[i].raw);
    }
    stats->nsample = 0;
    for (int i = 0; i < stats->nchecks; i++) {
        free(stats->checks[i].node);
        free(stats->checks[i].rule);
        for (int k = 0; k < stats->checks[i].nsamples; k++)
            free(stats->checks[i].samples[k]);
        free(stats->checks[i].samples);
    }
    free(stats->checks);
    stats->checks = NULL;
    stats->nchecks = 0;
}

/* The check operators of the tree under op, depth first, into out[n..cap)
 * (out NULL: just counted); returns the new n. */
static int find_checks(mr_op *op, mr_op **out, int n, int cap)
{
    if (!op)
        return n;
    if (mr_check_is(op) && (!out || n < cap)) {
        if (out)
            out[n] = op;
        n++;
    }
    for (int i = 0; i < op->nchildren; i++)
        n = find_checks(op->children[i], out, n, cap);
    return n;
}

/* Copies every check rule's counts into stats for the coordinator. */
static int collect_checks(mr_op *const *ops, int nops, mr_task_stats *stats, mr_err *err)
{
    int total = 0;
    for (int i = 0; i < nops; i++) {
        const mr_check_result *r;
        int n;
        mr_check_results(ops[i], &r, &n);
        total += n;
    }
    if (total == 0)
        return 0;
    stats->checks = calloc((size_t)total, sizeof *stats->checks);
    if (!stats->checks)
        return mr_err_oom(err, NULL);
    for (int i = 0; i < nops; i++) {
        const mr_check_result *r;
        int n;
        mr_check_results(ops[i], &r, &n);
        for (int k = 0; k < n; k++) {
            mr_task_check *c = &stats->checks[stats->nchecks++];
            c->node = strdup(ops[i]->node);
            c->rule = strdup(r[k].rule);
            c->rows_checked = r[k].rows_checked;
            c->rows_failed = r[k].rows_failed;
            c->samples = calloc((size_t)r[k].nsamples + 1, sizeof *c->samples);
            if (!c->node || !c->rule || !c->samples)
                return mr_err_oom(err, NULL);
            for (int s = 0; s < r[k].nsamples; s++, c->nsamples++)
                if (!(c->samples[s] = mr_utf8_clean(r[k].samples[s], strlen(r[k].samples[s]))))
                    return mr_err_oom(err, NULL);
        }
    }
    return 0;
}

/* A rejected row's raw text may be what was wrong with it, and warehouses
 * and JSON want valid text: core/utf8's one replacement policy. */
static char *utf8_clean(const char *s) { return mr_utf8_clean(s, strlen(s)); }

static int stage_reject_rows(const Millrace__TaskSpec *spec, const build_ctx *bc,
                             const mr_reject *const *rows, const char *const *nodes, size_t n,
                             mr_task_stats *stats, mr_err *err);

/* Stages the rejected rows of the task's scan as its reject table, and
 * copies the first few into stats for the coordinator. */
static int stage_rejects(const Millrace__TaskSpec *spec, const build_ctx *bc,
                         mr_op *const *checks, int nchecks, mr_task_stats *stats, mr_err *err)
{
    /* The scan's rejects, then those of each check operator: one list of
     * (node, reject) in the order they are staged. */
    size_t n = 0, cap = 0;
    const mr_reject *part;
    size_t npart = 0;
    if (bc->scan) {
        mr_scan_rejects(bc->scan, &part, &npart);
        stats->skipped_rows = mr_scan_bad_rows(bc->scan) - npart;
        cap += npart;
    }
    for (int i = 0; i < nchecks; i++) {
        mr_check_rejects(checks[i], &part, &npart);
        cap += npart;
    }
    stats->rejected_rows = cap;
    if (cap == 0)
        return 0;
    const mr_reject **rows = calloc(cap, sizeof *rows);
    const char **nodes = calloc(cap, sizeof *nodes);
    if (!rows || !nodes) {
        free(rows);
        free(nodes);
        return mr_err_set(err, MR_ENOMEM, "out of memory staging rejects");
    }
    if (bc->scan) {
        mr_scan_rejects(bc->scan, &part, &npart);
        for (size_t i = 0; i < npart; i++, n++) {
            rows[n] = &part[i];
            nodes[n] = spec->stage->ops[spec->scan_op]->node;
        }
    }
    for (int c = 0; c < nchecks; c++) {
        mr_check_rejects(checks[c], &part, &npart);
        for (size_t i = 0; i < npart; i++, n++) {
            rows[n] = &part[i];
            nodes[n] = checks[c]->node;
        }
    }
    int rc = stage_reject_rows(spec, bc, rows, nodes, n, stats, err);
    free(rows);
    free(nodes);
    return rc;
}

static int stage_reject_rows(const Millrace__TaskSpec *spec, const build_ctx *bc,
                             const mr_reject *const *rows, const char *const *nodes, size_t n,
                             mr_task_stats *stats, mr_err *err)
{
    for (size_t i = 0; i < n && stats->nsample < MR_TASK_REJECT_SAMPLE; i++) {
        mr_task_reject *r = &stats->sample[stats->nsample++];
        r->node = strdup(nodes[i]);
        r->file = strdup(rows[i]->file);
        r->reason = utf8_clean(rows[i]->reason);
        r->raw = utf8_clean(rows[i]->raw);
        r->line = rows[i]->line;
    }
    if (n == 0 || !spec->warehouse)
        return 0;
    const Millrace__Warehouse *w = spec->warehouse;
    if (check_warehouse_root(bc->env, w, err) < 0)
        return err->code;
    mr_wh_config cfg = {mr_plan_name(mr_plan_driver_names, w->driver), w->path, w->dsn, w->schema, NULL, NULL, 0};
    char name[160];
    mr_wh_staging_name(name, sizeof name, 'r', spec->job_id, spec->stage_id, spec->partition,
                       spec->attempt);
    mr_schema *schema = mr_wh_rejects_schema();
    mr_batch *b = schema ? mr_batch_create(schema, 0) : NULL;
    mr_wh_stage *st = NULL;
    int rc = !b ? mr_err_set(err, MR_ENOMEM, "out of memory staging rejects")
                : mr_wh_stage_open(&cfg, name, schema, &st, err);
    for (size_t i = 0; i < n && rc >= 0; i += b->cap) {
        size_t k = n - i < b->cap ? n - i : b->cap;
        mr_batch_reset(b);
        for (size_t r = 0; r < k && rc >= 0; r++) {
            const mr_reject *x = rows[i + r];
            char *reason = utf8_clean(x->reason), *raw = utf8_clean(x->raw);
            const char *vals[6] = {spec->job_id, nodes[i + r], x->file, NULL, reason, raw};
            if (!reason || !raw)
                rc = MR_ENOMEM;
            for (int c = 0; c < 6 && rc >= 0; c++)
                if (c == 3) {
                    MR_COL_I64(&b->cols[c])[r] = x->line;
                    mr_column_set_valid(&b->cols[c], r, x->line >= 0);
                } else {
                    rc = mr_column_set_str(&b->cols[c], r, vals[c], strlen(vals[c]));
                }
            free(reason);
            free(raw);
        }
        b->nrows = k;
        if (rc >= 0)
            rc = mr_wh_stage_append(st, b, err);
    }
    if (rc >= 0 && st)
        rc = mr_wh_stage_finish(st, err);
    else if (st)
        mr_wh_stage_abort(st);
    if (rc == MR_ENOMEM && !err->msg[0])
        mr_err_set(err, MR_ENOMEM, "out of memory staging rejects");
    mr_batch_destroy(b);
    mr_schema_destroy(schema);
    return rc < 0 ? rc : 0;
}

/* A check node's side stage (its aggregate rules): the check operator's
 * counts are the result, its rows go nowhere. */
static int drain_to_nothing(mr_op *top, const mr_task_env *env, mr_err *err)
{
    mr_batch *b;
    int rc;
    while ((rc = mr_op_next(top, &b, err)) == MR_NEXT_BATCH)
        batch_pause(env);
    return rc;
}

/* File outputs: the files driver stages this attempt's part file in the
 * job's temporary folder (warehouse/files.c), here under the data root. */
static int drain_to_file(mr_op *top, const Millrace__TaskSpec *spec, const mr_task_env *env,
                         mr_err *err)
{
    const Millrace__WriteSpec *ws = spec->stage->write;
    if (!spec->staging_table || !spec->staging_table[0])
        return mr_err_set(err, MR_EPROTO, "write task without a staging name");
    mr_wh_config cfg = {.driver = mr_plan_name(mr_plan_target_names, ws->target),
                        .path = ws->path,
                        .job_id = spec->job_id,
                        .compression = mr_plan_name(mr_plan_parquet_codec_names, ws->compression),
                        .row_group_rows = ws->row_group_rows};
    char path[4096];
    if (mr_wh_files_part_path(&cfg, spec->staging_table, path, sizeof path) < 0)
        return mr_err_node(err, MR_EINVAL, ws->node, "output path too long");
    if (!mr_io_is_remote(path) && mr_path_check_root(env->data_root, path, err) < 0) {
        mr_err_prefix(err, "node '%s'", ws->node);
        return err->code;
    }
    return drain_to_stage(top, &cfg, spec->staging_table, env, err);
}

/* The stateful operators of a stage (each may hold op_memory bytes). */
static uint64_t stateful_ops(const Millrace__Stage *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < st->n_ops; i++)
        switch (st->ops[i]->kind) {
        case MILLRACE__OP_KIND__OP_AGG_PARTIAL:
        case MILLRACE__OP_KIND__OP_AGG_FINAL:
        case MILLRACE__OP_KIND__OP_HASHJOIN:
        case MILLRACE__OP_KIND__OP_DISTINCT:
        case MILLRACE__OP_KIND__OP_SORT: n++; break;
        default: break;
        }
    return n;
}

int mr_task_run(const Millrace__TaskSpec *spec, const mr_task_env *env, volatile int *cancel,
                mr_task_stats *stats, mr_err *err)
{
    /* The operators' shares come out of the executor's one budget while the
     * task runs, so the shuffle store spills what no longer fits beside
     * them (core/membudget.h).  Reserved whatever the total: a task cannot
     * wait for memory, and its operators spill within their share. */
    uint64_t reserved = env->op_memory * stateful_ops(spec->stage);
    mr_membudget_reserve(env->budget, reserved);
    int rc = task_run(spec, env, cancel, stats, err);
    mr_membudget_release(env->budget, reserved);
    return rc;
}

static int task_run(const Millrace__TaskSpec *spec, const mr_task_env *env, volatile int *cancel,
                    mr_task_stats *stats, mr_err *err)
{
    memset(stats, 0, sizeof *stats);
    tl_progress = env->progress;
    tl_cancel = cancel;
    tl_root = NULL;
    mr_exec_ctx exec = {
        .cancel = cancel, .memory_budget = env->op_memory, .spill_dir = env->op_spill_dir};
    build_ctx bc = {.spec = spec, .st = spec->stage, .env = env, .cancel = cancel};
    /* now() in this task's expressions: the job's start.  Left set for the
     * whole task, since some operators bind their expressions when opened. */
    mr_expr_set_now(spec->job_start_us ? spec->job_start_us : INT64_MIN);
    mr_op *top = build_pipeline(&bc, err);
    if (!top)
        return err->code ? err->code : MR_EINVAL;
    tl_root = top;
    int rc = mr_op_open(top, &exec, err); /* every operator gets the task's context */
    if (rc >= 0) {
        const Millrace__Stage *st = spec->stage;
        if (st->shuffle)
            rc = drain_to_shuffle(top, spec, env, cancel, stats, err);
        else if (st->write && st->write->target == MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE)
            rc = drain_to_warehouse(top, spec, env, err);
        else if (st->write && (st->write->target == MILLRACE__WRITE_TARGET__TARGET_CSV ||
                               st->write->target == MILLRACE__WRITE_TARGET__TARGET_JSONL ||
                               st->write->target == MILLRACE__WRITE_TARGET__TARGET_PARQUET))
            rc = drain_to_file(top, spec, env, err);
        else if (!st->write && st->n_ops > 0 &&
                 st->ops[st->n_ops - 1]->kind == MILLRACE__OP_KIND__OP_CHECK)
            rc = drain_to_nothing(top, env, err);
        else
            rc = mr_err_set(err, MR_ENOTSUP, "stage %u: output target '%s' is not supported yet",
                            st->id, st->write ? mr_plan_name(mr_plan_target_names, st->write->target)
                                              : "(none)");
    }
    int nchecks = find_checks(top, NULL, 0, 0);
    mr_op **checks = calloc((size_t)nchecks + 1, sizeof *checks);
    if (!checks && rc >= 0)
        rc = mr_err_oom(err, NULL);
    nchecks = checks ? find_checks(top, checks, 0, nchecks) : 0;
    if (rc >= 0 && (bc.scan || nchecks > 0))
        rc = stage_rejects(spec, &bc, checks, nchecks, stats, err);
    if (rc >= 0)
        rc = collect_checks(checks, nchecks, stats, err);
    free(checks);
    if (bc.mark) {
        stats->has_mark = 1;
        stats->mark_rows = mr_watermark_rows(bc.mark);
        stats->mark_has_max = mr_watermark_max(bc.mark, stats->mark_max, sizeof stats->mark_max);
        snprintf(stats->mark_node, sizeof stats->mark_node, "%s", bc.mark->node);
    }
    for (int i = 0; i < bc.nsources; i++)
        stats->rows_in += bc.sources[i]->rows_out;
    stats->rows_out = top->rows_out;
    if (bc.scan && spec->stage->ops[spec->scan_op]->read->format == MILLRACE__FILE_FORMAT__FORMAT_CSV)
        stats->bytes_read = mr_scan_csv_bytes_read(bc.scan);
    else if (bc.scan && spec->stage->ops[spec->scan_op]->read->format ==
                            MILLRACE__FILE_FORMAT__FORMAT_PARQUET)
        stats->bytes_read = mr_scan_bytes_read(bc.scan); /* footer and column chunks */
    stats->groups_skipped = mr_scan_groups_skipped(bc.scan);
    mr_op_close(top);
    stats->spill_bytes = exec.spill_bytes;
    stats->spill_files = exec.spill_files;
    if (exec.spill_files)
        mr_log(MR_LOG_INFO, "executor",
               "job=%s stage=%u task=%u attempt=%u operators spilled %llu bytes in %llu files "
               "(budget %zu bytes per operator)",
               spec->job_id, spec->stage_id, spec->partition, spec->attempt,
               (unsigned long long)exec.spill_bytes, (unsigned long long)exec.spill_files,
               exec.memory_budget);
    tl_root = NULL;
    tl_progress = NULL;
    return rc < 0 ? rc : 0;
}
