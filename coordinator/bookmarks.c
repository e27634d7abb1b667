/* bookmarks.c - a job's incremental reads: what the last successful run
 * left in millrace_bookmarks, what this run takes, and what its commit
 * moves (docs/bookmarks.md).
 *
 * When a job with incremental reads starts, its preparation (mu released)
 * loads the DAG's bookmarks from the warehouse once (coord_bm_prepare),
 * drops from each `incremental: files` read the files already loaded with
 * the same size and modification time (coord_bm_filter_files) and notes
 * the watermark each `incremental: {column}` read sends to its tasks
 * (coord_bm_watermark).  Tasks report the rows their scan passed and the
 * largest value among them (TaskStatus.read_mark, kept per task by
 * coord_bm_task_mark).  The commit adds one target that moves the
 * bookmarks in the same transaction as the data (coord_bm_target); the
 * warehouse refuses it when another run moved them meanwhile.  The job's
 * answer in the API shows all of it (coord_bm_json).
 *
 * Files are named by their real path (symlinks and ".." resolved); a file whose size or mtime
 * changed is new again and is read whole.  An object of an object store
 * (s3://) is named by its URL as listed and told by its size and the ETag
 * of the listing (Split.etag, kept in the row's value): an object
 * uploaded again with other content has another ETag and is new again.
 * Nothing local (stat, realpath) is asked about a URL.  A read whose files are all
 * known gets one task that reads nothing, so its stage still runs and
 * finishes; a job whose every read is `incremental: files` with nothing new
 * finishes at once ("nothing new"), without touching the warehouse.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include "coordinator/coord_int.h"
#include "core/io.h"
#include "core/op/watermark.h"
#include "proto/schema_pb.h"

typedef struct bm_read {
    const char *node, *column; /* into the plan */
    Millrace__Incremental kind;
    mr_type type;            /* column */
    const char *before;      /* column: the watermark at the start (into loaded), or NULL */
    char *after;             /* column: after the commit (NULL: none) */
    mr_wh_bookmark *files;   /* files: the new ones this run reads */
    int nfiles, capfiles;
    uint64_t files_skipped;  /* files: known ones left out */
    uint64_t rows;           /* rows the read passed (column) or read (files) */
} bm_read;

struct job_bm {
    int full_refresh;
    int nothing_new;   /* finished at the start: no new file anywhere */
    int moved;         /* the commit moved the bookmarks */
    char *version;     /* the run row when loaded */
    mr_wh_bookmark *loaded;
    int nloaded;
    bm_read *reads;
    int nreads;
};

int coord_bm_needed(const Millrace__JobPlan *plan)
{
    for (size_t s = 0; s < plan->n_stages; s++)
        for (size_t o = 0; o < plan->stages[s]->n_ops; o++) {
            const Millrace__OpSpec *op = plan->stages[s]->ops[o];
            if (op->kind == MILLRACE__OP_KIND__OP_SCAN && op->read &&
                op->read->incremental != MILLRACE__INCREMENTAL__INCREMENTAL_NONE)
                return 1;
        }
    return 0;
}

void coord_bm_free(job_bm *bm)
{
    if (!bm)
        return;
    for (int i = 0; i < bm->nreads; i++) {
        free(bm->reads[i].after);
        for (int f = 0; f < bm->reads[i].nfiles; f++) {
            free(bm->reads[i].files[f].item);
            free(bm->reads[i].files[f].value);
        }
        free(bm->reads[i].files);
    }
    free(bm->reads);
    mr_wh_bookmarks_free(bm->loaded, bm->nloaded);
    free(bm->version);
    free(bm);
}

static bm_read *read_of(job_bm *bm, const char *node)
{
    for (int i = 0; bm && i < bm->nreads; i++)
        if (strcmp(bm->reads[i].node, node) == 0)
            return &bm->reads[i];
    return NULL;
}

/* The order of loaded bookmarks: kind, node, item, by their bytes (the
 * warehouse's ORDER BY may follow a collation), so files are found by
 * binary search, not one scan per file. */
static int bm_cmp(const void *a, const void *b)
{
    const mr_wh_bookmark *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    if (!c)
        c = strcmp(x->node, y->node);
    return c ? c : strcmp(x->item, y->item);
}

int coord_bm_prepare(const job *j, const mr_wh_config *cfg, job_bm **out, mr_err *err)
{
    *out = NULL;
    const Millrace__JobPlan *plan = j->plan;
    if (!coord_bm_needed(plan))
        return 0;
    if (!plan->warehouse)
        return mr_err_set(err, MR_EINVAL, "incremental reads keep their bookmarks in the "
                          "warehouse, and this DAG has none");
    job_bm *bm = calloc(1, sizeof *bm);
    if (!bm)
        return mr_err_oom(err, NULL);
    bm->full_refresh = j->full_refresh;
    int rc = mr_wh_bookmarks_load(cfg, plan->name, &bm->loaded, &bm->nloaded, &bm->version, err);
    if (rc < 0) {
        mr_err_prefix(err, "reading the bookmarks of incremental reads");
        coord_bm_free(bm);
        return rc;
    }
    if (bm->nloaded > 1)
        qsort(bm->loaded, (size_t)bm->nloaded, sizeof *bm->loaded, bm_cmp);
    for (size_t s = 0; s < plan->n_stages; s++)
        for (size_t o = 0; o < plan->stages[s]->n_ops; o++) {
            const Millrace__OpSpec *op = plan->stages[s]->ops[o];
            if (op->kind != MILLRACE__OP_KIND__OP_SCAN || !op->read ||
                op->read->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_NONE ||
                read_of(bm, op->node))
                continue;
            bm_read *g = realloc(bm->reads, (size_t)(bm->nreads + 1) * sizeof *g);
            if (!g) {
                coord_bm_free(bm);
                return mr_err_oom(err, NULL);
            }
            bm->reads = g;
            bm_read *r = &bm->reads[bm->nreads++];
            memset(r, 0, sizeof *r);
            r->node = op->node;
            r->kind = op->read->incremental;
            r->column = op->read->incremental_column;
            mr_err serr;
            mr_schema *sch = mr_schema_from_pb(op->read->schema, &serr);
            int col = sch ? mr_schema_find(sch, r->column) : -1;
            r->type = col >= 0 ? sch->fields[col].type : mr_type_make(MR_T_STRING);
            mr_schema_destroy(sch);
            for (int b = 0; b < bm->nloaded && !bm->full_refresh; b++)
                if (strcmp(bm->loaded[b].node, r->node) == 0 &&
                    strcmp(bm->loaded[b].kind, "column") == 0 &&
                    strcmp(bm->loaded[b].item, r->column) == 0 &&
                    r->kind == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN)
                    r->before = bm->loaded[b].value;
        }
    *out = bm;
    return 0;
}

/* Whether file (path, size, and mtime for a local file, ETag for an
 * object) was loaded by node before. */
static int known(const job_bm *bm, const char *node, const char *path, int64_t size, int64_t mt,
                 const char *etag)
{
    if (bm->full_refresh || bm->nloaded == 0)
        return 0;
    mr_wh_bookmark key = {.kind = "file", .node = (char *)node, .item = (char *)path};
    const mr_wh_bookmark *k = bsearch(&key, bm->loaded, (size_t)bm->nloaded, sizeof key, bm_cmp);
    if (!k || k->size != size)
        return 0;
    if (etag) /* an object: a row without an ETag (none listed) matches only "" */
        return strcmp(k->value ? k->value : "", etag) == 0;
    return k->mtime_ns == mt;
}

int coord_bm_filter_files(job_bm *bm, const char *node, Millrace__Split **splits, size_t *n,
                          mr_err *err)
{
    bm_read *r = read_of(bm, node);
    if (!r || r->kind != MILLRACE__INCREMENTAL__INCREMENTAL_FILES)
        return 0;
    size_t keep = 0;
    for (size_t i = 0; i < *n;) {
        size_t k = i + 1; /* the splits of one file are adjacent */
        while (k < *n && strcmp(splits[k]->path, splits[i]->path) == 0)
            k++;
        char real[PATH_MAX];
        int64_t size, mt = 0;
        const char *etag = NULL, *name = real;
        if (mr_io_is_remote(splits[i]->path)) { /* as listed: URL, size, ETag */
            name = splits[i]->path;
            size = (int64_t)splits[i]->file_size;
            etag = splits[i]->etag ? splits[i]->etag : "";
        } else {
            struct stat sb;
            if (stat(splits[i]->path, &sb) != 0 || !realpath(splits[i]->path, real))
                return mr_err_set(err, MR_EIO, "node '%s': cannot stat '%s'", node,
                                  splits[i]->path);
            size = (int64_t)sb.st_size;
            mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        }
        if (known(bm, node, name, size, mt, etag)) {
            for (size_t x = i; x < k; x++)
                millrace__split__free_unpacked(splits[x], NULL);
            r->files_skipped++;
        } else {
            if (r->nfiles == r->capfiles) {
                int ncap = r->capfiles ? r->capfiles * 2 : 16;
                mr_wh_bookmark *g = realloc(r->files, (size_t)ncap * sizeof *g);
                if (!g)
                    return mr_err_oom(err, NULL);
                r->files = g;
                r->capfiles = ncap;
            }
            mr_wh_bookmark *f = &r->files[r->nfiles];
            memset(f, 0, sizeof *f);
            if (!(f->item = strdup(name))) /* one name however the path was written */
                return mr_err_oom(err, NULL);
            if (etag && !(f->value = strdup(etag))) {
                free(f->item);
                return mr_err_oom(err, NULL);
            }
            f->node = (char *)r->node;
            f->kind = "file";
            f->size = size;
            f->mtime_ns = mt;
            r->nfiles++;
            for (size_t x = i; x < k; x++)
                splits[keep++] = splits[x];
        }
        i = k;
    }
    *n = keep;
    return 0;
}

void coord_bm_check_nothing_new(job_bm *bm)
{
    if (!bm)
        return;
    int files_only = bm->nreads > 0, any = 0;
    for (int i = 0; i < bm->nreads; i++) {
        files_only &= bm->reads[i].kind == MILLRACE__INCREMENTAL__INCREMENTAL_FILES;
        any |= bm->reads[i].nfiles > 0;
    }
    bm->nothing_new = files_only && !any;
}

int coord_bm_nothing_new(const job_bm *bm)
{
    return bm && bm->nothing_new;
}

/* Every scan of the plan is an incremental read (nothing else is read). */
static int all_incremental(const job *j)
{
    for (uint32_t s = 0; s < j->nstages; s++)
        for (size_t o = 0; o < j->stages[s].plan->n_ops; o++) {
            const Millrace__OpSpec *op = j->stages[s].plan->ops[o];
            if (op->kind == MILLRACE__OP_KIND__OP_SCAN &&
                op->read->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_NONE)
                return 0;
        }
    return 1;
}

const char *coord_bm_watermark(const job *j, const char *node)
{
    bm_read *r = read_of(j->bm, node);
    return r && r->kind == MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN ? r->before : NULL;
}

void coord_bm_task_mark(task_rt *tk, const Millrace__TaskStatus *s)
{
    free(tk->mark_max);
    tk->mark_max = NULL;
    tk->mark_has = 0;
    tk->mark_rows = 0;
    if (!s->read_mark)
        return;
    tk->mark_rows = s->read_mark->rows;
    if (s->read_mark->has_max && s->read_mark->max) {
        tk->mark_max = strdup(s->read_mark->max);
        tk->mark_has = tk->mark_max != NULL;
    }
}

/* Rows read by node and, for a column read, the largest value passed,
 * over the successful attempts of its tasks. */
static int read_totals(job *j, bm_read *r, char **max, mr_err *err)
{
    *max = NULL;
    r->rows = 0;
    for (uint32_t s = 0; s < j->nstages; s++) {
        const stage_rt *st = &j->stages[s];
        for (uint32_t t = 0; t < st->ntasks; t++) {
            const task_rt *tk = &st->tasks[t];
            if (tk->state != TASK_DONE || st->reads_shuffle ||
                tk->scan_op >= st->plan->n_ops ||
                strcmp(st->plan->ops[tk->scan_op]->node, r->node) != 0)
                continue;
            if (r->kind == MILLRACE__INCREMENTAL__INCREMENTAL_FILES) {
                r->rows += tk->split ? tk->rows_in : 0;
                continue;
            }
            r->rows += tk->mark_rows;
            int c = 1;
            if (!tk->mark_has)
                continue;
            if (*max && mr_watermark_cmp(r->type, tk->mark_max, *max, &c, err) < 0)
                return err->code;
            if (c > 0)
                *max = tk->mark_max;
        }
    }
    return 0;
}

int coord_bm_nothing_loaded(job *j)
{
    job_bm *bm = j->bm;
    if (!bm || !all_incremental(j) || j->rejected_rows > 0)
        return 0;
    for (uint32_t s = 0; s < j->nstages; s++)
        if (is_file_write(j->stages[s].plan->write))
            return 0; /* its staged folder must still be published */
    mr_err err;
    for (int i = 0; i < bm->nreads; i++) {
        char *max;
        if (read_totals(j, &bm->reads[i], &max, &err) < 0 || bm->reads[i].rows > 0)
            return 0;
    }
    return 1;
}

int coord_bm_target(job *j, mr_wh_bookmarks *out, mr_wh_target *t, mr_err *err)
{
    job_bm *bm = j->bm;
    memset(out, 0, sizeof *out);
    memset(t, 0, sizeof *t);
    int nrows = 0;
    for (int i = 0; i < bm->nreads; i++)
        nrows += bm->reads[i].kind == MILLRACE__INCREMENTAL__INCREMENTAL_FILES
                     ? bm->reads[i].nfiles : 1;
    mr_wh_bookmark *rows = calloc((size_t)nrows + 1, sizeof *rows);
    const char **clear = calloc((size_t)bm->nreads + 1, sizeof *clear);
    if (!rows || !clear) {
        free(rows);
        free(clear);
        return mr_err_oom(err, NULL);
    }
    int k = 0, nclear = 0;
    for (int i = 0; i < bm->nreads; i++) {
        bm_read *r = &bm->reads[i];
        char *max;
        int rc = read_totals(j, r, &max, err);
        if (rc < 0) {
            mr_err_prefix(err, "node '%s': the watermark", r->node);
            free(rows);
            free(clear);
            return rc;
        }
        if (bm->full_refresh)
            clear[nclear++] = r->node;
        if (r->kind == MILLRACE__INCREMENTAL__INCREMENTAL_FILES) {
            for (int f = 0; f < r->nfiles; f++)
                rows[k++] = r->files[f];
            continue;
        }
        int c = 1;
        if (max && r->before && mr_watermark_cmp(r->type, max, r->before, &c, err) < 0) {
            free(rows);
            free(clear);
            return err->code;
        }
        const char *after = max && c > 0 ? max : r->before;
        free(r->after);
        r->after = after ? strdup(after) : NULL;
        if (after) {
            rows[k].node = (char *)r->node;
            rows[k].kind = "column";
            rows[k].item = (char *)r->column;
            rows[k].value = r->after;
            k++;
        }
    }
    out->dag = j->plan->name;
    out->job_id = j->id;
    out->seen = bm->version ? bm->version : "";
    out->clear_nodes = clear;
    out->nclear = nclear;
    out->rows = rows;
    out->nrows = k;
    t->table = MR_WH_BOOKMARKS_TABLE;
    t->bookmarks = out;
    return 0;
}

void coord_bm_target_free(mr_wh_bookmarks *b)
{
    free((void *)b->rows);
    free((void *)b->clear_nodes);
    memset(b, 0, sizeof *b);
}

void coord_bm_committed(job *j)
{
    if (j->bm)
        j->bm->moved = 1;
}

/* Adds key: text to o, with the job's secret values masked ("***" when
 * out of memory), or null for NULL text. */
static void add_shown(cJSON *o, const char *key, const char *text, const job *j)
{
    if (!text) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char *shown = mr_redact(text, &j->secrets);
    cJSON_AddStringToObject(o, key, shown ? shown : "***");
    free(shown);
}

cJSON *coord_bm_json(const job *j)
{
    const job_bm *bm = j->bm;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "full_refresh", j->full_refresh);
    cJSON_AddBoolToObject(o, "nothing_new", bm && (bm->nothing_new ||
                                                   (j->state == JOB_SUCCEEDED && !bm->moved)));
    cJSON_AddBoolToObject(o, "moved", bm && bm->moved);
    cJSON *reads = cJSON_AddArrayToObject(o, "reads");
    for (int i = 0; bm && i < bm->nreads; i++) {
        const bm_read *r = &bm->reads[i];
        cJSON *x = cJSON_CreateObject();
        int files = r->kind == MILLRACE__INCREMENTAL__INCREMENTAL_FILES;
        cJSON_AddStringToObject(x, "node", r->node);
        cJSON_AddStringToObject(x, "kind", files ? "files" : "column");
        if (files) {
            cJSON_AddNumberToObject(x, "files_new", r->nfiles);
            cJSON_AddNumberToObject(x, "files_skipped", (double)r->files_skipped);
            cJSON *list = cJSON_AddArrayToObject(x, "files");
            for (int f = 0; f < r->nfiles && f < 100; f++) { /* the first hundred */
                char *shown = mr_redact(r->files[f].item, &j->secrets);
                cJSON_AddItemToArray(list, cJSON_CreateString(shown ? shown : "***"));
                free(shown);
            }
        } else {
            cJSON_AddStringToObject(x, "column", r->column);
            add_shown(x, "watermark_before", r->before, j);
            add_shown(x, "watermark_after", bm->moved ? r->after : r->before, j);
        }
        cJSON_AddNumberToObject(x, "rows", (double)r->rows);
        cJSON_AddItemToArray(reads, x);
    }
    return o;
}
