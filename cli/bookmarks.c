/* bookmarks.c - `millrace bookmarks DAG`: shows and edits what the DAG's
 * incremental reads loaded (docs/bookmarks.md).
 *
 * It compiles the DAG locally (for its name, its warehouse and which reads
 * are incremental), then reads or edits the table millrace_bookmarks
 * directly in that warehouse, as `millrace run` would find it: a SQLite
 * path relative to the DAG's folder, a PostgreSQL dsn as written.  An edit
 * is one transaction and changes the DAG's version, so a run that read the
 * bookmarks before the edit fails at its commit instead of undoing it.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/op/watermark.h"
#include "dag/dag.h"
#include "warehouse/warehouse.h"

static const char *help =
    "usage: millrace bookmarks DAG [--param k=v]... [--reset [NODE] | --set NODE VALUE]\n"
    "\n"
    "Shows the bookmarks of the DAG's incremental reads, kept in the table\n"
    "millrace_bookmarks of its warehouse: the files each `incremental: files`\n"
    "read loaded (path, size, modification time; an s3:// object: URL, size,\n"
    "ETag) and the watermark of each\n"
    "`incremental: {column: NAME}` read.\n"
    "\n"
    "  --reset [NODE]    forget them (one read's, or every read's): the next run\n"
    "                    loads everything again\n"
    "  --set NODE VALUE  set a column read's watermark: the next run loads the\n"
    "                    rows whose column is above VALUE\n"
    "  --param k=v       a DAG param (repeatable), as for run\n"
    "\n"
    "Exit status: 0 ok, 1 the warehouse failed, 2 invalid DAG or usage.\n";

/* The read node's ReadSpec in plan, or NULL. */
static const Millrace__ReadSpec *find_read(const Millrace__JobPlan *plan, const char *node)
{
    for (size_t s = 0; s < plan->n_stages; s++)
        for (size_t o = 0; o < plan->stages[s]->n_ops; o++) {
            const Millrace__OpSpec *op = plan->stages[s]->ops[o];
            if (op->kind == MILLRACE__OP_KIND__OP_SCAN && strcmp(op->node, node) == 0)
                return op->read;
        }
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "millrace: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *g = cap < (1u << 24) ? realloc(buf, cap * 2 + 1) : NULL;
            if (!g) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = g;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static void show(const Millrace__JobPlan *plan, const mr_wh_bookmark *rows, int n,
                 const char *version)
{
    printf("bookmarks of DAG '%s'%s\n", plan->name, n ? "" : ": none");
    for (int i = 0; i < n; i++) {
        const mr_wh_bookmark *b = &rows[i];
        if (strcmp(b->kind, "file") == 0 && b->value) /* an object: its ETag */
            printf("  %-20s file    %s (%lld bytes, etag %s) by %s at %s\n", b->node, b->item,
                   (long long)b->size, b->value[0] ? b->value : "none", b->job_id, b->updated_at);
        else if (strcmp(b->kind, "file") == 0)
            printf("  %-20s file    %s (%lld bytes, mtime %lld.%09lld) by %s at %s\n", b->node,
                   b->item, (long long)b->size, (long long)(b->mtime_ns / 1000000000),
                   (long long)(b->mtime_ns % 1000000000), b->job_id, b->updated_at);
        else
            printf("  %-20s column  %s > %s by %s at %s\n", b->node, b->item, b->value, b->job_id,
                   b->updated_at);
    }
    if (version && *version)
        printf("  last moved by %s\n", version);
}

int cli_bookmarks(int argc, char **argv)
{
    const char *path = NULL, *node = NULL, *value = NULL;
    int reset = 0, set = 0, rc = 2;
    mr_param params[64];
    size_t np = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(help, stdout);
            return 0;
        } else if (strcmp(argv[i], "--reset") == 0) {
            reset = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-' && path)
                node = argv[++i];
        } else if (strcmp(argv[i], "--set") == 0 && i + 2 < argc) {
            set = 1;
            node = argv[++i];
            value = argv[++i];
        } else if (strcmp(argv[i], "--param") == 0 && i + 1 < argc && np < 64) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "millrace: --param '%s': write it as name=value\n", kv);
                goto out;
            }
            params[np].key = strndup(kv, (size_t)(eq - kv));
            params[np++].value = eq + 1;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "millrace bookmarks: unexpected '%s' (see millrace bookmarks "
                            "--help)\n", argv[i]);
            goto out;
        } else {
            path = argv[i];
        }
    }
    if (!path || (reset && set)) {
        fprintf(stderr, "millrace bookmarks: %s (see millrace bookmarks --help)\n",
                path ? "--reset or --set, not both" : "which DAG?");
        goto out;
    }
    size_t len;
    char *text = slurp(path, &len);
    if (!text)
        goto out;
    char real[PATH_MAX], dir[PATH_MAX] = "";
    if (realpath(path, real))
        snprintf(dir, sizeof dir, "%s", dirname(real));
    static const char *const any_env[] = {"*"};
    mr_dag_secrets secrets = {0};
    mr_dag_options opt = {.file = path, .params = params, .nparams = np, .base_dir = dir,
                          .allow_env = any_env, .nallow_env = 1, .secrets = &secrets};
    Millrace__JobPlan *plan = NULL;
    mr_diags diags = {0};
    int crc = mr_dag_compile(text, len, &opt, &plan, &diags);
    free(text);
    if (crc < 0) {
        mr_diags_print(&diags, stderr);
        mr_diags_free(&diags);
        mr_dag_secrets_free(&secrets);
        goto out;
    }
    mr_diags_free(&diags);
    mr_dag_secrets_free(&secrets);
    const Millrace__Warehouse *w = plan->warehouse;
    const Millrace__ReadSpec *rd = node ? find_read(plan, node) : NULL;
    mr_err err;
    mr_err_clear(&err);
    if (!w) {
        fprintf(stderr, "%s: error: the DAG has no warehouse, so it keeps no bookmarks\n", path);
    } else if (node && (!rd || rd->incremental == MILLRACE__INCREMENTAL__INCREMENTAL_NONE)) {
        fprintf(stderr, "%s: error: '%s' is not an incremental read of the DAG\n", path, node);
    } else if (set && rd->incremental != MILLRACE__INCREMENTAL__INCREMENTAL_COLUMN) {
        fprintf(stderr, "%s: error: '%s' reads incremental: files; --set takes a column read's "
                        "watermark (forget its files with --reset %s)\n", path, node, node);
    } else {
        char wpath[PATH_MAX * 2];
        const char *p = w->path && w->path[0] ? w->path : "millrace.db";
        if (p[0] != '/' && dir[0])
            snprintf(wpath, sizeof wpath, "%s/%s", dir, p);
        else
            snprintf(wpath, sizeof wpath, "%s", p);
        mr_wh_config cfg = {mr_plan_name(mr_plan_driver_names, (int)w->driver),
                            w->driver == MILLRACE__WAREHOUSE_DRIVER__DRIVER_SQLITE ? wpath : NULL,
                            w->dsn, w->schema, NULL, NULL, 0};
        rc = 1;
        int xrc = 0;
        char canon[MR_WATERMARK_MAX + 1];
        if (set) { /* the value must be one of the column's type */
            int col = -1;
            mr_type ty = mr_type_make(MR_T_STRING);
            for (size_t f = 0; rd->schema && f < rd->schema->n_fields; f++)
                if (strcmp(rd->schema->fields[f]->name, rd->incremental_column) == 0 &&
                    rd->schema->fields[f]->type) {
                    const Millrace__Type *pt = rd->schema->fields[f]->type;
                    ty = (mr_type){(uint8_t)pt->id, (uint8_t)pt->precision, (uint8_t)pt->scale};
                    col = (int)f;
                }
            if (col >= 0 && mr_watermark_canon(ty, value, canon, sizeof canon, &err) < 0) {
                fprintf(stderr, "millrace bookmarks: --set %s '%s': %s\n", node, value, err.msg);
                rc = 2;
                xrc = -1;
            } else if (col >= 0) {
                value = canon; /* as the scans will write it */
            }
        }
        if (xrc == 0 && (reset || set))
            xrc = mr_wh_bookmarks_edit(&cfg, plan->name, node, set ? rd->incremental_column : NULL,
                                       set ? value : NULL, &err);
        mr_wh_bookmark *rows = NULL;
        int n = 0;
        char *version = NULL;
        if (xrc == 0)
            xrc = mr_wh_bookmarks_load(&cfg, plan->name, &rows, &n, &version, &err);
        if (xrc == 0) {
            if (reset)
                printf("reset %s\n", node ? node : "every read");
            else if (set)
                printf("set %s's watermark to %s\n", node, value);
            show(plan, rows, n, version);
            rc = 0;
        } else if (rc != 2) {
            fprintf(stderr, "millrace bookmarks: %s\n", err.msg);
        }
        mr_wh_bookmarks_free(rows, n);
        free(version);
    }
    millrace__job_plan__free_unpacked(plan, NULL);
out:
    for (size_t i = 0; i < np; i++)
        free((char *)params[i].key);
    return rc;
}
