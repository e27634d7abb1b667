/* io.c - input files as local descriptors or object store handles, behind
 * one pread (core/io.h). */
#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const mr_io_store *io_store;

void mr_io_set_store(const mr_io_store *store)
{
    io_store = store;
}

bool mr_io_is_remote(const char *path)
{
    return path && strncmp(path, "s3://", 5) == 0;
}

static const mr_io_store *store_for(const char *path)
{
    if (!mr_io_is_remote(path))
        return NULL;
    return io_store && strncmp(path, io_store->scheme, strlen(io_store->scheme)) == 0 ? io_store
                                                                                      : NULL;
}

int mr_file_open(mr_file *f, const char *path, mr_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!(f->path = strdup(path)))
        return mr_err_set(err, MR_ENOMEM, "out of memory opening '%s'", path);
    if (mr_io_is_remote(path)) {
        const mr_io_store *st = store_for(path);
        if (!st) {
            mr_file_close(f);
            return mr_err_set(err, MR_ENOTSUP, "cannot open '%s': no object store is "
                              "configured for this URL", path);
        }
        int rc = st->open(path, &f->h, &f->size, err);
        if (rc < 0) {
            mr_file_close(f);
            return rc;
        }
        f->store = st;
        return 0;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (f->fd < 0 || fstat(f->fd, &sb) < 0) {
        int e = errno;
        mr_file_close(f);
        return mr_err_set(err, e == ENOENT ? MR_ENOTFOUND : MR_EIO, "cannot open '%s': %s", path,
                          strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        mr_file_close(f);
        return mr_err_set(err, MR_EIO, "cannot open '%s': not a regular file", path);
    }
    f->size = (uint64_t)sb.st_size;
    return 0;
}

int64_t mr_file_pread(mr_file *f, void *buf, size_t n, uint64_t off, mr_err *err)
{
    size_t done = 0;
    while (done < n) {
        int64_t got;
        if (f->store) {
            got = f->store->pread(f->h, (char *)buf + done, n - done, off + done, err);
            if (got < 0)
                return got;
        } else {
            ssize_t r = pread(f->fd, (char *)buf + done, n - done, (off_t)(off + done));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return mr_err_set(err, MR_EIO, "%s: read failed: %s", f->path, strerror(errno));
            got = r;
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (int64_t)done;
}

void mr_file_close(mr_file *f)
{
    if (f->store && f->h)
        f->store->close(f->h);
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    f->h = NULL;
    f->store = NULL;
    f->path = NULL;
    f->fd = -1;
}

int mr_io_size(const char *path, uint64_t *size)
{
    if (mr_io_is_remote(path)) {
        mr_file f;
        mr_err e;
        mr_err_clear(&e);
        int rc = mr_file_open(&f, path, &e);
        if (rc < 0)
            return rc;
        *size = f.size;
        mr_file_close(&f);
        return 0;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return MR_ENOTFOUND;
    *size = (uint64_t)st.st_size;
    return 0;
}

int mr_io_list(const char *pattern, char ***urls, uint64_t **sizes, char ***etags, size_t *n,
               mr_err *err)
{
    *urls = NULL;
    *sizes = NULL;
    if (etags)
        *etags = NULL;
    *n = 0;
    const mr_io_store *st = store_for(pattern);
    if (!st)
        return mr_err_set(err, MR_ENOTSUP, "cannot list '%s': no object store is configured for "
                          "this URL", pattern);
    return st->list(pattern, urls, sizes, etags, n, err);
}

const mr_io_store *mr_io_store_for(const char *url, mr_err *err)
{
    const mr_io_store *st = store_for(url);
    if (!st)
        mr_err_set(err, MR_ENOTSUP, "'%s': no object store is configured for this URL", url);
    return st;
}
