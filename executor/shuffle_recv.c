/* shuffle_recv.c - files the shuffle messages map tasks push to this
 * executor and pays them credit (the receive half of shuffle_send.c). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "executor/shuffle_recv.h"
#include "executor/shuffle_send.h"
#include "net/wire.h"
#include "proto/millrace.pb-c.h"

/* Credit owed to one sender (identified by its ROUTER routing id). */
typedef struct credit_owed {
    mr_frame ident; /* owned */
    uint32_t n;
} credit_owed;

struct mr_shuffle_recv {
    mr_socket *data;
    mr_shuffle_store *store;
    mr_shuffle_recv_unexpected_fn unexpected;
    void *arg;
    credit_owed *owed;
    size_t nowed, cap_owed;
    mr_frames m; /* receive buffer of drain */
};

mr_shuffle_recv *mr_shuffle_recv_create(mr_socket *data, mr_shuffle_store *store,
                                        mr_shuffle_recv_unexpected_fn unexpected, void *arg)
{
    mr_shuffle_recv *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->data = data;
    r->store = store;
    r->unexpected = unexpected;
    r->arg = arg;
    return r;
}

/* Sends sender i the credit owed to it and forgets the entry. */
static void credit_flush(mr_shuffle_recv *r, size_t i)
{
    credit_owed *o = &r->owed[i];
    uint8_t buf[4];
    mr_frame reply[3];
    reply[0] = o->ident;
    mr_shuffle_credit_frames(o->n, buf, reply + 1);
    mr_err err;
    if (mr_socket_send(r->data, reply, 3, 0, &err) < 0)
        mr_log(MR_LOG_DEBUG, "executor", "cannot grant shuffle credit (sender gone?): %s",
               err.msg);
    free(o->ident.data);
    r->owed[i] = r->owed[--r->nowed];
}

/* One more message of the sender ident filed: owes it credit, granted
 * every MR_SHUFFLE_CREDIT_BATCH messages. */
static void credit_add(mr_shuffle_recv *r, const mr_frame *ident)
{
    size_t i;
    for (i = 0; i < r->nowed; i++)
        if (r->owed[i].ident.len == ident->len &&
            memcmp(r->owed[i].ident.data, ident->data, ident->len) == 0)
            break;
    if (i == r->nowed) {
        if (r->nowed == r->cap_owed) {
            size_t ncap = r->cap_owed ? r->cap_owed * 2 : 16;
            credit_owed *p = realloc(r->owed, ncap * sizeof *p);
            if (!p)
                return; /* the sender times out and its task is retried */
            r->owed = p;
            r->cap_owed = ncap;
        }
        void *copy = malloc(ident->len ? ident->len : 1);
        if (!copy)
            return;
        memcpy(copy, ident->data, ident->len);
        r->owed[i] = (credit_owed){{copy, ident->len}, 0};
        r->nowed++;
    }
    if (++r->owed[i].n >= MR_SHUFFLE_CREDIT_BATCH)
        credit_flush(r, i);
}

void mr_shuffle_recv_flush(mr_shuffle_recv *r)
{
    while (r->nowed > 0)
        credit_flush(r, r->nowed - 1);
}

void mr_shuffle_recv_message(mr_shuffle_recv *r, mr_frames *m)
{
    /* ROUTER: frame 0 is the sender's identity, then header and columns. */
    if (m->n < 2) {
        mr_log(MR_LOG_WARN, "executor", "ignoring shuffle message of %zu frames", m->n);
        return;
    }
    mr_err err;
    Millrace__BatchHeader *h = NULL;
    if (mr_wire_decode_header(m->items[1].data, m->items[1].len, &h, &err) < 0) {
        mr_log(MR_LOG_WARN, "executor", "ignoring malformed shuffle message: %s", err.msg);
        return;
    }
    mr_shuffle_key k = {h->job_id, h->stage_id, h->partition};
    /* Its announcement travels on the control connection: take what waits
     * there before deciding the data is unasked for. */
    if (r->unexpected && !mr_shuffle_store_expected(r->store, h->job_id, h->stage_id))
        r->unexpected(r->arg);
    /* Keep the sender's identity to grant credit and confirm markers. */
    mr_frame ident = m->items[0];
    memmove(m->items, m->items + 1, (m->n - 1) * sizeof *m->items);
    m->n--;
    int eos = h->eos;
    int rc = mr_shuffle_store_put_seq(r->store, &k, h->map_task, h->attempt, h->seq, eos, m,
                                      &err);
    if (rc < 0)
        mr_log(MR_LOG_ERROR, "executor", "job=%s stage=%u partition=%u map task=%u attempt=%u: %s",
               h->job_id, h->stage_id, h->partition, h->map_task, h->attempt, err.msg);
    if (!eos) {
        /* Credit even when filing failed: the message is consumed, and the
         * broken stream fails its reader instead. */
        credit_add(r, &ident);
    } else if (rc == 0) {
        mr_frame reply[2] = {ident, {(void *)MR_SHUFFLE_ACK, strlen(MR_SHUFFLE_ACK)}};
        if (mr_socket_send(r->data, reply, 2, 0, &err) < 0)
            mr_log(MR_LOG_WARN, "executor", "job=%s cannot confirm a shuffle stream: %s",
                   h->job_id, err.msg);
    }
    free(ident.data);
    millrace__batch_header__free_unpacked(h, NULL);
}

void mr_shuffle_recv_drain(mr_shuffle_recv *r)
{
    mr_err err;
    while (mr_socket_recv(r->data, &r->m, 0, &err) == 1)
        mr_shuffle_recv_message(r, &r->m);
    mr_shuffle_recv_flush(r);
}

void mr_shuffle_recv_destroy(mr_shuffle_recv *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nowed; i++)
        free(r->owed[i].ident.data);
    free(r->owed);
    mr_frames_free(&r->m);
    free(r);
}
