/* sample.c - the byte windows schema inference samples past a file's
 * first records. */
#include "core/formats/sample.h"

#include "core/io.h"

size_t mr_sample_windows(const char *path, uint64_t done, mr_sample_window *w)
{
    uint64_t size;
    if (mr_io_size(path, &size) != 0 || size <= done)
        return 0;
    size_t n = 0;
    for (int j = 1; j <= MR_SAMPLE_POINTS; j++) {
        /* the tail starts no earlier than where the first sample stopped */
        uint64_t off = j < MR_SAMPLE_POINTS ? size / MR_SAMPLE_POINTS * (uint64_t)j
                                            : (size > MR_SAMPLE_TAIL ? size - MR_SAMPLE_TAIL : 0);
        if (j == MR_SAMPLE_POINTS && off < done)
            off = done;
        if (off < done || off == 0 || (n > 0 && off <= w[n - 1].offset))
            continue;
        w[n].offset = off;
        w[n].max_records = off + MR_SAMPLE_TAIL >= size ? SIZE_MAX : MR_SAMPLE_POINT_ROWS;
        n++;
    }
    return n;
}
