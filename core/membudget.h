/* membudget.h - one memory budget shared by everything in a process that
 * holds data: a thread-safe counter of reserved bytes against a limit.
 *
 * The executor makes one from --memory.  Running tasks reserve their
 * stateful operators' shares when they start (mr_membudget_reserve: a task
 * cannot wait, so this may go over the limit) and release them when they
 * end; the shuffle store keeps a received message in memory only when
 * mr_membudget_try_reserve grants its bytes, and spills it otherwise.  So
 * the store yields memory to running operators instead of both taking
 * --memory each.  Lock-free (C11 atomics); a NULL budget means no limit.
 */
#ifndef MR_MEMBUDGET_H
#define MR_MEMBUDGET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mr_membudget mr_membudget;

/* A budget of limit bytes (0: no limit); NULL when out of memory. */
mr_membudget *mr_membudget_create(uint64_t limit);
/* NULL is a no-op. */
void mr_membudget_destroy(mr_membudget *b);

/* Reserves n bytes if that keeps the total within the limit; true when
 * granted (always with a NULL budget or no limit). */
bool mr_membudget_try_reserve(mr_membudget *b, uint64_t n);
/* Reserves n bytes whatever the total (what must be held anyway). */
void mr_membudget_reserve(mr_membudget *b, uint64_t n);
/* Gives back n bytes reserved before. */
void mr_membudget_release(mr_membudget *b, uint64_t n);

uint64_t mr_membudget_used(const mr_membudget *b);
uint64_t mr_membudget_limit(const mr_membudget *b);

#endif
