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
 * Sends block when the destination's queue is full (ZeroMQ high-water
 * mark), which is what keeps a fast map task from outrunning the network;
 * they wait in short slices so a cancelled or superseded task stops
 * promptly even when its peer has died.  At the end every owner confirms
 * the end-of-stream marker, so a map task reports success only once its
 * output is safely at the owners.
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
    mr_frames_free(&so->frames);
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
    if (!so->keys || !so->part_sock || !so->socks || !so->seq || !so->counts || !so->buckets)
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
    mr_socket *sock = so->socks[so->part_sock[p]];
    for (int waited = 0;; waited += SEND_SLICE_MS) {
        rc = mr_socket_send(sock, so->frames.items, so->frames.n, SEND_SLICE_MS, err);
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

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int mr_shuffle_out_finish(mr_shuffle_out *so, int ack_timeout_ms, mr_err *err)
{
    size_t *pending = calloc(so->nsocks ? so->nsocks : 1, sizeof *pending);
    if (!pending)
        return mr_err_set(err, MR_ENOMEM, "out of memory");
    int rc = 0;
    for (uint32_t p = 0; p < so->nparts && rc == 0; p++) {
        rc = send_bucket(so, NULL, p, 1, err);
        pending[so->part_sock[p]]++;
    }
    uint64_t deadline = now_ms() + (uint64_t)ack_timeout_ms;
    mr_frames reply = {0};
    for (size_t i = 0; i < so->nsocks && rc == 0; i++) {
        while (pending[i] > 0) {
            int got = mr_socket_recv(so->socks[i], &reply, SEND_SLICE_MS, err);
            if (got < 0) {
                rc = got;
                break;
            }
            if (got == 1 && reply.n == 1 && reply.items[0].len == strlen(MR_SHUFFLE_ACK) &&
                memcmp(reply.items[0].data, MR_SHUFFLE_ACK, reply.items[0].len) == 0)
                pending[i]--;
            if (so->cancel && *so->cancel) {
                rc = mr_err_set(err, MR_ECANCELLED, "task cancelled while finishing its shuffle");
                break;
            }
            if (pending[i] > 0 && now_ms() > deadline) {
                rc = mr_err_set(err, MR_ETIMEDOUT,
                                "a shuffle owner did not confirm receipt within %d ms",
                                ack_timeout_ms);
                break;
            }
        }
    }
    mr_frames_free(&reply);
    free(pending);
    return rc;
}

uint64_t mr_shuffle_out_bytes(const mr_shuffle_out *so)
{
    return so->bytes;
}
