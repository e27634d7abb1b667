/* sql.c - SQL text shared by the warehouse drivers. */
#include "warehouse/sql.h"

#include <stdio.h>
#include <string.h>

#include "proto/plan_names.h"

const char *mr_wh__col_decl(mr_type t, char *buf, size_t cap)
{
    switch (t.id) {
    case MR_T_BOOL: return "BOOLEAN";
    case MR_T_INT32: return "INTEGER";
    case MR_T_INT64: return "BIGINT";
    case MR_T_FLOAT64: return "DOUBLE PRECISION";
    case MR_T_DECIMAL:
        snprintf(buf, cap, "NUMERIC(%u,%u)", t.precision, t.scale);
        return buf;
    case MR_T_DATE: return "DATE";
    case MR_T_TIMESTAMP: return "TIMESTAMP";
    case MR_T_TIMESTAMPTZ: return "TIMESTAMPTZ";
    default: return "TEXT";
    }
}

void mr_wh__ident(mr_strbuf *b, const char *name)
{
    mr_strbuf_quoted(b, name, '"');
}

void mr_wh__columns_ddl(mr_strbuf *b, const mr_schema *s)
{
    char tmp[32];
    mr_strbuf_puts(b, " (");
    for (int i = 0; i < s->nfields; i++) {
        if (i)
            mr_strbuf_puts(b, ", ");
        mr_wh__ident(b, s->fields[i].name);
        mr_strbuf_puts(b, " ");
        mr_strbuf_puts(b, mr_wh__col_decl(s->fields[i].type, tmp, sizeof tmp));
    }
    mr_strbuf_puts(b, ")");
}

void mr_wh__field_list(mr_strbuf *b, const mr_schema *s, const char *alias)
{
    for (int i = 0; i < s->nfields; i++) {
        if (i)
            mr_strbuf_puts(b, ", ");
        if (alias) {
            mr_strbuf_puts(b, alias);
            mr_strbuf_puts(b, ".");
        }
        mr_wh__ident(b, s->fields[i].name);
    }
}

void mr_wh__name_list(mr_strbuf *b, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            mr_strbuf_puts(b, ", ");
        mr_wh__ident(b, names[i]);
    }
}

/* Appends "(SELECT k1, k2 FROM qual.s1 UNION ALL ...) AS mr_u". */
static void staged_keys(mr_strbuf *b, const mr_wh_target *t, const char *qual)
{
    mr_strbuf_puts(b, "(");
    for (int i = 0; i < t->nstaging; i++) {
        mr_strbuf_puts(b, i ? " UNION ALL SELECT " : "SELECT ");
        mr_wh__name_list(b, t->key, t->nkey);
        mr_strbuf_puts(b, " FROM ");
        mr_strbuf_puts(b, qual);
        mr_strbuf_puts(b, ".");
        mr_wh__ident(b, t->staging_tables[i]);
    }
    mr_strbuf_puts(b, ") AS mr_u");
}

void mr_wh__upsert_null_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual)
{
    mr_strbuf_puts(b, "SELECT count(*) FROM ");
    staged_keys(b, t, qual);
    mr_strbuf_puts(b, " WHERE ");
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(b, k ? " OR " : "");
        mr_wh__ident(b, t->key[k]);
        mr_strbuf_puts(b, " IS NULL");
    }
}

void mr_wh__upsert_dup_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual)
{
    /* the window count runs after HAVING: it counts the duplicated keys */
    mr_strbuf_puts(b, "SELECT ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, ", count(*), count(*) OVER () FROM ");
    staged_keys(b, t, qual);
    mr_strbuf_puts(b, " GROUP BY ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " HAVING count(*) > 1 ORDER BY ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " LIMIT 1");
}

/* "t" or "t (write node 'w')": where an upsert message points. */
static const char *target_where(const mr_wh_target *t, char *buf, size_t cap)
{
    if (t->node && *t->node)
        snprintf(buf, cap, "%s (write node '%s')", t->table, t->node);
    else
        snprintf(buf, cap, "%s", t->table);
    return buf;
}

int mr_wh__upsert_null_error(mr_err *err, const mr_wh_target *t, long long nrows)
{
    char where[400];
    mr_strbuf keys = {0};
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(&keys, k ? ", " : "");
        mr_strbuf_puts(&keys, t->key[k]);
    }
    int rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: %lld row%s of the job %s a NULL key "
                        "(key: %s); a NULL key matches no row, so every run would add %s again: "
                        "filter %s out or fill the key; the table is unchanged",
                        target_where(t, where, sizeof where), nrows, nrows == 1 ? "" : "s", nrows == 1 ? "has" : "have",
                        keys.p ? keys.p : "", nrows == 1 ? "it" : "them",
                        nrows == 1 ? "it" : "them");
    mr_strbuf_free(&keys);
    return rc;
}

int mr_wh__upsert_dup_error(mr_err *err, const mr_wh_target *t, const char *const *key_values,
                            long long count, long long nkeys)
{
    mr_strbuf names = {0}, vals = {0};
    char where[400];
    target_where(t, where, sizeof where);
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(&names, k ? ", " : "");
        mr_strbuf_puts(&names, t->key[k]);
        mr_strbuf_puts(&vals, k ? ", " : "");
        mr_strbuf_puts(&vals, key_values[k] ? key_values[k] : "");
    }
    int rc;
    if (nkeys > 1)
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: key (%s)=(%s) appears in %lld rows "
                        "of the job, and %lld keys in all appear more than once; upsert takes one "
                        "row per key (say which wins with dedupe: {order_by: [...]}); the table "
                        "is unchanged",
                        where, names.p ? names.p : "", vals.p ? vals.p : "", count, nkeys);
    else
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: key (%s)=(%s) appears in %lld rows "
                        "of the job; upsert takes one row per key (say which wins with dedupe: "
                        "{order_by: [...]}); the table is unchanged",
                        where, names.p ? names.p : "", vals.p ? vals.p : "", count);
    mr_strbuf_free(&names);
    mr_strbuf_free(&vals);
    return rc;
}

/* ---- upsert as MERGE ----------------------------------------------------- */

int mr_wh__is_merge(const mr_wh_target *t)
{
    return t->ndedupe > 0 || (t->delete_column && *t->delete_column);
}

static int has_delete(const mr_wh_target *t)
{
    return t->delete_column && *t->delete_column;
}

/* Appends "(SELECT <schema columns>[, delete] FROM qual.s1 UNION ALL ...)
 * AS mr_u": every staged row of every task. */
static void staged_rows(mr_strbuf *b, const mr_wh_target *t, const char *qual)
{
    mr_strbuf_puts(b, "(");
    for (int i = 0; i < t->nstaging; i++) {
        mr_strbuf_puts(b, i ? " UNION ALL SELECT " : "SELECT ");
        mr_wh__field_list(b, t->schema, NULL);
        if (has_delete(t)) {
            mr_strbuf_puts(b, ", ");
            mr_wh__ident(b, t->delete_column);
        }
        mr_strbuf_puts(b, " FROM ");
        mr_strbuf_puts(b, qual);
        mr_strbuf_puts(b, ".");
        mr_wh__ident(b, t->staging_tables[i]);
    }
    mr_strbuf_puts(b, ") AS mr_u");
}

/* Appends "PARTITION BY k1, k2 ORDER BY c1 DESC NULLS FIRST, ...": the
 * dedupe order, spelled out in full so both databases sort alike. */
static void key_window(mr_strbuf *b, const mr_wh_target *t, const char *collate)
{
    mr_strbuf_puts(b, "PARTITION BY ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " ORDER BY ");
    for (int i = 0; i < t->ndedupe; i++) {
        const Millrace__SortKey *k = t->dedupe[i];
        mr_strbuf_puts(b, i ? ", " : "");
        mr_wh__ident(b, k->column);
        int f = mr_schema_find(t->schema, k->column);
        if (collate && f >= 0 && t->schema->fields[f].type.id == MR_T_STRING)
            mr_strbuf_puts(b, collate);
        mr_strbuf_puts(b, k->descending ? " DESC" : " ASC");
        mr_strbuf_puts(b, k->nulls_first ? " NULLS FIRST" : " NULLS LAST");
    }
}

void mr_wh__merge_tie_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual,
                          const char *collate)
{
    mr_strbuf_puts(b, "SELECT ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, ", count(*), count(*) OVER () FROM (SELECT ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, ", rank() OVER (");
    key_window(b, t, collate);
    mr_strbuf_puts(b, ") AS mr_rank FROM ");
    staged_rows(b, t, qual);
    mr_strbuf_puts(b, ") AS mr_r WHERE mr_rank = 1 GROUP BY ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " HAVING count(*) > 1 ORDER BY ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " LIMIT 1");
}

void mr_wh__merge_keys_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual)
{
    mr_strbuf_puts(b, "SELECT DISTINCT ");
    mr_wh__name_list(b, t->key, t->nkey);
    mr_strbuf_puts(b, " FROM ");
    staged_keys(b, t, qual);
}

void mr_wh__merge_rows_sql(mr_strbuf *b, const mr_wh_target *t, const char *qual,
                           const char *collate)
{
    mr_strbuf_puts(b, "SELECT ");
    mr_wh__field_list(b, t->schema, NULL);
    if (t->ndedupe == 0) {
        /* keys are unique (checked): every staged row is its key's winner */
        mr_strbuf_puts(b, " FROM ");
        staged_rows(b, t, qual);
    } else {
        mr_strbuf_puts(b, " FROM (SELECT ");
        mr_wh__field_list(b, t->schema, NULL);
        if (has_delete(t)) {
            mr_strbuf_puts(b, ", ");
            mr_wh__ident(b, t->delete_column);
        }
        mr_strbuf_puts(b, ", row_number() OVER (");
        key_window(b, t, collate);
        mr_strbuf_puts(b, ") AS mr_rn FROM ");
        staged_rows(b, t, qual);
        mr_strbuf_puts(b, ") AS mr_w WHERE mr_rn = 1");
    }
    if (has_delete(t)) {
        mr_strbuf_puts(b, t->ndedupe == 0 ? " WHERE NOT " : " AND NOT ");
        mr_wh__ident(b, t->delete_column);
    }
}

int mr_wh__merge_tie_error(mr_err *err, const mr_wh_target *t, const char *const *key_values,
                           long long count, long long nkeys)
{
    mr_strbuf names = {0}, vals = {0}, order = {0};
    char where[400];
    target_where(t, where, sizeof where);
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(&names, k ? ", " : "");
        mr_strbuf_puts(&names, t->key[k]);
        mr_strbuf_puts(&vals, k ? ", " : "");
        mr_strbuf_puts(&vals, key_values[k] ? key_values[k] : "");
    }
    for (int i = 0; i < t->ndedupe; i++) {
        mr_strbuf_puts(&order, i ? ", " : "");
        mr_plan_sort_key_text(&order, t->dedupe[i]);
    }
    char more[96] = "";
    if (nkeys > 1)
        snprintf(more, sizeof more, ", and %lld keys in all have such a tie", nkeys);
    int rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: key (%s)=(%s) has %lld rows that tie "
                        "for first place under dedupe order_by [%s]%s; add a column to order_by "
                        "that tells them apart; the table is unchanged",
                        where, names.p ? names.p : "", vals.p ? vals.p : "", count,
                        order.p ? order.p : "", more);
    mr_strbuf_free(&names);
    mr_strbuf_free(&vals);
    mr_strbuf_free(&order);
    return rc;
}
