/* tz.h - IANA time zones read from the system's database, without the C
 * library's process-wide TZ state.
 *
 * A zone is loaded once from its TZif file (/usr/share/zoneinfo/NAME, the
 * Debian package tzdata) into an immutable mr_tz, which any number of
 * threads may then read: no setenv("TZ"), no localtime().  Instants past
 * the file's last transition follow the POSIX rule in the file's footer
 * (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"), so far-future dates get daylight
 * saving time as the rule says.
 */
#ifndef MR_TZ_H
#define MR_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct mr_tz mr_tz;

/* Loads the zone named name[0..n) ("Europe/Paris", "UTC"; "utc" and "gmt"
 * in any case too).  A name must be a relative path of letters, digits and
 * "/_+-." with no ".." part.  dir is the database folder (NULL: the
 * system's, /usr/share/zoneinfo).  Returns 0 and a zone the caller frees
 * with mr_tz_free, or MR_ENOTFOUND / MR_EPARSE with a message. */
int mr_tz_load(const char *dir, const char *name, size_t n, mr_tz **out, mr_err *err);
/* Parses the bytes of a TZif file (fuzzing, tests). */
int mr_tz_parse(const unsigned char *data, size_t len, mr_tz **out, mr_err *err);
void mr_tz_free(mr_tz *tz); /* NULL is a no-op */
/* The zone's name as loaded (for messages). */
const char *mr_tz_name(const mr_tz *tz);

/* Seconds east of UTC in force at the instant utc (seconds since epoch). */
int32_t mr_tz_offset_at(const mr_tz *tz, int64_t utc);
/* Seconds east of UTC for the wall-clock time local (seconds since epoch
 * read as local time), as PostgreSQL chooses it: a time skipped by a
 * spring-forward change takes the offset before the change (so 02:30
 * becomes 03:30 summer time), a time repeated by a fall-back change
 * takes the offset after it (standard time). */
int32_t mr_tz_offset_local(const mr_tz *tz, int64_t local);

#endif
