/* http.c - a minimal HTTP/1.1 client, enough for the coordinator's API.
 *
 * One request per connection ("Connection: close"), body read to EOF or to
 * Content-Length.  Plain HTTP only: the API listens on loopback or behind
 * the user's own proxy.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_RESPONSE (256u << 20)

static int parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                     const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    *path = slash ? slash : "/";
    size_t hostlen = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hostlen);
    size_t namelen = colon ? (size_t)(colon - h) : hostlen;
    if (namelen == 0 || namelen >= hcap)
        return -1;
    memcpy(host, h, namelen);
    host[namelen] = '\0';
    if (colon) {
        size_t plen = hostlen - namelen - 1;
        if (plen == 0 || plen >= pcap)
            return -1;
        memcpy(port, colon + 1, plen);
        port[plen] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void cli_http_resp_free(cli_http_resp *r)
{
    free(r->body);
    r->body = NULL;
}

int cli_http(const char *method, const char *url, const char *content_type, const char *body,
             size_t body_len, int timeout_ms, cli_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    char host[256], port[16];
    const char *path;
    if (parse_url(url, host, sizeof host, port, sizeof port, &path) < 0) {
        snprintf(resp->error, sizeof resp->error, "bad coordinator URL '%.120s' (want http://HOST:PORT)",
                 url);
        return -1;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        snprintf(resp->error, sizeof resp->error, "cannot resolve '%.100s'", host);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(resp->error, sizeof resp->error, "cannot connect to the coordinator at %.120s: %s",
                 url, strerror(errno));
        return -1;
    }
    char head[2048];
    const char *token = getenv("MILLRACE_TOKEN");
    char auth[1100] = "";
    if (token && token[0] && strlen(token) < 1000)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    int hn = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n"
                      "Accept: application/json\r\n%s%s%s%sContent-Length: %zu\r\n\r\n",
                      method, path, host, port, auth, content_type ? "Content-Type: " : "",
                      content_type ? content_type : "", content_type ? "\r\n" : "", body_len);
    if (hn < 0 || (size_t)hn >= sizeof head || send_all(fd, head, (size_t)hn) < 0 ||
        (body_len && send_all(fd, body, body_len) < 0)) {
        snprintf(resp->error, sizeof resp->error, "cannot send the request: %s", strerror(errno));
        close(fd);
        return -1;
    }
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr == 0) {
            snprintf(resp->error, sizeof resp->error, "no answer from the coordinator in %d ms",
                     timeout_ms);
            free(buf);
            close(fd);
            return -1;
        }
        if (pr < 0 && errno == EINTR)
            continue;
        if (len == cap) {
            if (cap >= MAX_RESPONSE)
                break;
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (!buf) {
        snprintf(resp->error, sizeof resp->error, "out of memory reading the answer");
        return -1;
    }
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(resp->error, sizeof resp->error, "malformed answer from %.120s", url);
        free(buf);
        return -1;
    }
    char *sep = strstr(buf, "\r\n\r\n");
    size_t off = sep ? (size_t)(sep + 4 - buf) : len;
    resp->status = status;
    resp->len = len - off;
    resp->body = malloc(resp->len + 1);
    if (!resp->body) {
        free(buf);
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return -1;
    }
    memcpy(resp->body, buf + off, resp->len);
    resp->body[resp->len] = '\0';
    free(buf);
    return 0;
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
