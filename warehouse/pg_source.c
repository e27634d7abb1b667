/* pg_source.c - a PostgreSQL table or query as a read's rows.
 *
 * Schema: the statement SELECT * FROM (source) LIMIT 0 is run and each
 * result column's type OID and modifier are mapped to a millrace type;
 * a type with no exact counterpart is an error naming the column (the
 * user casts it in a query: docs/dag-format.md).
 *
 * Rows: one COPY (SELECT cols FROM (source) WHERE col > watermark) TO
 * STDOUT in text form, parsed straight into the scan's batches.  The
 * session is set first to what the parsers read: ISO dates, UTC time
 * zone, UTF-8 and float digits that round-trip (float4 columns are cast
 * to float8 in the SELECT, so their exact binary value arrives).  The
 * watermark of an incremental read becomes a WHERE the database
 * evaluates, so only new rows cross the network; the literal is quoted by
 * libpq and coerced by PostgreSQL to the column's type.
 *
 * Passwords: messages name the DSN without its secrets (mr_wh_dsn_public)
 * and libpq's own messages, which never quote a password.
 */
#include "warehouse/pg_source.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/dbsrc.h"
#include "core/op/source.h"
#include "core/strbuf.h"
#include "warehouse/warehouse.h"

/* OIDs of the built-in types (pg_type.h, stable across versions). */
enum {
    OID_BOOL = 16, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043,
    OID_DATE = 1082, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700,
};

/* "host=... dbname=... user=..." of dsn for messages (static buffer). */
static void dsn_label(const char *dsn, char *buf, size_t cap)
{
    char *pub = NULL;
    mr_err e;
    mr_err_clear(&e);
    if (mr_wh_dsn_public(dsn, &pub, &e) < 0 || !pub)
        snprintf(buf, cap, "(an unparsable dsn)");
    else
        snprintf(buf, cap, "%s", pub[0] ? pub : "(libpq defaults)");
    free(pub);
}

/* libpq's last message without its trailing newline. */
static const char *pq_msg(const PGconn *pc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", pc ? PQerrorMessage(pc) : "out of memory");
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}

static int connect_src(const char *dsn, PGconn **out, mr_err *err)
{
    char label[512], msg[512];
    *out = NULL;
    PQconninfoOption *o = PQconninfoParse(dsn ? dsn : "", NULL);
    if (!o)
        return mr_err_set(err, MR_EINVAL, "the source dsn is not a valid libpq connection "
                          "string");
    PQconninfoFree(o);
    PGconn *pc = PQconnectdb(dsn);
    if (!pc || PQstatus(pc) != CONNECTION_OK) {
        /* the server, database and user; the password never */
        dsn_label(dsn, label, sizeof label);
        mr_err_set(err, MR_EIO, "cannot connect to the source database (%s): %s", label,
                   pq_msg(pc, msg, sizeof msg));
        PQfinish(pc);
        return MR_EIO;
    }
    PGresult *r = PQexec(pc, "SET DateStyle TO ISO; SET TimeZone TO 'UTC'; "
                             "SET extra_float_digits TO 3; SET client_encoding TO 'UTF8'");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        mr_err_set(err, MR_EIO, "source database: cannot set the session up: %s",
                   pq_msg(pc, msg, sizeof msg));
        PQfinish(pc);
        return MR_EIO;
    }
    *out = pc;
    return 0;
}

/* Appends the FROM item of the source to sb: a quoted table name (each
 * dot-separated part quoted) or the query in parentheses. */
static int append_from(PGconn *pc, mr_strbuf *sb, const char *table, const char *query)
{
    if (query && query[0]) {
        mr_strbuf_printf(sb, "(%s) AS millrace_src", query);
        return sb->oom ? MR_ENOMEM : 0;
    }
    const char *p = table ? table : "";
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char *q = PQescapeIdentifier(pc, p, n);
        if (!q)
            return MR_ENOMEM;
        mr_strbuf_printf(sb, "%s%s", q, dot ? "." : " AS millrace_src");
        PQfreemem(q);
        if (!dot)
            break;
        p = dot + 1;
    }
    return sb->oom ? MR_ENOMEM : 0;
}

/* The SQL name of a type ("json", "numeric(30,2)") into buf. */
static const char *type_name(PGconn *pc, Oid oid, int mod, char *buf, size_t cap)
{
    char o[16], m[16];
    snprintf(o, sizeof o, "%u", (unsigned)oid);
    snprintf(m, sizeof m, "%d", mod);
    const char *vals[2] = {o, m};
    PGresult *r = PQexecParams(pc, "SELECT format_type($1::oid, $2::int)", 2, NULL, vals, NULL,
                               NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(buf, cap, "%s", PQgetvalue(r, 0, 0));
    else
        snprintf(buf, cap, "with OID %s", o);
    PQclear(r);
    return buf;
}

/* The millrace type of a result column, or MR_EINVAL naming it. */
static int map_type(PGconn *pc, const char *col, Oid oid, int mod, mr_type *t, mr_err *err)
{
    char tn[128];
    switch (oid) {
    case OID_BOOL: *t = mr_type_make(MR_T_BOOL); return 0;
    case OID_INT2:
    case OID_INT4: *t = mr_type_make(MR_T_INT32); return 0;
    case OID_INT8: *t = mr_type_make(MR_T_INT64); return 0;
    case OID_FLOAT4:
    case OID_FLOAT8: *t = mr_type_make(MR_T_FLOAT64); return 0;
    case OID_TEXT:
    case OID_NAME:
    case OID_BPCHAR:
    case OID_VARCHAR: *t = mr_type_make(MR_T_STRING); return 0;
    case OID_DATE: *t = mr_type_make(MR_T_DATE); return 0;
    case OID_TIMESTAMP: *t = mr_type_make(MR_T_TIMESTAMP); return 0;
    case OID_TIMESTAMPTZ: *t = mr_type_make(MR_T_TIMESTAMPTZ); return 0;
    case OID_NUMERIC: {
        if (mod < 4)
            return mr_err_set(err, MR_EINVAL, "column '%s' is numeric without a precision, "
                              "which has no exact millrace type; read it with a query that "
                              "casts it, e.g. %s::numeric(18,4) or %s::float8", col, col, col);
        int p = ((mod - 4) >> 16) & 0xffff, s = (mod - 4) & 0xffff;
        if (p > MR_DECIMAL_MAX_PRECISION || s > p)
            return mr_err_set(err, MR_EINVAL, "column '%s' is numeric(%d,%d); millrace decimals "
                              "hold at most %d digits: cast it in a query (to float8 or text)",
                              col, p, s, MR_DECIMAL_MAX_PRECISION);
        *t = mr_type_decimal(p, s);
        return 0;
    }
    default:
        return mr_err_set(err, MR_EINVAL, "column '%s' has type %s, which millrace does not "
                          "read; cast it in a query (e.g. %s::text)", col,
                          type_name(pc, oid, mod, tn, sizeof tn), col);
    }
}

int mr_pg_source_describe(const char *dsn, const char *table, const char *query,
                          mr_schema **out, mr_err *err)
{
    *out = NULL;
    PGconn *pc = NULL;
    PGresult *res = NULL;
    mr_schema *s = NULL;
    mr_strbuf sb = {0};
    char msg[512];
    int rc = connect_src(dsn, &pc, err);
    if (rc < 0)
        goto out;
    mr_strbuf_puts(&sb, "SELECT * FROM ");
    append_from(pc, &sb, table, query);
    mr_strbuf_puts(&sb, " LIMIT 0");
    if (sb.oom) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    res = PQexec(pc, sb.p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "42P01") == 0 && !(query && query[0]))
            rc = mr_err_set(err, MR_ENOTFOUND, "source table '%s' does not exist: %s", table,
                            pq_msg(pc, msg, sizeof msg));
        else
            rc = mr_err_set(err, MR_EINVAL, "source %s fails: %s",
                            query && query[0] ? "query" : "table", pq_msg(pc, msg, sizeof msg));
        goto out;
    }
    int n = PQnfields(res);
    if (n == 0) {
        rc = mr_err_set(err, MR_EINVAL, "the source returns no columns");
        goto out;
    }
    if (!(s = mr_schema_create(n))) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        mr_type t;
        const char *name = PQfname(res, i);
        if ((rc = map_type(pc, name, PQftype(res, i), PQfmod(res, i), &t, err)) < 0)
            goto out;
        int twice = 0;
        for (int k = 0; k < i; k++)
            twice |= strcmp(s->fields[k].name, name) == 0;
        if (twice) {
            rc = mr_err_set(err, MR_EINVAL, "the source returns column '%s' twice; name the "
                            "columns apart in the query", name);
            goto out;
        }
        if (mr_schema_set(s, i, name, t) < 0) {
            rc = mr_err_oom(err, NULL);
            goto out;
        }
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    mr_schema_destroy(s);
    PQclear(res);
    PQfinish(pc);
    mr_strbuf_free(&sb);
    return rc;
}

static const mr_dbsrc pg_dbsrc = {mr_pg_source_describe};

void mr_pg_source_plug(void)
{
    mr_dbsrc_set(&pg_dbsrc);
}

/* ---- ranges of a partition column ----------------------------------------- */

int mr_pg_source_ranges(const char *dsn, const char *table, const char *query,
                        const char *column, mr_type t, unsigned n, char ***conds, mr_err *err)
{
    *conds = NULL;
    const char *cast, *cut;
    switch (t.id) {
    case MR_T_INT32:
    case MR_T_INT64:
    case MR_T_DECIMAL:
        cast = "numeric";
        cut = "lo::numeric + (hi::numeric - lo::numeric) * k / %u";
        break;
    case MR_T_DATE:
        cast = "date";
        cut = "lo + ((hi - lo) * k / %u)";
        break;
    case MR_T_TIMESTAMP:
    case MR_T_TIMESTAMPTZ:
        cast = t.id == MR_T_TIMESTAMP ? "timestamp" : "timestamptz";
        cut = "lo + (hi - lo) * (k::float8 / %u)";
        break;
    default:
        return mr_err_set(err, MR_EINVAL, "partition column '%s' must be an integer, decimal, "
                          "date or timestamp", column);
    }
    PGconn *pc = NULL;
    PGresult *res = NULL;
    mr_strbuf sb = {0};
    char **out = calloc(n ? n : 1, sizeof *out);
    char *qc = NULL, msg[512];
    int rc = out ? connect_src(dsn, &pc, err) : mr_err_oom(err, NULL);
    if (rc < 0)
        goto out;
    if (!(qc = PQescapeIdentifier(pc, column, strlen(column)))) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    mr_strbuf_printf(&sb, "WITH b AS (SELECT min(%s) AS lo, max(%s) AS hi FROM ", qc, qc);
    if (append_from(pc, &sb, table, query) < 0 || sb.oom) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    mr_strbuf_puts(&sb, ") SELECT (");
    mr_strbuf_printf(&sb, cut, n);
    mr_strbuf_printf(&sb, ")::%s::text FROM b, generate_series(1, %u) AS k ORDER BY k", cast,
                     n > 1 ? n - 1 : 0);
    if (sb.oom) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    res = PQexec(pc, sb.p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != (int)(n > 1 ? n - 1 : 0)) {
        rc = mr_err_set(err, MR_EIO, "cannot cut the source into ranges of '%s': %s", column,
                        pq_msg(pc, msg, sizeof msg));
        goto out;
    }
    int empty = n > 1 && PQgetisnull(res, 0, 0);
    for (unsigned k = 0; k < n; k++) {
        mr_strbuf c = {0};
        char *lo = NULL, *hi = NULL;
        if (!empty && k > 0) {
            const char *v = PQgetvalue(res, (int)k - 1, 0);
            lo = PQescapeLiteral(pc, v, strlen(v));
        }
        if (!empty && k + 1 < n) {
            const char *v = PQgetvalue(res, (int)k, 0);
            hi = PQescapeLiteral(pc, v, strlen(v));
        }
        if (n == 1)
            mr_strbuf_puts(&c, "TRUE");
        else if (empty)
            mr_strbuf_puts(&c, k == 0 ? "TRUE" : "FALSE");
        else if (k == 0)
            mr_strbuf_printf(&c, "(%s < %s::%s OR %s IS NULL)", qc, hi ? hi : "NULL", cast, qc);
        else if (k + 1 == n)
            mr_strbuf_printf(&c, "%s >= %s::%s", qc, lo ? lo : "NULL", cast);
        else
            mr_strbuf_printf(&c, "(%s >= %s::%s AND %s < %s::%s)", qc, lo ? lo : "NULL", cast,
                             qc, hi ? hi : "NULL", cast);
        PQfreemem(lo);
        PQfreemem(hi);
        if (c.oom || !c.p) {
            mr_strbuf_free(&c);
            rc = mr_err_oom(err, NULL);
            goto out;
        }
        out[k] = c.p; /* the buffer's text, now ours */
    }
    *conds = out;
    out = NULL;
    rc = 0;
out:
    if (out)
        for (unsigned k = 0; k < n; k++)
            free(out[k]);
    free(out);
    PQfreemem(qc);
    PQclear(res);
    PQfinish(pc);
    mr_strbuf_free(&sb);
    return rc;
}

/* ---- the scan ---------------------------------------------------------- */

typedef struct pg_scan {
    char *dsn, *table, *query, *wm_column, *watermark, *range, *node;
    mr_schema *schema;
    PGconn *pc;
    mr_batch *b;
    char *field; /* one unescaped field */
    size_t field_cap;
    uint64_t row; /* rows read, for messages */
    int started, done;
} pg_scan;

static int start_copy(pg_scan *s, mr_err *err)
{
    mr_strbuf sb = {0};
    char msg[512];
    int rc = connect_src(s->dsn, &s->pc, err);
    if (rc < 0)
        goto out;
    mr_strbuf_puts(&sb, "COPY (SELECT ");
    for (int i = 0; rc == 0 && i < s->schema->nfields; i++) {
        char *q = PQescapeIdentifier(s->pc, s->schema->fields[i].name,
                                     strlen(s->schema->fields[i].name));
        if (!q) {
            rc = MR_ENOMEM;
            break;
        }
        int f8 = s->schema->fields[i].type.id == MR_T_FLOAT64;
        mr_strbuf_printf(&sb, "%s%s%s", i ? ", " : "", q, f8 ? "::float8" : "");
        PQfreemem(q);
    }
    mr_strbuf_puts(&sb, " FROM ");
    if (rc == 0)
        rc = append_from(s->pc, &sb, s->table, s->query);
    if (rc == 0 && s->wm_column && s->watermark) {
        char *q = PQescapeIdentifier(s->pc, s->wm_column, strlen(s->wm_column));
        char *l = PQescapeLiteral(s->pc, s->watermark, strlen(s->watermark));
        /* strings compare by bytes, as the watermark operator does */
        int wi = mr_schema_find(s->schema, s->wm_column);
        int str = wi >= 0 && s->schema->fields[wi].type.id == MR_T_STRING;
        if (q && l)
            mr_strbuf_printf(&sb, " WHERE %s%s > %s", q, str ? " COLLATE \"C\"" : "", l);
        else
            rc = MR_ENOMEM;
        PQfreemem(q);
        PQfreemem(l);
    }
    if (rc == 0 && s->range)
        mr_strbuf_printf(&sb, " %s (%s)", s->wm_column && s->watermark ? "AND" : "WHERE",
                         s->range);
    mr_strbuf_puts(&sb, ") TO STDOUT");
    if (rc < 0 || sb.oom) {
        rc = mr_err_oom(err, NULL);
        goto out;
    }
    PGresult *res = PQexec(s->pc, sb.p);
    int st = PQresultStatus(res);
    PQclear(res);
    if (st != PGRES_COPY_OUT) {
        rc = mr_err_set(err, MR_EIO, "node '%s': reading the source fails: %s", s->node,
                        pq_msg(s->pc, msg, sizeof msg));
        goto out;
    }
    rc = 0;
out:
    mr_strbuf_free(&sb);
    return rc;
}

/* Unescapes COPY text field p[0, n) into s->field; its length, or -1. */
static long unescape(pg_scan *s, const char *p, size_t n)
{
    if (n + 1 > s->field_cap) {
        size_t cap = (n + 1) * 2;
        char *f = realloc(s->field, cap);
        if (!f)
            return -1;
        s->field = f;
        s->field_cap = cap;
    }
    char *o = s->field;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\\' || i + 1 == n) {
            *o++ = p[i];
            continue;
        }
        char c = p[++i];
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'v': *o++ = '\v'; break;
        case 'x': {
            int v = 0, k = 0;
            while (k < 2 && i + 1 < n && strchr("0123456789abcdefABCDEF", p[i + 1]) && p[i + 1]) {
                char h = p[++i];
                v = v * 16 + (h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
                k++;
            }
            *o++ = k ? (char)v : 'x';
            break;
        }
        default:
            if (c >= '0' && c <= '7') {
                int v = c - '0', k = 1;
                while (k < 3 && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '7') {
                    v = v * 8 + (p[++i] - '0');
                    k++;
                }
                *o++ = (char)v;
            } else {
                *o++ = c;
            }
        }
    }
    return (long)(o - s->field);
}

/* Writes one field (raw COPY text) into row r of column c. */
static int put_field(pg_scan *s, mr_column *c, size_t r, int col, const char *p, size_t n,
                     mr_err *err)
{
    int str = c->type.id == MR_T_STRING;
    if (n == 2 && p[0] == '\\' && p[1] == 'N') {
        if (str)
            mr_column_set_str_null(c, r);
        else
            mr_column_set_valid(c, r, false);
        return 0;
    }
    long len = unescape(s, p, n);
    if (len < 0)
        return mr_err_oom(err, NULL);
    const char *f = s->field;
    size_t fl = (size_t)len;
    int rc;
    switch (c->type.id) {
    case MR_T_STRING:
        return mr_column_set_str(c, r, f, fl) < 0 ? mr_err_oom(err, NULL) : 0;
    case MR_T_BOOL: rc = mr_parse_bool(f, fl, (uint8_t *)c->data + r, err); break;
    case MR_T_INT32: rc = mr_parse_int32(f, fl, (int32_t *)c->data + r, err); break;
    case MR_T_INT64: rc = mr_parse_int64(f, fl, (int64_t *)c->data + r, err); break;
    case MR_T_FLOAT64: rc = mr_parse_float64(f, fl, (double *)c->data + r, err); break;
    case MR_T_DECIMAL:
        rc = mr_parse_decimal(f, fl, c->type.precision, c->type.scale, (int64_t *)c->data + r,
                              err);
        break;
    case MR_T_DATE: rc = mr_parse_date(f, fl, (int32_t *)c->data + r, err); break;
    case MR_T_TIMESTAMP: rc = mr_parse_timestamp(f, fl, (int64_t *)c->data + r, err); break;
    case MR_T_TIMESTAMPTZ:
        rc = mr_parse_timestamptz(f, fl, (int64_t *)c->data + r, NULL, err);
        break;
    default: rc = mr_err_set(err, MR_EINVAL, "unsupported column type");
    }
    if (rc < 0)
        mr_err_prefix(err, "node '%s': source row %llu, column '%s'", s->node,
                      (unsigned long long)s->row + 1, s->schema->fields[col].name);
    else
        mr_column_set_valid(c, r, true);
    return rc;
}

/* Parses one COPY line (without its '\n') into row b->nrows. */
static int put_line(pg_scan *s, const char *line, size_t n, mr_err *err)
{
    mr_batch *b = s->b;
    size_t r = b->nrows, at = 0;
    for (int i = 0; i < b->ncols; i++) {
        if (at > n)
            return mr_err_set(err, MR_EPROTO, "node '%s': source row %llu has %d fields, "
                              "expected %d", s->node, (unsigned long long)s->row + 1, i,
                              b->ncols);
        const char *tab = memchr(line + at, '\t', n - at);
        size_t end = tab ? (size_t)(tab - line) : n;
        int rc = put_field(s, &b->cols[i], r, i, line + at, end - at, err);
        if (rc < 0)
            return rc;
        at = end + 1;
    }
    if (at <= n)
        return mr_err_set(err, MR_EPROTO, "node '%s': source row %llu has more than %d fields",
                          s->node, (unsigned long long)s->row + 1, b->ncols);
    b->nrows++;
    s->row++;
    return 0;
}

static int scan_next(void *ctx, mr_batch **out, mr_err *err)
{
    pg_scan *s = ctx;
    char msg[512];
    if (s->done)
        return MR_NEXT_DONE;
    if (!s->started) {
        int rc = start_copy(s, err);
        if (rc < 0)
            return rc;
        s->started = 1;
    }
    mr_batch_reset(s->b);
    while (s->b->nrows < MR_BATCH_ROWS) {
        char *line = NULL;
        int n = PQgetCopyData(s->pc, &line, 0);
        if (n == -1) { /* the end: the COPY's own result says whether it succeeded */
            PGresult *res = PQgetResult(s->pc);
            int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
            PQclear(res);
            while ((res = PQgetResult(s->pc)))
                PQclear(res);
            if (!ok)
                return mr_err_set(err, MR_EIO, "node '%s': reading the source fails: %s",
                                  s->node, pq_msg(s->pc, msg, sizeof msg));
            s->done = 1;
            break;
        }
        if (n < 0)
            return mr_err_set(err, MR_EIO, "node '%s': reading the source fails: %s", s->node,
                              pq_msg(s->pc, msg, sizeof msg));
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        int rc = put_line(s, line, len, err);
        PQfreemem(line);
        if (rc < 0)
            return rc;
    }
    if (s->b->nrows == 0)
        return MR_NEXT_DONE;
    *out = s->b;
    return MR_NEXT_BATCH;
}

static void scan_close(void *ctx)
{
    pg_scan *s = ctx;
    if (!s)
        return;
    PQfinish(s->pc); /* mid-COPY: the server ends the statement */
    mr_batch_destroy(s->b);
    mr_schema_destroy(s->schema);
    free(s->field);
    free(s->dsn);
    free(s->table);
    free(s->query);
    free(s->wm_column);
    free(s->watermark);
    free(s->range);
    free(s->node);
    free(s);
}

static char *dup_or_null(const char *p, int *oom)
{
    char *d = p && p[0] ? strdup(p) : NULL;
    if (p && p[0] && !d)
        *oom = 1;
    return d;
}

mr_op *mr_pg_source_scan(const mr_pg_read *r, const mr_schema *schema, const char *node,
                         mr_err *err)
{
    int oom = 0;
    pg_scan *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_oom(err, NULL), NULL;
    s->dsn = strdup(r->dsn ? r->dsn : "");
    s->table = dup_or_null(r->table, &oom);
    s->query = dup_or_null(r->query, &oom);
    s->wm_column = dup_or_null(r->wm_column, &oom);
    s->watermark = r->watermark ? strdup(r->watermark) : NULL;
    s->range = dup_or_null(r->range, &oom);
    s->node = strdup(node ? node : "");
    s->schema = mr_schema_copy(schema);
    s->b = s->schema ? mr_batch_create(s->schema, 0) : NULL;
    if (oom || !s->dsn || (r->watermark && !s->watermark) || !s->node || !s->b) {
        scan_close(s);
        return mr_err_oom(err, NULL), NULL;
    }
    mr_op *op = mr_source_create(schema, scan_next, scan_close, s, node);
    if (!op) {
        scan_close(s);
        return mr_err_oom(err, NULL), NULL;
    }
    return op;
}
