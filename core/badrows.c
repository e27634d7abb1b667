/* badrows.c - the on_error policy for bad input rows, shared by every scan. */
#include "core/badrows.h"

#include <stdlib.h>
#include <string.h>

void mr_badrows_init(mr_badrows *br, int on_error, int64_t max_errors, const char *file)
{
    memset(br, 0, sizeof *br);
    br->on_error = on_error;
    br->max_errors = max_errors;
    br->file = file;
}

static int keep(mr_badrows *br, const char *why, const char *raw, size_t rawlen, int64_t line,
                uint64_t offset)
{
    if (br->n == br->cap) {
        size_t ncap = br->cap ? br->cap * 2 : 16;
        mr_reject *nr = realloc(br->rejects, ncap * sizeof *nr);
        if (!nr)
            return MR_ENOMEM;
        br->rejects = nr;
        br->cap = ncap;
    }
    size_t n = rawlen < MR_REJECT_RAW_MAX ? rawlen : MR_REJECT_RAW_MAX;
    char *copy = malloc(n + 1), *reason = strdup(why);
    if (!copy || !reason) {
        free(copy);
        free(reason);
        return MR_ENOMEM;
    }
    memcpy(copy, raw, n);
    copy[n] = '\0';
    mr_reject *r = &br->rejects[br->n++];
    r->file = br->file;
    r->line = line;
    r->offset = offset;
    r->reason = reason;
    r->raw = copy;
    return 0;
}

int mr_badrows_handle(mr_badrows *br, const char *node, const char *where, const char *why,
                      const char *raw, size_t rawlen, int64_t line, uint64_t offset,
                      mr_err *err)
{
    if (br->on_error == MR_CSV_FAIL)
        return mr_err_node(err, MR_EPARSE, node, "%s: %s", where, why);
    br->count++;
    if (br->on_error == MR_CSV_REJECT && keep(br, why, raw, rawlen, line, offset) < 0)
        return mr_err_node(err, MR_ENOMEM, node, "out of memory keeping a rejected row");
    if (br->max_errors >= 0 && br->count > (uint64_t)br->max_errors)
        return mr_err_node(err, MR_EPARSE, node,
                           "more than max_errors (%lld) bad rows; the last, at %s: %s",
                           (long long)br->max_errors, where, why);
    return 0;
}

void mr_badrows_free(mr_badrows *br)
{
    if (!br)
        return;
    for (size_t i = 0; i < br->n; i++) {
        free(br->rejects[i].reason);
        free(br->rejects[i].raw);
    }
    free(br->rejects);
    br->rejects = NULL;
    br->n = br->cap = 0;
}
