/* read_db.c - the read op's database form: format postgres with a dsn and
 * a table or query, its schema asked of the database.
 *
 * Secrets: the dsn must be ${env:NAME} (the whole value) or a literal
 * without a password.  The plan keeps the variable's NAME, not its value,
 * so the password stays in the coordinator's memory for the schema lookup
 * and every executor reads NAME from its own environment when it connects
 * (docs/security.md).  The lookup goes through core/dbsrc.h, which the
 * coordinator and the CLI plug in (dag/ links no database library).
 */
#include "dag/dag_ops.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/dbsrc.h"

/* Keys only file reads take, and keys only database reads take. */
static const char *const file_only[] = {"path",     "schema",     "csv", "compression",
                                        "on_error", "max_errors", NULL};
static const char *const db_only[] = {"dsn", "table", "query", "partition_column", "partitions",
                                      NULL};

/* partition_column and partitions: both or neither; a column of schema
 * whose type has ranges (integers, decimals, dates, timestamps). */
static void check_partitions(dag_ctx *c, dag_node *nd, const mr_schema *schema)
{
    dag_read *r = &nd->read;
    const ynode *col = ymap_get(nd->body, "partition_column"),
                *num = ymap_get(nd->body, "partitions");
    long long n = 1;
    r->partition_column = "";
    r->partitions = 1;
    if (!col && !num)
        return;
    if (!col || !num) {
        dag_error(c, ymap_key(nd->body, col ? "partition_column" : "partitions"), nd->id,
                  "give 'partition_column' and 'partitions' together");
        return;
    }
    if (dv_parse_int(num, &n) != 0 || n < 1 || n > 1024) {
        dag_error(c, num, nd->id, "partitions must be a whole number from 1 to 1024");
        return;
    }
    if (col->kind != YN_SCALAR || yscalar_is_null(col) || !schema)
        return;
    int i = mr_schema_find(schema, col->text);
    if (i < 0) {
        dag_error(c, col, nd->id, "partition column '%s' is not a column of the source",
                  col->text);
        return;
    }
    int id = schema->fields[i].type.id;
    if (id != MR_T_INT32 && id != MR_T_INT64 && id != MR_T_DECIMAL && !mr_type_is_time(id)) {
        dag_error(c, col, nd->id, "partition column '%s' must be an integer, decimal, date or "
                  "timestamp column", col->text);
        return;
    }
    r->partition_column = col->text;
    r->partitions = (unsigned)n;
}

/* The NAME of a value written exactly as ${env:NAME}, copied into the
 * arena, or NULL. */
static const char *env_name(dag_ctx *c, const ynode *v)
{
    const char *r = v->raw;
    size_t n = v->raw_len;
    if (!r || n < 8 || strncmp(r, "${env:", 6) != 0 || r[n - 1] != '}')
        return NULL;
    for (size_t i = 6; i < n - 1; i++)
        if (!isalnum((unsigned char)r[i]) && r[i] != '_')
            return NULL;
    return dag_arena_strndup(&c->arena, r + 6, n - 7);
}

/* Whether a literal dsn holds a password (key=value or a URI's user:pw@). */
static int has_password(const char *dsn)
{
    for (const char *p = dsn; *p; p++)
        if (strncasecmp(p, "password", 8) == 0)
            return 1;
    const char *sch = strstr(dsn, "://");
    if (sch) {
        const char *at = strchr(sch + 3, '@'), *slash = strchr(sch + 3, '/');
        const char *colon = strchr(sch + 3, ':');
        if (at && (!slash || at < slash) && colon && colon < at)
            return 1;
    }
    return 0;
}

void dag_read_db_check_keys(dag_ctx *c, dag_node *nd, int is_db)
{
    const char *const *keys = is_db ? file_only : db_only;
    for (size_t i = 0; keys[i]; i++)
        if (ymap_get(nd->body, keys[i]))
            dag_error(c, ymap_key(nd->body, keys[i]), nd->id, is_db
                      ? "'%s' applies to file reads; a postgres read takes its columns from "
                        "the database (name them in a 'query')"
                      : "'%s' applies to format postgres", keys[i]);
    if (!is_db && !ymap_get(nd->body, "path"))
        dag_error(c, ymap_key(nd->body, "op"), nd->id, "missing required key 'path' in read");
}

mr_schema *dag_read_db_validate(dag_ctx *c, dag_node *nd)
{
    dag_read *r = &nd->read;
    const ynode *b = nd->body, *dsn = ymap_get(b, "dsn"), *tab = ymap_get(b, "table"),
                *qry = ymap_get(b, "query");
    r->dsn_env = r->dsn = r->table = r->query = r->partition_column = "";
    r->partitions = 1;
    dag_read_db_check_keys(c, nd, 1);
    if (!dsn) {
        dag_error(c, ymap_key(b, "op"), nd->id, "a postgres read needs a 'dsn' (a libpq "
                  "connection string, e.g. ${env:MILLRACE_DAG_SOURCE_DSN})");
    } else if (dsn->kind != YN_SCALAR || yscalar_is_null(dsn)) {
        dag_error(c, dsn, nd->id, "'dsn' must be a libpq connection string");
        dsn = NULL;
    } else if (dsn->subst_failed) {
        dsn = NULL;
    } else {
        const char *env = env_name(c, dsn);
        if (env)
            r->dsn_env = env;
        else if (has_password(dsn->text))
            dag_error(c, dsn, nd->id, "this dsn holds a password, which would travel in plans "
                      "and task specs; put the whole dsn in an environment variable and write "
                      "dsn: ${env:NAME}");
        else
            r->dsn = dsn->text;
    }
    if (tab && qry)
        dag_error(c, ymap_key(b, "query"), nd->id, "give 'table' or 'query', not both");
    else if (!tab && !qry)
        dag_error(c, ymap_key(b, "op"), nd->id, "a postgres read needs a 'table' or a 'query'");
    const ynode *what = tab ? tab : qry;
    if (what && (what->kind != YN_SCALAR || yscalar_is_null(what) || what->len == 0)) {
        dag_error(c, what, nd->id, "'%s' must be a non-empty string", tab ? "table" : "query");
        what = NULL;
    }
    if (what && tab)
        r->table = tab->text;
    else if (what)
        r->query = qry->text;
    r->schema_inferred = 1;
    if (!dsn || !what || what->subst_failed)
        return NULL;
    const mr_dbsrc *src = mr_dbsrc_get();
    if (!src) {
        dag_error(c, dsn, nd->id, "this program cannot reach databases to read the schema of a "
                  "postgres read");
        return NULL;
    }
    mr_schema *out = NULL;
    mr_err err;
    mr_err_clear(&err);
    int rc = src->describe(dsn->text, r->table[0] ? r->table : NULL,
                           r->query[0] ? r->query : NULL, &out, &err);
    if (rc == MR_ENOMEM) {
        c->oom = 1;
        return NULL;
    }
    if (rc < 0) {
        dag_error(c, rc == MR_EIO ? dsn : what, nd->id, "%s", err.msg);
        return NULL;
    }
    check_partitions(c, nd, out);
    return out;
}
