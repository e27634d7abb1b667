/* shuffle_send.h - the map side of a shuffle: hash-partition a task's output
 * and push each partition to the executor that owns it.
 */
#ifndef MR_SHUFFLE_SEND_H
#define MR_SHUFFLE_SEND_H

#include <stdint.h>

#include "core/batch.h"
#include "core/error.h"
#include "net/transport.h"
#include "proto/millrace.pb-c.h"

typedef struct mr_shuffle_out mr_shuffle_out;

/* Connects to every distinct owner in spec->partition_owners; rows are
 * partitioned on the spec's stage.shuffle.keys, looked up in schema. */
mr_shuffle_out *mr_shuffle_out_create(mr_net *net, const Millrace__TaskSpec *spec,
                                      const mr_schema *schema, mr_err *err);
/* Partitions the live rows of b and sends them (b's selection is restored
 * before returning). */
int mr_shuffle_out_write(mr_shuffle_out *so, mr_batch *b, mr_err *err);
/* Sends the end-of-stream marker to every partition. */
int mr_shuffle_out_finish(mr_shuffle_out *so, mr_err *err);
uint64_t mr_shuffle_out_bytes(const mr_shuffle_out *so);
void mr_shuffle_out_destroy(mr_shuffle_out *so); /* NULL is a no-op */

#endif
