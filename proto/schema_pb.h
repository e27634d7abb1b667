/* schema_pb.h - conversions between mr_schema and the protobuf Schema. */
#ifndef MR_SCHEMA_PB_H
#define MR_SCHEMA_PB_H

#include "core/error.h"
#include "core/types.h"
#include "proto/millrace.pb-c.h"

/* Converts s into a newly malloc'd protobuf Schema tree (names copied).
 * Free with mr_schema_pb_free.  Returns NULL when out of memory. */
Millrace__Schema *mr_schema_to_pb(const mr_schema *s);

/* Frees a tree made by mr_schema_to_pb (not one from *_unpack: free those
 * with protobuf_c_message_free_unpacked).  NULL is a no-op. */
void mr_schema_pb_free(Millrace__Schema *pb);

/* Converts a protobuf Schema (from any source, so it is checked: known type
 * ids, decimal precision 1..18 with scale <= precision, non-empty names)
 * into a new mr_schema the caller destroys with mr_schema_destroy.  A NULL
 * pb gives an empty schema.  Returns NULL with err set (MR_EPROTO for a bad
 * message, MR_ENOMEM). */
mr_schema *mr_schema_from_pb(const Millrace__Schema *pb, mr_err *err);

#endif
