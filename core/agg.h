/* agg.h - aggregate functions: parsing "sum(qty * price)", result types, and
 * the partial/final split used around a shuffle.
 *
 * A hash aggregate runs in two halves.  The partial half (before the
 * shuffle) reduces each map task's rows to one row per group holding
 * aggregate *states*; the final half (after the shuffle) merges the states of
 * every map task and produces the values.  States per function:
 *   count(*), count(x)  -> int64 count
 *   count(distinct x)   -> the distinct x values themselves: the partial
 *                          half groups by (keys, x), the final half counts
 *   sum(x)              -> sum in the result type, NULL when no non-NULL x
 *   avg(x)              -> sum (float64 or decimal(18,s)) and int64 count
 *   min(x), max(x)      -> a value of x's type
 *   var_samp, var_pop, stddev_samp, stddev_pop (variance and stddev are the
 *   sample ones, as in PostgreSQL)
 *                       -> int64 count, float64 mean and float64 M2 (the sum
 *                          of squared deviations from the mean): Welford's
 *                          update per value, Chan's formula to merge two
 *                          states, both numerically stable
 *   bool_and(x), bool_or(x) -> the bool result so far, NULL when no non-NULL x
 *   string_agg(x, sep)  -> the values so far joined by sep (a string
 *                          literal), NULL when no non-NULL x; merging two
 *                          states joins them with sep too
 *   approx_count_distinct(x) -> a HyperLogLog sketch (core/op/hashagg_stats.c:
 *                          4096 registers as text), merged register by
 *                          register; the final value is its estimate (int64)
 */
#ifndef MR_AGG_H
#define MR_AGG_H

#include "core/error.h"
#include "core/expr.h"
#include "core/types.h"

typedef enum mr_agg_kind {
    MR_AGG_COUNT_STAR,
    MR_AGG_COUNT,
    MR_AGG_COUNT_DISTINCT,
    MR_AGG_SUM,
    MR_AGG_AVG,
    MR_AGG_MIN,
    MR_AGG_MAX,
    MR_AGG_VAR_SAMP,
    MR_AGG_VAR_POP,
    MR_AGG_STDDEV_SAMP,
    MR_AGG_STDDEV_POP,
    MR_AGG_BOOL_AND,
    MR_AGG_BOOL_OR,
    MR_AGG_STRING_AGG,
    MR_AGG_APPROX_COUNT_DISTINCT,
} mr_agg_kind;

/* Whether kind is one of the variance / standard deviation aggregates. */
#define MR_AGG_IS_VARIANCE(k) ((k) >= MR_AGG_VAR_SAMP && (k) <= MR_AGG_STDDEV_POP)

typedef enum mr_agg_mode {
    MR_AGG_PARTIAL, /* rows -> group keys + states */
    MR_AGG_FINAL,   /* group keys + states -> group keys + values */
    MR_AGG_SINGLE,  /* rows -> group keys + values, no shuffle in between */
} mr_agg_mode;

/* Parses an aggregate expression.  *arg gets the unbound argument
 * expression (NULL for count(*)); the caller owns it.  0 or MR_EPARSE /
 * MR_EINVAL ("unknown aggregate 'sums'") with err->offset set. */
int mr_agg_parse(const char *text, mr_agg_kind *kind, mr_expr **arg, mr_err *err);

/* string_agg's separator (the string literal after the comma, its quotes
 * doubled inside taken as one) in a new string *sep of *len bytes; 0, or
 * MR_EINVAL when text is not a well-formed string_agg call, MR_ENOMEM. */
int mr_agg_separator(const char *text, char **sep, size_t *len);

/* Byte offset in text where the argument of a well-formed aggregate call
 * starts (after "distinct" for count(distinct x)), or -1 for count(*) or a
 * text mr_agg_parse rejects.  Adding it to an offset from mr_expr_bind on
 * the parsed argument gives an offset into the whole text. */
int mr_agg_arg_offset(const char *text);

/* The result type of kind applied to a value of type arg (ignored for
 * count(*)): count -> int64; sum of ints -> int64, of decimal(p,s) ->
 * decimal(18,s), of float64 -> float64; avg of ints/floats -> float64, of
 * decimals -> decimal(18,6); min/max -> arg; variance and stddev of numbers
 * -> float64 (PostgreSQL gives numeric for integer and decimal input);
 * bool_and/bool_or of bool -> bool; string_agg of string -> string;
 * approx_count_distinct of any type -> int64.  MR_ETYPE when it does not apply
 * (sum of a string). */
int mr_agg_result_type(mr_agg_kind kind, mr_type arg, mr_type *out, mr_err *err);

#endif
