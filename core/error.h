/* error.h - error codes and the error context every fallible call fills.
 *
 * Errors are values: functions return 0 (or a positive "more" signal where
 * documented) on success and a negative MR_E* code on failure, and write the
 * human message into an mr_err the caller owns.  The message carries the
 * where (node, file, line) so that the caller can print it as is.
 */
#ifndef MR_ERROR_H
#define MR_ERROR_H

#include <stdarg.h>

enum {
    MR_OK = 0,
    MR_ENOMEM = -1,     /* allocation failed */
    MR_EINVAL = -2,     /* bad argument or bad user input */
    MR_EIO = -3,        /* file or socket I/O failed */
    MR_EPARSE = -4,     /* text could not be parsed (CSV, YAML, expression) */
    MR_ETYPE = -5,      /* type mismatch */
    MR_EOVERFLOW = -6,  /* numeric overflow */
    MR_EDIVZERO = -7,   /* division by zero */
    MR_ENOTFOUND = -8,  /* missing file, column, job, ... */
    MR_EPROTO = -9,     /* malformed message from the network */
    MR_ENOTSUP = -10,   /* valid but not supported */
    MR_ECANCELLED = -11,/* the job was cancelled */
    MR_ECAST = -12,     /* a CAST failed */
    MR_EWAREHOUSE = -13,/* the warehouse refused a statement */
    MR_ETOOBIG = -14,   /* input over a size limit */
    MR_ETIMEDOUT = -15, /* an operation gave up after its time limit */
};

#define MR_ERR_MSG_MAX 1024

typedef struct mr_err {
    int code;
    int offset; /* byte offset into the text an error is about (an expression,
                 * a CSV line), or -1; parsers set it after mr_err_set */
    char msg[MR_ERR_MSG_MAX];
} mr_err;

/* Returns a static, human description of an MR_E* code. */
const char *mr_strerror(int code);

/* Sets err (if not NULL) to code and a printf-style message; returns code so
 * callers can write `return mr_err_set(err, MR_EINVAL, "...")`. */
int mr_err_set(mr_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mr_err_set for a message about a DAG node: "node 'NAME': " then the
 * printf-style message.  A NULL or empty node gives the message alone.
 * Returns code. */
int mr_err_node(mr_err *err, int code, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The one out-of-memory error: "node 'NAME': out of memory" (or "out of
 * memory" for a NULL or empty node).  Returns MR_ENOMEM, so callers write
 * `return mr_err_oom(err, node)`. */
int mr_err_oom(mr_err *err, const char *node);

/* Puts "prefix: " in front of the message already in err (keeps the code). */
void mr_err_prefix(mr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mr_err_clear(mr_err *err);

#endif
