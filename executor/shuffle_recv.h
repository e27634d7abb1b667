/* shuffle_recv.h - the reduce side of a shuffle: an executor's data socket
 * files what map tasks push into the shuffle store and grants them credit.
 *
 * The send half (shuffle_send.h) may have at most a window of data messages
 * unfiled per destination.  This half owes each sender (known by its ROUTER
 * routing identity) one credit per message filed, and pays it in one reply
 * per MR_SHUFFLE_CREDIT_BATCH messages, plus whatever is owed whenever the
 * socket has been drained, so a sender with a window smaller than the batch
 * never waits for a grant that is not coming.  End-of-stream markers are
 * confirmed one by one (MR_SHUFFLE_ACK) once filed.
 */
#ifndef MR_SHUFFLE_RECV_H
#define MR_SHUFFLE_RECV_H

#include "executor/shuffle_store.h"
#include "net/transport.h"

/* Filed messages acknowledged per credit reply. */
#define MR_SHUFFLE_CREDIT_BATCH 4

typedef struct mr_shuffle_recv mr_shuffle_recv;

/* Called before data for a (job, stage) the store has not been told to
 * expect is filed: the announcement travels on another connection (the
 * control one), so the caller takes what waits there first. */
typedef void (*mr_shuffle_recv_unexpected_fn)(void *arg);

/* Receives on data (a ROUTER socket the caller owns and has bound) into
 * store.  unexpected may be NULL.  NULL when out of memory. */
mr_shuffle_recv *mr_shuffle_recv_create(mr_socket *data, mr_shuffle_store *store,
                                        mr_shuffle_recv_unexpected_fn unexpected, void *arg);
/* Files one message as received on the ROUTER socket (routing identity,
 * BatchHeader, column frames); m is consumed (its frames may be moved).
 * Malformed messages are logged and dropped. */
void mr_shuffle_recv_message(mr_shuffle_recv *r, mr_frames *m);
/* Grants every sender the credit owed to it. */
void mr_shuffle_recv_flush(mr_shuffle_recv *r);
/* Files every message waiting on the socket, then grants what is owed. */
void mr_shuffle_recv_drain(mr_shuffle_recv *r);
void mr_shuffle_recv_destroy(mr_shuffle_recv *r); /* NULL is a no-op */

#endif
