/* s3.h - a small S3 client: configuration from the standard AWS
 * environment, signed requests with retries, ranged GET, HEAD and
 * ListObjectsV2.
 *
 * Addressing is path-style (ENDPOINT/bucket/key), which every
 * S3-compatible store takes.  Each request is signed with SigV4: by
 * libcurl (CURLOPT_AWS_SIGV4) when it has no query string, by
 * objstore/sigv4.c when it has one (see there why).  Transient failures
 * (a connection that fails, HTTP 5xx, 429, 503 SlowDown) are retried up to
 * AWS_MAX_ATTEMPTS times (default 5) with exponential back-off and full
 * jitter: attempt k sleeps a random time in [0, min(5 s, 100 ms * 2^k)).
 * Errors name the URL (s3://bucket/key), the HTTP status and S3's error
 * code and say what to check; they never hold the secret key, nor the
 * session token. */
#ifndef MR_OBJSTORE_S3_H
#define MR_OBJSTORE_S3_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct os_s3_config {
    char *endpoint; /* "https://s3.us-east-1.amazonaws.com", no trailing '/' */
    char *host;     /* the endpoint's authority, as the Host header says it */
    char *region;
    char *key_id;
    char *secret;
    char *token;    /* NULL without a session token */
    int max_attempts;
} os_s3_config;

/* Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_REGION (or AWS_DEFAULT_REGION; default us-east-1), AWS_ENDPOINT_URL
 * (default the region's AWS endpoint) and AWS_MAX_ATTEMPTS.  Missing
 * credentials are not an error here: the first request says so. */
int os_s3_config_from_env(os_s3_config *c, mr_err *err);
void os_s3_config_free(os_s3_config *c);

/* Once per process, before threads: libcurl's global set-up. */
void os_s3_global_init(void);

/* The size of bucket/key (HEAD). */
int os_s3_head(const os_s3_config *c, const char *bucket, const char *key, uint64_t *size,
               mr_err *err);

/* Reads bytes [off, off+n) of bucket/key into buf (ranged GET): how many
 * (fewer at the end of the object), or a negative code. */
int64_t os_s3_get_range(const os_s3_config *c, const char *bucket, const char *key, uint64_t off,
                        size_t n, void *buf, mr_err *err);

/* One page of ListObjectsV2. */
typedef struct os_s3_list_page {
    char **keys;
    uint64_t *sizes;
    char **etags;     /* each key's ETag as listed (quotes and all), "" when none */
    size_t n;
    char *next_token; /* NULL on the last page */
} os_s3_list_page;

/* Lists the keys under prefix, one page of at most max_keys (0: the
 * server's default, 1000) after continuation token (NULL: the first). */
int os_s3_list_page_get(const os_s3_config *c, const char *bucket, const char *prefix,
                        const char *token, int max_keys, os_s3_list_page *page, mr_err *err);
void os_s3_list_page_free(os_s3_list_page *page);

/* Writes data[0, n) as bucket/key in one PUT. */
int os_s3_put(const os_s3_config *c, const char *bucket, const char *key, const void *data,
              size_t n, mr_err *err);
/* Deletes bucket/key (a missing key is no error). */
int os_s3_delete(const os_s3_config *c, const char *bucket, const char *key, mr_err *err);
/* Copies bucket/from_key to bucket/key inside the store (CopyObject; up
 * to 5 GB, S3's limit for one copy). */
int os_s3_copy(const os_s3_config *c, const char *bucket, const char *from_key, const char *key,
               mr_err *err);
/* A multipart upload: begin (its id, malloc'd), parts numbered from 1
 * (each at least 5 MiB but the last; the ETag comes back), then end:
 * commit lists the parts' ETags, !commit aborts and frees the parts. */
int os_s3_multipart_begin(const os_s3_config *c, const char *bucket, const char *key,
                          char **upload_id, mr_err *err);
int os_s3_multipart_part(const os_s3_config *c, const char *bucket, const char *key,
                         const char *upload_id, int part, const void *data, size_t n,
                         char etag[128], mr_err *err);
int os_s3_multipart_end(const os_s3_config *c, const char *bucket, const char *key,
                        const char *upload_id, int nparts, char (*etags)[128], int commit,
                        mr_err *err);

/* The text of the first element called name anywhere in an XML answer
 * (malloc'd), or NULL. */
char *os_s3_xml_text(const char *xml, size_t len, const char *name);

/* Parses a ListObjectsV2 answer (libxml2) into page: 0 or MR_EPROTO. */
int os_s3_list_parse(const char *xml, size_t len, os_s3_list_page *page);

/* S3's <Error><Code> and <Message> from an error answer ("" when the body
 * holds none). */
void os_s3_error_parse(const char *xml, size_t len, char *code, size_t ccap, char *msg,
                       size_t mcap);

#endif
