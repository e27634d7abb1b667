/* shuffle_store.c - received shuffle messages, filed by partition and stream,
 * in memory up to a budget and in spill files beyond it.
 *
 * Layout: a list of partitions (job, stage, partition), each with a list of
 * streams (map task, attempt), each with a growing array of message
 * entries.  The lists are short (partitions owned here times map tasks), so
 * linear search is cheaper than hashing; entries are appended in O(1)
 * amortised.  An entry holds either the message's frames (in memory) or
 * where its record starts in the partition's spill file and how long it is.
 *
 * Spill file: the records of one partition, every stream mixed, appended
 * in arrival order.  A record holds one message's frames as they came (the
 * header, then the column buffers in the wire layout), in the buffer record
 * of core/colbuf.h (magic, frame count, one length per frame, the bytes).  A reader fetches a record with one
 * pread into a buffer it owns and points its frames into that buffer, so a
 * spilled message is copied once on the way out, like one in memory is not.
 *
 * Concurrency: one mutex guards the lists, counters and file appends (only
 * the executor's receive loop puts, so appends are serialised anyway).  A
 * reader reads entries without the lock: it only opens ended streams, and
 * an ended stream never changes again (data after its end is refused).
 * Spilled records are read with pread on the partition's descriptor, which
 * appends never disturb.  Release unlinks a job's partitions from the store
 * and deletes their spill files at once (open descriptors keep working),
 * but frees a partition's memory only when its last reader closes: a task
 * cancelled with its job may still be reading.
 *
 * Probation (mr_shuffle_store_guard): a partition created by data for a
 * (job, stage) not announced is marked, kept in memory only, and charged
 * its message bytes plus PROBATION_OVERHEAD per message (so floods of empty
 * messages under made-up ids count too) against the bounds.  Expired
 * probation partitions are swept on the next probation message; the
 * announced pairs are a short list searched linearly (active jobs times
 * their shuffled stages).
 */
#include "executor/shuffle_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/colbuf.h"

/* The store a reader's partition belongs to is not known to the reader, so
 * the last reader of a released partition frees it itself: once released,
 * nothing else can reach it. */
static pthread_mutex_t g_release_mu = PTHREAD_MUTEX_INITIALIZER;

/* Jobs released recently, whose late messages are dropped. */
#define RELEASED_RING 64
/* What a message on probation is charged beyond its bytes: the entry, and
 * the stream and partition it may create. */
#define PROBATION_OVERHEAD 256

typedef struct entry {
    mr_frames f;   /* in memory: the frames; empty when spilled */
    uint64_t off;  /* spilled: record offset in the partition's file */
    uint64_t len;  /* spilled: record length; 0 when in memory */
} entry;

typedef struct stream {
    uint32_t map_task, attempt;
    uint64_t next_seq; /* the sequence number the next message must carry */
    int ended;
    char *error; /* broken: why (a message could not be kept) */
    entry *msgs;
    size_t n, cap;
    struct stream *next;
} stream;

typedef struct part {
    char *job_id;
    uint32_t stage_id, partition;
    stream *streams;
    struct part *next;
    int fd;           /* spill file, -1 until the first spill */
    char *path;       /* spill file path, NULL until the first spill */
    uint64_t fsize;   /* bytes appended to the spill file */
    int readers;      /* open readers */
    int released;     /* unlinked from the store: freed by the last reader */
    int probation;    /* its (job, stage) was not announced (yet) */
    uint64_t prob_bytes; /* charged while on probation */
    uint64_t created_ms;
} part;

typedef struct announced {
    char *job_id;
    uint32_t stage_id;
} announced;

struct mr_shuffle_store {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    part *parts;
    uint64_t bytes;        /* in memory */
    uint64_t spilled;      /* in spill files now */
    uint64_t spilled_total;
    uint64_t files;
    uint64_t budget;       /* 0: no limit */
    mr_membudget *shared;  /* the executor's one budget, or NULL (see set_shared_budget) */
    char *spill_dir;       /* NULL: never spill */
    char released[RELEASED_RING][64];
    unsigned nreleased;
    struct iovec *iov;     /* append scratch, guarded by mu */
    uint64_t *lens;
    uint64_t *head;        /* a record head: 8 + 8 * frames bytes */
    size_t iov_cap;
    int guard;             /* file only announced pairs */
    uint64_t prob_part, prob_all, prob_bytes, dropped_msgs, dropped_bytes;
    int prob_ttl_ms;
    announced *ann;
    size_t nann, cap_ann;
};

struct mr_shuffle_reader {
    part *p;
    stream **streams;
    size_t n, si, mi;
    uint8_t *buf;      /* the last spilled record read */
    size_t buf_cap;
    mr_frames scratch; /* frames pointing into buf (never freed one by one) */
    const void **bufs; /* record parsing scratch, scratch.cap each */
    uint64_t *lens;
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

void mr_shuffle_store_set_shared_budget(mr_shuffle_store *st, mr_membudget *mb)
{
    pthread_mutex_lock(&st->mu);
    st->shared = mb;
    pthread_mutex_unlock(&st->mu);
}

/* Whether b more bytes may stay in memory, reserving them in the shared
 * budget (which running operators draw from too) until the job is
 * released: within the store's own budget, and either within its first
 * half, which the store always keeps so shuffles do not go to disk
 * whenever operators run, or granted by the shared budget. */
static int store_may_hold(mr_shuffle_store *st, uint64_t b)
{
    if (st->bytes + b > st->budget)
        return 0;
    if (st->bytes + b <= st->budget / 2) {
        mr_membudget_reserve(st->shared, b);
        return 1;
    }
    return mr_membudget_try_reserve(st->shared, b);
}

int mr_shuffle_store_set_spill(mr_shuffle_store *st, uint64_t budget, const char *dir,
                               mr_err *err)
{
    char *copy = NULL;
    if (dir && budget && !(copy = strdup(dir)))
        return mr_err_oom(err, NULL);
    pthread_mutex_lock(&st->mu);
    free(st->spill_dir);
    st->spill_dir = copy;
    st->budget = copy ? budget : 0;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

static uint64_t frames_bytes(const mr_frames *f)
{
    uint64_t b = 0;
    for (size_t i = 0; i < f->n; i++)
        b += f->items[i].len;
    return b;
}

static void stream_free(stream *s)
{
    for (size_t i = 0; i < s->n; i++)
        mr_frames_free(&s->msgs[i].f);
    free(s->msgs);
    free(s->error);
    free(s);
}

static void part_free(part *p)
{
    while (p->streams) {
        stream *s = p->streams;
        p->streams = s->next;
        stream_free(s);
    }
    if (p->fd >= 0)
        close(p->fd);
    free(p->path);
    free(p->job_id);
    free(p);
}

/* The folder that holds job_id's spill files: the id with anything but
 * [A-Za-z0-9_-] replaced, so an id can never name a path elsewhere. */
static void job_dir(const mr_shuffle_store *st, const char *job_id, char *out, size_t cap)
{
    char safe[64];
    size_t i = 0;
    for (; job_id[i] && i + 1 < sizeof safe; i++) {
        char c = job_id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        safe[i] = ok ? c : '_';
    }
    safe[i] = '\0';
    snprintf(out, cap, "%s/job-%s", st->spill_dir, safe);
}

/* Deletes p's spill file and gives its bytes back (the descriptor stays
 * open for readers still using it). */
static void part_unspill(mr_shuffle_store *st, part *p)
{
    if (!p->path)
        return;
    unlink(p->path);
    st->spilled -= p->fsize;
    st->files--;
}

void mr_shuffle_store_destroy(mr_shuffle_store *st)
{
    if (!st)
        return;
    while (st->parts) {
        part *p = st->parts;
        st->parts = p->next;
        part_unspill(st, p);
        if (p->path && st->spill_dir) {
            char dir[4096];
            job_dir(st, p->job_id, dir, sizeof dir);
            rmdir(dir); /* fails harmlessly while other partitions remain */
        }
        part_free(p);
    }
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    for (size_t i = 0; i < st->nann; i++)
        free(st->ann[i].job_id);
    free(st->ann);
    free(st->spill_dir);
    free(st->iov);
    free(st->lens);
    free(st->head);
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
    p->fd = -1;
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

static int was_released(const mr_shuffle_store *st, const char *job_id)
{
    unsigned n = st->nreleased < RELEASED_RING ? st->nreleased : RELEASED_RING;
    for (unsigned i = 0; i < n; i++)
        if (strncmp(st->released[i], job_id, sizeof st->released[i]) == 0)
            return 1;
    return 0;
}

/* Opens p's spill file on first use. */
static int spill_open(mr_shuffle_store *st, part *p, mr_err *err)
{
    if (p->fd >= 0)
        return 0;
    char dir[4096], path[4200];
    job_dir(st, p->job_id, dir, sizeof dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return mr_err_set(err, MR_EIO, "cannot create spill folder %s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/s%u-p%u.spill", dir, p->stage_id, p->partition);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return mr_err_set(err, MR_EIO, "cannot create spill file %s: %s", path, strerror(errno));
    if (!(p->path = strdup(path))) {
        close(fd);
        unlink(path);
        return mr_err_oom(err, NULL);
    }
    p->fd = fd;
    p->fsize = 0;
    st->files++;
    return 0;
}

/* Writes iov[0..n) at off, whatever the short writes. */
static int pwrite_all(int fd, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(fd, iov, n > IOV_MAX ? IOV_MAX : n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        off += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0 && w > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Appends f as one record of p's spill file; fills e with where it went. */
static int spill_append(mr_shuffle_store *st, part *p, const mr_frames *f, entry *e, mr_err *err)
{
    int rc = spill_open(st, p, err);
    if (rc < 0)
        return rc;
    size_t need = f->n + 1;
    if (need > st->iov_cap) {
        struct iovec *iov = realloc(st->iov, need * sizeof *iov);
        if (iov)
            st->iov = iov;
        uint64_t *lens = realloc(st->lens, need * sizeof *lens);
        if (lens)
            st->lens = lens;
        uint64_t *head = realloc(st->head, need * sizeof *head);
        if (head)
            st->head = head;
        if (!iov || !lens || !head)
            return mr_err_set(err, MR_ENOMEM, "out of memory spilling shuffle data");
        st->iov_cap = need;
    }
    for (size_t i = 0; i < f->n; i++) {
        st->lens[i] = f->items[i].len;
        st->iov[1 + i] = (struct iovec){f->items[i].data, f->items[i].len};
    }
    uint64_t total = mr_colbuf_record_head(st->head, (uint32_t)f->n, st->lens);
    st->iov[0] = (struct iovec){st->head, mr_colbuf_record_head_size((uint32_t)f->n)};
    if (pwrite_all(p->fd, st->iov, (int)need, p->fsize) < 0)
        return mr_err_set(err, MR_EIO, "cannot write spill file %s: %s", p->path, strerror(errno));
    e->off = p->fsize;
    e->len = total;
    p->fsize += total;
    st->spilled += total;
    st->spilled_total += total;
    return 0;
}

static void stream_break(stream *s, const mr_err *err)
{
    if (s && !s->error)
        s->error = strdup(err->msg[0] ? err->msg : "a message could not be kept");
}

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static int announced_find(const mr_shuffle_store *st, const char *job_id, uint32_t stage_id)
{
    for (size_t i = 0; i < st->nann; i++)
        if (st->ann[i].stage_id == stage_id && strcmp(st->ann[i].job_id, job_id) == 0)
            return 1;
    return 0;
}

/* Frees probation partitions older than the time limit (none has readers:
 * nobody reads a pair that was never announced, but check anyway). */
static void probation_sweep(mr_shuffle_store *st, uint64_t now)
{
    for (part **pp = &st->parts; *pp;) {
        part *p = *pp;
        int idle;
        pthread_mutex_lock(&g_release_mu);
        idle = p->readers == 0;
        pthread_mutex_unlock(&g_release_mu);
        if (!p->probation || !idle || now - p->created_ms < (uint64_t)st->prob_ttl_ms) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        for (stream *s = p->streams; s; s = s->next)
            for (size_t i = 0; i < s->n; i++) {
                uint64_t b = frames_bytes(&s->msgs[i].f);
                st->bytes -= b;
                mr_membudget_release(st->shared, b);
                st->dropped_msgs++;
                st->dropped_bytes += b;
            }
        st->prob_bytes -= p->prob_bytes;
        part_free(p);
    }
}

int mr_shuffle_store_guard(mr_shuffle_store *st, uint64_t part_bytes, uint64_t all_bytes,
                           int ttl_ms)
{
    if (!part_bytes || !all_bytes || ttl_ms <= 0)
        return MR_EINVAL;
    pthread_mutex_lock(&st->mu);
    st->guard = 1;
    st->prob_part = part_bytes;
    st->prob_all = all_bytes;
    st->prob_ttl_ms = ttl_ms;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

int mr_shuffle_store_expect(mr_shuffle_store *st, const char *job_id, uint32_t stage_id)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (!announced_find(st, job_id, stage_id)) {
        if (st->nann == st->cap_ann) {
            size_t ncap = st->cap_ann ? st->cap_ann * 2 : 16;
            announced *a = realloc(st->ann, ncap * sizeof *a);
            if (!a) {
                rc = MR_ENOMEM;
                goto out;
            }
            st->ann = a;
            st->cap_ann = ncap;
        }
        char *id = strdup(job_id);
        if (!id) {
            rc = MR_ENOMEM;
            goto out;
        }
        st->ann[st->nann++] = (announced){id, stage_id};
    }
    for (part *p = st->parts; p; p = p->next)
        if (p->probation && p->stage_id == stage_id && strcmp(p->job_id, job_id) == 0) {
            p->probation = 0;
            st->prob_bytes -= p->prob_bytes;
            p->prob_bytes = 0;
        }
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int mr_shuffle_store_expected(mr_shuffle_store *st, const char *job_id, uint32_t stage_id)
{
    pthread_mutex_lock(&st->mu);
    int yes = !st->guard || announced_find(st, job_id, stage_id);
    pthread_mutex_unlock(&st->mu);
    return yes;
}

int mr_shuffle_store_put(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                         uint32_t attempt, int eos, mr_frames *f, mr_err *err)
{
    return mr_shuffle_store_put_seq(st, k, map_task, attempt, UINT64_MAX, eos, f, err);
}

int mr_shuffle_store_put_seq(mr_shuffle_store *st, const mr_shuffle_key *k, uint32_t map_task,
                             uint32_t attempt, uint64_t seq, int eos, mr_frames *f, mr_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&st->mu);
    if (was_released(st, k->job_id))
        goto out;
    int probation = st->guard && !announced_find(st, k->job_id, k->stage_id);
    uint64_t charge = 0;
    part *p;
    if (probation) {
        uint64_t now = mono_ms();
        probation_sweep(st, now);
        p = part_find(st, k, 0);
        charge = frames_bytes(f) + PROBATION_OVERHEAD;
        if (st->prob_bytes + charge > st->prob_all ||
            (p && p->prob_bytes + charge > st->prob_part)) {
            /* dropped; if it was legitimate, the gap it leaves breaks its stream */
            st->dropped_msgs++;
            st->dropped_bytes += frames_bytes(f);
            goto out;
        }
        if (!p && (p = part_find(st, k, 1))) {
            p->probation = 1;
            p->created_ms = now;
        }
    } else {
        p = part_find(st, k, 1);
    }
    stream *s = p ? stream_find(p, map_task, attempt, 1) : NULL;
    if (!s) {
        rc = mr_err_set(err, MR_ENOMEM, "out of memory filing shuffle data");
        goto out;
    }
    if (p->probation) {
        p->prob_bytes += charge;
        st->prob_bytes += charge;
    }
    if (seq != UINT64_MAX) {
        if (s->error)
            goto out; /* already broken and said so */
        if (seq != s->next_seq) {
            rc = mr_err_set(err, MR_EPROTO,
                            "job %s stage %u partition %u: map task %u attempt %u sent message "
                            "%llu where %llu was due (messages were dropped or lost)",
                            k->job_id, k->stage_id, k->partition, map_task, attempt,
                            (unsigned long long)seq, (unsigned long long)s->next_seq);
            stream_break(s, err);
            goto out;
        }
        s->next_seq++;
    }
    if (s->ended) {
        rc = mr_err_set(err, MR_EPROTO,
                        "job %s stage %u partition %u: data from map task %u attempt %u after "
                        "its end of stream",
                        k->job_id, k->stage_id, k->partition, map_task, attempt);
        stream_break(s, err);
        goto out;
    }
    if (eos) {
        s->ended = 1;
        pthread_cond_broadcast(&st->cv);
        goto out;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        entry *m = realloc(s->msgs, ncap * sizeof *m);
        if (!m) {
            rc = mr_err_set(err, MR_ENOMEM, "out of memory filing shuffle data");
            stream_break(s, err);
            goto out;
        }
        s->msgs = m;
        s->cap = ncap;
    }
    entry *e = &s->msgs[s->n];
    memset(e, 0, sizeof *e);
    uint64_t b = frames_bytes(f);
    if (st->spill_dir && !p->probation && !store_may_hold(st, b)) {
        if ((rc = spill_append(st, p, f, e, err)) < 0) {
            stream_break(s, err);
            goto out;
        }
    } else {
        if (!st->spill_dir || p->probation)
            mr_membudget_reserve(st->shared, b); /* held anyway: count it */
        e->f = *f;
        memset(f, 0, sizeof *f);
        st->bytes += b;
    }
    s->n++;
out:
    pthread_mutex_unlock(&st->mu);
    mr_frames_free(f);
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

/* The first chosen stream that is broken, or NULL. */
static stream *broken(part *p, const uint32_t *map_tasks, const uint32_t *attempts, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        stream *s = stream_find(p, map_tasks[i], attempts[i], 0);
        if (s && s->error)
            return s;
    }
    return NULL;
}

static struct timespec ms_from_now(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int mr_shuffle_store_open(mr_shuffle_store *st, const mr_shuffle_key *k, const uint32_t *map_tasks,
                          const uint32_t *attempts, size_t n, int timeout_ms,
                          volatile int *cancel, mr_shuffle_reader **out, mr_err *err)
{
    struct timespec deadline = ms_from_now(timeout_ms);
    pthread_mutex_lock(&st->mu);
    part *p;
    for (;;) {
        p = part_find(st, k, 0);
        stream *bad = broken(p, map_tasks, attempts, n);
        if (bad) {
            int rc = mr_err_set(err, MR_EIO,
                                "shuffle input from map task %u attempt %u was not kept: %s",
                                bad->map_task, bad->attempt, bad->error);
            pthread_mutex_unlock(&st->mu);
            return rc;
        }
        if (all_ended(p, map_tasks, attempts, n))
            break;
        if (cancel && *cancel) {
            pthread_mutex_unlock(&st->mu);
            return mr_err_set(err, MR_ECANCELLED, "cancelled while waiting for shuffle input");
        }
        /* wake up now and then to notice cancellation */
        struct timespec step = ms_from_now(200);
        int last = step.tv_sec > deadline.tv_sec ||
                   (step.tv_sec == deadline.tv_sec && step.tv_nsec >= deadline.tv_nsec);
        if (last)
            step = deadline;
        int rc = pthread_cond_timedwait(&st->cv, &st->mu, &step);
        if (rc == ETIMEDOUT && last) {
            size_t got = 0;
            p = part_find(st, k, 0);
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
    mr_shuffle_reader *r = calloc(1, sizeof *r);
    if (r)
        r->streams = calloc(n ? n : 1, sizeof *r->streams);
    if (!r || !r->streams) {
        pthread_mutex_unlock(&st->mu);
        free(r);
        return mr_err_set(err, MR_ENOMEM, "out of memory opening shuffle input");
    }
    for (size_t i = 0; i < n; i++)
        r->streams[i] = stream_find(p, map_tasks[i], attempts[i], 0);
    r->n = n;
    r->p = p;
    if (p) {
        pthread_mutex_lock(&g_release_mu);
        p->readers++;
        pthread_mutex_unlock(&g_release_mu);
    }
    pthread_mutex_unlock(&st->mu);
    *out = r;
    return 0;
}

/* Reads the spilled record e back into r's buffer and frames. */
static int read_spilled(mr_shuffle_reader *r, const entry *e, mr_err *err)
{
    if (e->len > r->buf_cap) {
        uint8_t *b = realloc(r->buf, e->len);
        if (!b)
            return mr_err_set(err, MR_ENOMEM, "out of memory reading spilled shuffle data");
        r->buf = b;
        r->buf_cap = e->len;
    }
    size_t got = 0;
    while (got < e->len) {
        ssize_t n = pread(r->p->fd, r->buf + got, e->len - got, (off_t)(e->off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mr_err_set(err, MR_EIO, "cannot read spill file %s: %s",
                              r->p->path ? r->p->path : "?", n < 0 ? strerror(errno) : "short");
        got += (size_t)n;
    }
    char what[4200];
    snprintf(what, sizeof what, "spill file %s", r->p->path ? r->p->path : "?");
    if (e->len < 8)
        return mr_err_set(err, MR_EIO, "%s: truncated record", what);
    int64_t nf = mr_colbuf_record_count(r->buf, (uint32_t)((e->len - 8) / 8), MR_EIO, what, err);
    if (nf < 0)
        return (int)nf;
    if ((size_t)nf > r->scratch.cap || !r->lens) {
        size_t cap = nf ? (size_t)nf : 1;
        mr_frame *items = realloc(r->scratch.items, cap * sizeof *items);
        if (items)
            r->scratch.items = items;
        uint64_t *lens = realloc(r->lens, cap * sizeof *lens);
        if (lens)
            r->lens = lens;
        const void **bufs = realloc(r->bufs, cap * sizeof *bufs);
        if (bufs)
            r->bufs = bufs;
        if (!items || !lens || !bufs)
            return mr_err_set(err, MR_ENOMEM, "out of memory reading spilled shuffle data");
        r->scratch.cap = cap;
    }
    uint32_t got_n;
    int rc = mr_colbuf_record_parse(r->buf, e->len, r->bufs, r->lens, (uint32_t)nf, &got_n, MR_EIO,
                                    what, err);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < got_n; i++)
        r->scratch.items[i] = (mr_frame){(void *)r->bufs[i], (size_t)r->lens[i]};
    r->scratch.n = got_n;
    return 0;
}

int mr_shuffle_reader_next(mr_shuffle_reader *r, const mr_frames **out, mr_err *err)
{
    while (r->si < r->n) {
        const stream *s = r->streams[r->si];
        if (r->mi < s->n) {
            const entry *e = &s->msgs[r->mi++];
            if (e->len == 0) {
                *out = &e->f;
                return 1;
            }
            int rc = read_spilled(r, e, err);
            if (rc < 0)
                return rc;
            *out = &r->scratch;
            return 1;
        }
        r->si++;
        r->mi = 0;
    }
    *out = NULL;
    return 0;
}

void mr_shuffle_reader_close(mr_shuffle_reader *r)
{
    if (!r)
        return;
    if (r->p) {
        pthread_mutex_lock(&g_release_mu);
        int last = --r->p->readers == 0 && r->p->released;
        pthread_mutex_unlock(&g_release_mu);
        if (last)
            part_free(r->p);
    }
    free(r->buf);
    free(r->scratch.items);
    free(r->bufs);
    free(r->lens);
    free(r->streams);
    free(r);
}

void mr_shuffle_store_release(mr_shuffle_store *st, const char *job_id)
{
    pthread_mutex_lock(&st->mu);
    snprintf(st->released[st->nreleased++ % RELEASED_RING], sizeof st->released[0], "%s", job_id);
    part **pp = &st->parts;
    int had_files = 0;
    while (*pp) {
        part *p = *pp;
        if (strcmp(p->job_id, job_id) != 0) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        uint64_t freed = 0;
        for (stream *s = p->streams; s; s = s->next)
            for (size_t i = 0; i < s->n; i++)
                freed += frames_bytes(&s->msgs[i].f);
        st->bytes -= freed;
        mr_membudget_release(st->shared, freed);
        st->prob_bytes -= p->prob_bytes;
        p->prob_bytes = 0;
        had_files |= p->path != NULL;
        part_unspill(st, p);
        pthread_mutex_lock(&g_release_mu);
        int in_use = p->readers > 0;
        p->released = 1;
        pthread_mutex_unlock(&g_release_mu);
        if (!in_use)
            part_free(p);
    }
    if (had_files && st->spill_dir) {
        char dir[4096];
        job_dir(st, job_id, dir, sizeof dir);
        rmdir(dir);
    }
    for (size_t i = 0; i < st->nann;) {
        if (strcmp(st->ann[i].job_id, job_id) == 0) {
            free(st->ann[i].job_id);
            st->ann[i] = st->ann[--st->nann];
        } else {
            i++;
        }
    }
    pthread_mutex_unlock(&st->mu);
}

size_t mr_shuffle_store_bytes(mr_shuffle_store *st)
{
    pthread_mutex_lock(&st->mu);
    size_t b = (size_t)st->bytes;
    pthread_mutex_unlock(&st->mu);
    return b;
}

void mr_shuffle_store_get_stats(mr_shuffle_store *st, mr_shuffle_store_stats *out)
{
    pthread_mutex_lock(&st->mu);
    out->bytes_held = st->bytes;
    out->bytes_spilled = st->spilled;
    out->spill_files = st->files;
    out->spilled_total = st->spilled_total;
    out->probation_bytes = st->prob_bytes;
    out->dropped_msgs = st->dropped_msgs;
    out->dropped_bytes = st->dropped_bytes;
    pthread_mutex_unlock(&st->mu);
}
