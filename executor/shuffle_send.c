/* shuffle_send.c - hash partitioning and pushing of map output.
 *
 * For each output batch: hash the key columns of the live rows (the same
 * mr_hash_columns the reduce side's hash tables use), bucket row indices per
 * partition into selection vectors, and encode each non-empty bucket as one
 * message (the wire codec gathers the selected rows, so rows are copied once,
 * into the compressed frames).  One DEALER socket per distinct destination
 * executor; every message carries (job, stage, partition, map task,
 * attempt) so the receiver can file it.
 *
 * Flow control is credit-based, per destination executor: a sender may
 * have at most `window` data messages there that the executor has not yet
 * filed (in memory or in a spill file).  The executor's receive loop
 * answers on the same connection (its ROUTER replies to this DEALER) with
 * credit grants carrying how many messages it filed; the sender counts
 * messages sent minus credits received and, at the window, waits for
 * credit in short slices, so a cancelled or superseded task stops promptly
 * and a destination that stops answering fails the task after the stall
 * timeout instead of hanging it.  Without credit a fast map task would
 * fill ZeroMQ's queues (high-water marks, which remain as a second bound)
 * and the receiver's memory with messages it cannot file yet.  End-of-stream
 * markers are not counted: there is one per partition.  At the end every
 * owner confirms each marker, so a map task reports success only once its
 * output is safely at the owners.
 *
 * With CURVE each connection is made to the owner's public key as the
 * coordinator announced it with the owner's address (the key the owner
 * proved it holds when it registered), and only when that key is also
 * authorized here: shuffle data goes to no one this executor was not told
 * to trust.
 */
#include "executor/shuffle_send.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/hash.h"

#define SEND_TIMEOUT_MS (10 * 60 * 1000)
#define SEND_SLICE_MS 200

struct mr_shuffle_out {
    const Millrace__TaskSpec *spec;
    uint32_t nparts;
    int *keys;
    int nkeys;
    mr_socket **socks;     /* one per distinct owner */
    int *part_sock;        /* partition -> index in socks */
    size_t nsocks;
    uint64_t *seq;         /* per partition */
    uint64_t *hashes;
    uint32_t **buckets;    /* per partition, cap rows */
    size_t *counts;
    size_t cap;
    mr_frames frames;
    uint64_t bytes;
    volatile int *cancel;
    int round_robin;   /* spread rows evenly instead of hashing keys */
    uint64_t next_row; /* round robin: rows sent so far */
    int window;        /* most unfiled data messages per destination */
    int stall_ms;      /* longest wait for credit */
    int *outstanding;  /* per socket: data messages sent minus credit received */
    size_t *acks;      /* per socket: end-of-stream confirmations received early */
    int max_outstanding;
    mr_frames reply;
};

void mr_shuffle_out_destroy(mr_shuffle_out *so)
{
    if (!so)
        return;
    for (size_t i = 0; i < so->nsocks; i++)
        mr_socket_close(so->socks[i]);
    if (so->buckets)
        for (uint32_t p = 0; p < so->nparts; p++)
            free(so->buckets[p]);
    free(so->buckets);
    free(so->counts);
    free(so->hashes);
    free(so->seq);
    free(so->part_sock);
    free(so->socks);
    free(so->keys);
    free(so->outstanding);
    free(so->acks);
    mr_frames_free(&so->frames);
    mr_frames_free(&so->reply);
    free(so);
}

mr_shuffle_out *mr_shuffle_out_create(mr_net *net, const Millrace__TaskSpec *spec,
                                      const mr_schema *schema, volatile int *cancel,
                                      mr_err *err)
{
    const Millrace__ShuffleOut *sh = spec->stage->shuffle;
    mr_shuffle_out *so = calloc(1, sizeof *so);
    if (!so)
        goto nomem;
    so->spec = spec;
    so->cancel = cancel;
    so->nparts = sh->partitions;
    if (so->nparts == 0 || spec->n_partition_owners != so->nparts) {
        mr_err_set(err, MR_EPROTO, "task has %zu partition owners for %u partitions",
                   spec->n_partition_owners, so->nparts);
        goto fail;
    }
    so->nkeys = (int)sh->n_keys;
    so->round_robin = sh->round_robin;
    so->keys = calloc(sh->n_keys + 1, sizeof *so->keys);
    so->part_sock = calloc(so->nparts, sizeof *so->part_sock);
    so->socks = calloc(so->nparts, sizeof *so->socks);
    so->seq = calloc(so->nparts, sizeof *so->seq);
    so->counts = calloc(so->nparts, sizeof *so->counts);
    so->buckets = calloc(so->nparts, sizeof *so->buckets);
    so->outstanding = calloc(so->nparts, sizeof *so->outstanding);
    so->acks = calloc(so->nparts, sizeof *so->acks);
    so->window = MR_SHUFFLE_WINDOW;
    so->stall_ms = SEND_TIMEOUT_MS;
    if (!so->keys || !so->part_sock || !so->socks || !so->seq || !so->counts || !so->buckets ||
        !so->outstanding || !so->acks)
        goto nomem;
    for (size_t k = 0; k < sh->n_keys; k++) {
        so->keys[k] = mr_schema_find(schema, sh->keys[k]);
        if (so->keys[k] < 0) {
            mr_err_set(err, MR_ENOTFOUND, "shuffle key '%s' is not an output column", sh->keys[k]);
            goto fail;
        }
    }
    for (uint32_t p = 0; p < so->nparts; p++) {
        const char *owner = spec->partition_owners[p];
        size_t i;
        for (i = 0; i < p; i++)
            if (strcmp(spec->partition_owners[i], owner) == 0)
                break;
        if (i < p) {
            so->part_sock[p] = so->part_sock[i];
            continue;
        }
        mr_socket *s = mr_socket_open(net, MR_SOCK_DEALER, err);
        if (!s)
            goto fail;
        so->socks[so->nsocks] = s;
        so->part_sock[p] = (int)so->nsocks++;
        mr_socket_set_hwm(s, 256);
        /* keep queued data at close until it is handed to the peer */
        mr_socket_set_linger(s, 30000);
        const mr_curve_keys *ck = mr_net_curve(net);
        if (ck) {
            const char *key = p < spec->n_partition_owner_keys ? spec->partition_owner_keys[p]
                                                               : NULL;
            if (!key || !mr_curve_authorized(ck, key)) {
                mr_err_set(err, MR_EPROTO,
                           "partition %u owner %s: its CURVE key %s is not authorized here", p,
                           owner, key && key[0] ? key : "(none)");
                goto fail;
            }
            if (mr_socket_set_curve_client(s, key, err) < 0)
                goto fail;
        }
        if (mr_socket_connect(s, owner, err) < 0)
            goto fail;
    }
    return so;
nomem:
    mr_err_set(err, MR_ENOMEM, "out of memory setting up the shuffle");
fail:
    mr_shuffle_out_destroy(so);
    return NULL;
}

void mr_shuffle_out_set_flow(mr_shuffle_out *so, int window, int stall_ms)
{
    so->window = window < 1 ? 1 : window > MR_SHUFFLE_WINDOW_MAX ? MR_SHUFFLE_WINDOW_MAX : window;
    so->stall_ms = stall_ms > 0 ? stall_ms : SEND_TIMEOUT_MS;
}

int mr_shuffle_out_max_outstanding(const mr_shuffle_out *so)
{
    return so->max_outstanding;
}

int mr_shuffle_reply_parse(const mr_frames *m, uint32_t *credit)
{
    size_t clen = strlen(MR_SHUFFLE_CREDIT), alen = strlen(MR_SHUFFLE_ACK);
    if (m->n == 2 && m->items[0].len == clen && m->items[1].len == 4 &&
        memcmp(m->items[0].data, MR_SHUFFLE_CREDIT, clen) == 0) {
        const uint8_t *b = m->items[1].data;
        *credit = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                  (uint32_t)b[3] << 24;
        return 1;
    }
    if (m->n == 1 && m->items[0].len == alen && memcmp(m->items[0].data, MR_SHUFFLE_ACK, alen) == 0)
        return 2;
    return 0;
}

void mr_shuffle_credit_frames(uint32_t count, uint8_t buf[4], mr_frame out[2])
{
    buf[0] = (uint8_t)count;
    buf[1] = (uint8_t)(count >> 8);
    buf[2] = (uint8_t)(count >> 16);
    buf[3] = (uint8_t)(count >> 24);
    out[0] = (mr_frame){(void *)MR_SHUFFLE_CREDIT, strlen(MR_SHUFFLE_CREDIT)};
    out[1] = (mr_frame){buf, 4};
}

/* Takes replies waiting on socket i (for up to timeout_ms for the first):
 * credit lowers the outstanding count, confirmations are counted for
 * finish().  Returns how many replies were read, or a negative code. */
static int take_replies(mr_shuffle_out *so, size_t i, int timeout_ms, mr_err *err)
{
    int got = 0;
    for (;;) {
        int rc = mr_socket_recv(so->socks[i], &so->reply, got ? 0 : timeout_ms, err);
        if (rc <= 0)
            return rc < 0 ? rc : got;
        got++;
        uint32_t credit = 0;
        int kind = mr_shuffle_reply_parse(&so->reply, &credit);
        if (kind == 1)
            so->outstanding[i] -= credit > (uint32_t)so->outstanding[i] ? so->outstanding[i]
                                                                         : (int)credit;
        else if (kind == 2)
            so->acks[i]++;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits until socket i may take another data message. */
static int wait_credit(mr_shuffle_out *so, uint32_t p, mr_err *err)
{
    size_t i = (size_t)so->part_sock[p];
    if (so->outstanding[i] < so->window)
        return 0;
    uint64_t start = now_ms();
    for (;;) {
        int rc = take_replies(so, i, SEND_SLICE_MS, err);
        if (rc < 0)
            return rc;
        if (so->outstanding[i] < so->window)
            return 0;
        if (so->cancel && *so->cancel)
            return mr_err_set(err, MR_ECANCELLED, "task cancelled while waiting for shuffle credit");
        if (now_ms() - start >= (uint64_t)so->stall_ms)
            return mr_err_set(err, MR_ETIMEDOUT,
                              "partition %u owner %s filed none of %d messages for %d ms", p,
                              so->spec->partition_owners[p], so->outstanding[i], so->stall_ms);
    }
}

static int send_bucket(mr_shuffle_out *so, const mr_batch *b, uint32_t p, int eos, mr_err *err)
{
    int rc;
    const Millrace__TaskSpec *t = so->spec;
    mr_batch_meta meta = {
        .job_id = t->job_id, .stage_id = t->stage_id, .partition = p,
        .map_task = t->partition, .attempt = t->attempt, .seq = so->seq[p]++, .eos = eos,
    };
    mr_frames_clear(&so->frames);
    rc = mr_wire_encode(b, &meta, t->zstd_level, &so->frames, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < so->frames.n; i++)
        so->bytes += so->frames.items[i].len;
    if (!eos && (rc = wait_credit(so, p, err)) < 0)
        return rc;
    int *out = &so->outstanding[so->part_sock[p]];
    mr_socket *sock = so->socks[so->part_sock[p]];
    for (int waited = 0;; waited += SEND_SLICE_MS) {
        rc = mr_socket_send(sock, so->frames.items, so->frames.n, SEND_SLICE_MS, err);
        if (rc == 0 && !eos && ++*out > so->max_outstanding)
            so->max_outstanding = *out;
        if (rc != MR_ETIMEDOUT)
            return rc;
        if (so->cancel && *so->cancel)
            return mr_err_set(err, MR_ECANCELLED, "task cancelled while sending shuffle data");
        if (waited >= SEND_TIMEOUT_MS)
            return mr_err_set(err, MR_EIO, "partition %u owner %s accepted nothing for %d s", p,
                              t->partition_owners[p], SEND_TIMEOUT_MS / 1000);
    }
}

static int grow(mr_shuffle_out *so, size_t rows)
{
    if (rows <= so->cap)
        return 0;
    uint64_t *h = realloc(so->hashes, rows * sizeof *h);
    if (!h)
        return MR_ENOMEM;
    so->hashes = h;
    for (uint32_t p = 0; p < so->nparts; p++) {
        uint32_t *bk = realloc(so->buckets[p], rows * sizeof *bk);
        if (!bk)
            return MR_ENOMEM;
        so->buckets[p] = bk;
    }
    so->cap = rows;
    return 0;
}

int mr_shuffle_out_write(mr_shuffle_out *so, mr_batch *b, mr_err *err)
{
    size_t n = mr_batch_live(b);
    if (n == 0)
        return 0;
    if (grow(so, n) < 0)
        return mr_err_set(err, MR_ENOMEM, "out of memory partitioning a batch");
    memset(so->counts, 0, so->nparts * sizeof *so->counts);
    if (so->round_robin) {
        /* Deterministic: the same split gives the same partitions. */
        for (size_t i = 0; i < n; i++) {
            uint32_t p = (uint32_t)(so->next_row++ % so->nparts);
            so->buckets[p][so->counts[p]++] = mr_batch_row(b, i);
        }
    } else {
        mr_hash_columns(b, so->keys, so->nkeys, so->hashes);
        for (size_t i = 0; i < n; i++) {
            uint32_t p = (uint32_t)(so->hashes[i] % so->nparts);
            so->buckets[p][so->counts[p]++] = mr_batch_row(b, i);
        }
    }
    uint32_t *saved_sel = b->sel;
    size_t saved_nsel = b->nsel;
    int rc = 0;
    for (uint32_t p = 0; p < so->nparts && rc == 0; p++) {
        if (so->counts[p] == 0)
            continue;
        b->sel = so->buckets[p];
        b->nsel = so->counts[p];
        rc = send_bucket(so, b, p, 0, err);
    }
    b->sel = saved_sel;
    b->nsel = saved_nsel;
    return rc;
}

int mr_shuffle_out_finish(mr_shuffle_out *so, int ack_timeout_ms, mr_err *err)
{
    size_t *pending = calloc(so->nsocks ? so->nsocks : 1, sizeof *pending);
    if (!pending)
        return mr_err_oom(err, NULL);
    int rc = 0;
    for (uint32_t p = 0; p < so->nparts && rc == 0; p++) {
        rc = send_bucket(so, NULL, p, 1, err);
        pending[so->part_sock[p]]++;
    }
    uint64_t deadline = now_ms() + (uint64_t)ack_timeout_ms;
    for (size_t i = 0; i < so->nsocks && rc == 0; i++) {
        while (so->acks[i] < pending[i]) {
            int got = take_replies(so, i, SEND_SLICE_MS, err);
            if (got < 0) {
                rc = got;
                break;
            }
            if (so->cancel && *so->cancel) {
                rc = mr_err_set(err, MR_ECANCELLED, "task cancelled while finishing its shuffle");
                break;
            }
            if (so->acks[i] < pending[i] && now_ms() > deadline) {
                rc = mr_err_set(err, MR_ETIMEDOUT,
                                "a shuffle owner did not confirm receipt within %d ms",
                                ack_timeout_ms);
                break;
            }
        }
    }
    free(pending);
    return rc;
}

uint64_t mr_shuffle_out_bytes(const mr_shuffle_out *so)
{
    return so->bytes;
}
