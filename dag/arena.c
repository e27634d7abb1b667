/* arena.c - a bump allocator for everything one DAG compile builds.
 *
 * Blocks of at least 16 KiB are chained; an allocation larger than a block
 * gets a block of its own.  Nothing is freed until dag_arena_free, which
 * releases all blocks.  Memory is zeroed.  After a failed allocation the
 * arena remembers it in `failed`, so that long chains of building code can
 * check once at the end.
 */
#include "dag/dag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dag_arena_block {
    dag_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define ARENA_BLOCK 16384

void *dag_arena_alloc(dag_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    dag_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            a->failed = 1;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *dag_arena_strndup(dag_arena *a, const char *s, size_t n)
{
    char *p = dag_arena_alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

char *dag_arena_strdup(dag_arena *a, const char *s)
{
    return dag_arena_strndup(a, s, strlen(s));
}

char *dag_arena_printf(dag_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = dag_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void dag_arena_free(dag_arena *a)
{
    if (!a)
        return;
    dag_arena_block *b = a->head;
    while (b) {
        dag_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}
