/* transport.c - thin ZeroMQ wrappers: sockets, multipart send/receive, poll.
 *
 * Received frames are copied out of zmq_msg_t into mr_frames so that callers
 * own plain buffers whose lifetime they control (the shuffle store keeps
 * them until a reduce task consumes them).  Sends copy into ZeroMQ's own
 * buffers; both copies are per message, not per row.
 */
#include "net/transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct mr_net {
    void *ctx;
};

struct mr_socket {
    void *zs;
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
    zmq_ctx_term(net->ctx);
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
    int zero = 0;
    zmq_setsockopt(s->zs, ZMQ_LINGER, &zero, sizeof zero);
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

int mr_socket_recv(mr_socket *s, mr_frames *out, int timeout_ms, mr_err *err)
{
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
