/* op_write.c - the write op: a warehouse table (append, overwrite, upsert
 * on a key) or a folder of CSV / JSON Lines part files.  The write ends its
 * stage; the coordinator commits every write of a job together.
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "proto/plan_names.h"

const dv_keyspec dag_write_keys[] = {
    {"op", 1, DV_K_STR},     {"input", 1, DV_K_STR}, {"to", 1, DV_K_STR},   {"table", 0, DV_K_STR},
    {"mode", 0, DV_K_STR},   {"key", 0, DV_K_SEQ},   {"path", 0, DV_K_STR}, {NULL, 0, 0},
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
    if (key && key->kind == YN_SEQ) {
        w->key = dag_arena_alloc(&c->arena, (key->n + 1) * sizeof *w->key);
        for (size_t i = 0; w->key && i < key->n; i++)
            w->key[w->nkey++] = key->items[i]->text ? key->items[i]->text : "";
    }
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
    }
    return in ? mr_schema_copy(in) : NULL;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

void dag_write_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    Millrace__WriteSpec *w = dag_pb_alloc(b, sizeof *w);
    if (!w)
        return;
    millrace__write_spec__init(w);
    const dag_write *dw = &nd->write;
    w->node = dag_pb_str(b, nd->id);
    w->target = dw->target;
    w->table = dag_pb_str(b, dw->table);
    w->mode = dw->mode;
    w->path = dag_pb_str(b, dw->path);
    w->schema = dag_pb_schema(b, nd->out);
    w->key = dag_pb_strings(b, dw->key, dw->nkey);
    w->n_key = w->key ? (size_t)dw->nkey : 0;
    Millrace__Stage *st = dag_seal(b, f);
    if (st)
        st->write = w;
}
