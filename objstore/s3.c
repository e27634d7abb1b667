/* s3.c - S3 requests: signing (libcurl or objstore/sigv4.c), retries with
 * full-jitter back-off, and errors that name the object, never the
 * secret. */
#include "objstore/s3.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objstore/sigv4.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define BACKOFF_BASE_MS 100
#define BACKOFF_CAP_MS 5000

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? strdup(v) : NULL;
}

void os_s3_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int os_s3_config_from_env(os_s3_config *c, mr_err *err)
{
    memset(c, 0, sizeof *c);
    c->key_id = dup_env("AWS_ACCESS_KEY_ID");
    c->secret = dup_env("AWS_SECRET_ACCESS_KEY");
    c->token = dup_env("AWS_SESSION_TOKEN");
    c->region = dup_env("AWS_REGION");
    if (!c->region)
        c->region = dup_env("AWS_DEFAULT_REGION");
    if (!c->region)
        c->region = strdup("us-east-1");
    c->endpoint = dup_env("AWS_ENDPOINT_URL_S3");
    if (!c->endpoint)
        c->endpoint = dup_env("AWS_ENDPOINT_URL");
    if (!c->endpoint && c->region && asprintf(&c->endpoint, "https://s3.%s.amazonaws.com",
                                              c->region) < 0)
        c->endpoint = NULL;
    const char *ma = getenv("AWS_MAX_ATTEMPTS");
    c->max_attempts = ma && atoi(ma) > 0 ? atoi(ma) : 5;
    if (!c->region || !c->endpoint) {
        os_s3_config_free(c);
        return mr_err_oom(err, NULL);
    }
    size_t n = strlen(c->endpoint);
    while (n > 0 && c->endpoint[n - 1] == '/')
        c->endpoint[--n] = '\0';
    const char *h = strstr(c->endpoint, "://");
    if (!h || !h[3]) {
        int rc = mr_err_set(err, MR_EINVAL, "AWS_ENDPOINT_URL '%s' is not a URL like "
                            "http://host:port", c->endpoint);
        os_s3_config_free(c);
        return rc;
    }
    h += 3;
    const char *slash = strchr(h, '/');
    if (slash && slash[1]) {
        int rc = mr_err_set(err, MR_EINVAL, "AWS_ENDPOINT_URL '%s' has a path: give the "
                            "store's root (http://host:port); buckets go in s3:// paths",
                            c->endpoint);
        os_s3_config_free(c);
        return rc;
    }
    c->host = slash ? strndup(h, (size_t)(slash - h)) : strdup(h);
    if (!c->host) {
        os_s3_config_free(c);
        return mr_err_oom(err, NULL);
    }
    return 0;
}

void os_s3_config_free(os_s3_config *c)
{
    if (c->secret)
        memset(c->secret, 0, strlen(c->secret));
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->endpoint);
    free(c->host);
    free(c->region);
    free(c->key_id);
    free(c->secret);
    free(c->token);
    memset(c, 0, sizeof *c);
}

/* ---- one request ---------------------------------------------------------- */

typedef struct os_buf {
    char *p;
    size_t len, cap;
    size_t limit; /* answers past this are refused */
} os_buf;

static size_t on_body(char *ptr, size_t size, size_t nm, void *ud)
{
    os_buf *b = ud;
    size_t n = size * nm;
    if (b->len + n > b->limit)
        return 0; /* curl fails the transfer */
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

typedef struct os_hdrs {
    uint64_t total; /* from Content-Range: bytes a-b/TOTAL */
    int has_total;
    char etag[128]; /* ETag, quotes kept (a multipart upload lists them back) */
} os_hdrs;

static size_t on_header(char *ptr, size_t size, size_t nm, void *ud)
{
    os_hdrs *h = ud;
    size_t n = size * nm;
    if (n > 14 && strncasecmp(ptr, "content-range:", 14) == 0) {
        const char *slash = memchr(ptr, '/', n);
        if (slash && slash[1] >= '0' && slash[1] <= '9') {
            h->total = strtoull(slash + 1, NULL, 10);
            h->has_total = 1;
        }
    } else if (n > 5 && strncasecmp(ptr, "etag:", 5) == 0) {
        size_t i = 5, e = n;
        while (i < e && (ptr[i] == ' ' || ptr[i] == '\t'))
            i++;
        while (e > i && (ptr[e - 1] == '\r' || ptr[e - 1] == '\n' || ptr[e - 1] == ' '))
            e--;
        if (e - i < sizeof h->etag)
            snprintf(h->etag, sizeof h->etag, "%.*s", (int)(e - i), ptr + i);
    }
    return n;
}

typedef struct os_req {
    const char *method;
    const char *bucket;
    const char *key;   /* NULL: the bucket itself */
    const char *query; /* canonical: sorted, encoded; "" for none */
    const char *range; /* "bytes=a-b" or NULL */
    size_t limit;      /* largest answer body accepted */
    const char *shown; /* the key or prefix messages name, when key is NULL */
    const char *body;  /* what a PUT or POST sends (NULL: nothing) */
    size_t body_len;
    const char *xhdr;  /* one more header, "name: value" (x-amz-copy-source) */
    char body_sha[65]; /* the body's SHA-256, filled by s3_call */
} os_req;

typedef struct os_resp {
    long status;
    os_buf body;
    os_hdrs hdrs;
} os_resp;

/* What the request names, for messages: s3://bucket/key or
 * s3://bucket/prefix*. */
static void req_name(const os_req *r, char *out, size_t cap)
{
    snprintf(out, cap, "s3://%s/%s", r->bucket, r->key ? r->key : r->shown ? r->shown : "");
}

static unsigned backoff_ms(int attempt)
{
    static __thread unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)pthread_self() ^ (unsigned)getpid();
    unsigned long ceil = (unsigned long)BACKOFF_BASE_MS << (attempt < 16 ? attempt : 16);
    if (ceil > BACKOFF_CAP_MS)
        ceil = BACKOFF_CAP_MS;
    return (unsigned)((unsigned long)rand_r(&seed) % ceil); /* full jitter */
}

/* One attempt.  Returns the curl code; fills resp. */
static CURLcode attempt_once(const os_s3_config *c, const os_req *r, os_resp *resp, char *cerr)
{
    CURLcode cc = CURLE_OUT_OF_MEMORY;
    struct curl_slist *hl = NULL;
    char *path = NULL, *url = NULL;
    size_t klen = r->key ? strlen(r->key) : 0;
    size_t pcap = strlen(r->bucket) * 3 + klen * 3 + 4;
    CURL *e = curl_easy_init();
    if (!e || !(path = malloc(pcap)))
        goto out;
    long o = os_uri_encode(r->bucket, strlen(r->bucket), 0, path + 1, pcap - 1);
    path[0] = '/';
    if (o < 0)
        goto out;
    if (r->key) {
        path[o + 1] = '/';
        if (os_uri_encode(r->key, klen, 1, path + o + 2, pcap - (size_t)o - 2) < 0)
            goto out;
    }
    if (asprintf(&url, "%s%s%s%s", c->endpoint, path, r->query[0] ? "?" : "", r->query) < 0) {
        url = NULL;
        goto out;
    }
    char amz_date[20];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
    char line[1024];
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", r->body_sha);
    hl = curl_slist_append(hl, line);
    /* libcurl signs a GET or DELETE without a query string rightly; the
     * rest millrace signs (objstore/sigv4.h says why) */
    int curl_signs = !r->query[0] && (strcmp(r->method, "GET") == 0 ||
                                      strcmp(r->method, "DELETE") == 0);
    if (!curl_signs) {
        /* no 100-continue round trip, no form content type (libcurl 7.88
         * would sign these emptied headers, never sent, so only here) */
        hl = curl_slist_append(hl, "Expect:");
        hl = curl_slist_append(hl, "Content-Type:");
    }
    if (r->xhdr)
        hl = curl_slist_append(hl, r->xhdr);
    if (r->range) {
        snprintf(line, sizeof line, "Range: %s", r->range);
        hl = curl_slist_append(hl, line);
    }
    if (c->token) {
        char *t;
        if (asprintf(&t, "x-amz-security-token: %s", c->token) < 0)
            goto out;
        hl = curl_slist_append(hl, t);
        memset(t, 0, strlen(t));
        free(t);
    }
    if (curl_signs) {
        char prov[96];
        snprintf(prov, sizeof prov, "aws:amz:%s:s3", c->region);
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, prov);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->key_id ? c->key_id : "");
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret ? c->secret : "");
    } else {
        os_sig_header sh[5];
        size_t nh = 0;
        sh[nh++] = (os_sig_header){"host", c->host};
        sh[nh++] = (os_sig_header){"x-amz-content-sha256", r->body_sha};
        sh[nh++] = (os_sig_header){"x-amz-date", amz_date};
        if (c->token)
            sh[nh++] = (os_sig_header){"x-amz-security-token", c->token};
        if (r->xhdr && strncmp(r->xhdr, "x-amz-copy-source: ", 19) == 0) {
            /* sorted between x-amz-content-sha256 and x-amz-date */
            memmove(sh + 3, sh + 2, (nh - 2) * sizeof *sh);
            sh[2] = (os_sig_header){"x-amz-copy-source", r->xhdr + 19};
            nh++;
        }
        char auth[900];
        if (os_sigv4_authorization(r->method, path, r->query, sh, nh, r->body_sha, amz_date,
                                   c->region, c->key_id ? c->key_id : "",
                                   c->secret ? c->secret : "", auth, sizeof auth) < 0)
            goto out;
        snprintf(line, sizeof line, "Authorization: %s", auth);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "x-amz-date: %s", amz_date);
        hl = curl_slist_append(hl, line);
        snprintf(line, sizeof line, "Host: %s", c->host);
        hl = curl_slist_append(hl, line);
    }
    if (!hl)
        goto out;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &resp->body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &resp->hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    if (strcmp(r->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->body || strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    }
    cerr[0] = '\0';
    cc = curl_easy_perform(e);
    if (cc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc != CURLE_OK && !cerr[0])
        snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
out:
    curl_slist_free_all(hl);
    free(url);
    free(path);
    if (e)
        curl_easy_cleanup(e);
    return cc;
}

static int retryable_status(long s)
{
    return s >= 500 || s == 429;
}

/* Runs r with retries.  0 with resp (a 2xx status), or a negative code
 * with a message naming the object. */
static int s3_call(const os_s3_config *c, os_req *r, os_resp *resp, mr_err *err)
{
    char name[1200], cerr[CURL_ERROR_SIZE];
    if (r->body)
        os_sha256_hex(r->body, r->body_len, r->body_sha);
    else
        snprintf(r->body_sha, sizeof r->body_sha, "%s", EMPTY_SHA256);
    req_name(r, name, sizeof name);
    for (int attempt = 0;; attempt++) {
        free(resp->body.p);
        memset(resp, 0, sizeof *resp);
        resp->body.limit = r->limit;
        CURLcode cc = attempt_once(c, r, resp, cerr);
        if (cc == CURLE_OUT_OF_MEMORY)
            return mr_err_oom(err, NULL);
        int again = cc != CURLE_OK || retryable_status(resp->status);
        if (!again)
            break;
        if (attempt + 1 >= c->max_attempts) {
            if (cc != CURLE_OK)
                return mr_err_set(err, MR_EIO, "%s: cannot reach the S3 endpoint '%s' (%s; "
                                  "%d attempts)", name, c->endpoint, cerr, attempt + 1);
            char code[128], msg[256];
            os_s3_error_parse(resp->body.p, resp->body.len, code, sizeof code, msg, sizeof msg);
            return mr_err_set(err, MR_EIO, "%s: the S3 store kept failing: HTTP %ld%s%s%s%s "
                              "(%d attempts)", name, resp->status, code[0] ? " " : "", code,
                              msg[0] ? ": " : "", msg, attempt + 1);
        }
        usleep(backoff_ms(attempt) * 1000u);
    }
    char code[128], msg[256];
    if (resp->status >= 200 && resp->status < 300) {
        /* CopyObject and CompleteMultipartUpload may answer 200 and fail in
         * the body */
        if (strcmp(r->method, "GET") == 0 || !resp->body.len)
            return 0;
        os_s3_error_parse(resp->body.p, resp->body.len, code, sizeof code, msg, sizeof msg);
        if (!code[0])
            return 0;
        return mr_err_set(err, MR_EIO, "%s: the store failed the %s (%s)", name, r->method, code);
    }
    os_s3_error_parse(resp->body.p, resp->body.len, code, sizeof code, msg, sizeof msg);
    const char *hint = "";
    int rc = MR_EIO;
    if (resp->status == 404) {
        rc = MR_ENOTFOUND;
        hint = strcmp(code, "NoSuchBucket") == 0 ? "the bucket does not exist"
                                                 : "no such object";
    } else if (resp->status == 403 || resp->status == 401) {
        rc = MR_EINVAL;
        if (strcmp(code, "SignatureDoesNotMatch") == 0)
            hint = "bad credentials: the signature does not match (check AWS_SECRET_ACCESS_KEY)";
        else if (strcmp(code, "InvalidAccessKeyId") == 0)
            hint = "bad credentials: the access key id is not known (check AWS_ACCESS_KEY_ID)";
        else if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0)
            hint = "bad credentials: the session token is not valid (check AWS_SESSION_TOKEN)";
        else if (!c->key_id || !c->secret)
            hint = "access denied: no credentials (set AWS_ACCESS_KEY_ID and "
                   "AWS_SECRET_ACCESS_KEY)";
        else
            hint = "access denied";
    }
    return mr_err_set(err, rc, "%s: %s%s(HTTP %ld%s%s)", name, hint, hint[0] ? " " : "",
                      resp->status, code[0] ? " " : "", code);
    (void)msg;
}

/* ---- operations -------------------------------------------------------------- */

int os_s3_head(const os_s3_config *c, const char *bucket, const char *key, uint64_t *size,
               mr_err *err)
{
    /* A one-byte ranged GET rather than HEAD: its answer has the size
     * (Content-Range) and, on failure, S3's error body to explain it. */
    os_req r = {"GET", bucket, key, "", "bytes=0-0", 1 << 20, NULL, NULL, 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    if (rc == 0) {
        if (resp.status == 206 && resp.hdrs.has_total)
            *size = resp.hdrs.total;
        else
            *size = resp.body.len; /* 200: the whole (tiny) object */
    } else if (err->code == MR_EIO && strstr(err->msg, "HTTP 416")) {
        *size = 0; /* an empty object has no byte 0 */
        mr_err_clear(err);
        rc = 0;
    }
    free(resp.body.p);
    return rc;
}

int64_t os_s3_get_range(const os_s3_config *c, const char *bucket, const char *key, uint64_t off,
                        size_t n, void *buf, mr_err *err)
{
    if (n == 0)
        return 0;
    char range[64];
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + n - 1));
    os_req r = {"GET", bucket, key, "", range, n + (64u << 10), NULL, NULL, 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    if (rc < 0) {
        free(resp.body.p);
        if (strstr(err->msg, "HTTP 416")) { /* past the end */
            mr_err_clear(err);
            return 0;
        }
        return rc;
    }
    int64_t got;
    if (resp.status == 206) {
        got = resp.body.len > n ? (int64_t)n : (int64_t)resp.body.len;
        memcpy(buf, resp.body.p, (size_t)got);
    } else if (off < resp.body.len) { /* 200: a store that ignored Range */
        got = resp.body.len - off > n ? (int64_t)n : (int64_t)(resp.body.len - off);
        memcpy(buf, resp.body.p + off, (size_t)got);
    } else {
        got = 0;
    }
    free(resp.body.p);
    return got;
}

int os_s3_list_page_get(const os_s3_config *c, const char *bucket, const char *prefix,
                        const char *token, int max_keys, os_s3_list_page *page, mr_err *err)
{
    memset(page, 0, sizeof *page);
    size_t plen = strlen(prefix), tlen = token ? strlen(token) : 0;
    char *ep = malloc(plen * 3 + 1), *et = malloc(tlen * 3 + 1), *q = NULL;
    if (!ep || !et || os_uri_encode(prefix, plen, 0, ep, plen * 3 + 1) < 0 ||
        os_uri_encode(token ? token : "", tlen, 0, et, tlen * 3 + 1) < 0) {
        free(ep);
        free(et);
        return mr_err_oom(err, NULL);
    }
    char mk[32] = "";
    if (max_keys > 0)
        snprintf(mk, sizeof mk, "&max-keys=%d", max_keys);
    /* canonical order: continuation-token, list-type, max-keys, prefix */
    int qn = asprintf(&q, "%s%s%slist-type=2%s&prefix=%s", token ? "continuation-token=" : "",
                      token ? et : "", token ? "&" : "", mk, ep);
    free(ep);
    free(et);
    if (qn < 0)
        return mr_err_oom(err, NULL);
    os_req r = {"GET", bucket, NULL, q, NULL, 64u << 20, prefix, NULL, 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    /* the request went to the bucket: name the prefix listed */
    free(q);
    if (rc == 0 && os_s3_list_parse(resp.body.p, resp.body.len, page) < 0)
        rc = mr_err_set(err, MR_EPROTO, "s3://%s/%s: the store's listing is not a "
                        "ListObjectsV2 answer", bucket, prefix);
    free(resp.body.p);
    return rc;
}

/* ---- writes ------------------------------------------------------------------ */

int os_s3_put(const os_s3_config *c, const char *bucket, const char *key, const void *data,
              size_t n, mr_err *err)
{
    os_req r = {"PUT", bucket, key, "", NULL, 1 << 20, NULL, data ? data : "", n, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    free(resp.body.p);
    return rc;
}

int os_s3_delete(const os_s3_config *c, const char *bucket, const char *key, mr_err *err)
{
    os_req r = {"DELETE", bucket, key, "", NULL, 1 << 20, NULL, NULL, 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    free(resp.body.p);
    if (rc == MR_ENOTFOUND) { /* gone already */
        mr_err_clear(err);
        rc = 0;
    }
    return rc;
}

int os_s3_copy(const os_s3_config *c, const char *bucket, const char *from_key, const char *key,
               mr_err *err)
{
    size_t fl = strlen(from_key), bl = strlen(bucket);
    char *src = malloc(fl * 3 + bl * 3 + 2), *hdr = NULL;
    if (!src)
        return mr_err_oom(err, NULL);
    long o = os_uri_encode(bucket, bl, 0, src, bl * 3 + 1);
    src[o] = '/';
    os_uri_encode(from_key, fl, 1, src + o + 1, fl * 3 + 1);
    if (asprintf(&hdr, "x-amz-copy-source: /%s", src) < 0) {
        free(src);
        return mr_err_oom(err, NULL);
    }
    free(src);
    os_req r = {"PUT", bucket, key, "", NULL, 1 << 20, NULL, "", 0, hdr, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    free(resp.body.p);
    free(hdr);
    return rc;
}

int os_s3_multipart_begin(const os_s3_config *c, const char *bucket, const char *key,
                          char **upload_id, mr_err *err)
{
    *upload_id = NULL;
    os_req r = {"POST", bucket, key, "uploads=", NULL, 1 << 20, NULL, "", 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    if (rc == 0 && !(*upload_id = os_s3_xml_text(resp.body.p, resp.body.len, "UploadId")))
        rc = mr_err_set(err, MR_EPROTO, "s3://%s/%s: the store's answer to a multipart upload "
                        "holds no UploadId", bucket, key);
    free(resp.body.p);
    return rc;
}

/* "uploadId=ID" (and "partNumber=N&" before it for a part), encoded. */
static char *upload_query(const char *upload_id, int part)
{
    size_t n = strlen(upload_id);
    char *eid = malloc(n * 3 + 1), *q = NULL;
    if (!eid || os_uri_encode(upload_id, n, 0, eid, n * 3 + 1) < 0) {
        free(eid);
        return NULL;
    }
    int rc = part > 0 ? asprintf(&q, "partNumber=%d&uploadId=%s", part, eid)
                      : asprintf(&q, "uploadId=%s", eid);
    free(eid);
    return rc < 0 ? NULL : q;
}

int os_s3_multipart_part(const os_s3_config *c, const char *bucket, const char *key,
                         const char *upload_id, int part, const void *data, size_t n,
                         char etag[128], mr_err *err)
{
    char *q = upload_query(upload_id, part);
    if (!q)
        return mr_err_oom(err, NULL);
    os_req r = {"PUT", bucket, key, q, NULL, 1 << 20, NULL, data, n, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    if (rc == 0 && !resp.hdrs.etag[0])
        rc = mr_err_set(err, MR_EPROTO, "s3://%s/%s: part %d was stored without an ETag", bucket,
                        key, part);
    if (rc == 0)
        snprintf(etag, 128, "%s", resp.hdrs.etag);
    free(resp.body.p);
    free(q);
    return rc;
}

int os_s3_multipart_end(const os_s3_config *c, const char *bucket, const char *key,
                        const char *upload_id, int nparts, char (*etags)[128], int commit,
                        mr_err *err)
{
    char *q = upload_query(upload_id, 0), *xml = NULL;
    size_t xcap = (size_t)nparts * 200 + 128, xl = 0;
    if (!q || !(xml = malloc(xcap))) {
        free(q);
        return mr_err_oom(err, NULL);
    }
    xl += (size_t)snprintf(xml, xcap, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++)
        xl += (size_t)snprintf(xml + xl, xcap - xl, "<Part><PartNumber>%d</PartNumber><ETag>%s"
                               "</ETag></Part>", i + 1, etags[i]);
    xl += (size_t)snprintf(xml + xl, xcap - xl, "</CompleteMultipartUpload>");
    os_req r = {commit ? "POST" : "DELETE", bucket, key, q, NULL, 1 << 20, NULL,
                commit ? xml : NULL, commit ? xl : 0, NULL, ""};
    os_resp resp = {0};
    int rc = s3_call(c, &r, &resp, err);
    free(resp.body.p);
    free(q);
    free(xml);
    return rc;
}
