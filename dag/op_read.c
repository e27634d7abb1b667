/* op_read.c - the read op: a file (CSV, JSON Lines or Parquet) with a
 * declared or inferred schema, its CSV options and bad-row policy.
 *
 * Validation checks the options, resolves the path against the base
 * folder to see that input exists (or infers the schema from the first
 * matching file, only below the data root) and fills the node's dag_read;
 * compiling makes the stage's OP_SCAN with its ReadSpec (the coordinator
 * resolves files and splits when the job starts).
 */
#include "dag/dag_ops.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/formats/format.h"
#include "core/io.h"
#include "core/jsonl.h"
#include "proto/plan_names.h"

static const dv_keyspec csv_keys[] = {
    {"header", 0, DV_K_BOOL}, {"delimiter", 0, DV_K_STR}, {"quote", 0, DV_K_STR}, {"null", 0, DV_K_SCALAR},
    {NULL, 0, 0},
};

const dv_keyspec dag_read_keys[] = {
    {"op", 1, DV_K_STR},      {"format", 1, DV_K_STR},   {"path", 0, DV_K_STR},      {"schema", 0, DV_K_MAP},
    {"csv", 0, DV_K_MAP},     {"on_error", 0, DV_K_STR}, {"max_errors", 0, DV_K_INT}, {"compression", 0, DV_K_STR},
    {"incremental", 0, DV_K_ANY},
    {"dsn", 0, DV_K_STR},     {"table", 0, DV_K_STR},    {"query", 0, DV_K_STR},
    {"partition_column", 0, DV_K_STR}, {"partitions", 0, DV_K_INT},
    {NULL, 0, 0},
};

static const dv_keyspec incremental_keys[] = {
    {"column", 1, DV_K_STR},
    {NULL, 0, 0},
};

/* The first file (in sorted order) that path names: the file itself, the
 * first regular file of a folder (hidden and '_' names skipped, as the
 * coordinator does), or the first match of a glob.  Returns a malloc'd
 * path or NULL. */
static char *first_file_e(const char *full, mr_err *err)
{
    struct stat sb;
    char *best = NULL;
    if (mr_io_is_remote(full)) { /* an object store's listing (core/io.h) */
        char **urls;
        uint64_t *sizes;
        size_t n;
        if (mr_io_list(full, &urls, &sizes, NULL, &n, err) < 0)
            return NULL;
        best = n ? urls[0] : NULL;
        for (size_t i = 1; i < n; i++)
            free(urls[i]);
        free(urls);
        free(sizes);
        return best;
    }
    if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
        return strdup(full);
    if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *dir = opendir(full);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_')
                continue;
            char *p;
            if (asprintf(&p, "%s/%s", full, e->d_name) < 0)
                break;
            if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && (!best || strcmp(p, best) < 0)) {
                free(best);
                best = p;
            } else {
                free(p);
            }
        }
        if (dir)
            closedir(dir);
        return best;
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    if (glob(full, 0, NULL, &g) == 0) /* sorted */
        for (size_t i = 0; i < g.gl_pathc && !best; i++)
            if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode))
                best = strdup(g.gl_pathv[i]);
    globfree(&g);
    return best;
}

static char *first_file(const char *full)
{
    mr_err err;
    mr_err_clear(&err);
    return first_file_e(full, &err);
}

/* Resolves a read's path against the base folder (malloc'd; NULL when out
 * of memory, with c->oom set). */
static char *resolve_read_path(dag_ctx *c, const char *path)
{
    const char *base = c->opt->base_dir;
    char *full = NULL;
    if (path[0] == '/' || mr_io_is_remote(path) || !base || !base[0])
        full = strdup(path);
    else if (asprintf(&full, "%s/%s", base, path) < 0)
        full = NULL;
    if (!full)
        c->oom = 1;
    return full;
}

/* Reports that a read's path names no file: the path as written, as
 * resolved, and the folder relative paths resolve against. */
static void report_no_input(dag_ctx *c, const dag_node *nd, const ynode *path, const char *full,
                            const char *then)
{
    const char *base = c->opt->base_dir;
    struct stat sb;
    int dir = stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
    const char *what = dir                          ? "folder '%s' holds no input file"
                       : strpbrk(path->text, "*?[") ? "no input file matches '%s'"
                                                    : "input file '%s' does not exist";
    const char *head = dag_arena_printf(&c->arena, what, path->text);
    if (!head)
        return;
    if (path->text[0] == '/' || mr_io_is_remote(path->text) || !base || !base[0])
        dag_error(c, path, nd->id, "%s%s", head, then);
    else
        dag_error(c, path, nd->id, "%s (resolved to '%s'; relative paths resolve against '%s')%s",
                  head, full, base, then);
}

/* A read with a schema, when inputs are checked: its path must name a
 * file now (a file, a folder holding one, or a glob matching one). */
static void check_input_exists(dag_ctx *c, dag_node *nd)
{
    const ynode *path = ymap_get(nd->body, "path");
    if (!c->opt->check_inputs || !path || path->kind != YN_SCALAR || path->subst_failed ||
        yscalar_is_null(path))
        return;
    char *full = resolve_read_path(c, path->text);
    if (!full)
        return;
    mr_err err;
    mr_err_clear(&err);
    char *file = first_file_e(full, &err);
    if (!file && err.code < 0)
        dag_error(c, path, nd->id, "%s", err.msg); /* the store refused or is unreachable */
    else if (!file)
        report_no_input(c, nd, path, full, "");
    free(file);
    free(full);
}

/* Whether path resolves (symlinks followed) below root; NULL or "/" allow
 * all.  A path that does not exist is left to the caller's "no file". */
static int under_root(const char *root, const char *path)
{
    if (!root || !root[0] || strcmp(root, "/") == 0 || mr_io_is_remote(path))
        return 1;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return 0;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

/* The folder a path or glob names files in: up to the last '/' before the
 * first glob character (the path itself when it has none). */
static char *static_prefix(const char *full)
{
    size_t g = strcspn(full, "*?[");
    if (!full[g])
        return strdup(full);
    char *p = strndup(full, g);
    char *slash = p ? strrchr(p, '/') : NULL;
    if (slash)
        *(slash == p ? slash + 1 : slash) = '\0';
    return p;
}

/* A read without a schema: infer it from its first file at compile time
 * (core/csv.h, core/jsonl.h), so the plan carries a fixed schema that every
 * task and the warehouse agree on. */
static mr_schema *infer_schema(dag_ctx *c, dag_node *nd, int fmt)
{
    const ynode *path = ymap_get(nd->body, "path");
    if (!path || path->kind != YN_SCALAR)
        return NULL;
    char *full = resolve_read_path(c, path->text);
    if (!full)
        return NULL;
    /* Inference reads files as the runtime does: only below the data root. */
    const char *root = c->opt->data_root;
    char *dir = static_prefix(full);
    if (!dir) {
        free(full);
        c->oom = 1;
        return NULL;
    }
    int inside = under_root(root, dir) || access(dir, F_OK) != 0;
    free(dir);
    mr_err lerr;
    mr_err_clear(&lerr);
    char *file = inside ? first_file_e(full, &lerr) : NULL;
    if (!file && lerr.code < 0) {
        dag_error(c, path, nd->id, "cannot infer a schema: %s", lerr.msg);
        free(full);
        return NULL;
    }
    if (file && !under_root(root, file)) {
        free(file);
        file = NULL;
        inside = 0;
    }
    if (!inside) {
        dag_error(c, path, nd->id, "cannot infer a schema: '%s' is outside the data root",
                  path->text);
        free(full);
        return NULL;
    }
    if (!file) {
        report_no_input(c, nd, path, full, ", so its schema cannot be inferred (or give a "
                        "'schema')");
        free(full);
        return NULL;
    }
    free(full);
    mr_schema *out = NULL;
    mr_err err;
    mr_err_clear(&err);
    int rc;
    if (fmt == 0) {
        mr_csv_options o;
        mr_csv_options_init(&o);
        o.header = nd->read.csv_header;
        o.delimiter = nd->read.csv_delimiter;
        o.quote = nd->read.csv_quote;
        o.null_string = nd->read.csv_null;
        o.compression = (int)nd->read.compression;
        rc = mr_csv_infer_schema(file, &o, 0, &out, &err);
    } else if (fmt == 1) {
        rc = mr_jsonl_infer_schema_c(file, (int)nd->read.compression, 0, &out, &err);
    } else {
        rc = mr_format_parquet.infer(file, NULL, 0, &out, &err);
    }
    if (rc != 0) {
        if (err.code == MR_ENOMEM)
            c->oom = 1;
        else
            dag_error(c, path, nd->id, "cannot infer a schema from '%s': %s; give a 'schema'",
                      file, err.msg);
        out = NULL;
    } else if (out->nfields == 0) {
        dag_error(c, path, nd->id, "cannot infer a schema from '%s': it has no columns; give a "
                  "'schema'", file);
        mr_schema_destroy(out);
        out = NULL;
    }
    free(file);
    return out;
}

/* A Parquet read with a schema, when inputs are checked: its first file
 * (below the data root) must hold every column, flat and of a type that
 * reads as the one declared; the error names the column.  Each task checks
 * its own file again when it opens it. */
static void check_parquet_schema(dag_ctx *c, dag_node *nd, const ynode *sch,
                                 const mr_schema *schema)
{
    const ynode *path = ymap_get(nd->body, "path");
    if (!c->opt->check_inputs || !path || path->kind != YN_SCALAR || path->subst_failed ||
        yscalar_is_null(path))
        return;
    char *full = resolve_read_path(c, path->text);
    char *file = full ? first_file(full) : NULL;
    free(full);
    if (!file || !under_root(c->opt->data_root, file)) {
        free(file);
        return; /* check_input_exists reports a missing input */
    }
    void *src = NULL;
    mr_err err;
    mr_err_clear(&err);
    /* an empty split: the footer and the columns, no data */
    int rc = mr_format_parquet.open(file, 0, 0, schema, NULL, &src, &err);
    if (rc == MR_ENOMEM)
        c->oom = 1;
    else if (rc < 0)
        dag_error(c, sch, nd->id, "%s", err.msg);
    mr_format_parquet.close(src);
    free(file);
}

/* The read's typed spec from its keys (checked by dag_read_validate). */
static void read_typed(dag_node *nd, int fmt, const ynode *csv, int onerr)
{
    dag_read *r = &nd->read;
    const ynode *v;
    int h;
    r->format = fmt == 1   ? MILLRACE__FILE_FORMAT__FORMAT_JSONL
                : fmt == 2 ? MILLRACE__FILE_FORMAT__FORMAT_PARQUET
                : fmt == 3 ? MILLRACE__FILE_FORMAT__FORMAT_POSTGRES
                           : MILLRACE__FILE_FORMAT__FORMAT_CSV;
    v = ymap_get(nd->body, "path");
    r->path = v && v->kind == YN_SCALAR ? v->text : "";
    r->schema_inferred = ymap_get(nd->body, "schema") == NULL;
    r->csv_header = !((v = ymap_get(csv, "header")) && yscalar_bool(v, &h) == 0 && !h);
    r->csv_delimiter = (v = ymap_get(csv, "delimiter")) && v->kind == YN_SCALAR && v->len == 1
                           ? v->text[0] : ',';
    r->csv_quote = (v = ymap_get(csv, "quote")) && v->kind == YN_SCALAR && v->len == 1
                       ? v->text[0] : '"';
    r->csv_null = (v = ymap_get(csv, "null")) && v->kind == YN_SCALAR ? v->text : "";
    r->on_error = onerr == 1   ? MILLRACE__ON_ERROR__ON_ERROR_SKIP
                  : onerr == 2 ? MILLRACE__ON_ERROR__ON_ERROR_REJECT
                               : MILLRACE__ON_ERROR__ON_ERROR_FAIL;
    r->max_errors = -1;
}

/* incremental: files, or {column: NAME} naming a column of the read's
 * schema whose type orders (every type but bool); fills the typed form. */
static void check_incremental(dag_ctx *c, dag_node *nd, const mr_schema *schema)
{
    const ynode *v = ymap_get(nd->body, "incremental");
    nd->read.incremental_column = "";
    if (!v)
        return;
    if (v->kind == YN_SCALAR && !yscalar_is_null(v)) {
        if (strcmp(v->text, "files") == 0)
            nd->read.incremental = MILLRACE__INCREMENTAL__INCREMENTAL_FILES;
        else
            dag_error(c, v, nd->id, "unknown incremental '%s' (expected files, or {column: "
                      "NAME} for rows above the last run's watermark)", v->text);
        return;
    }
    if (v->kind != YN_MAP) {
        dag_error(c, v, nd->id, "'incremental' must be files or {column: NAME}");
        return;
    }
    dv_check_keys(c, v, incremental_keys, "incremental", ymap_key(nd->body, "incremental"),
                  nd->id);
    const ynode *col = ymap_get(v, "column");
    if (!schema || !col || col->kind != YN_SCALAR || yscalar_is_null(col))
        return;
    int i = mr_schema_find(schema, col->text);
    if (i < 0) {
        dag_error(c, col, nd->id, "incremental column '%s' is not in the read's schema",
                  col->text);
        return;
    }
    mr_type t = schema->fields[i].type;
    if (t.id == MR_T_BOOL) {
        dag_error(c, col, nd->id, "incremental column '%s' is bool, which has no useful order "
                  "for a watermark (use a number, decimal, string, date or timestamp)",
                  col->text);
        return;
    }
    nd->read.incremental = MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN;
    nd->read.incremental_column = col->text;
}

mr_schema *dag_read_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    (void)ins;
    static const char *const formats[] = {"csv", "jsonl", "parquet", "postgres", NULL};
    static const char *const on_errors[] = {"fail", "skip", "reject", NULL};
    const ynode *b = nd->body, *v;
    int fmt = (v = ymap_get(b, "format")) ? dv_pick(c, v, formats, "format", nd->id) : -1;
    const ynode *csv = ymap_get(b, "csv");
    if (fmt == 3) { /* a database: dag/read_db.c */
        read_typed(nd, fmt, NULL, (v = ymap_get(b, "on_error"))
                                      ? dv_pick(c, v, on_errors, "on_error", nd->id) : 0);
        mr_schema *db = dag_read_db_validate(c, nd);
        check_incremental(c, nd, db);
        if (nd->read.incremental == MILLRACE__INCREMENTAL__INCREMENTAL_FILES)
            dag_error(c, ymap_get(b, "incremental"), nd->id, "incremental: files is for file "
                      "reads; a postgres read takes {column: NAME}");
        return db;
    }
    dag_read_db_check_keys(c, nd, 0);
    if (csv && fmt >= 1)
        dag_error(c, ymap_key(b, "csv"), nd->id, "'csv' options apply to format csv only");
    if (csv) {
        dv_check_keys(c, csv, csv_keys, "csv options", ymap_key(b, "csv"), nd->id);
        const ynode *dl = ymap_get(csv, "delimiter"), *qt = ymap_get(csv, "quote");
        if (dl && dl->kind != YN_SCALAR)
            dl = NULL;
        if (qt && qt->kind != YN_SCALAR)
            qt = NULL;
        if (dl && (dl->len != 1 || dl->text[0] == '\n' || dl->text[0] == '\r'))
            dag_error(c, dl, nd->id, "delimiter must be one character (byte), not '%s'", dl->text);
        if (qt && qt->len != 1)
            dag_error(c, qt, nd->id, "quote must be one character (byte), not '%s'", qt->text);
        char dch = dl && dl->len == 1 ? dl->text[0] : ',';
        char qch = qt && qt->len == 1 ? qt->text[0] : '"';
        if (dch == qch)
            dag_error(c, dl ? dl : qt, nd->id, "delimiter and quote are both '%c'", dch);
    }
    int onerr = (v = ymap_get(b, "on_error")) ? dv_pick(c, v, on_errors, "on_error", nd->id) : 0;
    read_typed(nd, fmt, csv, onerr);
    if ((v = ymap_get(b, "compression"))) {
        int cm = dv_pick(c, v, mr_plan_compression_names, "compression", nd->id);
        if (cm > 0)
            nd->read.compression = (Millrace__Compression)cm;
        if (fmt == 2)
            dag_error(c, ymap_key(b, "compression"), nd->id, "'compression' applies to csv and "
                      "jsonl reads (Parquet compresses its own pages)");
    }
    long long me;
    if ((v = ymap_get(b, "max_errors")) && dv_parse_int(v, &me) == 0) {
        nd->read.max_errors = me;
        /* on_error fail tolerates no bad row, which max_errors 0 says too:
         * only a positive limit contradicts it. */
        if (me < 0)
            dag_error(c, v, nd->id, "max_errors must be 0 or more, not %lld", me);
        else if (onerr == 0 && me > 0)
            dag_error(c, v, nd->id, "max_errors %lld contradicts on_error fail (which stops at "
                      "the first bad row); use on_error skip or reject, or leave max_errors out",
                      me);
    }
    const ynode *sch = ymap_get(b, "schema");
    if (!sch) {
        mr_schema *inf = fmt < 0 ? NULL : infer_schema(c, nd, fmt);
        check_incremental(c, nd, inf);
        return inf;
    }
    check_input_exists(c, nd);
    if (sch->kind != YN_MAP)
        return NULL;
    if (sch->n == 0) {
        dag_error(c, sch, nd->id, "schema has no columns");
        return NULL;
    }
    dv_sbuild sb = {0};
    int ok = 1;
    for (size_t i = 0; i < sch->n; i++) {
        const ynode *k = sch->items[2 * i], *t = sch->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            continue;
        if (k->len == 0) {
            dag_error(c, k, nd->id, "empty column name in schema");
            ok = 0;
        }
        mr_type ty;
        mr_err err;
        mr_err_clear(&err);
        if (t->kind != YN_SCALAR || yscalar_is_null(t)) {
            dag_error(c, t, nd->id, "column '%s' needs a type (bool, int32, int64, float64, "
                      "decimal(p,s), string, date, timestamp, timestamptz)", k->text);
            ok = 0;
        } else if (mr_type_parse(t->text, &ty, &err) != 0) {
            /* In a {flow} mapping an unquoted decimal(8,2) splits at the comma. */
            int split = strchr(t->text, '(') && !strchr(t->text, ')') && t->style == YS_PLAIN;
            dag_error(c, t, nd->id, "column '%s': %s%s", k->text, err.msg,
                      split ? " (inside { } quote it: \"decimal(8,2)\")" : "");
            ok = 0;
        } else {
            dv_sb_add(c, &sb, k->text, ty);
        }
    }
    mr_schema *out = ok ? dv_sb_finish(c, &sb) : NULL;
    if (out && fmt == 2)
        check_parquet_schema(c, nd, sch, out);
    check_incremental(c, nd, out);
    return out;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

void dag_read_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    const dag_read *rd = &nd->read;
    Millrace__OpSpec *op = dag_op_new(b, f, MILLRACE__OP_KIND__OP_SCAN, nd,
                                      dag_pb_schema(b, nd->scan_out ? nd->scan_out : nd->out));
    Millrace__CsvOptions *csv = dag_pb_alloc(b, sizeof *csv);
    if (!op || !csv)
        return;
    Millrace__ReadSpec *r = op->read;
    millrace__csv_options__init(csv);
    r->format = rd->format;
    r->path = dag_pb_str(b, rd->path);
    r->schema = nd->nread_cols > 0 ? dag_pb_schema(b, nd->full_out) : op->output;
    if (nd->nread_cols > 0) { /* pruned: the file's columns it outputs */
        r->columns = nd->read_cols;
        r->n_columns = (size_t)nd->nread_cols;
    }
    r->schema_inferred = rd->schema_inferred; /* for the scan's messages */
    csv->header = rd->csv_header;
    csv->delimiter = dag_arena_strndup(&b->c->arena, &rd->csv_delimiter, 1);
    csv->quote = dag_arena_strndup(&b->c->arena, &rd->csv_quote, 1);
    csv->null_string = dag_pb_str(b, rd->csv_null);
    r->csv = csv;
    r->on_error = rd->on_error;
    r->max_errors = rd->max_errors;
    r->compression = rd->compression;
    r->incremental = rd->incremental;
    r->incremental_column = dag_pb_str(b, rd->incremental_column ? rd->incremental_column : "");
    /* filter pushdown: the conditions evaluated in the scan, then only
     * the columns the readers need */
    const char *pushed = dag_pushed_text(b->c, nd);
    if (pushed)
        r->filter = dag_pb_str(b, pushed);
    if (nd->scan_out)
        dag_narrow(b, f, nd, nd->out);
    r->dsn = dag_pb_str(b, rd->dsn ? rd->dsn : "");
    r->dsn_env = dag_pb_str(b, rd->dsn_env ? rd->dsn_env : "");
    r->table = dag_pb_str(b, rd->table ? rd->table : "");
    r->query = dag_pb_str(b, rd->query ? rd->query : "");
    r->partition_column = dag_pb_str(b, rd->partition_column ? rd->partition_column : "");
    r->partitions = rd->partitions;
}
