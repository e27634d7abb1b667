/* sql.c - SQL text shared by the warehouse drivers. */
#include "warehouse/sql.h"

#include <stdio.h>

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

int mr_wh__upsert_null_error(mr_err *err, const mr_wh_target *t, long long nrows)
{
    mr_strbuf keys = {0};
    for (int k = 0; k < t->nkey; k++) {
        mr_strbuf_puts(&keys, k ? ", " : "");
        mr_strbuf_puts(&keys, t->key[k]);
    }
    int rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: %lld row%s of the job %s a NULL key "
                        "(key: %s); a NULL key matches no row, so every run would add %s again: "
                        "filter %s out or fill the key; the table is unchanged",
                        t->table, nrows, nrows == 1 ? "" : "s", nrows == 1 ? "has" : "have",
                        keys.p ? keys.p : "", nrows == 1 ? "it" : "them",
                        nrows == 1 ? "it" : "them");
    mr_strbuf_free(&keys);
    return rc;
}

int mr_wh__upsert_dup_error(mr_err *err, const mr_wh_target *t, const char *const *key_values,
                            long long count, long long nkeys)
{
    mr_strbuf names = {0}, vals = {0};
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
                        "row per key (dedupe first, e.g. an aggregate on the key); the table is "
                        "unchanged",
                        t->table, names.p ? names.p : "", vals.p ? vals.p : "", count, nkeys);
    else
        rc = mr_err_set(err, MR_EWAREHOUSE,
                        "warehouse commit: table %s: upsert: key (%s)=(%s) appears in %lld rows "
                        "of the job; upsert takes one row per key (dedupe first, e.g. an "
                        "aggregate on the key); the table is unchanged",
                        t->table, names.p ? names.p : "", vals.p ? vals.p : "", count);
    mr_strbuf_free(&names);
    mr_strbuf_free(&vals);
    return rc;
}
