/* store.c - the s3:// object store behind core/io.h.
 *
 * Opening an object asks its size with a one-byte ranged GET.  Reads are
 * ranged GETs; a small read (the line readers' buffer refills, a Parquet
 * footer's tail) fetches a block that the next small reads are served
 * from.  The block starts at READ_MIN bytes and doubles, up to READ_MAX,
 * while the reads go on where the last block ended, so a scan costs about
 * size/16 MiB requests (AWS suggests ranges of 8-16 MB) while a footer or
 * a schema sample fetches little.  Listing turns a key with globs into the
 * longest prefix before the first wildcard, lists it page by page
 * (ListObjectsV2 with continuation tokens) and keeps the keys fnmatch
 * accepts ('*' does not cross '/'), as the local glob does. */
#include "objstore/store.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "objstore/s3.h"

#define READ_MIN (1u << 20)
#define READ_MAX (16u << 20)

static os_s3_config cfg;

typedef struct s3_handle {
    char *bucket, *key;
    uint64_t size;
    char *cache;
    size_t cache_cap;
    uint64_t cache_off;
    size_t cache_len;
    size_t block;     /* the block's size: READ_MIN, doubling to READ_MAX */
    uint64_t next_off; /* where the last read ended */
} s3_handle;

int os_url_split(const char *url, char **bucket, char **key, mr_err *err)
{
    *bucket = *key = NULL;
    if (strncmp(url, "s3://", 5) != 0)
        return mr_err_set(err, MR_EINVAL, "'%s' is not an s3:// URL", url);
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen == 0)
        return mr_err_set(err, MR_EINVAL, "'%s' names no bucket (s3://bucket/key)", url);
    *bucket = strndup(b, blen);
    *key = strdup(slash ? slash + 1 : "");
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return mr_err_oom(err, NULL);
    }
    return 0;
}

static void handle_free(s3_handle *h)
{
    if (!h)
        return;
    free(h->bucket);
    free(h->key);
    free(h->cache);
    free(h);
}

static int st_open(const char *url, void **out, uint64_t *size, mr_err *err)
{
    *out = NULL;
    s3_handle *h = calloc(1, sizeof *h);
    if (!h)
        return mr_err_oom(err, NULL);
    int rc = os_url_split(url, &h->bucket, &h->key, err);
    if (rc == 0 && !h->key[0])
        rc = mr_err_set(err, MR_EINVAL, "cannot open '%s': it names a bucket, not an object", url);
    if (rc == 0)
        rc = os_s3_head(&cfg, h->bucket, h->key, &h->size, err);
    if (rc < 0) {
        handle_free(h);
        return rc;
    }
    *size = h->size;
    *out = h;
    return 0;
}

static int64_t st_pread(void *hp, void *buf, size_t n, uint64_t off, mr_err *err)
{
    s3_handle *h = hp;
    if (off >= h->size || n == 0)
        return 0;
    if (n > h->size - off)
        n = (size_t)(h->size - off);
    if (h->cache && off >= h->cache_off && off + n <= h->cache_off + h->cache_len) {
        memcpy(buf, h->cache + (off - h->cache_off), n);
        h->next_off = off + n;
        return (int64_t)n;
    }
    int sequential = h->block && off == h->next_off;
    h->block = !h->block ? READ_MIN
               : sequential ? (h->block * 2 > READ_MAX ? READ_MAX : h->block * 2)
                            : READ_MIN;
    if (n >= h->block) {
        int64_t got = os_s3_get_range(&cfg, h->bucket, h->key, off, n, buf, err);
        if (got > 0)
            h->next_off = off + (uint64_t)got;
        return got;
    }
    if (h->cache_cap < h->block) {
        char *nc = realloc(h->cache, h->block);
        if (!nc)
            return mr_err_oom(err, NULL);
        h->cache = nc;
        h->cache_cap = h->block;
    }
    size_t want = h->size - off < h->block ? (size_t)(h->size - off) : h->block;
    int64_t got = os_s3_get_range(&cfg, h->bucket, h->key, off, want, h->cache, err);
    if (got < 0) {
        h->cache_len = 0;
        return got;
    }
    h->cache_off = off;
    h->cache_len = (size_t)got;
    size_t k = (size_t)got < n ? (size_t)got : n;
    memcpy(buf, h->cache, k);
    h->next_off = off + k;
    return (int64_t)k;
}

static void st_close(void *h)
{
    handle_free(h);
}

/* ---- listing -------------------------------------------------------------- */

typedef struct found {
    char **urls;
    uint64_t *sizes;
    char **etags;
    size_t n, cap;
} found;

static void found_free(found *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->urls[i]);
        free(f->etags[i]);
    }
    free(f->urls);
    free(f->sizes);
    free(f->etags);
}

static int found_add(found *f, const char *bucket, const char *key, uint64_t size,
                     const char *etag)
{
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 64;
        char **nu = realloc(f->urls, nc * sizeof *nu);
        if (!nu)
            return MR_ENOMEM;
        f->urls = nu;
        uint64_t *ns = realloc(f->sizes, nc * sizeof *ns);
        if (!ns)
            return MR_ENOMEM;
        f->sizes = ns;
        char **ne = realloc(f->etags, nc * sizeof *ne);
        if (!ne)
            return MR_ENOMEM;
        f->etags = ne;
        f->cap = nc;
    }
    char *e = strdup(etag ? etag : "");
    if (!e || asprintf(&f->urls[f->n], "s3://%s/%s", bucket, key) < 0) {
        free(e);
        return MR_ENOMEM;
    }
    f->etags[f->n] = e;
    f->sizes[f->n++] = size;
    return 0;
}

static int hidden(const char *key)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    return base[0] == '.' || base[0] == '_';
}

enum { MODE_EXACT, MODE_FOLDER, MODE_GLOB, MODE_ALL };

/* Lists prefix page by page, adding what mode keeps. */
static int list_into(const char *bucket, const char *prefix, int mode, const char *pattern,
                     found *f, mr_err *err)
{
    const char *mk = getenv("MILLRACE_S3_LIST_MAX_KEYS");
    int max_keys = mk ? atoi(mk) : 0;
    char *token = NULL;
    size_t plen = strlen(prefix);
    int rc = 0;
    do {
        os_s3_list_page page;
        rc = os_s3_list_page_get(&cfg, bucket, prefix, token, max_keys, &page, err);
        free(token);
        token = NULL;
        if (rc < 0)
            break;
        for (size_t i = 0; i < page.n && rc == 0; i++) {
            const char *k = page.keys[i];
            int keep;
            if (mode == MODE_EXACT)
                keep = strcmp(k, prefix) == 0;
            else if (mode == MODE_ALL)
                keep = 1;
            else if (mode == MODE_FOLDER)
                keep = strlen(k) > plen && !strchr(k + plen, '/') && !hidden(k);
            else
                keep = fnmatch(pattern, k, FNM_PATHNAME) == 0 && !hidden(k);
            if (keep && (rc = found_add(f, bucket, k, page.sizes[i], page.etags[i])) < 0)
                mr_err_oom(err, NULL);
        }
        token = page.next_token;
        page.next_token = NULL;
        os_s3_list_page_free(&page);
    } while (rc == 0 && token);
    free(token);
    return rc;
}

static int st_list(const char *pattern, char ***urls, uint64_t **sizes, char ***etags, size_t *n,
                   mr_err *err)
{
    char *bucket, *key;
    int rc = os_url_split(pattern, &bucket, &key, err);
    if (rc < 0)
        return rc;
    found f = {0};
    size_t glob_at = strcspn(key, "*?[");
    if (key[glob_at]) {
        char *prefix = strndup(key, glob_at);
        rc = prefix ? list_into(bucket, prefix, MODE_GLOB, key, &f, err) : mr_err_oom(err, NULL);
        free(prefix);
    } else if (!key[0] || key[strlen(key) - 1] == '/') {
        rc = list_into(bucket, key, MODE_FOLDER, NULL, &f, err);
    } else {
        rc = list_into(bucket, key, MODE_EXACT, NULL, &f, err);
        if (rc == 0 && f.n == 0) { /* not an object: a folder of them? */
            char *dir;
            if (asprintf(&dir, "%s/", key) < 0)
                rc = mr_err_oom(err, NULL);
            else {
                rc = list_into(bucket, dir, MODE_FOLDER, NULL, &f, err);
                free(dir);
            }
        }
    }
    free(bucket);
    free(key);
    if (rc < 0 && rc != MR_ENOMEM)
        mr_err_prefix(err, "cannot list '%s'", pattern);
    if (rc < 0) {
        found_free(&f);
        return rc;
    }
    /* ListObjectsV2 lists in UTF-8 byte order, which is strcmp's: the
     * URLs are sorted as local files are */
    *urls = f.urls;
    *sizes = f.sizes;
    if (etags)
        *etags = f.etags;
    else {
        for (size_t i = 0; i < f.n; i++)
            free(f.etags[i]);
        free(f.etags);
    }
    *n = f.n;
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static int st_list_all(const char *prefix, char ***urls, uint64_t **sizes, size_t *n, mr_err *err)
{
    *urls = NULL;
    *sizes = NULL;
    *n = 0;
    char *bucket, *key;
    int rc = os_url_split(prefix, &bucket, &key, err);
    if (rc < 0)
        return rc;
    found f = {0};
    rc = list_into(bucket, key, MODE_ALL, NULL, &f, err);
    free(bucket);
    free(key);
    if (rc < 0) {
        found_free(&f);
        return rc;
    }
    for (size_t i = 0; i < f.n; i++)
        free(f.etags[i]);
    free(f.etags);
    *urls = f.urls;
    *sizes = f.sizes;
    *n = f.n;
    return 0;
}

static int st_put(const char *url, const void *data, size_t n, mr_err *err)
{
    char *bucket, *key;
    int rc = os_url_split(url, &bucket, &key, err);
    if (rc == 0)
        rc = os_s3_put(&cfg, bucket, key, data, n, err);
    free(bucket);
    free(key);
    return rc;
}

static int st_remove(const char *url, mr_err *err)
{
    char *bucket, *key;
    int rc = os_url_split(url, &bucket, &key, err);
    if (rc == 0)
        rc = os_s3_delete(&cfg, bucket, key, err);
    free(bucket);
    free(key);
    return rc;
}

static int st_copy(const char *from, const char *to, mr_err *err)
{
    char *fb, *fk, *tb = NULL, *tk = NULL;
    int rc = os_url_split(from, &fb, &fk, err);
    if (rc < 0)
        return rc;
    if ((rc = os_url_split(to, &tb, &tk, err)) == 0) {
        if (strcmp(fb, tb) != 0)
            rc = mr_err_set(err, MR_ENOTSUP, "cannot copy '%s' to another bucket", from);
        else
            rc = os_s3_copy(&cfg, tb, fk, tk, err);
    }
    free(fb);
    free(fk);
    free(tb);
    free(tk);
    return rc;
}

/* The size of an upload's parts: MILLRACE_S3_PART_BYTES (at least 5 MiB,
 * S3's smallest part), default 16 MiB.  A file no larger is one PUT. */
static size_t part_bytes(void)
{
    const char *v = getenv("MILLRACE_S3_PART_BYTES");
    long long n = v ? atoll(v) : 0;
    if (n < (5LL << 20))
        n = v ? (5LL << 20) : (16LL << 20);
    return (size_t)n;
}

static int st_upload(const char *url, const char *local_path, mr_err *err)
{
    char *bucket, *key;
    int rc = os_url_split(url, &bucket, &key, err);
    if (rc < 0)
        return rc;
    size_t pb = part_bytes();
    char *buf = malloc(pb), *upload_id = NULL;
    char(*etags)[128] = NULL;
    int nparts = 0;
    FILE *fp = fopen(local_path, "rb");
    if (!buf || !fp) {
        rc = !buf ? mr_err_oom(err, NULL)
                  : mr_err_set(err, MR_EIO, "cannot read the staged part '%s'", local_path);
        goto out;
    }
    size_t got = fread(buf, 1, pb, fp);
    if (ferror(fp)) {
        rc = mr_err_set(err, MR_EIO, "cannot read the staged part '%s'", local_path);
        goto out;
    }
    if (got < pb) { /* small: one PUT */
        rc = os_s3_put(&cfg, bucket, key, buf, got, err);
        goto out;
    }
    if ((rc = os_s3_multipart_begin(&cfg, bucket, key, &upload_id, err)) < 0)
        goto out;
    while (got > 0 && rc == 0) {
        char(*ne)[128] = realloc(etags, (size_t)(nparts + 1) * sizeof *etags);
        if (!ne) {
            rc = mr_err_oom(err, NULL);
            break;
        }
        etags = ne;
        rc = os_s3_multipart_part(&cfg, bucket, key, upload_id, nparts + 1, buf, got,
                                  etags[nparts], err);
        if (rc == 0)
            nparts++;
        got = rc == 0 ? fread(buf, 1, pb, fp) : 0;
        if (rc == 0 && ferror(fp))
            rc = mr_err_set(err, MR_EIO, "cannot read the staged part '%s'", local_path);
    }
    if (rc == 0) {
        rc = os_s3_multipart_end(&cfg, bucket, key, upload_id, nparts, etags, 1, err);
    } else {
        mr_err aerr; /* abort, so no parts are left stored; keep the first error */
        mr_err_clear(&aerr);
        os_s3_multipart_end(&cfg, bucket, key, upload_id, nparts, etags, 0, &aerr);
    }
out:
    if (fp)
        fclose(fp);
    free(buf);
    free(etags);
    free(upload_id);
    free(bucket);
    free(key);
    return rc;
}

static const mr_io_store s3_store = {
    .scheme = "s3://",
    .open = st_open,
    .pread = st_pread,
    .close = st_close,
    .list = st_list,
    .list_all = st_list_all,
    .upload = st_upload,
    .put = st_put,
    .copy = st_copy,
    .remove = st_remove,
};

int os_store_install(mr_err *err)
{
    os_s3_global_init();
    int rc = os_s3_config_from_env(&cfg, err);
    if (rc < 0)
        return rc;
    mr_io_set_store(&s3_store);
    return 0;
}
