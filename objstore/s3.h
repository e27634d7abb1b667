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
    size_t n;
    char *next_token; /* NULL on the last page */
} os_s3_list_page;

/* Lists the keys under prefix, one page of at most max_keys (0: the
 * server's default, 1000) after continuation token (NULL: the first). */
int os_s3_list_page_get(const os_s3_config *c, const char *bucket, const char *prefix,
                        const char *token, int max_keys, os_s3_list_page *page, mr_err *err);
void os_s3_list_page_free(os_s3_list_page *page);

/* Parses a ListObjectsV2 answer (libxml2) into page: 0 or MR_EPROTO. */
int os_s3_list_parse(const char *xml, size_t len, os_s3_list_page *page);

/* S3's <Error><Code> and <Message> from an error answer ("" when the body
 * holds none). */
void os_s3_error_parse(const char *xml, size_t len, char *code, size_t ccap, char *msg,
                       size_t mcap);

#endif
