/* op_write.c - the write op: a warehouse table (append, overwrite, upsert
 * on a key) or a folder of CSV / JSON Lines / Parquet part files.  The write ends its
 * stage; the coordinator commits every write of a job together.
 *
 * An upsert is a MERGE (warehouse/warehouse.h says how the commit runs
 * it): dedupe's order_by (sort keys, parsed by op_sort.c's one parser)
 * says which staged row of a key wins; delete_where is evaluated by the
 * writing tasks, not by the warehouse, so it means the same on every
 * driver: the write's stage ends in a project that adds the boolean
 * column MR_DELETE_COLUMN (the predicate, NULL counting as false), staged
 * after the written columns and never written to the table.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "proto/plan_names.h"

/* The staged column that says "delete this key" (delete_where). */
#define MR_DELETE_COLUMN "millrace_delete"

const dv_keyspec dag_write_keys[] = {
    {"op", 1, DV_K_STR},     {"input", 1, DV_K_STR}, {"to", 1, DV_K_STR},   {"table", 0, DV_K_STR},
    {"mode", 0, DV_K_STR},   {"key", 0, DV_K_SEQ},   {"path", 0, DV_K_STR}, {"dedupe", 0, DV_K_MAP},
    {"delete_where", 0, DV_K_STR}, {"on_schema_change", 0, DV_K_STR},
    {"compression", 0, DV_K_STR}, {"row_group_rows", 0, DV_K_INT}, {NULL, 0, 0},
};

static const dv_keyspec dedupe_keys[] = {
    {"order_by", 1, DV_K_SEQ},
    {NULL, 0, 0},
};

static int is_table_name(const char *s)
{
    int part = 0, parts = 1;
    for (; *s; s++) {
        if (*s == '.') {
            if (part == 0 || ++parts > 2)
                return 0;
            part = 0;
        } else if (isalpha((unsigned char)*s) || *s == '_' || (part > 0 && isdigit((unsigned char)*s))) {
            part++;
        } else {
            return 0;
        }
    }
    return part > 0;
}

/* The write's typed spec from its keys (checked by dag_write_validate): a
 * warehouse write appends by default, a file write refuses an existing
 * output. */
static void write_typed(dag_ctx *c, dag_node *nd, int to, const ynode *table, const ynode *mode,
                        const ynode *key, const ynode *path)
{
    dag_write *w = &nd->write;
    int wh = to <= 0;
    w->target = wh ? MILLRACE__WRITE_TARGET__TARGET_WAREHOUSE : (Millrace__WriteTarget)to;
    int m = mode && mode->kind == YN_SCALAR ? mr_plan_lookup(mr_plan_mode_names, mode->text) : -1;
    w->mode = m >= 0 ? (Millrace__WriteMode)m
              : wh   ? MILLRACE__WRITE_MODE__MODE_APPEND
                     : MILLRACE__WRITE_MODE__MODE_ERROR_IF_EXISTS;
    w->table = wh && table && table->kind == YN_SCALAR ? table->text : "";
    w->path = !wh && path && path->kind == YN_SCALAR ? path->text : "";
    w->key = NULL;
    w->nkey = 0;
    w->dedupe = NULL;
    w->ndedupe = 0;
    w->delete_where = NULL;
    w->on_schema_change = MILLRACE__SCHEMA_CHANGE__SCHEMA_FAIL;
    w->compression = MILLRACE__PARQUET_CODEC__PARQUET_SNAPPY;
    w->row_group_rows = 0;
    if (key && key->kind == YN_SEQ) {
        w->key = dag_arena_alloc(&c->arena, (key->n + 1) * sizeof *w->key);
        for (size_t i = 0; w->key && i < key->n; i++)
            w->key[w->nkey++] = key->items[i]->text ? key->items[i]->text : "";
    }
}

/* dedupe and delete_where: upsert only (m is the mode's index, -1 when
 * bad).  Fills the typed dedupe keys and delete predicate. */
static void merge_validate(dag_ctx *c, dag_node *nd, int m, const mr_schema *in)
{
    const ynode *b = nd->body, *dd = ymap_get(b, "dedupe"), *dw = ymap_get(b, "delete_where");
    dag_write *w = &nd->write;
    if (dd && m != 2 && m >= 0)
        dag_error(c, ymap_key(b, "dedupe"), nd->id, "'dedupe' applies only to mode upsert");
    if (dw && m != 2 && m >= 0)
        dag_error(c, ymap_key(b, "delete_where"), nd->id,
                  "'delete_where' applies only to mode upsert");
    if (dd && m == 2 &&
        dv_check_keys(c, dd, dedupe_keys, "dedupe", ymap_key(b, "dedupe"), nd->id))
        dag_sort_keys_parse(c, nd, "order_by", ymap_get(dd, "order_by"), in,
                            "the input of the write", &w->dedupe, &w->ndedupe);
    if (dw && m == 2) {
        mr_type t = {0};
        if (in && mr_schema_find(in, MR_DELETE_COLUMN) >= 0)
            dag_error(c, ymap_key(b, "delete_where"), nd->id,
                      "with delete_where the column name '" MR_DELETE_COLUMN "' is taken (the "
                      "staged delete flag): rename that column");
        if (dv_check_expr(c, dw, in, "delete_where", nd->id, &t) > 0 && t.id != MR_T_BOOL)
            dag_error(c, dw, nd->id, "delete_where must be a boolean expression, not %s",
                      dv_type_str(c, t));
        w->delete_where = dw->text;
    }
}

/* compression and row_group_rows: Parquet file writes only. */
static void parquet_options_validate(dag_ctx *c, dag_node *nd, int to)
{
    const ynode *b = nd->body, *cv = ymap_get(b, "compression"), *rv = ymap_get(b, "row_group_rows");
    int pq = to == MILLRACE__WRITE_TARGET__TARGET_PARQUET;
    if (cv && !pq)
        dag_error(c, ymap_key(b, "compression"), nd->id, "'compression' applies only to "
                  "to: parquet");
    if (rv && !pq)
        dag_error(c, ymap_key(b, "row_group_rows"), nd->id, "'row_group_rows' applies only "
                  "to to: parquet");
    if (!pq)
        return;
    int k = cv ? dv_pick(c, cv, mr_plan_parquet_codec_names, "Parquet compression", nd->id) : -1;
    if (k >= 0)
        nd->write.compression = (Millrace__ParquetCodec)k;
    long long n;
    if (rv && (dv_parse_int(rv, &n) < 0 || n < 1 || n > 2147483647))
        dag_error(c, rv, nd->id, "row_group_rows must be a whole number from 1 to 2147483647");
    else if (rv)
        nd->write.row_group_rows = (uint64_t)n;
}

/* on_schema_change: recreate drops the table, so only overwrite may. */
static void schema_change_validate(dag_ctx *c, dag_node *nd, int m)
{
    const ynode *v = ymap_get(nd->body, "on_schema_change");
    if (!v)
        return;
    int k = dv_pick(c, v, mr_plan_schema_change_names, "on_schema_change", nd->id);
    if (k >= 0)
        nd->write.on_schema_change = (Millrace__SchemaChange)k;
    if (k == MILLRACE__SCHEMA_CHANGE__SCHEMA_RECREATE && m != 1 && m >= 0)
        dag_error(c, v, nd->id, "on_schema_change: recreate drops the table, so it needs "
                  "mode overwrite (append and upsert keep the table's rows: use add_columns)");
}

mr_schema *dag_write_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *in = nd->ninputs > 0 ? ins[0] : NULL;
    static const char *const wh_modes[] = {"append", "overwrite", "upsert", NULL};
    static const char *const file_modes[] = {"error_if_exists", "overwrite", NULL};
    const char *const *targets = mr_plan_target_names;
    const ynode *b = nd->body;
    int to = dv_pick(c, ymap_get(b, "to"), targets, "write target", nd->id);
    const ynode *table = ymap_get(b, "table"), *mode = ymap_get(b, "mode"),
                *key = ymap_get(b, "key"), *path = ymap_get(b, "path");
    write_typed(c, nd, to, table, mode, key, path);
    if (to == 0) {
        int m = mode ? dv_pick(c, mode, wh_modes, "warehouse write mode", nd->id) : 0;
        if (!table)
            dag_error(c, nd->key, nd->id, "write node '%s' to the warehouse needs a 'table'",
                      nd->id);
        else if (!is_table_name(table->text))
            dag_error(c, table, nd->id, "bad table name '%s': use name or schema.name (letters, "
                      "digits, '_')", table->text);
        if (path)
            dag_error(c, ymap_key(b, "path"), nd->id, "'path' is for file outputs; a warehouse "
                      "write names a 'table'");
        if (m == 2 && !key)
            dag_error(c, mode, nd->id, "mode upsert needs a 'key': the columns that identify "
                      "a row");
        if (key && m != 2 && m >= 0)
            dag_error(c, ymap_key(b, "key"), nd->id, "'key' applies only to mode upsert");
        if (key && m == 2) {
            const char **names;
            int n;
            dv_column_list(c, nd, key, in, "the input of the write", &names, &n);
            if (n == 0 && key->n == 0)
                dag_error(c, key, nd->id, "'key' is empty: list the columns that identify a row");
        }
        merge_validate(c, nd, m, in);
        schema_change_validate(c, nd, m);
    } else if (to > 0) {
        if (mode)
            dv_pick(c, mode, file_modes, "file write mode", nd->id);
        if (!path)
            dag_error(c, nd->key, nd->id, "write node '%s' to %s needs a 'path' (an output "
                      "folder)", nd->id, targets[to]);
        if (table)
            dag_error(c, ymap_key(b, "table"), nd->id, "'table' is for warehouse writes; a %s "
                      "write names a 'path'", targets[to]);
        if (key)
            dag_error(c, ymap_key(b, "key"), nd->id, "'key' is for warehouse upserts");
        static const char *const wh_only[] = {"dedupe", "delete_where", "on_schema_change", NULL};
        for (int i = 0; wh_only[i]; i++)
            if (ymap_get(b, wh_only[i]))
                dag_error(c, ymap_key(b, wh_only[i]), nd->id, "'%s' is for warehouse writes",
                          wh_only[i]);
    }
    if (to >= 0)
        parquet_options_validate(c, nd, to);
    return in ? mr_schema_copy(in) : NULL;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* delete_where: a project that keeps every column and adds the staged
 * delete flag, coalesce((predicate), false). */
static int delete_flag_compile(dag_pb *b, dag_frag *f, const dag_node *nd)
{
    const mr_schema *in = nd->out;
    int n = in->nfields;
    mr_schema *st = mr_schema_create(n + 1);
    if (!st)
        return -1;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = mr_schema_set(st, i, in->fields[i].name, in->fields[i].type);
    if (rc == 0)
        rc = mr_schema_set(st, n, MR_DELETE_COLUMN, mr_type_make(MR_T_BOOL));
    Millrace__OpSpec *op =
        rc == 0 ? dag_op_new(b, f, MILLRACE__OP_KIND__OP_PROJECT, nd, dag_pb_schema(b, st)) : NULL;
    mr_schema_destroy(st);
    const char **names = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *names);
    const char **texts = dag_pb_alloc(b, ((size_t)n + 1) * sizeof *texts);
    char *flag = dag_pb_alloc(b, strlen(nd->write.delete_where) + 32);
    if (!op || !op->output || !names || !texts || !flag)
        return -1;
    for (int i = 0; i < n; i++) {
        names[i] = in->fields[i].name;
        texts[i] = dag_quote_ident(&b->c->arena, in->fields[i].name);
        if (!texts[i])
            return -1;
    }
    sprintf(flag, "coalesce((%s), false)", nd->write.delete_where);
    names[n] = MR_DELETE_COLUMN;
    texts[n] = flag;
    op->project->exprs = dag_pb_named(b, names, texts, n + 1);
    op->project->n_exprs = (size_t)n + 1;
    return op->project->exprs ? 0 : -1;
}

void dag_write_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    const dag_write *dw = &nd->write;
    if (dw->delete_where && dw->mode == MILLRACE__WRITE_MODE__MODE_UPSERT && nd->out &&
        delete_flag_compile(b, f, nd) < 0) {
        b->c->oom = 1;
        return;
    }
    Millrace__WriteSpec *w = dag_pb_alloc(b, sizeof *w);
    if (!w)
        return;
    millrace__write_spec__init(w);
    w->node = dag_pb_str(b, nd->id);
    w->target = dw->target;
    w->table = dag_pb_str(b, dw->table);
    w->mode = dw->mode;
    w->path = dag_pb_str(b, dw->path);
    w->schema = dag_pb_schema(b, nd->out);
    w->key = dag_pb_strings(b, dw->key, dw->nkey);
    w->n_key = w->key ? (size_t)dw->nkey : 0;
    w->dedupe = dag_pb_sort_keys(b, dw->dedupe, dw->ndedupe);
    w->n_dedupe = w->dedupe ? (size_t)dw->ndedupe : 0;
    if (dw->delete_where && dw->mode == MILLRACE__WRITE_MODE__MODE_UPSERT) {
        w->delete_column = dag_pb_str(b, MR_DELETE_COLUMN);
        w->delete_where = dag_pb_str(b, dw->delete_where);
    }
    w->on_schema_change = dw->on_schema_change;
    w->compression = dw->compression;
    w->row_group_rows = dw->row_group_rows;
    Millrace__Stage *st = dag_seal(b, f);
    if (st)
        st->write = w;
}
