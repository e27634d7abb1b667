/* pg_copy.c - the PostgreSQL driver's staging half: COPY into UNLOGGED
 * staging tables (the commit, DDL and leases are in postgres.c).
 *
 * Staging.  Every task attempt opens its own libpq connection (so writing
 * tasks load in parallel, one server backend each) and, in ONE transaction,
 * creates its staging table as an UNLOGGED table in the schema
 * "millrace_staging", streams its rows with COPY ... FROM STDIN (FORMAT
 * binary, FREEZE), and at mr_wh_stage_finish records the row count the
 * server reported as the table's comment ('millrace rows=N') and commits.
 * So a writer that dies mid-COPY leaves nothing behind (its transaction
 * aborts when the connection drops), and a staging table without a row
 * count comment was never finished.  UNLOGGED tables skip the WAL (the
 * staged rows are written once, not twice) but are emptied if the server
 * crashes; the commit therefore compares the rows it moves with the recorded
 * count and fails rather than commit a silently shortened table.
 *
 * Rows are encoded client-side into a buffer (no allocation per row: the
 * buffer grows once per batch to a computed upper bound) and handed to libpq
 * in chunks of about 1 MiB.  COPY streams across appends, so errors the
 * server finds in the data (an encoding error, a NUL byte in a string, a
 * decimal over the column's precision) are reported by mr_wh_stage_finish;
 * an append that fails to send marks the stage failed, and later calls
 * return that error.  The text format (MILLRACE_PG_COPY_FORMAT=text) is kept
 * as the documented alternative; docs/warehouse.md gives the measured
 * figures that made binary the default.
 */
#include "warehouse/pg_int.h"

#include "warehouse/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (1u << 20)   /* bytes buffered before handing them to libpq */
#define FMT_W 48                /* bytes of any formatted scalar (see mr_format_*) */
#define PG_EPOCH_DAYS 10957     /* 2000-01-01 in days since 1970-01-01 */
#define PG_EPOCH_MICROS (10957LL * 86400000000LL)

/* ---- COPY encoders ------------------------------------------------------- *
 * Both write row after row into a buffer sized beforehand to an upper bound
 * for the whole batch, so the inner loops do no bounds checks and no
 * allocation. */

static inline char *put16(char *p, uint16_t v)
{
    p[0] = (char)(v >> 8);
    p[1] = (char)v;
    return p + 2;
}

static inline char *put32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
    return p + 4;
}

static inline char *put64(char *p, uint64_t v)
{
    p = put32(p, (uint32_t)(v >> 32));
    return put32(p, (uint32_t)v);
}

/* NUMERIC's binary form of v / 10^scale: int16 ndigits, weight, sign,
 * dscale, then ndigits base-10000 digits, most significant first; the value
 * is sum(digit[i] * 10000^(weight - i)).  Leading and trailing zero digits
 * are left out, as the server itself stores numbers.  At most 8 + 2 * 10
 * bytes (|v| < 2^63 needs 5 integer and 5 fractional digit groups). */
static char *put_numeric(char *p, int64_t v, int scale)
{
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = a / (uint64_t)mr_pow10[scale], fp = a % (uint64_t)mr_pow10[scale];
    uint16_t d[10];
    int n = 0, weight;
    uint16_t ig[5];
    int ni = 0;
    for (; ip; ip /= 10000)
        ig[ni++] = (uint16_t)(ip % 10000);
    for (int i = ni - 1; i >= 0; i--)
        d[n++] = ig[i];
    weight = ni - 1;
    int nf = (scale + 3) / 4, pad = nf * 4 - scale;
    for (int k = nf - 1; k >= 0; k--) {
        int nd = k == nf - 1 ? 4 - pad : 4; /* the last group is padded on the right */
        d[n + k] = (uint16_t)((fp % (uint64_t)mr_pow10[nd]) * (uint64_t)mr_pow10[4 - nd]);
        fp /= (uint64_t)mr_pow10[nd];
    }
    n += nf;
    int first = 0;
    if (ni == 0)
        while (first < n && d[first] == 0) {
            first++;
            weight--;
        }
    while (n > first && d[n - 1] == 0)
        n--;
    int nd = n - first;
    if (nd == 0)
        weight = 0;
    p = put32(p, (uint32_t)(8 + 2 * nd));
    p = put16(p, (uint16_t)nd);
    p = put16(p, (uint16_t)(int16_t)weight);
    p = put16(p, v < 0 && nd ? 0x4000 : 0x0000);
    p = put16(p, (uint16_t)scale);
    for (int i = first; i < n; i++)
        p = put16(p, d[i]);
    return p;
}

/* Bytes a batch's live rows can take in COPY binary: per row the field
 * count, per value a length word and at most the widest form; strings by
 * their total length. */
static size_t bound_binary(const mr_batch *b, size_t live)
{
    size_t row = 2, chars = 0;
    for (int c = 0; c < b->ncols; c++) {
        const mr_column *col = &b->cols[c];
        switch (col->type.id) {
        case MR_T_BOOL: row += 4 + 1; break;
        case MR_T_INT32:
        case MR_T_DATE: row += 4 + 4; break;
        case MR_T_DECIMAL: row += 4 + 28; break;
        case MR_T_STRING:
            row += 4;
            chars += col->offsets[b->nrows];
            break;
        default: row += 4 + 8; break;
        }
    }
    return row * live + chars;
}

static char *encode_binary(char *p, const mr_batch *b, size_t live)
{
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        p = put16(p, (uint16_t)b->ncols);
        for (int c = 0; c < b->ncols; c++) {
            const mr_column *col = &b->cols[c];
            if (!mr_column_is_valid(col, r)) {
                p = put32(p, 0xffffffffu);
                continue;
            }
            switch (col->type.id) {
            case MR_T_BOOL:
                p = put32(p, 1);
                *p++ = (char)(MR_COL_U8(col)[r] != 0);
                break;
            case MR_T_INT32:
                p = put32(p, 4);
                p = put32(p, (uint32_t)MR_COL_I32(col)[r]);
                break;
            case MR_T_INT64:
                p = put32(p, 8);
                p = put64(p, (uint64_t)MR_COL_I64(col)[r]);
                break;
            case MR_T_FLOAT64: {
                uint64_t bits;
                memcpy(&bits, &MR_COL_F64(col)[r], 8);
                p = put32(p, 8);
                p = put64(p, bits);
                break;
            }
            case MR_T_DECIMAL: p = put_numeric(p, MR_COL_I64(col)[r], col->type.scale); break;
            case MR_T_DATE:
                p = put32(p, 4);
                p = put32(p, (uint32_t)(MR_COL_I32(col)[r] - PG_EPOCH_DAYS));
                break;
            case MR_T_TIMESTAMP:
            case MR_T_TIMESTAMPTZ: /* the same int64 on the wire */
                p = put32(p, 8);
                p = put64(p, (uint64_t)(MR_COL_I64(col)[r] - PG_EPOCH_MICROS));
                break;
            case MR_T_STRING: {
                uint32_t len = col->offsets[r + 1] - col->offsets[r];
                p = put32(p, len);
                if (len)
                    memcpy(p, col->chars + col->offsets[r], len);
                p += len;
                break;
            }
            }
        }
    }
    return p;
}

/* Writes v in decimal; returns the end. */
static char *put_int(char *p, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *q = e;
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (v < 0)
        *--q = '-';
    memcpy(p, q, (size_t)(e - q));
    return p + (e - q);
}

/* COPY text: every string byte may double (\\, \t, \n, \r); NULL is \N. */
static size_t bound_text(const mr_batch *b, size_t live)
{
    size_t row = 0, chars = 0;
    for (int c = 0; c < b->ncols; c++) {
        row += FMT_W + 1;
        if (b->cols[c].type.id == MR_T_STRING)
            chars += 2 * (size_t)b->cols[c].offsets[b->nrows];
    }
    return row * live + chars;
}

static char *encode_text(char *p, const mr_batch *b, size_t live)
{
    for (size_t i = 0; i < live; i++) {
        uint32_t r = mr_batch_row(b, i);
        for (int c = 0; c < b->ncols; c++) {
            const mr_column *col = &b->cols[c];
            if (c)
                *p++ = '\t';
            if (!mr_column_is_valid(col, r)) {
                *p++ = '\\';
                *p++ = 'N';
                continue;
            }
            switch (col->type.id) {
            case MR_T_BOOL: *p++ = MR_COL_U8(col)[r] ? 't' : 'f'; break;
            case MR_T_INT32: p = put_int(p, MR_COL_I32(col)[r]); break;
            case MR_T_INT64: p = put_int(p, MR_COL_I64(col)[r]); break;
            case MR_T_FLOAT64: p += mr_format_float64(MR_COL_F64(col)[r], p, FMT_W); break;
            case MR_T_DECIMAL:
                p += mr_format_decimal(MR_COL_I64(col)[r], col->type.scale, p, FMT_W);
                break;
            case MR_T_DATE: p += mr_format_date(MR_COL_I32(col)[r], p, FMT_W); break;
            case MR_T_TIMESTAMP: p += mr_format_timestamp(MR_COL_I64(col)[r], p, FMT_W); break;
            case MR_T_TIMESTAMPTZ: p += mr_format_timestamptz(MR_COL_I64(col)[r], p, FMT_W); break;
            case MR_T_STRING: {
                const char *s = col->chars + col->offsets[r];
                const char *e = col->chars + col->offsets[r + 1];
                for (; s < e; s++) {
                    char ch = *s;
                    if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
                        *p++ = '\\';
                        ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : '\\';
                    }
                    *p++ = ch;
                }
                break;
            }
            }
        }
        *p++ = '\n';
    }
    return p;
}

/* ---- staging ------------------------------------------------------------- */

typedef struct pg_stage {
    mr_wh_stage base;
    PGconn *conn;
    char *table;   /* the staging table's name (in STAGING_SCHEMA) */
    int ncols;
    mr_type *types;
    int binary;    /* COPY format */
    int in_copy;   /* the COPY is open */
    mr_err failed; /* code != 0: a send failed; every later call returns it */
    mr_strbuf out;       /* encoded rows not yet handed to libpq */
} pg_stage;

static void stage_free(pg_stage *s)
{
    PQfinish(s->conn);
    free(s->table);
    free(s->types);
    mr_strbuf_free(&s->out);
    free(s);
}

/* Ends an open COPY with an error (the server aborts it), then rolls back
 * the stage's transaction, which removes the staging table: it was created
 * in that transaction.  Best effort: a broken connection is just closed. */
static void stage_rollback(pg_stage *s)
{
    if (s->in_copy) {
        PQputCopyEnd(s->conn, "millrace: staging aborted");
        s->in_copy = 0;
    }
    PGresult *r;
    while ((r = PQgetResult(s->conn)) != NULL)
        PQclear(r);
    if (PQstatus(s->conn) == CONNECTION_OK)
        PQclear(PQexec(s->conn, "ROLLBACK"));
}

/* Hands the buffered bytes to libpq (in pieces below its int length limit);
 * on failure the stage is failed. */
static int stage_flush(pg_stage *s, mr_err *err)
{
    for (size_t off = 0; off < s->out.n;) {
        size_t n = s->out.n - off < (1u << 30) ? s->out.n - off : (1u << 30);
        if (PQputCopyData(s->conn, s->out.p + off, (int)n) != 1) {
            pg__fail(s->conn, NULL, &s->failed, "staging table %s: sending rows failed", s->table);
            *err = s->failed;
            return err->code;
        }
        off += n;
    }
    s->out.n = 0;
    return 0;
}

static int copy_format(int *binary, mr_err *err)
{
    const char *f = getenv("MILLRACE_PG_COPY_FORMAT");
    *binary = 1;
    if (!f || !*f || strcmp(f, "binary") == 0)
        return 0;
    if (strcmp(f, "text") == 0) {
        *binary = 0;
        return 0;
    }
    return mr_err_set(err, MR_EINVAL, "MILLRACE_PG_COPY_FORMAT is '%s': write text or binary", f);
}

int pg__stage_open(const mr_wh_config *cfg, const char *staging_table, const mr_schema *schema,
                         mr_wh_stage **out, mr_err *err)
{
    int n = schema->nfields, rc;
    if ((rc = pg__check_ident(staging_table, "staging table", err)) < 0)
        return rc;
    for (int i = 0; i < n; i++)
        if ((rc = pg__check_ident(schema->fields[i].name, "column", err)) < 0)
            return rc;
    pg_stage *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
    s->base.driver = &mr_wh__postgres;
    s->ncols = n;
    s->table = strdup(staging_table);
    s->types = malloc((size_t)n * sizeof *s->types);
    mr_strbuf q = {0};
    if (!s->table || !s->types) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
        goto fail;
    }
    for (int i = 0; i < n; i++)
        s->types[i] = schema->fields[i].type;
    if ((rc = copy_format(&s->binary, err)) < 0 || (rc = pg__connect(cfg, &s->conn, err)) < 0)
        goto fail;
    char what[160];
    snprintf(what, sizeof what, "staging table %s", staging_table);
    /* the staging schema, in a short transaction of its own (it keeps the
     * creation lock until its end) */
    if ((rc = pg__exec(s->conn, "BEGIN", err, what)) < 0 ||
        (rc = pg__ensure_schema(s->conn, STAGING_SCHEMA, err)) < 0 ||
        (rc = pg__exec(s->conn, "COMMIT", err, what)) < 0)
        goto fail;
    /* table and rows in one transaction: nothing is left if we die */
    mr_strbuf_puts(&q, "BEGIN; DROP TABLE IF EXISTS " STAGING_SCHEMA ".");
    mr_wh__ident(&q, staging_table);
    mr_strbuf_puts(&q, "; CREATE UNLOGGED TABLE " STAGING_SCHEMA ".");
    mr_wh__ident(&q, staging_table);
    mr_wh__columns_ddl(&q, schema);
    if ((rc = pg__exec_buf(s->conn, &q, err, what)) < 0)
        goto fail;
    q.n = 0;
    mr_strbuf_puts(&q, "COPY " STAGING_SCHEMA ".");
    mr_wh__ident(&q, staging_table);
    mr_strbuf_puts(&q, s->binary ? " FROM STDIN (FORMAT binary, FREEZE true)" : " FROM STDIN (FREEZE true)");
    if (q.oom) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory opening staging table %s", staging_table);
        goto fail;
    }
    PGresult *r = PQexec(s->conn, q.p);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        rc = pg__fail(s->conn, r, err, "staging table %s: cannot start COPY", staging_table);
        PQclear(r);
        goto fail;
    }
    PQclear(r);
    s->in_copy = 1;
    if (s->binary) {
        /* signature, flags, header extension length */
        static const char head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
        mr_strbuf_put(&s->out, head, sizeof head);
    }
    mr_strbuf_free(&q);
    *out = &s->base;
    return 0;
fail:
    mr_strbuf_free(&q);
    if (s->conn)
        stage_rollback(s);
    stage_free(s);
    return rc;
}

int pg__stage_append(mr_wh_stage *base, const mr_batch *b, mr_err *err)
{
    pg_stage *s = (pg_stage *)base;
    if (b->ncols != s->ncols)
        return mr_err_set(err, MR_ETYPE, "staging table %s: batch has %d columns, the table %d",
                          s->table, b->ncols, s->ncols);
    for (int c = 0; c < s->ncols; c++)
        if (!mr_type_equal(b->cols[c].type, s->types[c])) {
            char t1[32], t2[32];
            return mr_err_set(err, MR_ETYPE, "staging table %s: column %d is %s in the batch, %s in the table",
                              s->table, c + 1, mr_type_name(b->cols[c].type, t1, sizeof t1),
                              mr_type_name(s->types[c], t2, sizeof t2));
        }
    if (s->failed.code) {
        *err = s->failed;
        return err->code;
    }
    size_t live = mr_batch_live(b);
    if (live == 0)
        return 0;
    size_t need = s->binary ? bound_binary(b, live) : bound_text(b, live);
    if (mr_strbuf_reserve(&s->out, need) < 0) {
        s->out.oom = 0;
        return mr_err_set(err, MR_ENOMEM, "staging table %s: out of memory for %zu rows", s->table, live);
    }
    char *p = s->out.p + s->out.n;
    char *e = s->binary ? encode_binary(p, b, live) : encode_text(p, b, live);
    s->out.n += (size_t)(e - p);
    return s->out.n >= COPY_CHUNK ? stage_flush(s, err) : 0;
}

int pg__stage_finish(mr_wh_stage *base, mr_err *err)
{
    pg_stage *s = (pg_stage *)base;
    int rc = 0;
    PGresult *r = NULL;
    mr_strbuf q = {0};
    if (s->failed.code) {
        *err = s->failed;
        rc = err && err->code ? err->code : MR_EWAREHOUSE;
        goto fail;
    }
    if (s->binary)
        mr_strbuf_put(&s->out, "\377\377", 2); /* the trailer: field count -1 */
    if (s->out.oom) {
        rc = mr_err_oom(err, NULL);
        goto fail;
    }
    if ((rc = stage_flush(s, err)) < 0)
        goto fail;
    s->in_copy = 0;
    if (PQputCopyEnd(s->conn, NULL) != 1) {
        rc = pg__fail(s->conn, NULL, err, "staging table %s: ending COPY failed", s->table);
        goto fail;
    }
    r = PQgetResult(s->conn);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg__fail(s->conn, r, err, "staging table %s", s->table);
        goto fail;
    }
    unsigned long long rows = strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    while ((r = PQgetResult(s->conn)) != NULL)
        PQclear(r);
    /* the row count travels with the table, committed with its rows */
    char note[64];
    snprintf(note, sizeof note, "millrace rows=%llu", rows);
    mr_strbuf_puts(&q, "COMMENT ON TABLE " STAGING_SCHEMA ".");
    mr_wh__ident(&q, s->table);
    mr_strbuf_puts(&q, " IS ");
    pg__buf_literal(&q, note);
    mr_strbuf_puts(&q, "; COMMIT");
    char what[160];
    snprintf(what, sizeof what, "staging table %s: cannot commit the staged rows", s->table);
    if ((rc = pg__exec_buf(s->conn, &q, err, what)) < 0)
        goto fail;
    mr_strbuf_free(&q);
    stage_free(s);
    return 0;
fail:
    PQclear(r);
    mr_strbuf_free(&q);
    stage_rollback(s);
    stage_free(s);
    return rc;
}

void pg__stage_abort(mr_wh_stage *base)
{
    pg_stage *s = (pg_stage *)base;
    stage_rollback(s);
    stage_free(s);
}

