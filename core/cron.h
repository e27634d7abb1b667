/* cron.h - cron expressions (5 fields) and their next run time in a time zone.
 *
 * "minute hour day-of-month month day-of-week", each field `*`, a number,
 * a range `a-b`, a step `*\/n` `a-b/n` `a/n`, or a comma list of those;
 * months and weekdays also by name (JAN..DEC, SUN..SAT, any case); weekday
 * 0 and 7 are Sunday.  As in Vixie cron, when both day fields are
 * restricted a day matching either runs.  @yearly @monthly @weekly @daily
 * @hourly are shorthands.  Times are wall-clock times of a zone (core/tz.h;
 * NULL: UTC): a time a spring-forward change skips runs at the same wall
 * time in summer time (02:30 -> 03:30, once even if 03:30 matches too), a
 * time a fall-back change repeats runs once, at its second (standard time)
 * occurrence.
 */
#ifndef MR_CRON_H
#define MR_CRON_H

#include <stdint.h>

#include "core/error.h"
#include "core/tz.h"

typedef struct mr_cron {
    uint64_t minute; /* bit m: minute m (0-59) */
    uint32_t hour;   /* bit h (0-23) */
    uint32_t mday;   /* bit d (1-31) */
    uint16_t month;  /* bit m (1-12) */
    uint8_t wday;    /* bit d (0-6, Sunday 0) */
    int mday_any, wday_any; /* the field was `*` (or a step over all) */
} mr_cron;

/* Parses text.  0, or MR_EPARSE with a message naming the field and the
 * column (1-based) of the fault; err->offset is its byte offset. */
int mr_cron_parse(const char *text, mr_cron *out, mr_err *err);
/* The first time, in seconds since the epoch (UTC), strictly after
 * after_utc whose wall-clock minute in tz matches; -1 when none comes in
 * the next 5 years (e.g. "0 0 30 2 *"). */
int64_t mr_cron_next(const mr_cron *c, const mr_tz *tz, int64_t after_utc);

#endif
