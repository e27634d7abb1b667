/* shuffle_send.h - the map side of a shuffle: hash-partition a task's output
 * and push each partition to the executor that owns it.
 */
#ifndef MR_SHUFFLE_SEND_H
#define MR_SHUFFLE_SEND_H

#include <stdint.h>

/* The payload an executor sends back for each end-of-stream marker. */
#define MR_SHUFFLE_ACK "eos-ack"

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
void mr_shuffle_out_destroy(mr_shuffle_out *so); /* NULL is a no-op */

#endif
