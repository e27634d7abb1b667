/* progress.c - following a job: a live display on a terminal, plain lines
 * in logs and pipes, and the closing summary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "1234567" -> "1,234,567" */
static const char *grouped(double v, char *buf, size_t cap)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

/* The check rules' outcomes (GET /v1/jobs/ID "checks"): one line each,
 * "check q.positive (expect, reject): 6 of 1,000 rows failed". */
static void print_checks(FILE *out, const cJSON *job)
{
    const cJSON *checks = cJSON_GetObjectItemCaseSensitive(job, "checks"), *c;
    char a[40], b[40];
    cJSON_ArrayForEach(c, checks)
    {
        const cJSON *passed = cJSON_GetObjectItemCaseSensitive(c, "passed");
        fprintf(out, "  check %s.%s (%s, %s): ", str(c, "node"), str(c, "rule"), str(c, "kind"),
                str(c, "action"));
        if (cJSON_IsTrue(passed))
            fprintf(out, "passed, %s rows\n", grouped(num(c, "rows_checked"), a, sizeof a));
        else
            fprintf(out, "%s of %s rows failed\n", grouped(num(c, "rows_failed"), a, sizeof a),
                    grouped(num(c, "rows_checked"), b, sizeof b));
    }
}

static void stage_line(const cJSON *st, double elapsed, char *out, size_t cap)
{
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(st, "tasks");
    double total = num(tasks, "total"), done = num(tasks, "succeeded");
    char bar[21];
    int fill = total > 0 ? (int)(20 * done / total) : 0;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[20] = '\0';
    double bytes = num(st, "bytes_read") + num(st, "bytes_shuffled");
    char rows[40];
    snprintf(out, cap, "stage %-2.0f [%s] %3.0f/%-3.0f tasks %14s rows %8.1f MB/s  %-9s %7.1fs",
             num(st, "id"), bar, done, total, grouped(num(st, "rows_in"), rows, sizeof rows),
             elapsed > 0 ? bytes / 1e6 / elapsed : 0.0, str(st, "state"), elapsed);
}

cJSON *cli_follow_job(const char *base_url, const char *job_id, volatile int *interrupted)
{
    char url[300];
    snprintf(url, sizeof url, "%s/v1/jobs/%s", base_url, job_id);
    int tty = isatty(STDOUT_FILENO);
    int drawn = 0, failures = 0;
    double start = now_s();
    char(*seen)[64] = NULL; /* per stage: what its last plain line showed */
    int nseen = 0;
    char last_state[32] = "";
    for (;;) {
        if (interrupted && *interrupted) {
            free(seen);
            return NULL;
        }
        cli_http_resp r;
        int got = cli_http("GET", url, NULL, NULL, 0, 10000, &r);
        if (got == 0 && r.status == 401) { /* waiting will not help: say what to set */
            cJSON_Delete(cli_http_json(&r, "status"));
            cli_http_resp_free(&r);
            free(seen);
            return NULL;
        }
        if (got < 0 || r.status != 200) {
            cli_http_resp_free(&r);
            if (++failures >= 25) {
                fprintf(stderr, "millrace: lost contact with the coordinator: %s\n", r.error);
                free(seen);
                return NULL;
            }
            usleep(200000);
            continue;
        }
        failures = 0;
        cJSON *job = cJSON_Parse(r.body);
        cli_http_resp_free(&r);
        if (!job) {
            usleep(200000);
            continue;
        }
        const char *state = str(job, "state");
        int finished = strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
        double elapsed = now_s() - start;
        const cJSON *stages = cJSON_GetObjectItemCaseSensitive(job, "stages"), *st;
        if (tty) {
            if (drawn)
                printf("\033[%dA", drawn);
            drawn = 0;
            cJSON_ArrayForEach(st, stages)
            {
                char line[256];
                stage_line(st, elapsed, line, sizeof line);
                printf("\r\033[K%s\n", line);
                drawn++;
            }
            printf("\r\033[Kjob %s %s  %.1fs\n", job_id, state, elapsed);
            drawn++;
            fflush(stdout);
        } else {
            /* Plain output (logs, pipes): a stage's line only when its
             * state or its finished tasks changed, and the job's line when
             * its state did, so a log grows with events, not with time. */
            int i = 0;
            cJSON_ArrayForEach(st, stages)
            {
                char key[64];
                const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(st, "tasks");
                snprintf(key, sizeof key, "%s %.0f/%.0f", str(st, "state"),
                         num(tasks, "succeeded"), num(tasks, "total"));
                if (i >= nseen) {
                    char(*grown)[64] = realloc(seen, (size_t)(i + 1) * sizeof *seen);
                    if (!grown)
                        break;
                    seen = grown;
                    seen[nseen++][0] = '\0';
                }
                if (strcmp(seen[i], key) != 0) {
                    char line[256];
                    stage_line(st, elapsed, line, sizeof line);
                    printf("%s\n", line);
                    snprintf(seen[i], sizeof seen[i], "%s", key);
                }
                i++;
            }
            if (strcmp(state, last_state) != 0) {
                printf("job %s %s  %.1fs\n", job_id, state, elapsed);
                snprintf(last_state, sizeof last_state, "%s", state);
            }
            fflush(stdout);
        }
        if (finished) {
            free(seen);
            return job;
        }
        cJSON_Delete(job);
        usleep(tty ? 150000 : 200000);
    }
}

/* The summary's lines about incremental reads (docs/bookmarks.md). */
static void print_bookmarks(const cJSON *bm, FILE *out)
{
    const cJSON *reads = cJSON_GetObjectItemCaseSensitive(bm, "reads"), *r;
    if (cJSON_GetArraySize(reads) == 0)
        return;
    char n1[40], n2[40];
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bm, "nothing_new")))
        fprintf(out, "  nothing new: no new file or row since the last run; bookmarks unchanged\n");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(bm, "full_refresh")))
        fprintf(out, "  full refresh: bookmarks ignored, then set from what was loaded\n");
    cJSON_ArrayForEach(r, reads)
    {
        if (strcmp(str(r, "kind"), "files") == 0) {
            fprintf(out, "  %-20s incremental files: %s new, %s already loaded\n", str(r, "node"),
                   grouped(num(r, "files_new"), n1, sizeof n1),
                   grouped(num(r, "files_skipped"), n2, sizeof n2));
        } else {
            const char *before = str(r, "watermark_before"), *after = str(r, "watermark_after");
            fprintf(out, "  %-20s incremental %s: %s rows above %s; watermark %s -> %s\n",
                   str(r, "node"), str(r, "column"), grouped(num(r, "rows"), n1, sizeof n1),
                   before[0] ? before : "(none)", before[0] ? before : "(none)",
                   after[0] ? after : "(none)");
        }
    }
}

int cli_print_summary(const cJSON *job, double seconds)
{
    const char *state = str(job, "state");
    char rows[40];
    printf("job %s (%s): %s in %.2f s\n", str(job, "name"), str(job, "id"), state, seconds);
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(job, "outputs"), *o;
    if (strcmp(state, "succeeded") == 0)
        cJSON_ArrayForEach(o, outputs)
            printf("  %-20s -> %-32s %s rows\n", str(o, "node"), str(o, "target"),
                   grouped(num(o, "rows"), rows, sizeof rows));
    double groups = num(job, "row_groups_skipped");
    if (groups > 0)
        printf("  Parquet row groups skipped by statistics: %s\n",
               grouped(groups, rows, sizeof rows));
    double rejected = num(job, "rejected_rows");
    if (rejected > 0)
        printf("  rejected rows: %s\n", grouped(rejected, rows, sizeof rows));
    if (strcmp(state, "succeeded") == 0)
        print_bookmarks(cJSON_GetObjectItemCaseSensitive(job, "bookmarks"), stdout);
    print_checks(stdout, job);
    if (strcmp(state, "succeeded") != 0) {
        fprintf(stderr, "millrace: job %s: %s\n", state, str(job, "error"));
        return 1;
    }
    return 0;
}

/* Seconds between two of the API's timestamps ("2026-01-02T03:04:05.678Z"),
 * or -1 when either is missing. */
static double span_s(const cJSON *job, const char *from, const char *to)
{
    const char *a = str(job, from), *b = str(job, to);
    struct tm ta, tb;
    int ma = 0, mb = 0;
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    if (sscanf(a, "%d-%d-%dT%d:%d:%d.%dZ", &ta.tm_year, &ta.tm_mon, &ta.tm_mday, &ta.tm_hour,
               &ta.tm_min, &ta.tm_sec, &ma) != 7 ||
        sscanf(b, "%d-%d-%dT%d:%d:%d.%dZ", &tb.tm_year, &tb.tm_mon, &tb.tm_mday, &tb.tm_hour,
               &tb.tm_min, &tb.tm_sec, &mb) != 7)
        return -1;
    ta.tm_year -= 1900;
    tb.tm_year -= 1900;
    ta.tm_mon--;
    tb.tm_mon--;
    return difftime(timegm(&tb), timegm(&ta)) + (mb - ma) / 1000.0;
}

void cli_print_job(const cJSON *job, FILE *out)
{
    char rows[40];
    const char *state = str(job, "state");
    fprintf(out, "job %s (%s): %s\n", str(job, "id"), str(job, "name"), state);
    fprintf(out, "  submitted %s", str(job, "submitted_at"));
    if (str(job, "started_at")[0])
        fprintf(out, ", started %s", str(job, "started_at"));
    if (str(job, "finished_at")[0])
        fprintf(out, ", finished %s", str(job, "finished_at"));
    double took = span_s(job, "submitted_at", "finished_at");
    if (took >= 0)
        fprintf(out, " (%.2f s)", took);
    fputc('\n', out);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(job, "params"), *x;
    if (cJSON_GetArraySize(params) > 0) {
        fputs("  params:", out);
        cJSON_ArrayForEach(x, params)
            fprintf(out, " %s=%s", x->string, cJSON_IsString(x) ? x->valuestring : "?");
        fputc('\n', out);
    }
    double elapsed = took >= 0 ? span_s(job, "started_at", "finished_at") : 0;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(job, "stages"))
    {
        char line[256];
        stage_line(x, elapsed > 0 ? elapsed : 0, line, sizeof line);
        fprintf(out, "  %s\n", line);
        const cJSON *op;
        fputs("           ", out);
        int first = 1;
        cJSON_ArrayForEach(op, cJSON_GetObjectItemCaseSensitive(x, "operators"))
        {
            fprintf(out, "%s%s", first ? "" : " -> ", cJSON_IsString(op) ? op->valuestring : "?");
            first = 0;
        }
        const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(x, "tasks");
        if (num(tasks, "failed") > 0 || num(tasks, "retried") > 0)
            fprintf(out, "  (%.0f failed, %.0f retried)", num(tasks, "failed"),
                    num(tasks, "retried"));
        fputc('\n', out);
    }
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(job, "outputs");
    cJSON_ArrayForEach(x, outputs)
        fprintf(out, "  output %s -> %s: %s rows\n", str(x, "node"), str(x, "target"),
                grouped(num(x, "rows"), rows, sizeof rows));
    if (num(job, "row_groups_skipped") > 0)
        fprintf(out, "  Parquet row groups skipped by statistics: %s\n",
                grouped(num(job, "row_groups_skipped"), rows, sizeof rows));
    if (num(job, "rejected_rows") > 0)
        fprintf(out, "  rejected rows: %s\n", grouped(num(job, "rejected_rows"), rows, sizeof rows));
    print_bookmarks(cJSON_GetObjectItemCaseSensitive(job, "bookmarks"), out);
    print_checks(out, job);
    if (str(job, "error")[0])
        fprintf(out, "  error: %s\n", str(job, "error"));
}
