/* plan_names.c - the words of the plan's enums; see plan_names.h. */
#include "proto/plan_names.h"

#include <ctype.h>
#include <string.h>

const char *const mr_plan_format_names[] = {"csv", "jsonl", NULL};
const char *const mr_plan_join_names[] = {"inner", "left", "right", "full", "semi", "anti", NULL};
const char *const mr_plan_target_names[] = {"warehouse", "csv", "jsonl", NULL};
const char *const mr_plan_mode_names[] = {"append", "overwrite", "upsert", "error_if_exists", NULL};
const char *const mr_plan_driver_names[] = {"sqlite", "postgres", NULL};

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
