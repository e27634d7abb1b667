/* hashjoin.h - the hash join operator: inner, left, right, full, semi and
 * anti joins on equal keys, with SQL USING semantics for same-named keys.
 *
 * Sides.  In the DAG, a join has a `left` and a `right` input.  The
 * operator builds its hash table from the right input (the build side) and
 * streams the left input (the probe side) through it, so the left side may
 * be arbitrarily large.  The right side is held in memory unless the
 * task's memory budget (mr_exec_ctx) is exceeded: then both sides are
 * partitioned to disk and joined partition by partition (Grace hash join,
 * hashjoin.c); the output rows are the same, their order is not.
 *
 * Output columns: every left column, then every right column except keys
 * named the same on both sides (a USING key appears once, at the left
 * column's position); semi and anti joins output the left columns only.
 * With right_prefix, every right column that is output gets the prefix.
 * Any remaining clash of output names is an error at create time.
 *
 * A USING key's value and type: its type is the common type of the two
 * key columns (core/keys.h: int32 with int64 gives int64, decimals of
 * different scales the wider scale); its value is the left key for inner,
 * left and matched rows, the right key for right rows without a left match
 * (so in a full join it is coalesce(left, right), in a right join the right
 * value, as PostgreSQL does).
 *
 * Keys: NULL keys never match.  Left, right and full joins still output the
 * rows with NULL keys of their preserved side (with NULLs for the other
 * side); an anti join keeps left rows with a NULL key (NOT EXISTS
 * semantics); a semi join drops them.  Float keys: -0.0 equals 0.0 and NaN
 * equals NaN.  Key pairs must have a common type (core/keys.h), otherwise
 * create fails with MR_ETYPE naming both columns.
 *
 * Distribution: when both inputs come through a shuffle, they must be
 * partitioned by the key values in their common type (mr_hash_columns gives
 * int32 and int64 equal hashes for equal values, but decimals of different
 * scales must be rescaled before hashing).
 */
#ifndef MR_OP_HASHJOIN_H
#define MR_OP_HASHJOIN_H

#include <stddef.h>

#include "core/op.h"

typedef enum mr_join_type {
    MR_JOIN_INNER = 0,
    MR_JOIN_LEFT = 1,
    MR_JOIN_RIGHT = 2,
    MR_JOIN_FULL = 3,
    MR_JOIN_SEMI = 4,
    MR_JOIN_ANTI = 5,
} mr_join_type;

/* Parses a DAG `how` value ("inner", "left", ...; exact, lower case) into
 * *out.  Returns 0 or MR_EINVAL with a message listing the valid values. */
int mr_join_type_parse(const char *text, mr_join_type *out, mr_err *err);
/* The DAG name of a join type ("inner", ...). */
const char *mr_join_type_name(mr_join_type how);

/* The output schema of a join of left and right on the nkeys key pairs
 * left_keys[i] = right_keys[i] (see above).  right_prefix may be NULL or
 * "".  Returns a new schema (caller owns it) or NULL with err set: no keys,
 * a key not found, key types without a common type, a name clash (naming
 * the column), out of memory.  Messages start with "node '<node>': ". */
mr_schema *mr_hashjoin_schema(const mr_schema *left, const mr_schema *right, mr_join_type how,
                              const char *const *left_keys, const char *const *right_keys,
                              int nkeys, const char *right_prefix, const char *node, mr_err *err);

/* Creates a hash join that builds on `build` (the DAG's right input) and
 * probes with `probe` (the DAG's left input).  The operator owns both
 * children from this call on, also when it fails.  Arguments as for
 * mr_hashjoin_schema.  Returns the operator (caller owns it; free with
 * mr_op_close) or NULL with err set.
 *
 * open() opens both children and reads the whole build side into memory;
 * next() streams the probe side, one output batch of at most
 * MR_BATCH_ROWS rows at a time (a probe batch with many matches gives
 * several output batches), and for right and full joins finishes with the
 * build rows that found no match.  Semi and anti joins hand out the probe
 * batch itself narrowed by a selection vector. */
mr_op *mr_hashjoin_create(mr_op *build, mr_op *probe, mr_join_type how,
                          const char *const *left_keys, const char *const *right_keys, int nkeys,
                          const char *right_prefix, const char *node, mr_err *err);

/* Bytes held by the build side (stored rows, hashes, table, match flags)
 * and scratch; 0 before open. */
size_t mr_hashjoin_memory(const mr_op *op);

/* Rows stored from the build side (after dropping rows that can never be
 * output: NULL keys of inner, left, semi and anti joins). */
size_t mr_hashjoin_build_rows(const mr_op *op);

#endif
