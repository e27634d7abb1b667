/* files.c - file outputs (write to: csv | jsonl): the folder layout and the
 * rename-into-place commit.
 *
 * Each task attempt of a file-writing stage writes one file into a
 * temporary folder beside the target, "<target>.millrace-tmp-<job>", named
 * "part-<task>-a<attempt>.<ext>" (executor/task.c).  The commit, in two
 * steps around the warehouse transaction:
 *   prepare: inside the temporary folder, rename the chosen attempt of each
 *            task to "part-%05d.<ext>", remove superseded attempts' files,
 *            write _SUCCESS.  Nothing visible has changed yet.
 *   publish: (after the warehouse committed) move an existing target aside
 *            (mode overwrite), rename the temporary folder onto the target,
 *            remove the old one.  These are renames within one folder.
 * A failed job removes its temporary folders; a target is never half
 * written.  Coordinator and executors must see the same file system here,
 * as for the SQLite warehouse (a shared volume in a cluster).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coordinator/coordinator.h"

#include <limits.h>

/* Whether real (an absolute, resolved path) is root or below it. */
static int real_under(const char *root, const char *real)
{
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

int coord_output_under(const char *root, const char *path)
{
    if (!root || !root[0] || strcmp(root, "/") == 0)
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

const char *coord_file_ext(const char *target)
{
    return strcmp(target, "jsonl") == 0 ? "jsonl" : "csv";
}

void coord_files_tmpdir(const char *target_path, const char *job_id, char *out, size_t cap)
{
    snprintf(out, cap, "%s.millrace-tmp-%s", target_path, job_id);
}

/* Removes a folder of plain files (what a file output is). */
static int remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    return rmdir(dir);
}

/* Creates the folders leading to path (like mkdir -p of its parent). */
static int make_parents(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

int coord_files_start(const char *target_path, const char *mode, const char *job_id, mr_err *err)
{
    struct stat sb;
    if (make_parents(target_path) != 0)
        return mr_err_set(err, MR_EIO, "cannot create the folders of '%s': %s", target_path,
                          strerror(errno));
    if (strcmp(mode, "overwrite") != 0 && stat(target_path, &sb) == 0)
        return mr_err_set(err, MR_EINVAL,
                          "output '%s' already exists (mode error_if_exists; use overwrite)",
                          target_path);
    char tmp[4096];
    coord_files_tmpdir(target_path, job_id, tmp, sizeof tmp);
    remove_flat_dir(tmp);
    if (mkdir(tmp, 0755) != 0)
        return mr_err_set(err, MR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    return 0;
}

int coord_files_prepare(const char *target_path, const char *target, const char *job_id,
                        const uint32_t *ok_attempts, uint32_t ntasks, mr_err *err)
{
    char tmp[4096], from[4400], to[4400];
    const char *ext = coord_file_ext(target);
    coord_files_tmpdir(target_path, job_id, tmp, sizeof tmp);
    for (uint32_t t = 0; t < ntasks; t++) {
        snprintf(from, sizeof from, "%s/part-%u-a%u.%s", tmp, t, ok_attempts[t], ext);
        snprintf(to, sizeof to, "%s/part-%05u.%s", tmp, t, ext);
        if (rename(from, to) != 0)
            return mr_err_set(err, MR_EIO, "output part %u of '%s' is missing: %s", t,
                              target_path, strerror(errno));
    }
    /* superseded attempts' files */
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, "-a") && strncmp(e->d_name, "part-", 5) == 0) {
            snprintf(from, sizeof from, "%s/%s", tmp, e->d_name);
            unlink(from);
        }
    if (d)
        closedir(d);
    snprintf(to, sizeof to, "%s/_SUCCESS", tmp);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fsync(fd) != 0) {
        int rc = mr_err_set(err, MR_EIO, "cannot write '%s': %s", to, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

int coord_files_publish(const char *target_path, const char *job_id, mr_err *err)
{
    char tmp[4096], old[4200];
    coord_files_tmpdir(target_path, job_id, tmp, sizeof tmp);
    snprintf(old, sizeof old, "%s.millrace-old-%s", target_path, job_id);
    struct stat sb;
    int had = stat(target_path, &sb) == 0;
    if (had && rename(target_path, old) != 0)
        return mr_err_set(err, MR_EIO, "cannot move the old '%s' aside: %s", target_path,
                          strerror(errno));
    if (rename(tmp, target_path) != 0) {
        int rc = mr_err_set(err, MR_EIO, "cannot publish '%s': %s", target_path, strerror(errno));
        if (had)
            rename(old, target_path);
        return rc;
    }
    if (had && S_ISDIR(sb.st_mode))
        remove_flat_dir(old);
    else if (had)
        unlink(old);
    return 0;
}

void coord_files_abort(const char *target_path, const char *job_id)
{
    char tmp[4096];
    coord_files_tmpdir(target_path, job_id, tmp, sizeof tmp);
    remove_flat_dir(tmp);
}
