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
