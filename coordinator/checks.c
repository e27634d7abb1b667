/* checks.c - the outcome of a job's check rules: each task's counts kept
 * from its status, summed over the job once every stage is done, judged,
 * and staged for the commit's table millrace_checks.
 *
 * The check operators (core/op/check.h) count per rule and task attempt;
 * a task's status carries those counts, and the coordinator keeps the
 * counted attempt's (a re-run replaces them, so every row counts once).
 * When every stage is done, coord_checks_sum walks the plan's OP_CHECK
 * operators, one outcome per rule (in the DAG's order: by node, then the
 * rule's place in its list), and fails on the first failed fail rule: rows checked and failed
 * summed over the tasks of the rule's stage, row_count's bounds applied
 * here (the only rule judged from a sum), the first few samples of the
 * tasks in order joined into one JSON array.  A failed rule whose on_fail
 * is fail fails the job before the commit; otherwise the outcomes are
 * staged (coord_checks_stage, an 'r' staging table so the sweep of
 * orphaned staging knows it) and appended to millrace_checks in the
 * commit's transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/warehouse.h"
#include "coordinator/coord_int.h"
#include "core/strbuf.h"

#define CHECK_SAMPLES 5

void coord_checks_task_free(task_rt *tk)
{
    for (int i = 0; i < tk->nchecks; i++) {
        free(tk->checks[i].node);
        free(tk->checks[i].rule);
        for (int k = 0; k < tk->checks[i].nsamples; k++)
            free(tk->checks[i].samples[k]);
        free(tk->checks[i].samples);
    }
    free(tk->checks);
    tk->checks = NULL;
    tk->nchecks = 0;
}

void coord_checks_job_free(job *j)
{
    for (int i = 0; i < j->nchecks; i++) {
        free(j->checks[i].node);
        free(j->checks[i].rule);
        free(j->checks[i].sample);
    }
    free(j->checks);
    j->checks = NULL;
    j->nchecks = 0;
}

int coord_checks_task(task_rt *tk, const Millrace__TaskStatus *s)
{
    coord_checks_task_free(tk);
    if (s->n_checks == 0)
        return 0;
    tk->checks = calloc(s->n_checks, sizeof *tk->checks);
    if (!tk->checks)
        return MR_ENOMEM;
    for (size_t i = 0; i < s->n_checks; i++, tk->nchecks++) {
        const Millrace__CheckCount *cc = s->checks[i];
        task_check *t = &tk->checks[i];
        t->node = strdup(cc->node ? cc->node : "");
        t->rule = strdup(cc->rule ? cc->rule : "");
        t->rows_checked = cc->rows_checked;
        t->rows_failed = cc->rows_failed;
        size_t ns = cc->n_samples < CHECK_SAMPLES ? cc->n_samples : CHECK_SAMPLES;
        t->samples = calloc(ns + 1, sizeof *t->samples);
        if (!t->node || !t->rule || !t->samples) {
            tk->nchecks++;
            return MR_ENOMEM;
        }
        for (size_t k = 0; k < ns; k++, t->nsamples++)
            if (!(t->samples[k] = strdup(cc->samples[k]))) {
                tk->nchecks++;
                return MR_ENOMEM;
            }
    }
    return 0;
}

/* One rule's outcome from the tasks of stage st. */
static int sum_rule(const stage_rt *st, const char *node, const Millrace__CheckRule *r,
                    job_check *out)
{
    mr_strbuf sample = {0};
    int nsample = 0;
    mr_strbuf_puts(&sample, "[");
    for (uint32_t t = 0; t < st->ntasks; t++) {
        const task_rt *tk = &st->tasks[t];
        for (int i = 0; i < tk->nchecks; i++) {
            const task_check *tc = &tk->checks[i];
            if (strcmp(tc->node, node) != 0 || strcmp(tc->rule, r->name) != 0)
                continue;
            out->rows_checked += tc->rows_checked;
            out->rows_failed += tc->rows_failed;
            for (int k = 0; k < tc->nsamples && nsample < CHECK_SAMPLES; k++, nsample++)
                mr_strbuf_printf(&sample, "%s%s", nsample ? ", " : "", tc->samples[k]);
        }
    }
    if (r->kind == MILLRACE__CHECK_KIND__CHECK_ROW_COUNT) {
        int ok = (!r->has_min || out->rows_checked >= (uint64_t)r->min) &&
                 (!r->has_max || out->rows_checked <= (uint64_t)r->max);
        out->rows_failed = ok ? 0 : out->rows_checked;
        if (!ok)
            mr_strbuf_printf(&sample, "{\"rows\": %" PRIu64 "}", out->rows_checked);
    }
    mr_strbuf_puts(&sample, "]");
    out->passed = out->rows_failed == 0;
    out->node = strdup(node);
    out->rule = strdup(r->name);
    out->kind = mr_plan_name(mr_plan_check_kind_names, r->kind);
    out->action = mr_plan_name(mr_plan_check_action_names, r->action);
    out->sample = sample.oom ? NULL : sample.p;
    if (sample.oom)
        mr_strbuf_free(&sample);
    return out->node && out->rule && out->sample ? 0 : MR_ENOMEM;
}

/* What a failed rule says: the rule, the count and the samples. */
static char *fail_message(const job_check *x, const Millrace__CheckRule *r)
{
    mr_strbuf b = {0};
    mr_strbuf_printf(&b, "node '%s': check '%s' failed: ", x->node, x->rule);
    switch (r->kind) {
    case MILLRACE__CHECK_KIND__CHECK_ROW_COUNT:
        mr_strbuf_printf(&b, "%" PRIu64 " rows", x->rows_checked);
        if (r->has_min)
            mr_strbuf_printf(&b, ", at least %" PRId64 " expected", r->min);
        if (r->has_max)
            mr_strbuf_printf(&b, ", at most %" PRId64 " expected", r->max);
        break;
    case MILLRACE__CHECK_KIND__CHECK_UNIQUE:
        mr_strbuf_printf(&b, "%" PRIu64 " of %" PRIu64 " rows share their key with another row; "
                         "duplicated keys: %s", x->rows_failed, x->rows_checked, x->sample);
        break;
    case MILLRACE__CHECK_KIND__CHECK_AGGREGATE:
        mr_strbuf_printf(&b, "%s is not true over %" PRIu64 " rows; aggregates: %s", r->text,
                         x->rows_checked, x->sample);
        break;
    default:
        mr_strbuf_printf(&b, "%" PRIu64 " of %" PRIu64 " rows fail %s; sample rows: %s",
                         x->rows_failed, x->rows_checked, r->expr, x->sample);
        break;
    }
    if (b.oom) {
        mr_strbuf_free(&b);
        return strdup("a check failed");
    }
    return b.p;
}

/* Where a rule is shown: its node's first operator in the plan, then the
 * rule's place in the node's list (the order the DAG writes them in). */
typedef struct rule_ref {
    const Millrace__CheckRule *rule;
    const char *node;
    uint32_t stage;
    int node_rank;
} rule_ref;

static int ref_cmp(const void *a, const void *b)
{
    const rule_ref *x = a, *y = b;
    if (x->node_rank != y->node_rank)
        return x->node_rank < y->node_rank ? -1 : 1;
    return x->rule->position < y->rule->position ? -1 : x->rule->position > y->rule->position;
}

int coord_checks_sum(job *j, char **fail)
{
    *fail = NULL;
    coord_checks_job_free(j);
    int n = 0;
    for (uint32_t s = 0; s < j->nstages; s++)
        for (size_t o = 0; o < j->stages[s].plan->n_ops; o++) {
            const Millrace__OpSpec *op = j->stages[s].plan->ops[o];
            if (op->kind == MILLRACE__OP_KIND__OP_CHECK && mr_plan_op_ok(op))
                n += (int)op->check->n_rules;
        }
    if (n == 0)
        return 0;
    j->checks = calloc((size_t)n, sizeof *j->checks);
    rule_ref *refs = calloc((size_t)n, sizeof *refs);
    if (!j->checks || !refs) {
        free(refs);
        return MR_ENOMEM;
    }
    int k = 0, ranks = 0;
    for (uint32_t s = 0; s < j->nstages; s++)
        for (size_t o = 0; o < j->stages[s].plan->n_ops; o++) {
            const Millrace__OpSpec *op = j->stages[s].plan->ops[o];
            if (op->kind != MILLRACE__OP_KIND__OP_CHECK || !mr_plan_op_ok(op))
                continue;
            int rank = -1;
            for (int i = 0; i < k && rank < 0; i++)
                if (strcmp(refs[i].node, op->node) == 0)
                    rank = refs[i].node_rank;
            if (rank < 0)
                rank = ranks++;
            for (size_t r = 0; r < op->check->n_rules; r++)
                refs[k++] = (rule_ref){op->check->rules[r], op->node, s, rank};
        }
    qsort(refs, (size_t)k, sizeof *refs, ref_cmp);
    int rc = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        job_check *x = &j->checks[j->nchecks++];
        rc = sum_rule(&j->stages[refs[i].stage], refs[i].node, refs[i].rule, x);
        if (rc == 0 && !x->passed && refs[i].rule->action == MILLRACE__CHECK_ACTION__CHECK_FAIL &&
            !*fail)
            *fail = fail_message(x, refs[i].rule);
    }
    free(refs);
    return rc;
}

/* millrace_checks' columns: job_id, node, rule, kind, action,
 * rows_checked, rows_failed, passed, sample. */
static mr_schema *checks_schema(void)
{
    static const char *names[] = {"job_id", "node", "rule", "kind", "action",
                                  "rows_checked", "rows_failed", "passed", "sample"};
    mr_schema *s = mr_schema_create(9);
    for (int i = 0; s && i < 9; i++) {
        mr_type t = mr_type_make(i == 5 || i == 6 ? MR_T_INT64 : i == 7 ? MR_T_BOOL : MR_T_STRING);
        if (mr_schema_set(s, i, names[i], t) < 0) {
            mr_schema_destroy(s);
            return NULL;
        }
    }
    return s;
}

int coord_checks_stage(const job *j, const mr_wh_config *cfg, const char *staging,
                       mr_schema **schema_out, mr_err *err)
{
    mr_schema *schema = checks_schema();
    mr_batch *b = schema ? mr_batch_create(schema, (size_t)j->nchecks) : NULL;
    mr_wh_stage *st = NULL;
    int rc = !b ? mr_err_oom(err, NULL) : mr_wh_stage_open(cfg, staging, schema, &st, err);
    for (int i = 0; i < j->nchecks && rc >= 0; i++) {
        const job_check *x = &j->checks[i];
        const char *text[] = {j->id, x->node, x->rule, x->kind, x->action};
        for (int c = 0; c < 5 && rc >= 0; c++)
            rc = mr_column_set_str(&b->cols[c], (size_t)i, text[c], strlen(text[c]));
        MR_COL_I64(&b->cols[5])[i] = (int64_t)x->rows_checked;
        MR_COL_I64(&b->cols[6])[i] = (int64_t)x->rows_failed;
        MR_COL_U8(&b->cols[7])[i] = (uint8_t)(x->passed != 0);
        for (int c = 5; c < 8; c++)
            mr_column_set_valid(&b->cols[c], (size_t)i, true);
        if (rc >= 0)
            rc = mr_column_set_str(&b->cols[8], (size_t)i, x->sample, strlen(x->sample));
    }
    if (b)
        b->nrows = (size_t)j->nchecks;
    if (rc == MR_ENOMEM && !err->msg[0])
        mr_err_oom(err, NULL);
    if (rc >= 0 && st)
        rc = mr_wh_stage_append(st, b, err);
    if (rc >= 0 && st)
        rc = mr_wh_stage_finish(st, err);
    else if (st)
        mr_wh_stage_abort(st);
    mr_batch_destroy(b);
    *schema_out = schema; /* the commit's target schema; the caller destroys it */
    return rc < 0 ? rc : 0;
}
