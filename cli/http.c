/* http.c - the CLI's calls to the coordinator's REST API, made with libcurl.
 *
 * libcurl speaks HTTP/1.1 and HTTPS, so a coordinator behind a TLS proxy
 * is reached with an https:// URL.  Proxies from the environment are not
 * used: the CLI goes straight to the URL it was given, as it always has.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Answers above this are refused rather than read into memory. */
#define MAX_RESPONSE (256u << 20)

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct body_buf {
    char *p;
    size_t len, cap;
    int too_big;
    int no_mem;
} body_buf;

static size_t body_write(char *data, size_t size, size_t n, void *arg)
{
    body_buf *b = arg;
    size_t add = size * n;
    if (add > MAX_RESPONSE - b->len) {
        b->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->no_mem = 1;
            return 0;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

void cli_http_resp_free(cli_http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Turns a failed transfer into one sentence that says what to do. */
static void describe_error(CURLcode rc, CURL *h, const char *url, int timeout_ms,
                           const body_buf *b, const char *detail, char *out, size_t cap)
{
    long os_err = 0;
    curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_err);
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        snprintf(out, cap, "bad coordinator URL '%.120s' (want http://HOST:PORT or https://HOST:PORT)",
                 url);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(out, cap, "cannot resolve the host in '%.120s'", url);
        break;
    case CURLE_COULDNT_CONNECT:
        snprintf(out, cap,
                 "no coordinator answers at %.100s (%s): start millrace-coordinator there, "
                 "or give its URL with --coordinator or MILLRACE_COORDINATOR",
                 url, os_err ? strerror((int)os_err) : "cannot connect");
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(out, cap, "no answer from the coordinator in %d ms", timeout_ms);
        break;
    case CURLE_WRITE_ERROR:
        if (b->too_big)
            snprintf(out, cap, "the answer from %.120s is over the limit of %u MiB", url,
                     MAX_RESPONSE >> 20);
        else
            snprintf(out, cap, "out of memory reading the answer");
        break;
    case CURLE_OUT_OF_MEMORY:
        snprintf(out, cap, "out of memory reading the answer");
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
        snprintf(out, cap, "malformed answer from %.120s", url);
        break;
    default:
        snprintf(out, cap, "cannot reach the coordinator at %.100s: %.120s", url,
                 detail[0] ? detail : curl_easy_strerror(rc));
        break;
    }
}

int cli_http(const char *method, const char *url, const char *content_type, const char *body,
             size_t body_len, int timeout_ms, cli_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    int rc = -1;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    body_buf b = {0};
    char detail[CURL_ERROR_SIZE] = "";

    /* Refuse other schemes before curl tries them (file://, ftp://...). */
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(resp->error, sizeof resp->error,
                 "bad coordinator URL '%.120s' (want http://HOST:PORT or https://HOST:PORT)", url);
        return -1;
    }
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK || !(h = curl_easy_init())) {
        snprintf(resp->error, sizeof resp->error, "cannot start the HTTP client (libcurl)");
        goto cleanup;
    }

    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    /* No "Expect: 100-continue" round trip for larger bodies. */
    hdrs = hdrs ? curl_slist_append(hdrs, "Expect:") : NULL;
    const char *token = getenv("MILLRACE_TOKEN");
    if (hdrs && token && token[0] && strlen(token) < 1000) {
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (hdrs) {
        char ct[200];
        /* "Content-Type:" with nothing after it stops curl from adding its
         * form type to a POST without a body. */
        snprintf(ct, sizeof ct, "Content-Type:%s%.150s", content_type ? " " : "",
                 content_type ? content_type : "");
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (!hdrs) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        goto cleanup;
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    if (strcmp(method, "GET") != 0) {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body && body_len ? body : "");
    }

    CURLcode cr = curl_easy_perform(h);
    if (cr != CURLE_OK) {
        describe_error(cr, h, url, timeout_ms, &b, detail, resp->error, sizeof resp->error);
        goto cleanup;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status <= 0) {
        snprintf(resp->error, sizeof resp->error, "malformed answer from %.120s", url);
        goto cleanup;
    }
    if (!b.p && !(b.p = calloc(1, 1))) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        goto cleanup;
    }
    resp->status = (int)status;
    resp->body = b.p;
    resp->len = b.len;
    b.p = NULL;
    rc = 0;
cleanup:
    free(b.p);
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    return rc;
}

cJSON *cli_http_json(const cli_http_resp *r, const char *what)
{
    cJSON *j = r->body ? cJSON_Parse(r->body) : NULL;
    if (r->status >= 200 && r->status < 300 && j)
        return j;
    if (r->status == 401) {
        /* Say what to do, not only that it was refused. */
        const char *t = getenv("MILLRACE_TOKEN");
        if (t && t[0])
            fprintf(stderr, "millrace: %s: the coordinator refused the token in MILLRACE_TOKEN: "
                            "set it to the contents of the coordinator's --token-file "
                            "(HTTP 401)\n", what);
        else
            fprintf(stderr, "millrace: %s: the coordinator needs a token: set MILLRACE_TOKEN to "
                            "the contents of its --token-file (HTTP 401)\n", what);
        cJSON_Delete(j);
        return NULL;
    }
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const cJSON *m = e ? cJSON_GetObjectItemCaseSensitive(e, "message") : NULL;
    fprintf(stderr, "millrace: %s: %s (HTTP %d)\n", what,
            cJSON_IsString(m) ? m->valuestring : "unexpected answer from the coordinator",
            r->status);
    cJSON_Delete(j);
    return NULL;
}
