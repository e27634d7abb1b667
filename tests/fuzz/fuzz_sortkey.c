/* fuzz_sortkey.c - libFuzzer target for the sort-key parser shared by
 * validate and the sort operator (core/sortkey.h).
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it.  By hand:
 */
// fuzz-sources: core core/op core/formats
// clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
//   tests/fuzz/fuzz_sortkey.c core/[a-z]*.c core/op/[a-z]*.c -lm -lpthread -o fuzz_sortkey
/*
 * The input is the key text (a NUL ends it early).  Checks beyond the
 * sanitizers:
 *   - success gives a non-empty name and 0/1 flags; failure gives MR_EINVAL
 *     with a message and an offset inside the text (at most its length),
 *     and no name;
 *   - a parsed key written back in canonical form ("name" quoted with ""
 *     doubled, then asc|desc nulls first|last) parses to the same key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sortkey.h"

static char *canonical(const char *col, int desc, int nf)
{
    size_t n = strlen(col);
    char *s = malloc(2 * n + 40);
    if (!s)
        return NULL;
    char *p = s;
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (col[i] == '"')
            *p++ = '"';
        *p++ = col[i];
    }
    *p++ = '"';
    sprintf(p, " %s nulls %s", desc ? "DESC" : "asc", nf ? "first" : "LAST");
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *col = (char *)1;
    int desc = -1, nf = -1;
    mr_err err;
    int rc = mr_sort_key_parse(text, &col, &desc, &nf, &err);
    if (rc == 0) {
        if (!col || !col[0] || (desc != 0 && desc != 1) || (nf != 0 && nf != 1))
            abort();
        char *again = canonical(col, desc, nf);
        char *col2 = NULL;
        int d2, nf2;
        if (again && (mr_sort_key_parse(again, &col2, &d2, &nf2, &err) != 0 ||
                      strcmp(col, col2) != 0 || d2 != desc || nf2 != nf))
            abort();
        free(col2);
        free(again);
        free(col);
    } else {
        if (rc != MR_EINVAL || col || !err.msg[0] || err.offset < 0 ||
            (size_t)err.offset > strlen(text))
            abort();
    }
    free(text);
    return 0;
}
