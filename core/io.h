/* io.h - where core reads its input files from: the local file system, or
 * an object store that a daemon plugs in for URLs of its scheme.
 *
 * core links no network library (docs/architecture.md), so the object
 * store is a table of functions (mr_io_store) that the coordinator, the
 * executors and the CLI fill in at start-up (objstore/store.h for
 * s3://).  Every reader in core opens its input as an mr_file: a local
 * path is a descriptor read with pread, a URL of the store's scheme a
 * handle whose reads are byte ranges of the object.  Listing (globs in an
 * object key) goes through the same table, so the coordinator and the DAG
 * compiler resolve s3:// inputs like local ones. */
#ifndef MR_IO_H
#define MR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct mr_io_store {
    const char *scheme; /* "s3://" */
    /* Opens the object at url: *h and its size, or a negative code with a
     * message naming the URL (MR_ENOTFOUND, MR_EIO, MR_EINVAL for access
     * denied or bad credentials). */
    int (*open)(const char *url, void **h, uint64_t *size, mr_err *err);
    /* Reads up to n bytes at off into buf: how many (0 past the end), or
     * a negative code. */
    int64_t (*pread)(void *h, void *buf, size_t n, uint64_t off, mr_err *err);
    void (*close)(void *h);
    /* The objects pattern names (a key, a key with globs, or a prefix
     * ending in '/': every object under it), sorted by URL, with their
     * sizes and, when etags is not NULL, their ETags as the listing gave
     * them ("" for none; incremental reads tell a re-uploaded object by
     * it).  Names starting with '.' or '_' are skipped unless named
     * outright.  *n may be 0.  The caller frees each URL and ETag and the
     * arrays. */
    int (*list)(const char *pattern, char ***urls, uint64_t **sizes, char ***etags, size_t *n,
                mr_err *err);
    /* Writing, for file outputs (warehouse/files.c).  Every key under the
     * prefix url (nothing skipped), sorted: */
    int (*list_all)(const char *prefix, char ***urls, uint64_t **sizes, size_t *n, mr_err *err);
    /* Uploads the local file as url (in parts when it is large). */
    int (*upload)(const char *url, const char *local_path, mr_err *err);
    /* Writes data[0, n) as url. */
    int (*put)(const char *url, const void *data, size_t n, mr_err *err);
    /* Copies from to to inside the store (same bucket). */
    int (*copy)(const char *from, const char *to, mr_err *err);
    /* Removes url (a missing object is no error). */
    int (*remove)(const char *url, mr_err *err);
} mr_io_store;

/* Plugs in the store (NULL unplugs it).  Called once at start-up, before
 * any thread reads. */
void mr_io_set_store(const mr_io_store *store);

/* Whether path is a URL of an object store ("s3://..."), plugged in or
 * not. */
bool mr_io_is_remote(const char *path);

/* A file being read: a local descriptor or a store's handle. */
typedef struct mr_file {
    int fd;
    void *h;
    const mr_io_store *store;
    uint64_t size;
    char *path;
} mr_file;

/* Opens path for reading.  0, or MR_ENOTFOUND / MR_EIO / MR_EINVAL /
 * MR_ENOTSUP (a URL with no store plugged in) with "cannot open 'path':
 * reason"; f is then closed. */
int mr_file_open(mr_file *f, const char *path, mr_err *err);

/* Reads n bytes at off, fewer only at the end of the file.  Returns how
 * many, or a negative code with a message naming the file. */
int64_t mr_file_pread(mr_file *f, void *buf, size_t n, uint64_t off, mr_err *err);

void mr_file_close(mr_file *f); /* safe twice, and on a zeroed mr_file with fd -1 */

/* The size of a regular file or an object: 0 and *size, or a negative
 * code (no message: for callers that only want a hint). */
int mr_io_size(const char *path, uint64_t *size);

/* The store's listing (mr_io_store.list); MR_ENOTSUP without a store. */
int mr_io_list(const char *pattern, char ***urls, uint64_t **sizes, char ***etags, size_t *n,
               mr_err *err);

/* The plugged-in store for url (writes call its functions directly), or
 * NULL with MR_ENOTSUP in err. */
const mr_io_store *mr_io_store_for(const char *url, mr_err *err);

#endif
