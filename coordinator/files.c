/* files.c - file outputs (write to: csv | jsonl) on the coordinator's side:
 * confinement of output and warehouse paths to the data root, and the
 * configuration of an output's driver.  The outputs themselves (staging
 * folder, part files, prepare and publish by rename) are the files
 * driver, warehouse/files.c, used like the SQL drivers: begin when the job
 * starts (jobs.c), prepare and publish around the warehouse transaction
 * (commit.c), drop when the job fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coordinator/coordinator.h"
#include "core/io.h"
#include "proto/plan_names.h"

#include <limits.h>

/* Whether real (an absolute, resolved path) is root or below it. */
static int real_under(const char *root, const char *real)
{
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

int coord_output_under(const char *root, const char *path)
{
    /* the data root confines the local file system; an s3:// output is
     * the object store's (core/io.h) */
    if (!root || !root[0] || strcmp(root, "/") == 0 || mr_io_is_remote(path))
        return 1;
    if (!path || path[0] != '/')
        return 0;
    /* ".." is refused outright: the folders it climbs out of may not exist
     * yet, and realpath cannot judge what does not exist. */
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2)
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
            return 0;
    char real[PATH_MAX];
    struct stat sb;
    if (lstat(path, &sb) == 0) /* exists (a symlink too): where it really is */
        return realpath(path, real) && real_under(root, real);
    /* Not there yet: the nearest folder that exists decides. */
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent)
        return 0;
    char *slash;
    while ((slash = strrchr(parent, '/')) != NULL) {
        if (slash == parent) {
            parent[1] = '\0';
            break;
        }
        *slash = '\0';
        if (lstat(parent, &sb) == 0)
            break;
    }
    return realpath(parent, real) && real_under(root, real);
}

int coord_warehouse_under(const char *root, const char *db_path)
{
    /* SQLite creates these beside the warehouse file; a symlink planted
     * under one of these names must not lead a write elsewhere. */
    static const char *const sides[] = {"", "-journal", "-wal", "-shm", ".staging",
                                        ".staging-journal", ".staging-wal", ".staging-shm"};
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof sides / sizeof *sides; i++) {
        snprintf(p, sizeof p, "%s%s", db_path, sides[i]);
        if (!coord_output_under(root, p))
            return 0;
    }
    return 1;
}

void coord_file_output_cfg(const Millrace__WriteSpec *ws, const char *path, const char *job_id,
                           mr_wh_config *cfg)
{
    *cfg = (mr_wh_config){.driver = mr_plan_name(mr_plan_target_names, ws->target),
                          .path = path,
                          .job_id = job_id,
                          .compression = mr_plan_name(mr_plan_parquet_codec_names, ws->compression),
                          .row_group_rows = ws->row_group_rows};
}
