/* opbuild.h - the executor's registry of plan operator kinds: for each
 * OpKind, how many inputs it takes and the function that builds its
 * operator from the plan.
 *
 * The table is the one place that maps a plan operator to core/op: the
 * task (task.c) builds a stage's tree from the root, building each
 * operator's inputs first and then calling its entry's build.  Sources
 * (OP_SCAN, OP_SHUFFLE_READ) have entries with no build function: they
 * read the task's split or shuffle partition, which only the task knows,
 * so task.c builds them.  Plans carry everything typed (enums, sort keys,
 * schemas), so no builder parses text or guesses a schema.
 */
#ifndef MR_OPBUILD_H
#define MR_OPBUILD_H

#include "core/error.h"
#include "core/op.h"
#include "proto/millrace.pb-c.h"

/* Builds op over its built inputs kids[0..nkids) (their number checked
 * against the entry's ninputs, and op's oneof member against its kind:
 * mr_plan_op_ok).  Takes ownership of kids: on failure it
 * closes them and returns NULL with err set. */
typedef mr_op *(*mr_opbuild_fn)(const Millrace__OpSpec *op, mr_op **kids, int nkids, mr_err *err);

typedef struct mr_opbuild_entry {
    const char *name;    /* for messages */
    int ninputs;         /* exact number of inputs; -1: one or more; 0: a source */
    mr_opbuild_fn build; /* NULL for sources (built by the task) */
} mr_opbuild_entry;

/* The entry of kind k, or NULL for a kind this build does not know. */
const mr_opbuild_entry *mr_opbuild_find(Millrace__OpKind k);

#endif
