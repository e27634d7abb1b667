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
 * Memory budget and spill: with mr_shuffle_store_set_spill, the bytes of
 * messages kept in memory stay within a budget; a message that would go
 * beyond it is appended to the spill file of its partition instead (one file
 * per (job, stage, partition) in a folder per job below the spill folder).
 * A stream may hold messages in memory and on disk side by side: each
 * message remembers where it lives, so a reader returns them in arrival
 * order whatever their place.  Messages are kept as received (compressed
 * frames); decoding happens in the reduce task's thread.  Data stays until
 * the job is released, so a retried reduce task on this executor can read
 * it again; release deletes the job's spill files at once and frees the
 * memory as soon as no reader uses it any more.
 *
 * Announced jobs only: with mr_shuffle_store_guard, the store files data
 * only for (job, stage) pairs the coordinator announced
 * (mr_shuffle_store_expect).  Data for any other pair is kept on probation,
 * in memory only, within a small bound per partition and in all, and for
 * a short time: it may be legitimate data that outran its announcement
 * (control and data travel on different connections), and becomes
 * ordinary data when the announcement comes.  Beyond the bounds, or past
 * the time, it is dropped and counted.  Dropping never loses data
 * silently: every message carries a sequence number per stream, and a
 * stream whose numbers skip is broken, so its reader fails (and the task
 * is retried) instead of reading a stream with a hole.
 *
 * Thread-safety: all calls are safe from any thread (one mutex, one
 * condition variable); a reader belongs to one thread.
 */
#ifndef MR_SHUFFLE_STORE_H
#define MR_SHUFFLE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/membudget.h"
#include "net/wire.h"

typedef struct mr_shuffle_store mr_shuffle_store;

typedef struct mr_shuffle_key {
    const char *job_id;
    uint32_t stage_id;
    uint32_t partition;
} mr_shuffle_key;

/* What the store holds right now (and has spilled since it was created). */
typedef struct mr_shuffle_store_stats {
    uint64_t bytes_held;     /* message bytes in memory */
    uint64_t bytes_spilled;  /* message bytes in spill files now */
    uint64_t spill_files;    /* spill files open now */
    uint64_t spilled_total;  /* message bytes ever written to spill files */
    uint64_t probation_bytes; /* held for pairs not (yet) announced (in bytes_held) */
    uint64_t dropped_msgs;    /* messages dropped: not announced, beyond the bounds */
    uint64_t dropped_bytes;
} mr_shuffle_store_stats;

/* Default bounds of data kept on probation (see the top comment). */
#define MR_SHUFFLE_PROBATION_PART (1u << 20)  /* per (job, stage, partition) */
#define MR_SHUFFLE_PROBATION_ALL (8u << 20)   /* in all */
#define MR_SHUFFLE_PROBATION_MS 30000         /* how long it is kept */

/* A store without a budget (everything in memory).  NULL when out of
 * memory. */
mr_shuffle_store *mr_shuffle_store_create(void);
/* Frees everything and deletes every spill file.  NULL is a no-op. */
void mr_shuffle_store_destroy(mr_shuffle_store *st);

/* Keeps at most budget bytes of messages in memory and spills the rest to
 * files below dir (which must exist; the store creates and removes one
 * folder per job in it).  budget 0 or dir NULL turns spilling off.  The
 * store keeps a copy of dir.  0 or MR_ENOMEM. */
int mr_shuffle_store_set_spill(mr_shuffle_store *st, uint64_t budget, const char *dir,
                               mr_err *err);

/* From now on, files data only for announced (job, stage) pairs; the rest
 * is kept on probation within part_bytes per partition, all_bytes in all,
 * for ttl_ms.  0 or MR_EINVAL (a zero bound). */
int mr_shuffle_store_guard(mr_shuffle_store *st, uint64_t part_bytes, uint64_t all_bytes,
                           int ttl_ms);
/* Announces (job_id, stage_id): its data is filed from now on, and what was
 * kept of it on probation becomes ordinary data.  Forgotten when the job
 * is released.  0 or MR_ENOMEM. */
int mr_shuffle_store_expect(mr_shuffle_store *st, const char *job_id, uint32_t stage_id);
/* Whether data for (job_id, stage_id) is filed: announced, or no guard. */
int mr_shuffle_store_expected(mr_shuffle_store *st, const char *job_id, uint32_t stage_id);

/* mr_shuffle_store_put with the message's sequence number in its stream
 * (0, 1, 2, ... including the end-of-stream marker): a gap breaks the
 * stream.  Returns what put returns; a message dropped because its pair
 * was not announced gives 0 (it is counted in the stats). */
int mr_shuffle_store_put_seq(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                             uint32_t attempt, uint64_t seq, int eos, mr_frames *f, mr_err *err);

/* Also draws the bytes kept in memory from mb, the executor's one memory
 * budget (core/membudget.h): beyond half of the store's own budget (which
 * it always keeps), a message is spilled when mb does not grant its bytes,
 * so running operators' reservations push shuffle data to disk.
 * Set before the first message; mb must outlive the store's data. */
void mr_shuffle_store_set_shared_budget(mr_shuffle_store *st, mr_membudget *mb);

/* Files one received message; takes the frames (f is left empty either
 * way).  eos marks the end of (map_task, attempt)'s stream for the
 * partition.  Messages for a job released recently are dropped (0): they
 * come from tasks that have not yet noticed the job ended.  On failure
 * (MR_ENOMEM, MR_EIO writing the spill file, MR_EPROTO for data after the
 * stream's end) err says why and the stream is marked broken, so a reader
 * that chooses it fails instead of reading a stream with a hole. */
int mr_shuffle_store_put(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                         uint32_t attempt, int eos, mr_frames *f, mr_err *err);

/* A reader over the chosen streams of one partition. */
typedef struct mr_shuffle_reader mr_shuffle_reader;

/* Waits until every (map_tasks[i], attempts[i]) stream of the partition has
 * ended, then returns a reader (the caller closes it).  Gives up with MR_EIO
 * after timeout_ms or when a chosen stream is broken, or MR_ECANCELLED when
 * *cancel becomes non-zero. */
int mr_shuffle_store_open(mr_shuffle_store *st, const mr_shuffle_key *k, const uint32_t *map_tasks,
                          const uint32_t *attempts, size_t n, int timeout_ms,
                          volatile int *cancel, mr_shuffle_reader **out, mr_err *err);
/* The next message: 1 with *out set to its frames (header first; owned by
 * the reader or the store, valid until the next call on this reader or its
 * close), 0 at the end (and every call after), or MR_EIO when a spilled
 * message cannot be read back. */
int mr_shuffle_reader_next(mr_shuffle_reader *r, const mr_frames **out, mr_err *err);
/* NULL is a no-op. */
void mr_shuffle_reader_close(mr_shuffle_reader *r);

/* Forgets everything kept for job_id: its spill files are deleted now, its
 * memory once the last open reader closes. */
void mr_shuffle_store_release(mr_shuffle_store *st, const char *job_id);
/* Bytes of message data currently held in memory. */
size_t mr_shuffle_store_bytes(mr_shuffle_store *st);
void mr_shuffle_store_get_stats(mr_shuffle_store *st, mr_shuffle_store_stats *out);

#endif
