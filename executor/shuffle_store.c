/* shuffle_store.c - received shuffle messages, filed by partition and stream.
 *
 * Layout: a list of partitions (job, stage, partition), each with a list of
 * streams (map task, attempt), each with a growing array of messages.  The
 * lists are short (partitions owned here times map tasks), so linear search
 * is cheaper than hashing; messages are appended in O(1) amortised.
 */
#include "executor/shuffle_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct stream {
    uint32_t map_task, attempt;
    int ended;
    mr_frames *msgs;
    size_t n, cap;
    struct stream *next;
} stream;

typedef struct part {
    char *job_id;
    uint32_t stage_id, partition;
    stream *streams;
    struct part *next;
} part;

struct mr_shuffle_store {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    part *parts;
    size_t bytes;
};

struct mr_shuffle_reader {
    stream **streams;
    size_t n, si, mi;
};

mr_shuffle_store *mr_shuffle_store_create(void)
{
    mr_shuffle_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    return st;
}

static void stream_free(stream *s)
{
    for (size_t i = 0; i < s->n; i++)
        mr_frames_free(&s->msgs[i]);
    free(s->msgs);
    free(s);
}

static void part_free(part *p)
{
    while (p->streams) {
        stream *s = p->streams;
        p->streams = s->next;
        stream_free(s);
    }
    free(p->job_id);
    free(p);
}

void mr_shuffle_store_destroy(mr_shuffle_store *st)
{
    if (!st)
        return;
    while (st->parts) {
        part *p = st->parts;
        st->parts = p->next;
        part_free(p);
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}

static part *part_find(mr_shuffle_store *st, const mr_shuffle_key *k, int create)
{
    for (part *p = st->parts; p; p = p->next)
        if (p->stage_id == k->stage_id && p->partition == k->partition &&
            strcmp(p->job_id, k->job_id) == 0)
            return p;
    if (!create)
        return NULL;
    part *p = calloc(1, sizeof *p);
    if (!p || !(p->job_id = strdup(k->job_id))) {
        free(p);
        return NULL;
    }
    p->stage_id = k->stage_id;
    p->partition = k->partition;
    p->next = st->parts;
    st->parts = p;
    return p;
}

static stream *stream_find(part *p, uint32_t map_task, uint32_t attempt, int create)
{
    for (stream *s = p->streams; s; s = s->next)
        if (s->map_task == map_task && s->attempt == attempt)
            return s;
    if (!create)
        return NULL;
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->map_task = map_task;
    s->attempt = attempt;
    s->next = p->streams;
    p->streams = s;
    return s;
}

int mr_shuffle_store_put(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                         uint32_t attempt, int eos, mr_frames *f)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    part *p = part_find(st, k, 1);
    stream *s = p ? stream_find(p, map_task, attempt, 1) : NULL;
    if (!s) {
        rc = MR_ENOMEM;
        goto out;
    }
    if (eos) {
        s->ended = 1;
        mr_frames_free(f);
        pthread_cond_broadcast(&st->cv);
        goto out;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        mr_frames *m = realloc(s->msgs, ncap * sizeof *m);
        if (!m) {
            rc = MR_ENOMEM;
            goto out;
        }
        s->msgs = m;
        s->cap = ncap;
    }
    for (size_t i = 0; i < f->n; i++)
        st->bytes += f->items[i].len;
    s->msgs[s->n++] = *f;
    memset(f, 0, sizeof *f);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int all_ended(part *p, const uint32_t *map_tasks, const uint32_t *attempts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        stream *s = p ? stream_find(p, map_tasks[i], attempts[i], 0) : NULL;
        if (!s || !s->ended)
            return 0;
    }
    return 1;
}

int mr_shuffle_store_open(mr_shuffle_store *st, const mr_shuffle_key *k, const uint32_t *map_tasks,
                          const uint32_t *attempts, size_t n, int timeout_ms,
                          volatile int *cancel, mr_shuffle_reader **out, mr_err *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&st->mu);
    for (;;) {
        part *p = part_find(st, k, 0);
        if (all_ended(p, map_tasks, attempts, n))
            break;
        if (cancel && *cancel) {
            pthread_mutex_unlock(&st->mu);
            return mr_err_set(err, MR_ECANCELLED, "cancelled while waiting for shuffle input");
        }
        /* wake up now and then to notice cancellation */
        struct timespec step;
        clock_gettime(CLOCK_MONOTONIC, &step);
        step.tv_nsec += 200000000L;
        if (step.tv_nsec >= 1000000000L) {
            step.tv_sec++;
            step.tv_nsec -= 1000000000L;
        }
        if (step.tv_sec > deadline.tv_sec ||
            (step.tv_sec == deadline.tv_sec && step.tv_nsec > deadline.tv_nsec))
            step = deadline;
        int rc = pthread_cond_timedwait(&st->cv, &st->mu, &step);
        if (rc == ETIMEDOUT && step.tv_sec == deadline.tv_sec && step.tv_nsec == deadline.tv_nsec) {
            size_t got = 0;
            for (size_t i = 0; i < n; i++) {
                stream *s = p ? stream_find(p, map_tasks[i], attempts[i], 0) : NULL;
                got += s && s->ended;
            }
            pthread_mutex_unlock(&st->mu);
            return mr_err_set(err, MR_EIO,
                              "shuffle input incomplete after %d ms: %zu of %zu map outputs arrived",
                              timeout_ms, got, n);
        }
    }
    part *p = part_find(st, k, 0);
    mr_shuffle_reader *r = calloc(1, sizeof *r);
    if (r)
        r->streams = calloc(n ? n : 1, sizeof *r->streams);
    if (!r || !r->streams) {
        pthread_mutex_unlock(&st->mu);
        if (r)
            free(r);
        return mr_err_set(err, MR_ENOMEM, "out of memory opening shuffle input");
    }
    for (size_t i = 0; i < n; i++)
        r->streams[i] = stream_find(p, map_tasks[i], attempts[i], 0);
    r->n = n;
    pthread_mutex_unlock(&st->mu);
    *out = r;
    return 0;
}

const mr_frames *mr_shuffle_reader_next(mr_shuffle_reader *r)
{
    /* Ended streams are never appended to again, so reading them needs no
     * lock; only release() frees them, and that happens after the job. */
    while (r->si < r->n) {
        stream *s = r->streams[r->si];
        if (r->mi < s->n)
            return &s->msgs[r->mi++];
        r->si++;
        r->mi = 0;
    }
    return NULL;
}

void mr_shuffle_reader_close(mr_shuffle_reader *r)
{
    if (!r)
        return;
    free(r->streams);
    free(r);
}

void mr_shuffle_store_release(mr_shuffle_store *st, const char *job_id)
{
    pthread_mutex_lock(&st->mu);
    part **pp = &st->parts;
    while (*pp) {
        part *p = *pp;
        if (strcmp(p->job_id, job_id) == 0) {
            *pp = p->next;
            for (stream *s = p->streams; s; s = s->next)
                for (size_t i = 0; i < s->n; i++)
                    for (size_t j = 0; j < s->msgs[i].n; j++)
                        st->bytes -= s->msgs[i].items[j].len;
            part_free(p);
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&st->mu);
}

size_t mr_shuffle_store_bytes(mr_shuffle_store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t b = st->bytes;
    pthread_mutex_unlock(&st->mu);
    return b;
}
