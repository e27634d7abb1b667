/* inputs.c - from a read node's path to the list of byte-range splits.
 *
 * A path is a file, a folder (every regular file in it, sorted) or a glob.
 * Files are cut into splits of about split_bytes; the CSV reader aligns each
 * split to a record boundary, so the cut points need no knowledge of the
 * data.  A compressed file (gzip, zstd: by its suffix or the read's
 * compression) cannot be entered mid-stream, so it is one split, read
 * whole by one task.  Sorting keeps task numbering, and so the result,
 * deterministic.  An s3:// path (core/io.h) is listed through the object
 * store, globs in its key included, and cut into byte-range splits the
 * same way; the data root confines local paths only.
 */
#include "coordinator/coordinator.h"
#include "core/formats/decode.h"
#include "core/io.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *coord_resolve_path(const char *base_dir, const char *path)
{
    char *out;
    if (path[0] == '/' || mr_io_is_remote(path) || !base_dir || !base_dir[0])
        out = strdup(path);
    else if (asprintf(&out, "%s/%s", base_dir, path) < 0)
        out = NULL;
    return out;
}

int coord_path_under(const char *root, const char *path)
{
    if (!root || !root[0] || strcmp(root, "/") == 0)
        return 1;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return 0;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_splits(const char *file, uint64_t size, const char *etag, uint64_t split_bytes,
                      Millrace__Split ***splits, size_t *n, size_t *cap)
{
    uint64_t off = 0;
    do {
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 16;
            Millrace__Split **p = realloc(*splits, ncap * sizeof *p);
            if (!p)
                return -1;
            *splits = p;
            *cap = ncap;
        }
        Millrace__Split *s = malloc(sizeof *s);
        if (!s)
            return -1;
        millrace__split__init(s);
        s->path = strdup(file);
        if (!s->path) {
            free(s);
            return -1;
        }
        if (etag && etag[0] && !(s->etag = strdup(etag))) {
            millrace__split__free_unpacked(s, NULL);
            return -1;
        }
        s->offset = off;
        s->length = size - off < split_bytes ? size - off : split_bytes;
        s->file_size = size;
        (*splits)[(*n)++] = s;
        off += s->length;
    } while (off < size);
    return 0;
}

/* The objects an s3:// pattern names, cut into splits. */
static int resolve_remote(const char *pattern, uint64_t split_bytes, int compression,
                          Millrace__Split ***splits, size_t *nsplits, mr_err *err)
{
    char **urls;
    uint64_t *sizes;
    char **etags;
    size_t n, scap = 0;
    int rc = mr_io_list(pattern, &urls, &sizes, &etags, &n, err);
    if (rc < 0)
        return rc;
    if (n == 0)
        rc = mr_err_set(err, MR_ENOTFOUND, strpbrk(pattern, "*?[") ? "no input objects match '%s'"
                        : "input object '%s' does not exist", pattern);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t per = mr_compression_of(urls[i], compression) == MR_COMPRESSION_NONE
                           ? split_bytes : UINT64_MAX;
        if (add_splits(urls[i], sizes[i], etags[i], per, splits, nsplits, &scap) < 0)
            rc = mr_err_oom(err, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        free(urls[i]);
        free(etags[i]);
    }
    free(urls);
    free(etags);
    free(sizes);
    if (rc < 0) {
        for (size_t i = 0; i < *nsplits; i++)
            millrace__split__free_unpacked((*splits)[i], NULL);
        free(*splits);
        *splits = NULL;
        *nsplits = 0;
    }
    return rc;
}

int coord_resolve_inputs(const char *base_dir, const char *data_root, const char *pattern,
                         uint64_t split_bytes, int compression, Millrace__Split ***splits,
                         size_t *nsplits, mr_err *err)
{
    *splits = NULL;
    *nsplits = 0;
    if (mr_io_is_remote(pattern))
        return resolve_remote(pattern, split_bytes, compression, splits, nsplits, err);
    char *full = coord_resolve_path(base_dir, pattern);
    if (!full)
        return mr_err_oom(err, NULL);
    size_t flen = strlen(full);
    while (flen > 1 && full[flen - 1] == '/')
        full[--flen] = '\0'; /* "dir/" lists as "dir", without "dir//a.csv" */
    char **files = NULL;
    size_t nfiles = 0, cap = 0, scap = 0;
    int rc = 0;
    struct stat sb;
    glob_t g;
    memset(&g, 0, sizeof g);
    if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(full);
        if (!d) {
            rc = mr_err_set(err, MR_EIO, "cannot open folder '%s': %s", pattern, strerror(errno));
            goto out;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || e->d_name[0] == '_')
                continue;
            char *p;
            if (asprintf(&p, "%s/%s", full, e->d_name) < 0)
                break;
            struct stat fs;
            if (stat(p, &fs) != 0 || !S_ISREG(fs.st_mode)) {
                free(p);
                continue;
            }
            if (nfiles == cap) {
                cap = cap ? cap * 2 : 16;
                char **np = realloc(files, cap * sizeof *np);
                if (!np) {
                    free(p);
                    break;
                }
                files = np;
            }
            files[nfiles++] = p;
        }
        closedir(d);
    } else {
        int grc = glob(full, GLOB_NOSORT | GLOB_ERR, NULL, &g);
        if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
            /* the path as written, where it led, and the root it had to be
             * under: enough to see a wrong base folder or data root */
            if (strpbrk(pattern, "*?["))
                rc = mr_err_set(err, MR_ENOTFOUND, "no input files match '%s' (resolved to '%s'; "
                                "data root '%s')", pattern, full, data_root);
            else
                rc = mr_err_set(err, MR_ENOTFOUND, "input file '%s' does not exist (resolved to "
                                "'%s'; data root '%s')", pattern, full, data_root);
            goto out;
        }
        if (grc != 0) {
            rc = mr_err_set(err, MR_EIO, "cannot list '%s': %s", pattern, strerror(errno));
            goto out;
        }
        files = calloc(g.gl_pathc, sizeof *files);
        if (!files) {
            rc = mr_err_oom(err, NULL);
            goto out;
        }
        for (size_t i = 0; i < g.gl_pathc; i++) {
            /* like a folder, a wildcard skips hidden and _-prefixed files
             * (_SUCCESS, a writer's temporaries); a file named outright is
             * read whatever its name */
            const char *base = strrchr(g.gl_pathv[i], '/');
            base = base ? base + 1 : g.gl_pathv[i];
            int hidden = (base[0] == '.' || base[0] == '_') && strpbrk(pattern, "*?[");
            struct stat fs;
            if (!hidden && stat(g.gl_pathv[i], &fs) == 0 && S_ISREG(fs.st_mode))
                files[nfiles++] = strdup(g.gl_pathv[i]);
        }
    }
    if (nfiles == 0) {
        rc = mr_err_set(err, MR_ENOTFOUND, "no input files in '%s' (resolved to '%s'; data root "
                        "'%s')", pattern, full, data_root);
        goto out;
    }
    qsort(files, nfiles, sizeof *files, cmp_str);
    for (size_t i = 0; i < nfiles; i++) {
        if (!files[i]) {
            rc = mr_err_oom(err, NULL);
            goto out;
        }
        if (!coord_path_under(data_root, files[i])) {
            rc = mr_err_set(err, MR_EINVAL, "input '%s' is outside the data root", files[i]);
            goto out;
        }
        struct stat fs;
        if (stat(files[i], &fs) != 0) {
            rc = mr_err_set(err, MR_EIO, "cannot read '%s': %s", files[i], strerror(errno));
            goto out;
        }
        uint64_t per = mr_compression_of(files[i], compression) == MR_COMPRESSION_NONE
                           ? split_bytes : UINT64_MAX;
        if (add_splits(files[i], (uint64_t)fs.st_size, NULL, per, splits, nsplits, &scap) < 0) {
            rc = mr_err_oom(err, NULL);
            goto out;
        }
    }
out:
    if (rc < 0) {
        for (size_t i = 0; i < *nsplits; i++)
            millrace__split__free_unpacked((*splits)[i], NULL);
        free(*splits);
        *splits = NULL;
        *nsplits = 0;
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    globfree(&g);
    free(full);
    return rc;
}
