/* shuffle_send.h - the map side of a shuffle: hash-partition a task's output
 * and push each partition to the executor that owns it.
 */
#ifndef MR_SHUFFLE_SEND_H
#define MR_SHUFFLE_SEND_H

#include <stdint.h>

/* The payload an executor sends back for each end-of-stream marker. */
#define MR_SHUFFLE_ACK "eos-ack"
/* Credit: an executor's reply granting a sender `count` more messages
 * after filing that many: two frames, MR_SHUFFLE_CREDIT and the count as a
 * 4-byte little-endian unsigned integer. */
#define MR_SHUFFLE_CREDIT "credit"
/* Data messages a sender may have unconfirmed per destination by default,
 * and the most it may be given (the replies that confirm them must fit in
 * the sender socket's receive queue). */
#define MR_SHUFFLE_WINDOW 64
#define MR_SHUFFLE_WINDOW_MAX 256

#include "core/batch.h"
#include "core/error.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"

typedef struct mr_shuffle_out mr_shuffle_out;

/* Connects to every distinct owner in spec->partition_owners; rows are
 * partitioned on the spec's stage.shuffle.keys, looked up in schema.  A
 * send blocked by a full peer gives up when *cancel becomes non-zero. */
mr_shuffle_out *mr_shuffle_out_create(mr_net *net, const Millrace__TaskSpec *spec,
                                      const mr_schema *schema, volatile int *cancel,
                                      mr_err *err);
/* Partitions the live rows of b and sends them (b's selection is restored
 * before returning). */
int mr_shuffle_out_write(mr_shuffle_out *so, mr_batch *b, mr_err *err);
/* Sends the end-of-stream marker to every partition and waits until every
 * owner has confirmed it: after 0, every row of this task is filed in its
 * owner's shuffle store (ZeroMQ keeps order within a connection, so the
 * confirmation of the marker covers the data before it).  MR_ETIMEDOUT when
 * an owner does not answer within ack_timeout_ms. */
int mr_shuffle_out_finish(mr_shuffle_out *so, int ack_timeout_ms, mr_err *err);
uint64_t mr_shuffle_out_bytes(const mr_shuffle_out *so);
/* Flow control: at most window (1..MR_SHUFFLE_WINDOW_MAX, clamped) data
 * messages per destination executor that it has not yet filed; a write
 * waiting longer than stall_ms for credit fails with MR_ETIMEDOUT.  The
 * defaults are MR_SHUFFLE_WINDOW and ten minutes.  Call before writing. */
void mr_shuffle_out_set_flow(mr_shuffle_out *so, int window, int stall_ms);
/* The most data messages that were ever unconfirmed at one destination. */
int mr_shuffle_out_max_outstanding(const mr_shuffle_out *so);

/* Reads a reply from an executor's data socket (frames after the routing
 * identity): 1 with *credit set for a credit grant, 2 for an end-of-stream
 * confirmation, 0 for anything else. */
int mr_shuffle_reply_parse(const mr_frames *m, uint32_t *credit);
/* Fills the two frames of a credit grant; buf (4 bytes) holds the count. */
void mr_shuffle_credit_frames(uint32_t count, uint8_t buf[4], mr_frame out[2]);
void mr_shuffle_out_destroy(mr_shuffle_out *so); /* NULL is a no-op */

#endif
