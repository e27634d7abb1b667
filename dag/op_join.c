/* op_join.c - the join op: two inputs, key pairs, a kind (inner, left,
 * right, full, semi, anti) and a prefix for clashing right columns.
 *
 * The output schema is the hash join operator's own (core/op/hashjoin.h).
 * Compiles to both sides hash-partitioned on their keys and one stage that
 * joins partition p of each (every shuffle of a job has the same owners),
 * or, when the right side is small, to a broadcast join (below).
 */
#include "dag/dag_ops.h"

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/io.h"
#include "core/op/hashjoin.h"
#include "proto/plan_names.h"

const dv_keyspec dag_join_keys[] = {
    {"op", 1, DV_K_STR}, {"left", 1, DV_K_STR}, {"right", 1, DV_K_STR}, {"on", 1, DV_K_SEQ},
    {"how", 0, DV_K_STR}, {"right_prefix", 0, DV_K_STR}, {NULL, 0, 0},
};

/* Types whose equal values hash equal share a class (core/hash.c hashes
 * int32, int64 and decimals by their integer, decimals scaled). */
static int hash_class(mr_type t)
{
    if (t.id == MR_T_INT32 || t.id == MR_T_INT64 || (t.id == MR_T_DECIMAL && t.scale == 0))
        return 0;
    if (t.id == MR_T_DECIMAL)
        return 100 + t.scale;
    return t.id + 1;
}

mr_schema *dag_join_validate(dag_ctx *c, dag_node *nd, mr_schema *const *ins)
{
    const mr_schema *l = nd->ninputs > 0 ? ins[0] : NULL, *r = nd->ninputs > 1 ? ins[1] : NULL;
    const ynode *b = nd->body, *v;
    int how = (v = ymap_get(b, "how")) ? dv_pick(c, v, mr_plan_join_names, "join type", nd->id)
                                       : MILLRACE__JOIN_KIND__JOIN_INNER;
    const ynode *pre = ymap_get(b, "right_prefix");
    const char *prefix = pre ? pre->text : "";
    nd->join.kind = how >= 0 ? (Millrace__JoinKind)how : MILLRACE__JOIN_KIND__JOIN_INNER;
    nd->join.right_prefix = prefix;
    const ynode *on = ymap_get(b, "on");
    int ok = how >= 0, hash_bad = 0;
    if (on->n == 0) {
        dag_error(c, on, nd->id, "'on' is empty: list the join columns");
        return NULL;
    }
    /* Keys: left name, right name, and whether they share a name (USING). */
    const char **lk = dag_arena_alloc(&c->arena, on->n * sizeof *lk);
    const char **rk = dag_arena_alloc(&c->arena, on->n * sizeof *rk);
    if (!lk || !rk)
        return NULL;
    for (size_t i = 0; i < on->n; i++) {
        const ynode *e = on->items[i], *lv = e, *rv = e;
        if (e->kind == YN_MAP) {
            static const dv_keyspec on_keys[] = {{"left", 1, DV_K_STR}, {"right", 1, DV_K_STR}, {NULL, 0, 0}};
            if (!dv_check_keys(c, e, on_keys, "a join key", e, nd->id)) {
                ok = 0;
                continue;
            }
            lv = ymap_get(e, "left");
            rv = ymap_get(e, "right");
        } else if (e->kind != YN_SCALAR || yscalar_is_null(e)) {
            dag_error(c, e, nd->id, "join keys are column names or {left: a, right: b}, not %s",
                      ynode_kind_name(e));
            ok = 0;
            continue;
        }
        lk[i] = lv->text;
        rk[i] = rv->text;
        int li = l ? dv_find_column(c, l, lv, nd->id, "the left input") : 0;
        int ri = r ? dv_find_column(c, r, rv, nd->id, "the right input") : 0;
        mr_type ct;
        if (li < 0 || ri < 0)
            ok = 0;
        else if (l && r && (l->fields[li].type.id == MR_T_NULL ||
                            r->fields[ri].type.id == MR_T_NULL))
            ; /* a placeholder (see dv_has_placeholder): nothing to compare */
        else if (l && r && !dv_common_type(l->fields[li].type, r->fields[ri].type, &ct)) {
            dag_error(c, e, nd->id, "join key types differ: %s is %s on the left, %s is %s on "
                      "the right", lv->text, dv_type_str(c, l->fields[li].type), rv->text,
                      dv_type_str(c, r->fields[ri].type));
            ok = 0;
        } else if (l && r && hash_class(l->fields[li].type) != hash_class(r->fields[ri].type)) {
            /* Both sides are hash-partitioned on their own key values, so
             * equal keys must hash equal (core/hash.c): int32 and int64 do,
             * decimals only at the same scale. */
            dag_error(c, e, nd->id, "join key %s (%s) and %s (%s) compare but do not hash "
                      "alike, so equal keys could land in different partitions: cast one "
                      "side to the other's type first (a derive with CAST(%s AS %s))",
                      lv->text, dv_type_str(c, l->fields[li].type), rv->text,
                      dv_type_str(c, r->fields[ri].type), rv->text,
                      dv_type_str(c, l->fields[li].type));
            hash_bad = 1;
        }
    }
    if (!ok || !l || !r || dv_has_placeholder(l) || dv_has_placeholder(r))
        return NULL;
    nd->join.left_keys = lk;
    nd->join.right_keys = rk;
    nd->join.nkeys = (int)on->n;
    /* The output schema is the operator's own (core/op/hashjoin.h), so the
     * plan and the runtime cannot disagree. */
    mr_err err;
    mr_err_clear(&err);
    {
        mr_schema *out = mr_hashjoin_schema(l, r, (mr_join_type)how, lk, rk, (int)on->n, prefix,
                                            nd->id, &err);
        if (out && hash_bad) {
            mr_schema_destroy(out);
            return NULL;
        }
        if (out || err.code == MR_ENOMEM) {
            if (!out)
                c->oom = 1;
            return out;
        }
        /* A clash: reported below with a hint, as before. */
    }
    dv_sbuild sb = {0};
    for (int f = 0; f < l->nfields; f++) {
        mr_type t = l->fields[f].type;
        for (size_t i = 0; i < on->n; i++)
            if (strcmp(lk[i], l->fields[f].name) == 0 && strcmp(rk[i], lk[i]) == 0)
                dv_common_type(t, r->fields[mr_schema_find(r, rk[i])].type, &t);
        dv_sb_add(c, &sb, l->fields[f].name, t);
    }
    if (how != 4 && how != 5) {
        for (int f = 0; f < r->nfields; f++) {
            const char *name = r->fields[f].name;
            int using_key = 0;
            for (size_t i = 0; i < on->n; i++)
                using_key |= strcmp(rk[i], name) == 0 && strcmp(lk[i], name) == 0;
            if (using_key)
                continue;
            const char *out = prefix[0] ? dag_arena_printf(&c->arena, "%s%s", prefix, name) : name;
            if (!out)
                return NULL;
            if (dv_sb_find(&sb, out) >= 0) {
                dag_error(c, nd->key, nd->id, "join output has two columns named '%s'; set "
                          "right_prefix (e.g. right_prefix: r_) or rename one side", out);
                ok = 0;
                continue;
            }
            dv_sb_add(c, &sb, out, r->fields[f].type);
        }
    }
    if (ok && !hash_bad)
        dag_error(c, nd->key, nd->id, "%s", err.msg);
    return NULL;
}

/* ---- into the plan (compile.c calls these through dag_ops) ---- */

/* Broadcast joins.  An inner, left, semi or anti join whose right input is
 * small and computed by reads and narrow operators alone (no shuffle
 * inside, so its size is the files' size, not something a join or an
 * aggregate could blow up) is not shuffled at all: the right fragment's
 * reads are marked broadcast, which the coordinator does not cut into
 * tasks but hands, every split of them, to each task of the stage (the
 * left side's stage), and each task builds the hash table from all of it.
 * The cost: every task reads and builds the small side again (tasks x
 * its size), against shuffling both sides across the network.
 *
 * The size estimate is the sum of the right reads' file sizes on disk at
 * compile time (a compressed file counted 8 times its size); a read the
 * compiler cannot size (an object store, no file yet) is not broadcast.
 * Reads that stage rejects or move bookmarks are never broadcast, since
 * every task would repeat what they record. */
#define BROADCAST_DEFAULT (10LL * 1024 * 1024)

static long long path_bytes(const char *full)
{
    struct stat sb;
    if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode))
        return (long long)sb.st_size;
    long long sum = 0;
    int found = 0;
    if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *dir = opendir(full);
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
            char *p;
            if (e->d_name[0] == '.' || e->d_name[0] == '_' ||
                asprintf(&p, "%s/%s", full, e->d_name) < 0)
                continue;
            if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
                sum += (long long)sb.st_size;
                found = 1;
            }
            free(p);
        }
        if (dir)
            closedir(dir);
        return found ? sum : -1;
    }
    glob_t g;
    memset(&g, 0, sizeof g);
    if (glob(full, 0, NULL, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; i++)
            if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
                sum += (long long)sb.st_size;
                found = 1;
            }
    globfree(&g);
    return found ? sum : -1;
}

static int compressed_name(const char *p)
{
    size_t n = strlen(p);
    return (n > 3 && strcmp(p + n - 3, ".gz") == 0) || (n > 4 && strcmp(p + n - 4, ".zst") == 0);
}

/* The estimated bytes of a fragment fit for broadcast, or -1 (with *why)
 * when it is not fit. */
static long long broadcast_estimate(dag_pb *b, const dag_frag *f, const char **why)
{
    if (f->shuffled) {
        *why = "the right input is computed by a shuffle (its size is not known before it runs)";
        return -1;
    }
    long long total = 0;
    for (size_t i = 0; i < f->n; i++) {
        const Millrace__OpSpec *op = f->ops[i];
        if (op->kind == MILLRACE__OP_KIND__OP_FILTER || op->kind == MILLRACE__OP_KIND__OP_PROJECT ||
            op->kind == MILLRACE__OP_KIND__OP_UNION)
            continue;
        if (op->kind != MILLRACE__OP_KIND__OP_SCAN) {
            *why = "the right input is not reads and narrow operators only";
            return -1;
        }
        const Millrace__ReadSpec *rd = op->read;
        if (rd->on_error == MILLRACE__ON_ERROR__ON_ERROR_REJECT ||
            rd->incremental != MILLRACE__INCREMENTAL__INCREMENTAL_NONE) {
            *why = "a right read stages rejects or is incremental";
            return -1;
        }
        if (rd->format == MILLRACE__FILE_FORMAT__FORMAT_POSTGRES) {
            *why = "the right input is a database read (its size is not known)";
            return -1;
        }
        const char *base = b->c->opt->base_dir;
        char *full = NULL;
        if (mr_io_is_remote(rd->path)) {
            *why = "the right input's size is not known (an object store)";
            return -1;
        }
        if (rd->path[0] == '/' || !base || !base[0])
            full = strdup(rd->path);
        else if (asprintf(&full, "%s/%s", base, rd->path) < 0)
            full = NULL;
        long long n = full ? path_bytes(full) : -1;
        free(full);
        if (n < 0) {
            *why = "the right input's files are not there at compile time";
            return -1;
        }
        if (rd->compression == MILLRACE__COMPRESSION__COMPRESSION_GZIP ||
            rd->compression == MILLRACE__COMPRESSION__COMPRESSION_ZSTD ||
            (rd->compression == MILLRACE__COMPRESSION__COMPRESSION_AUTO && compressed_name(rd->path)))
            n *= 8;
        total += n;
    }
    return total;
}

/* The threshold in bytes: the DAG's broadcast_threshold, else
 * MILLRACE_BROADCAST_THRESHOLD in the compiling process, else 10 MiB. */
static long long broadcast_threshold(const dag *d)
{
    if (d->broadcast_threshold >= 0)
        return d->broadcast_threshold;
    const char *v = getenv("MILLRACE_BROADCAST_THRESHOLD");
    char *end;
    long long t = v && v[0] ? strtoll(v, &end, 10) : -1;
    return v && v[0] && *end == 0 && t >= 0 ? t : BROADCAST_DEFAULT;
}

/* Join: each side hash-partitioned on its keys, then one stage joining
 * partition p of both; or, broadcast, the right side read whole by every
 * task of the left side's stage. */
void dag_join_compile(dag_pb *b, dag_frag *f, const dag_node *nd, int idx)
{
    (void)idx;
    dag_frag side[2];
    const dag_join *dj = &nd->join;
    char **keys[2] = {dag_pb_strings(b, dj->left_keys, dj->nkeys),
                      dag_pb_strings(b, dj->right_keys, dj->nkeys)};
    for (int s = 0; s < 2; s++) {
        dag_build_node(b, nd->inputs[s].node, &side[s], 1);
        dag_narrow(b, &side[s], nd, nd->join_in[s]); /* only what the join reads */
    }
    const char *reason = NULL;
    long long limit = broadcast_threshold(b->d), est = -1;
    int kind_ok = dj->kind == MILLRACE__JOIN_KIND__JOIN_INNER ||
                  dj->kind == MILLRACE__JOIN_KIND__JOIN_LEFT ||
                  dj->kind == MILLRACE__JOIN_KIND__JOIN_SEMI ||
                  dj->kind == MILLRACE__JOIN_KIND__JOIN_ANTI;
    if (limit > 0 && kind_ok && (est = broadcast_estimate(b, &side[1], &reason)) >= 0 &&
        est <= limit)
        reason = dag_arena_printf(&b->c->arena, "right input estimated at %lld bytes from its "
                                  "files, at most broadcast_threshold %lld", est, limit);
    else
        est = -1;
    int broadcast = est >= 0 && reason;
    if (!broadcast)
        for (int s = 0; s < 2; s++)
            dag_seal_shuffle(b, &side[s], nd, b->partitions, keys[s], (size_t)dj->nkeys, 0);
    memset(f, 0, sizeof *f);
    uint32_t l = dag_frag_concat(b, f, &side[0]);
    int shuffled = f->shuffled;
    uint32_t parts = f->partitions;
    uint32_t r = dag_frag_concat(b, f, &side[1]);
    if (broadcast) {
        /* the left side's tasks stay as they are; the right reads go whole */
        f->shuffled = shuffled;
        f->partitions = parts;
        for (size_t i = l + 1; i < f->n; i++)
            if (f->ops[i]->kind == MILLRACE__OP_KIND__OP_SCAN)
                f->ops[i]->read->broadcast = 1;
    }
    Millrace__OpSpec *j = dag_op_new(b, f, MILLRACE__OP_KIND__OP_HASHJOIN, nd, dag_pb_schema(b, nd->out));
    uint32_t *kids = dag_pb_alloc(b, 2 * sizeof *kids);
    if (!j || !kids)
        return;
    kids[0] = l;
    kids[1] = r;
    j->children = kids;
    j->n_children = 2;
    Millrace__HashJoinOp *h = j->hashjoin;
    h->kind = dj->kind;
    h->left_keys = keys[0];
    h->right_keys = keys[1];
    h->n_left_keys = h->n_right_keys = (size_t)dj->nkeys;
    h->right_prefix = dag_pb_str(b, dj->right_prefix);
    h->broadcast = broadcast;
    h->broadcast_reason = dag_pb_str(b, broadcast ? reason : "");
}
