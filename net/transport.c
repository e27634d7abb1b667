/* transport.c - thin ZeroMQ wrappers: sockets, multipart send/receive, poll,
 * CURVE keys and the ZAP handler that admits authorized peers.
 *
 * Received frames are copied out of zmq_msg_t into mr_frames so that callers
 * own plain buffers whose lifetime they control (the shuffle store keeps
 * them until a reduce task consumes them).  Sends copy into ZeroMQ's own
 * buffers; both copies are per message, not per row.
 *
 * ZAP (ZeroMQ's authentication protocol, RFC 27): libzmq asks whoever binds
 * inproc://zeromq.zap.01 in the context about every handshake of a socket
 * that has a ZAP domain.  Our handler is one thread with a REP socket,
 * started by mr_net_set_curve before any server socket exists; it answers
 * 200 with the client's Z85 public key as User-Id (so received messages
 * carry it) when the key is authorized, 400 otherwise, and logs refusals
 * (at most one line per key and address every 10 s, so a peer retrying in
 * a loop cannot flood the log).  A peer without CURVE, or with a wrong
 * server key, never reaches ZAP: the handshake fails first.  Those are
 * seen by a monitor thread per server socket (ZeroMQ's socket monitor,
 * handshake failures only) and logged the same way.  mr_net_destroy shuts
 * the context down, which ends the threads' blocking receives with ETERM.
 */
#include "net/transport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "core/log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "millrace"

typedef char mr_key[MR_CURVE_KEY_LEN + 1];

struct mr_curve_keys {
    mr_key pub, sec, coord;
    mr_key *auth;
    size_t nauth;
};

#define MAX_MONITORS 4

struct mr_net {
    void *ctx;
    mr_curve_keys *curve; /* NULL: CURVE off */
    pthread_t zap;
    int zap_running;
    pthread_t monitors[MAX_MONITORS]; /* one per CURVE server socket */
    int nmonitors;
    char component[32];
};

struct mr_socket {
    void *zs;
    mr_net *net;
};

mr_net *mr_net_create(void)
{
    mr_net *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->ctx = zmq_ctx_new();
    if (!n->ctx) {
        free(n);
        return NULL;
    }
    return n;
}

void mr_net_destroy(mr_net *net)
{
    if (!net)
        return;
    if (net->zap_running) {
        zmq_ctx_shutdown(net->ctx); /* ends the threads' receives with ETERM */
        pthread_join(net->zap, NULL);
        for (int i = 0; i < net->nmonitors; i++)
            pthread_join(net->monitors[i], NULL);
    }
    zmq_ctx_term(net->ctx);
    mr_curve_free(net->curve);
    free(net);
}

mr_socket *mr_socket_open(mr_net *net, mr_sock_type type, mr_err *err)
{
    static const int types[] = {ZMQ_ROUTER, ZMQ_DEALER, ZMQ_PUSH, ZMQ_PULL};
    mr_socket *s = calloc(1, sizeof *s);
    if (!s) {
        mr_err_set(err, MR_ENOMEM, "out of memory opening a socket");
        return NULL;
    }
    s->zs = zmq_socket(net->ctx, types[type]);
    if (!s->zs) {
        mr_err_set(err, MR_EIO, "cannot open socket: %s", zmq_strerror(zmq_errno()));
        free(s);
        return NULL;
    }
    s->net = net;
    int zero = 0;
    zmq_setsockopt(s->zs, ZMQ_LINGER, &zero, sizeof zero);
    mr_socket_set_max_message(s, MR_NET_MAX_FRAME);
    if (type == MR_SOCK_ROUTER) {
        /* an unroutable identity is an error we want to see, not a drop */
        int one = 1;
        zmq_setsockopt(s->zs, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        /* a peer restarted under the same identity (kill -9, then started
         * again at once) takes over the route at once, even before the old
         * connection's end has been noticed */
        zmq_setsockopt(s->zs, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    }
    return s;
}

void mr_socket_close(mr_socket *s)
{
    if (!s)
        return;
    zmq_close(s->zs);
    free(s);
}

int mr_socket_bind(mr_socket *s, const char *endpoint, char *actual, size_t cap, mr_err *err)
{
    if (zmq_bind(s->zs, endpoint) != 0)
        return mr_err_set(err, MR_EIO, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    if (actual && cap) {
        size_t len = cap;
        if (zmq_getsockopt(s->zs, ZMQ_LAST_ENDPOINT, actual, &len) != 0)
            return mr_err_set(err, MR_EIO, "cannot read bound endpoint: %s",
                              zmq_strerror(zmq_errno()));
    }
    return 0;
}

int mr_socket_connect(mr_socket *s, const char *endpoint, mr_err *err)
{
    if (zmq_connect(s->zs, endpoint) != 0)
        return mr_err_set(err, MR_EIO, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(zmq_errno()));
    return 0;
}

int mr_socket_set_identity(mr_socket *s, const char *id)
{
    return zmq_setsockopt(s->zs, ZMQ_ROUTING_ID, id, strlen(id)) == 0 ? 0 : MR_EIO;
}

int mr_socket_set_linger(mr_socket *s, int ms)
{
    return zmq_setsockopt(s->zs, ZMQ_LINGER, &ms, sizeof ms) == 0 ? 0 : MR_EIO;
}

int mr_socket_set_hwm(mr_socket *s, int msgs)
{
    if (zmq_setsockopt(s->zs, ZMQ_SNDHWM, &msgs, sizeof msgs) != 0 ||
        zmq_setsockopt(s->zs, ZMQ_RCVHWM, &msgs, sizeof msgs) != 0)
        return MR_EIO;
    return 0;
}

int mr_socket_send(mr_socket *s, const mr_frame *frames, size_t n, int timeout_ms, mr_err *err)
{
    zmq_setsockopt(s->zs, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    for (size_t i = 0; i < n; i++) {
        int flags = i + 1 < n ? ZMQ_SNDMORE : 0;
        int rc;
        do
            rc = zmq_send(s->zs, frames[i].data, frames[i].len, flags);
        while (rc < 0 && zmq_errno() == EINTR);
        if (rc < 0) {
            int e = zmq_errno();
            /* ZeroMQ applies the high-water mark to whole messages, so only
             * the first frame can time out and nothing was sent then. */
            if (e == EAGAIN && i == 0)
                return mr_err_set(err, MR_ETIMEDOUT, "send timed out after %d ms", timeout_ms);
            return mr_err_set(err, MR_EIO, "send failed: %s", zmq_strerror(e));
        }
    }
    return 0;
}

int mr_frames_push(mr_frames *f, const void *data, size_t len)
{
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        mr_frame *p = realloc(f->items, ncap * sizeof *p);
        if (!p)
            return MR_ENOMEM;
        f->items = p;
        f->cap = ncap;
    }
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return MR_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    f->items[f->n].data = copy;
    f->items[f->n].len = len;
    f->n++;
    return 0;
}

void mr_frames_clear(mr_frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->items[i].data);
    f->n = 0;
}

int mr_socket_set_max_message(mr_socket *s, int64_t bytes)
{
    return zmq_setsockopt(s->zs, ZMQ_MAXMSGSIZE, &bytes, sizeof bytes) == 0 ? 0 : MR_EIO;
}

int mr_socket_recv(mr_socket *s, mr_frames *out, int timeout_ms, mr_err *err)
{
    return mr_socket_recv_from(s, out, timeout_ms, NULL, 0, err);
}

int mr_socket_recv_from(mr_socket *s, mr_frames *out, int timeout_ms, char *peer, size_t cap,
                        mr_err *err)
{
    if (peer && cap)
        peer[0] = '\0';
    mr_frames_clear(out);
    zmq_setsockopt(s->zs, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        int rc = zmq_msg_recv(&m, s->zs, 0);
        if (rc < 0) {
            int e = zmq_errno();
            zmq_msg_close(&m);
            if (out->n == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            if (e == EINTR)
                continue; /* the rest of a multipart message is already queued */
            return mr_err_set(err, MR_EIO, "receive failed: %s", zmq_strerror(e));
        }
        int more = zmq_msg_more(&m);
        if (peer && cap && !peer[0]) {
            /* set by our ZAP handler on every message of a CURVE peer */
            const char *uid = zmq_msg_gets(&m, "User-Id");
            if (uid)
                snprintf(peer, cap, "%s", uid);
        }
        int prc = mr_frames_push(out, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (prc < 0)
            return mr_err_set(err, MR_ENOMEM, "out of memory receiving a message");
        if (!more)
            return 1;
    }
}

int mr_socket_poll(mr_socket *const *socks, int n, int timeout_ms, int *ready)
{
    zmq_pollitem_t items[16];
    if (n > 16)
        return MR_EINVAL;
    for (int i = 0; i < n; i++) {
        items[i].socket = socks[i]->zs;
        items[i].fd = 0;
        items[i].events = ZMQ_POLLIN;
        items[i].revents = 0;
    }
    int rc = zmq_poll(items, n, timeout_ms);
    if (rc < 0)
        return zmq_errno() == EINTR ? 0 : MR_EIO;
    for (int i = 0; i < n; i++)
        ready[i] = (items[i].revents & ZMQ_POLLIN) != 0;
    return rc;
}

/* ---- CURVE keys ---------------------------------------------------------- */

/* Reads a Z85 key from path into out; 0 or -1 (missing, not a key). */
static int key_read(const char *path, mr_key out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[128];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *b = buf;
    while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
        b++;
    size_t len = strcspn(b, " \t\r\n");
    b[len] = '\0';
    uint8_t raw[32];
    if (len != MR_CURVE_KEY_LEN || !zmq_z85_decode(raw, b))
        return -1;
    memcpy(out, b, MR_CURVE_KEY_LEN + 1);
    return 0;
}

/* Writes text and a newline to a new file path with mode; 0 or -1. */
static int key_write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    char line[MR_CURVE_KEY_LEN + 2];
    int n = snprintf(line, sizeof line, "%s\n", text);
    int ok = write(fd, line, (size_t)n) == n && fchmod(fd, mode) == 0;
    return close(fd) == 0 && ok ? 0 : -1;
}

int mr_curve_keygen(const char *dir, mr_err *err)
{
    char pub_path[4200], sec_path[4200];
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return mr_err_set(err, MR_EIO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(pub_path, sizeof pub_path, "%s/public.key", dir);
    snprintf(sec_path, sizeof sec_path, "%s/secret.key", dir);
    if (access(pub_path, F_OK) == 0 || access(sec_path, F_OK) == 0)
        return mr_err_set(err, MR_EINVAL, "%s already holds a key pair; not overwritten", dir);
    mr_key pub, sec;
    if (zmq_curve_keypair(pub, sec) != 0)
        return mr_err_set(err, MR_ENOTSUP, "cannot make a CURVE key pair: %s",
                          zmq_strerror(zmq_errno()));
    int rc = 0;
    if (key_write(sec_path, sec, 0600) < 0 || key_write(pub_path, pub, 0644) < 0)
        rc = mr_err_set(err, MR_EIO, "cannot write the key pair in %s: %s", dir, strerror(errno));
    memset(sec, 0, sizeof sec);
    if (rc < 0) {
        unlink(sec_path);
        unlink(pub_path);
    }
    return rc;
}

void mr_curve_free(mr_curve_keys *k)
{
    if (!k)
        return;
    free(k->auth);
    memset(k, 0, sizeof *k); /* the secret does not linger in freed memory */
    free(k);
}

/* Adds every key file of dir/authorized/ to k. */
static int load_authorized(mr_curve_keys *k, const char *dir, mr_err *err)
{
    char adir[4200];
    snprintf(adir, sizeof adir, "%s/authorized", dir);
    DIR *d = opendir(adir);
    if (!d)
        return errno == ENOENT ? 0
                               : mr_err_set(err, MR_EIO, "cannot read %s: %s", adir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4500];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", adir, e->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        mr_key key;
        if (key_read(path, key) < 0) {
            rc = mr_err_set(err, MR_EINVAL, "%s is not a CURVE public key (40 Z85 characters)",
                            path);
            break;
        }
        if (strcmp(e->d_name, "coordinator.key") == 0)
            memcpy(k->coord, key, sizeof key);
        if (mr_curve_authorized(k, key))
            continue;
        mr_key *grown = realloc(k->auth, (k->nauth + 1) * sizeof *grown);
        if (!grown) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory loading keys");
            break;
        }
        k->auth = grown;
        memcpy(k->auth[k->nauth++], key, sizeof key);
    }
    closedir(d);
    return rc;
}

mr_curve_keys *mr_curve_load(const char *dir, mr_err *err)
{
    mr_curve_keys *k = calloc(1, sizeof *k);
    if (!k) {
        mr_err_set(err, MR_ENOMEM, "out of memory loading keys");
        return NULL;
    }
    char path[4200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/secret.key", dir);
    if (stat(path, &sb) != 0) {
        mr_err_set(err, MR_ENOTFOUND, "no secret key %s: %s (make a pair with `millrace keygen`)",
                   path, strerror(errno));
        goto fail;
    }
    if (sb.st_mode & 077) {
        mr_err_set(err, MR_EINVAL, "%s is readable by others; make it private (chmod 600)", path);
        goto fail;
    }
    if (key_read(path, k->sec) < 0) {
        mr_err_set(err, MR_EINVAL, "%s is not a CURVE secret key", path);
        goto fail;
    }
    snprintf(path, sizeof path, "%s/public.key", dir);
    if (key_read(path, k->pub) < 0) {
        mr_err_set(err, MR_EINVAL, "%s is missing or not a CURVE public key", path);
        goto fail;
    }
    mr_key derived;
    if (zmq_curve_public(derived, k->sec) != 0 || strcmp(derived, k->pub) != 0) {
        mr_err_set(err, MR_EINVAL, "%s/public.key does not belong to %s/secret.key", dir, dir);
        goto fail;
    }
    if (load_authorized(k, dir, err) < 0)
        goto fail;
    if (!k->coord[0])
        memcpy(k->coord, k->pub, sizeof k->pub);
    return k;
fail:
    mr_curve_free(k);
    return NULL;
}

const char *mr_curve_public(const mr_curve_keys *k)
{
    return k->pub;
}

const char *mr_curve_coordinator(const mr_curve_keys *k)
{
    return k->coord;
}

int mr_curve_authorized(const mr_curve_keys *k, const char *z85)
{
    for (size_t i = 0; z85 && i < k->nauth; i++)
        if (strcmp(k->auth[i], z85) == 0)
            return 1;
    return 0;
}

size_t mr_curve_count(const mr_curve_keys *k)
{
    return k->nauth;
}

/* ---- ZAP handler ---------------------------------------------------------- */

static uint64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

typedef struct zap_state {
    mr_net *net;
    void *sock;
    char last[200]; /* the last refusal logged: key and address */
    uint64_t last_s;
} zap_state;

/* Answers one ZAP request (frames as received). */
static void zap_answer(zap_state *z, zmq_msg_t *f, int nf)
{
    /* version, request id, domain, address, routing id, mechanism, key */
    const char *status = "400", *text = "refused";
    char key[MR_CURVE_KEY_LEN + 1] = "", addr[64] = "?";
    if (nf >= 6) {
        size_t al = zmq_msg_size(&f[3]);
        snprintf(addr, sizeof addr, "%.*s", (int)(al < 60 ? al : 60), (char *)zmq_msg_data(&f[3]));
    }
    if (nf == 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
        zmq_msg_size(&f[6]) == 32) {
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
        if (mr_curve_authorized(z->net->curve, key)) {
            status = "200";
            text = "OK";
        }
    }
    if (status[0] != '2') {
        char what[200];
        snprintf(what, sizeof what, "%s %s", key[0] ? key : "(no key)", addr);
        uint64_t now = mono_s();
        if (strcmp(what, z->last) != 0 || now - z->last_s >= 10) {
            mr_log(MR_LOG_WARN, z->net->component,
                   "refused a connection from %s: CURVE key %s is not authorized", addr,
                   key[0] ? key : "(none)");
            snprintf(z->last, sizeof z->last, "%s", what);
            z->last_s = now;
        }
    }
    const char *uid = status[0] == '2' ? key : "";
    struct {
        const void *p;
        size_t n;
    } reply[6] = {{"1.0", 3},
                  {nf >= 2 ? zmq_msg_data(&f[1]) : "", nf >= 2 ? zmq_msg_size(&f[1]) : 0},
                  {status, 3},
                  {text, strlen(text)},
                  {uid, strlen(uid)},
                  {"", 0}};
    for (int i = 0; i < 6; i++)
        zmq_send(z->sock, reply[i].p, reply[i].n, i < 5 ? ZMQ_SNDMORE : 0);
}

static void *zap_thread(void *arg)
{
    zap_state *z = arg;
    zmq_msg_t f[8];
    for (;;) {
        int nf = 0, more = 1, rc = 0;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            rc = zmq_msg_recv(&m, z->sock, 0);
            if (rc < 0) {
                zmq_msg_close(&m);
                if (zmq_errno() == EINTR)
                    continue;
                break;
            }
            more = zmq_msg_more(&m);
            if (nf < 8)
                f[nf++] = m; /* moved: closed below */
            else
                zmq_msg_close(&m);
        }
        if (rc >= 0)
            zap_answer(z, f, nf);
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
        if (rc < 0 && zmq_errno() == ETERM)
            break;
    }
    zmq_close(z->sock);
    free(z);
    return NULL;
}

int mr_net_set_curve(mr_net *net, mr_curve_keys *keys, const char *component, mr_err *err)
{
    if (net->curve) {
        mr_curve_free(keys);
        return mr_err_set(err, MR_EINVAL, "CURVE is already on");
    }
    zap_state *z = calloc(1, sizeof *z);
    void *sock = zmq_socket(net->ctx, ZMQ_REP);
    if (!z || !sock || zmq_bind(sock, ZAP_ENDPOINT) != 0) {
        int rc = mr_err_set(err, MR_EIO, "cannot start the CURVE authenticator: %s",
                            zmq_strerror(zmq_errno()));
        if (sock)
            zmq_close(sock);
        free(z);
        mr_curve_free(keys);
        return rc;
    }
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    net->curve = keys;
    snprintf(net->component, sizeof net->component, "%s", component ? component : "net");
    z->net = net;
    z->sock = sock;
    if (pthread_create(&net->zap, NULL, zap_thread, z) != 0) {
        zmq_close(sock);
        free(z);
        net->curve = NULL;
        mr_curve_free(keys);
        return mr_err_set(err, MR_EIO, "cannot start the CURVE authenticator thread");
    }
    net->zap_running = 1;
    return 0;
}

const mr_curve_keys *mr_net_curve(const mr_net *net)
{
    return net->curve;
}

typedef struct monitor_state {
    mr_net *net;
    void *sock;
} monitor_state;

/* Logs the handshake failures a server socket's monitor reports. */
static void *monitor_thread(void *arg)
{
    monitor_state *m = arg;
    /* At most one line per 10 s for each kind of failure, so a peer that
     * keeps reconnecting cannot flood the log, and one kind never hides
     * the other (a plain peer and a wrong key are told apart). */
    uint64_t last_s[2] = {0, 0};
    unsigned quiet[2] = {0, 0};
    for (;;) {
        zmq_msg_t ev, ep;
        zmq_msg_init(&ev);
        zmq_msg_init(&ep);
        if (zmq_msg_recv(&ev, m->sock, 0) < 0 || zmq_msg_recv(&ep, m->sock, 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&ev);
            zmq_msg_close(&ep);
            if (e == EINTR)
                continue;
            break;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&id, zmq_msg_data(&ev), sizeof id);
        uint64_t now = mono_s();
        int k = id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
        if (!last_s[k] || now - last_s[k] >= 10) {
            size_t el = zmq_msg_size(&ep);
            char more[64] = "";
            if (quiet[k])
                snprintf(more, sizeof more, " (and %u more since the last line)", quiet[k]);
            mr_log(MR_LOG_WARN, m->net->component, "refused a connection on %.*s: the peer %s%s",
                   (int)(el < 200 ? el : 200), (char *)zmq_msg_data(&ep),
                   k ? "does not speak CURVE with this server's key" : "failed the CURVE handshake",
                   more);
            last_s[k] = now;
            quiet[k] = 0;
        } else {
            quiet[k]++;
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
    }
    zmq_close(m->sock);
    free(m);
    return NULL;
}

/* Watches s for failed handshakes (best effort: without it refusals of
 * peers without CURVE are just not logged). */
static void monitor_start(mr_socket *s)
{
    mr_net *net = s->net;
    if (net->nmonitors == MAX_MONITORS)
        return;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://mr-monitor-%d", net->nmonitors);
    if (zmq_socket_monitor(s->zs, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return;
    monitor_state *m = calloc(1, sizeof *m);
    void *pair = zmq_socket(net->ctx, ZMQ_PAIR);
    if (!m || !pair || zmq_connect(pair, ep) != 0) {
        if (pair)
            zmq_close(pair);
        free(m);
        return;
    }
    int zero = 0;
    zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero);
    m->net = net;
    m->sock = pair;
    if (pthread_create(&net->monitors[net->nmonitors], NULL, monitor_thread, m) != 0) {
        zmq_close(pair);
        free(m);
        return;
    }
    net->nmonitors++;
}

int mr_socket_set_curve_server(mr_socket *s, mr_err *err)
{
    const mr_curve_keys *k = s->net->curve;
    if (!k)
        return 0;
    monitor_start(s);
    int one = 1;
    if (zmq_setsockopt(s->zs, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0 ||
        zmq_setsockopt(s->zs, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(s->zs, ZMQ_CURVE_SECRETKEY, k->sec, MR_CURVE_KEY_LEN) != 0)
        return mr_err_set(err, MR_EIO, "cannot make a CURVE server socket: %s",
                          zmq_strerror(zmq_errno()));
    return 0;
}

int mr_socket_set_curve_client(mr_socket *s, const char *server_key, mr_err *err)
{
    const mr_curve_keys *k = s->net->curve;
    if (!k)
        return 0;
    uint8_t raw[32];
    if (!server_key || strlen(server_key) != MR_CURVE_KEY_LEN || !zmq_z85_decode(raw, server_key))
        return mr_err_set(err, MR_EINVAL, "no valid CURVE key for the peer");
    if (zmq_setsockopt(s->zs, ZMQ_CURVE_SERVERKEY, server_key, MR_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(s->zs, ZMQ_CURVE_PUBLICKEY, k->pub, MR_CURVE_KEY_LEN) != 0 ||
        zmq_setsockopt(s->zs, ZMQ_CURVE_SECRETKEY, k->sec, MR_CURVE_KEY_LEN) != 0)
        return mr_err_set(err, MR_EIO, "cannot make a CURVE client socket: %s",
                          zmq_strerror(zmq_errno()));
    return 0;
}
