/* members.c - executor membership: register, heartbeat, loss, sender checks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/coord_int.h"
#include "core/log.h"

int coord_send(mr_coord *c, const char *identity, const Millrace__Control *msg)
{
    size_t len = millrace__control__get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return MR_ENOMEM;
    millrace__control__pack(msg, buf);
    mr_frame f[2] = {{(void *)identity, strlen(identity)}, {buf, len}};
    mr_err err;
    int rc = mr_socket_send(c->ctl, f, 2, 0, &err);
    free(buf);
    if (rc < 0)
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s unreachable: %s", identity, err.msg);
    return rc;
}

int coord_sender_ok(mr_coord *c, const char *identity, const char *key)
{
    if (!c->curve)
        return 1;
    for (int e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0)
            return c->execs[e].public_key && key && strcmp(c->execs[e].public_key, key) == 0;
    return 1; /* unknown: only a register (or a reconnect) follows */
}

/* An executor known and alive registers again under a new incarnation: its
 * process restarted (kill -9 and a container restart with the same --id
 * take milliseconds, far less than --lost-after-ms), so everything the old
 * process ran or held is gone.  Its tasks fail over at once, as for a lost
 * executor, instead of staying "running" until --task-timeout-ms.  The same
 * incarnation again is a repeated message and changes nothing.  (Under
 * CURVE only the key the id registered with can do this.) */
static void register_restart(mr_coord *c, int e, const Millrace__Register *r)
{
    exec_rt *x = &c->execs[e];
    if (x->state == EXEC_ALIVE && r->incarnation != x->incarnation) {
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s restarted (new incarnation)", x->id);
        x->state = EXEC_LOST; /* so nothing is handed back to the old process */
        x->running = 0;
        executor_lost(c, e);
    }
}

void coord_on_register(mr_coord *c, const char *identity, const char *key,
                       const Millrace__Register *r)
{
    int e;
    for (e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0)
            break;
    if (e < c->nexecs && c->curve && c->execs[e].state == EXEC_ALIVE &&
        (!c->execs[e].public_key || strcmp(c->execs[e].public_key, key ? key : "") != 0)) {
        mr_log(MR_LOG_WARN, "coordinator",
               "refused a registration as executor=%s with key %s: it registered with another key",
               identity, key);
        return;
    }
    int known = e < c->nexecs;
    if (!known) {
        if (c->nexecs == c->cap_execs) {
            int ncap = c->cap_execs ? c->cap_execs * 2 : 8;
            exec_rt *p = realloc(c->execs, (size_t)ncap * sizeof *p);
            if (!p)
                return;
            c->execs = p;
            c->cap_execs = ncap;
        }
        memset(&c->execs[e], 0, sizeof c->execs[e]);
        c->execs[e].id = strdup(identity);
        c->nexecs++;
    }
    exec_rt *x = &c->execs[e];
    if (known)
        register_restart(c, e, r);
    x->incarnation = r->incarnation;
    free(x->address);
    x->address = strdup(r->data_address);
    free(x->public_key);
    x->public_key = strdup(key ? key : "");
    x->reg_gen = ++c->reg_counter;
    x->slots = r->slots ? r->slots : 1;
    x->memory = r->memory_bytes;
    x->running = 0;
    x->state = EXEC_ALIVE;
    x->last_heartbeat_ms = coord_now_ms();
    mr_log(MR_LOG_INFO, "coordinator", "executor=%s registered data=%s slots=%u%s%s", x->id,
           x->address, x->slots, key && key[0] ? " key=" : "", key ? key : "");
    Millrace__Welcome w = MILLRACE__WELCOME__INIT;
    w.executor_id = x->id;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_WELCOME;
    msg.welcome = &w;
    coord_send(c, identity, &msg);
}

/* Notes the progress an executor reports for its running attempts: a
 * change, or waiting for shuffle input, restarts the task's timeout. */
static void note_progress(mr_coord *c, int e, const Millrace__Heartbeat *h)
{
    uint64_t now = coord_now_ms();
    for (size_t i = 0; i < h->n_tasks; i++) {
        const Millrace__TaskProgress *p = h->tasks[i];
        job *j = coord_job_find(c, p->job_id);
        stage_rt *st = j && j->state == JOB_RUNNING ? stage_by_id(j, p->stage_id) : NULL;
        if (!st || p->partition >= st->ntasks)
            continue;
        task_rt *tk = &st->tasks[p->partition];
        if (tk->state != TASK_RUNNING || tk->attempt != p->attempt || tk->executor != e)
            continue;
        if (p->waiting || p->rows != tk->progress_rows) {
            tk->progress_rows = p->rows;
            tk->progress_ms = now;
        }
    }
}

void coord_on_heartbeat(mr_coord *c, const char *identity, const Millrace__Heartbeat *h)
{
    for (int e = 0; e < c->nexecs; e++)
        if (strcmp(c->execs[e].id, identity) == 0) {
            if (c->execs[e].state == EXEC_ALIVE) {
                c->execs[e].last_heartbeat_ms = coord_now_ms();
                c->execs[e].shuffle_bytes_held = h->shuffle_bytes_held;
                c->execs[e].shuffle_bytes_spilled = h->shuffle_bytes_spilled;
                note_progress(c, e, h);
                return;
            }
            break;
        }
    /* An executor we do not know (we restarted) or have given up on. */
    Millrace__Reconnect r = MILLRACE__RECONNECT__INIT;
    Millrace__Control msg = MILLRACE__CONTROL__INIT;
    msg.msg_case = MILLRACE__CONTROL__MSG_RECONNECT;
    msg.reconnect = &r;
    coord_send(c, identity, &msg);
}

int exec_alive(const mr_coord *c, int e)
{
    return e >= 0 && e < c->nexecs && c->execs[e].state == EXEC_ALIVE;
}

/* Picks a live executor for a partition, spreading by partition number. */
int live_owner(const mr_coord *c, uint32_t p)
{
    int alive = 0;
    for (int e = 0; e < c->nexecs; e++)
        alive += c->execs[e].state == EXEC_ALIVE;
    if (alive == 0)
        return -1;
    int k = (int)(p % (uint32_t)alive);
    for (int e = 0; e < c->nexecs; e++)
        if (c->execs[e].state == EXEC_ALIVE && k-- == 0)
            return e;
    return -1;
}

void coord_check_executors(mr_coord *c)
{
    uint64_t now = coord_now_ms();
    int alive = 0;
    for (int e = 0; e < c->nexecs; e++) {
        exec_rt *x = &c->execs[e];
        if (x->state != EXEC_ALIVE)
            continue;
        if (now - x->last_heartbeat_ms < (uint64_t)c->lost_after_ms) {
            alive++;
            continue;
        }
        x->state = EXEC_LOST;
        x->running = 0;
        mr_log(MR_LOG_WARN, "coordinator", "executor=%s lost (no heartbeat for %d ms)", x->id,
               c->lost_after_ms);
        executor_lost(c, e);
    }
    if (alive > 0 || c->last_alive_ms == 0) {
        c->last_alive_ms = now;
        return;
    }
    /* Nobody left to run anything: fail running jobs after a grace period
     * rather than hang (queued jobs wait for executors to come). */
    if (now - c->last_alive_ms < (uint64_t)c->no_executor_fail_ms)
        return;
    for (job *j = c->jobs; j; j = j->next)
        if (j->state == JOB_RUNNING && !j->committing) {
            char msg[200];
            snprintf(msg, sizeof msg, "no executor has been alive for %d s",
                     c->no_executor_fail_ms / 1000);
            job_finish(c, j, JOB_FAILED, msg);
        }
}
