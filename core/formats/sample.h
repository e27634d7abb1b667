/* sample.h - which parts of a file schema inference reads: the one
 * sampler for every format.
 *
 * A sample is the file's first sample_rows records (MR_SAMPLE_FIRST_ROWS
 * by default), then, when the file goes on past what they covered, a few
 * byte windows picked here: starts at 1/8, 2/8, ... 7/8 of the file, and
 * its last MR_SAMPLE_TAIL bytes.  A window starting within the last
 * MR_SAMPLE_TAIL bytes is read to the end, the others for
 * MR_SAMPLE_POINT_ROWS records, so a wider value or a key past the first
 * rows is seen.  Each format opens a split reader at a window's offset
 * (which resyncs to the next record start) and parses what it reads; the
 * windows depend only on the file's size, so inference is deterministic. */
#ifndef MR_FORMAT_SAMPLE_H
#define MR_FORMAT_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#define MR_SAMPLE_FIRST_ROWS 1000
#define MR_SAMPLE_POINTS 8 /* windows: seven evenly spaced, and the tail */
#define MR_SAMPLE_POINT_ROWS 250
#define MR_SAMPLE_TAIL (64u << 10)

typedef struct mr_sample_window {
    uint64_t offset;    /* a split reader starts at the first record after it */
    size_t max_records; /* records to read there; SIZE_MAX: to the end */
} mr_sample_window;

/* Sets w[0..) (room for MR_SAMPLE_POINTS) to the windows of path past
 * byte done (where the first records stopped), in ascending order, and
 * returns how many: 0 when the file ends at done or cannot be stat'ed
 * (its reader then reports the error). */
size_t mr_sample_windows(const char *path, uint64_t done, mr_sample_window *w);

#endif
