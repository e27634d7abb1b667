/* membudget.c - the shared memory budget: an atomic counter against a limit. */
#include "core/membudget.h"

#include <stdatomic.h>
#include <stdlib.h>

struct mr_membudget {
    _Atomic uint64_t used;
    uint64_t limit;
};

mr_membudget *mr_membudget_create(uint64_t limit)
{
    mr_membudget *b = calloc(1, sizeof *b);
    if (b) {
        atomic_init(&b->used, 0);
        b->limit = limit;
    }
    return b;
}

void mr_membudget_destroy(mr_membudget *b)
{
    free(b);
}

bool mr_membudget_try_reserve(mr_membudget *b, uint64_t n)
{
    if (!b)
        return true;
    uint64_t cur = atomic_load(&b->used);
    do {
        if (b->limit && (cur + n < cur || cur + n > b->limit))
            return false;
    } while (!atomic_compare_exchange_weak(&b->used, &cur, cur + n));
    return true;
}

void mr_membudget_reserve(mr_membudget *b, uint64_t n)
{
    if (b)
        atomic_fetch_add(&b->used, n);
}

void mr_membudget_release(mr_membudget *b, uint64_t n)
{
    if (!b)
        return;
    /* never below zero, even if a caller releases more than it holds */
    uint64_t cur = atomic_load(&b->used);
    while (!atomic_compare_exchange_weak(&b->used, &cur, cur > n ? cur - n : 0))
        ;
}

uint64_t mr_membudget_used(const mr_membudget *b)
{
    return b ? atomic_load(&((mr_membudget *)b)->used) : 0;
}

uint64_t mr_membudget_limit(const mr_membudget *b)
{
    return b ? b->limit : 0;
}
