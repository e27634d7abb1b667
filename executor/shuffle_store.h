/* shuffle_store.h - where an executor keeps the shuffle data pushed to it.
 *
 * Map tasks anywhere in the cluster push batches for the partitions this
 * executor owns.  The executor's receive loop files each message under
 * (job, producing stage, partition) and then under the sending (map task,
 * attempt); a reduce task later asks for its partition together with the
 * one attempt of each map task the coordinator chose, waits until each of
 * those streams has ended, and reads their messages in arrival order (which
 * is send order: one DEALER->ROUTER pipe per sender keeps FIFO).  Messages of
 * attempts that were not chosen are never read: a re-run map task never
 * contributes twice.
 *
 * Messages are kept as received (compressed frames); decoding happens in the
 * reduce task's thread.  Data stays until the job is released, so a retried
 * reduce task on this executor can read it again.
 *
 * Thread-safety: all calls are safe from any thread (one mutex, one
 * condition variable).
 */
#ifndef MR_SHUFFLE_STORE_H
#define MR_SHUFFLE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "net/wire.h"

typedef struct mr_shuffle_store mr_shuffle_store;

typedef struct mr_shuffle_key {
    const char *job_id;
    uint32_t stage_id;
    uint32_t partition;
} mr_shuffle_key;

mr_shuffle_store *mr_shuffle_store_create(void);
void mr_shuffle_store_destroy(mr_shuffle_store *st); /* NULL is a no-op */

/* Files one received message; takes the frames (f is left empty).  eos marks
 * the end of (map_task, attempt)'s stream for the partition. */
int mr_shuffle_store_put(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                         uint32_t attempt, int eos, mr_frames *f);

/* A reader over the chosen streams of one partition. */
typedef struct mr_shuffle_reader mr_shuffle_reader;

/* Waits until every (map_tasks[i], attempts[i]) stream of the partition has
 * ended, then returns a reader.  Gives up with MR_EIO after timeout_ms, or
 * MR_ECANCELLED when *cancel becomes non-zero. */
int mr_shuffle_store_open(mr_shuffle_store *st, const mr_shuffle_key *k, const uint32_t *map_tasks,
                          const uint32_t *attempts, size_t n, int timeout_ms,
                          volatile int *cancel, mr_shuffle_reader **out, mr_err *err);
/* The next message's frames (header first; owned by the store, valid until
 * the job is released), or NULL at the end. */
const mr_frames *mr_shuffle_reader_next(mr_shuffle_reader *r);
void mr_shuffle_reader_close(mr_shuffle_reader *r);

/* Frees everything kept for job_id. */
void mr_shuffle_store_release(mr_shuffle_store *st, const char *job_id);
/* Bytes of message data currently held. */
size_t mr_shuffle_store_bytes(mr_shuffle_store *st);

#endif
