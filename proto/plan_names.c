/* plan_names.c - the words of the plan's enums; see plan_names.h. */
#include "proto/plan_names.h"

#include <ctype.h>
#include <string.h>

const char *const mr_plan_format_names[] = {"csv", "jsonl", "parquet", "postgres", NULL};
const char *const mr_plan_compression_names[] = {"auto", "none", "gzip", "zstd", NULL};
const char *const mr_plan_join_names[] = {"inner", "left", "right", "full", "semi", "anti", NULL};
const char *const mr_plan_target_names[] = {"warehouse", "csv", "jsonl", "parquet", NULL};
const char *const mr_plan_mode_names[] = {"append", "overwrite", "upsert", "error_if_exists", NULL};
const char *const mr_plan_driver_names[] = {"sqlite", "postgres", NULL};
const char *const mr_plan_schema_change_names[] = {"fail", "add_columns", "recreate", NULL};
const char *const mr_plan_check_kind_names[] = {"expect", "unique", "row_count", "aggregate", NULL};
const char *const mr_plan_check_action_names[] = {"fail", "reject", "warn", NULL};
const char *const mr_plan_parquet_codec_names[] = {"snappy", "zstd", "gzip", "none", NULL};

const char *mr_plan_name(const char *const *names, int value)
{
    for (int i = 0; value >= 0 && names[i]; i++)
        if (i == value)
            return names[i];
    return "?";
}

int mr_plan_lookup(const char *const *names, const char *word)
{
    for (int i = 0; word && names[i]; i++)
        if (strcmp(names[i], word) == 0)
            return i;
    return -1;
}

#define K(x) MILLRACE__OP_KIND__OP_##x
#define M(x) MILLRACE__OP_SPEC__OP_##x
static const struct {
    Millrace__OpSpec__OpCase op_case;
    const ProtobufCMessageDescriptor *msg;
} op_members[] = {
    [K(SCAN)] = {M(READ), &millrace__read_spec__descriptor},
    [K(SHUFFLE_READ)] = {M(SHUFFLE_READ), &millrace__shuffle_read_op__descriptor},
    [K(FILTER)] = {M(FILTER), &millrace__filter_op__descriptor},
    [K(PROJECT)] = {M(PROJECT), &millrace__project_op__descriptor},
    [K(AGG_PARTIAL)] = {M(AGG), &millrace__agg_op__descriptor},
    [K(AGG_FINAL)] = {M(AGG), &millrace__agg_op__descriptor},
    [K(HASHJOIN)] = {M(HASHJOIN), &millrace__hash_join_op__descriptor},
    [K(UNION)] = {M(UNION_OP), &millrace__union_op__descriptor},
    [K(DISTINCT)] = {M(DISTINCT), &millrace__distinct_op__descriptor},
    [K(SORT)] = {M(SORT), &millrace__sort_op__descriptor},
    [K(LIMIT)] = {M(LIMIT), &millrace__limit_op__descriptor},
    [K(WINDOW)] = {M(WINDOW), &millrace__window_op__descriptor},
    [K(CHECK)] = {M(CHECK), &millrace__check_op__descriptor},
    [K(UNNEST)] = {M(UNNEST), &millrace__unnest_op__descriptor},
};
#undef K
#undef M

Millrace__OpSpec__OpCase mr_plan_op_case(Millrace__OpKind k)
{
    return (size_t)k < sizeof op_members / sizeof *op_members ? op_members[k].op_case
                                                               : MILLRACE__OP_SPEC__OP__NOT_SET;
}

const ProtobufCMessageDescriptor *mr_plan_op_message(Millrace__OpKind k)
{
    return (size_t)k < sizeof op_members / sizeof *op_members ? op_members[k].msg : NULL;
}

int mr_plan_op_ok(const Millrace__OpSpec *op)
{
    Millrace__OpSpec__OpCase want = mr_plan_op_case(op->kind);
    /* every member is a message pointer: read is as good as any */
    return want != MILLRACE__OP_SPEC__OP__NOT_SET && op->op_case == want && op->read != NULL;
}

void mr_plan_sort_key_text(mr_strbuf *b, const Millrace__SortKey *k)
{
    const char *col = k->column ? k->column : "";
    int quote = !*col;
    for (const char *p = col; *p; p++)
        quote |= *p == '"' || isspace((unsigned char)*p);
    if (quote) {
        mr_strbuf_puts(b, "\"");
        for (const char *p = col; *p; p++)
            mr_strbuf_puts(b, *p == '"' ? "\"\"" : (char[]){*p, 0});
        mr_strbuf_puts(b, "\"");
    } else {
        mr_strbuf_puts(b, col);
    }
    if (k->descending)
        mr_strbuf_puts(b, " desc");
    if (k->nulls_first != k->descending)
        mr_strbuf_puts(b, k->nulls_first ? " nulls first" : " nulls last");
}
