/* cluster.c - a local millrace cluster for `millrace run`: one coordinator
 * and N executors as child processes on loopback, with ports chosen by the
 * OS so that several runs can share a machine.
 *
 * The cluster always runs with ZeroMQ CURVE: one key pair is made per run
 * in the run's private temporary folder (mode 0700, removed at the end),
 * authorized for every daemon, so nothing else on the machine can join the
 * cluster, read its shuffle traffic or feed it data.  Keys are made by
 * `millrace-coordinator --keygen` (the CLI does not link ZeroMQ).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static void bin_path(const char *name, char *out, size_t cap)
{
    const char *dir = getenv("MILLRACE_BIN_DIR");
    char self[PATH_MAX];
    if (!dir) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n > 0) {
            self[n] = '\0';
            char *slash = strrchr(self, '/');
            if (slash)
                *slash = '\0';
            dir = self;
        } else {
            dir = ".";
        }
    }
    if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
        snprintf(out, cap, "%s", name); /* an absurdly long folder: rely on PATH-less name */
}

static pid_t spawn(char *const argv[], const char *log_path, int verbose)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (!verbose) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
    }
    /* Children stop with the client's process group on Ctrl-C too. */
    execv(argv[0], argv);
    fprintf(stderr, "millrace: cannot start %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cli_keygen(const char *dir)
{
    char bin[PATH_MAX];
    bin_path("millrace-coordinator", bin, sizeof bin);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *argv[] = {bin, "--keygen", (char *)dir, NULL};
        execv(bin, argv);
        fprintf(stderr, "millrace: cannot start %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

/* Makes the run's key pair in dir/keys and authorizes it (one pair shared
 * by the coordinator and every executor). */
static int make_keys(const cli_cluster *cl, char *keys, size_t cap)
{
    char auth[PATH_MAX + 32], src[PATH_MAX + 32], dst[PATH_MAX + 64];
    snprintf(keys, cap, "%s/keys", cl->dir);
    if (cli_keygen(keys) < 0)
        return -1;
    snprintf(auth, sizeof auth, "%s/authorized", keys);
    snprintf(src, sizeof src, "%s/public.key", keys);
    snprintf(dst, sizeof dst, "%s/run.key", auth);
    if (mkdir(auth, 0700) < 0)
        return -1;
    FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
    char line[128] = "";
    int ok = in && out && fgets(line, sizeof line, in) && fputs(line, out) >= 0;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int read_ready(const char *path, cli_cluster *cl)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(j, "http");
    const cJSON *bind = cJSON_GetObjectItemCaseSensitive(j, "bind");
    int rc = -1;
    if (cJSON_IsString(http) && cJSON_IsString(bind)) {
        snprintf(cl->url, sizeof cl->url, "http://%s", http->valuestring);
        snprintf(cl->control, sizeof cl->control, "%s", bind->valuestring);
        rc = 0;
    }
    cJSON_Delete(j);
    return rc;
}

static int alive_executors(const cli_cluster *cl)
{
    char url[200];
    snprintf(url, sizeof url, "%s/v1/executors", cl->url);
    cli_http_resp r;
    if (cli_http("GET", url, NULL, NULL, 0, 2000, &r) < 0)
        return -1;
    int n = 0;
    cJSON *j = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "executors"), *e;
    cJSON_ArrayForEach(e, arr)
    {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "state");
        n += cJSON_IsString(st) && strcmp(st->valuestring, "alive") == 0;
    }
    cJSON_Delete(j);
    cli_http_resp_free(&r);
    return n;
}

static int child_exited(pid_t pid)
{
    int status;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == pid;
}

int cli_cluster_start(cli_cluster *cl, int nexec, const char *data_root, int verbose)
{
    memset(cl, 0, sizeof *cl);
    const char *tmp = getenv("TMPDIR");
    snprintf(cl->dir, sizeof cl->dir, "%s/millrace-run-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(cl->dir)) {
        fprintf(stderr, "millrace: cannot create a temporary folder: %s\n", strerror(errno));
        return -1;
    }
    cl->executors = calloc((size_t)nexec, sizeof *cl->executors);
    if (!cl->executors)
        return -1;
    char coord_bin[PATH_MAX], exec_bin[PATH_MAX], ready[512], log[512], keys[PATH_MAX];
    bin_path("millrace-coordinator", coord_bin, sizeof coord_bin);
    bin_path("millrace-executor", exec_bin, sizeof exec_bin);
    snprintf(ready, sizeof ready, "%s/coordinator.json", cl->dir);
    snprintf(log, sizeof log, "%s/coordinator.log", cl->dir);
    if (make_keys(cl, keys, sizeof keys) < 0) {
        fprintf(stderr, "millrace: cannot make the cluster's CURVE keys in %s\n", cl->dir);
        return -1;
    }
    /* The DAG is the user's own, run with their own environment: any
     * ${env:NAME} may be read (values stay masked in what is shown).  One
     * run keeps no history: no state store. */
    char *cargv[] = {coord_bin, "--http", "127.0.0.1:0", "--bind", "tcp://127.0.0.1:*",
                     "--data-root", (char *)data_root, "--ready-file", ready,
                     "--allow-env", "*", "--curve-keys", keys, "--state-dir", ":memory:", NULL};
    cl->coordinator = spawn(cargv, log, verbose);
    if (cl->coordinator < 0)
        return -1;
    for (int i = 0; i < 200 && read_ready(ready, cl) < 0; i++) {
        if (child_exited(cl->coordinator)) {
            cl->coordinator = 0;
            fprintf(stderr, "millrace: the coordinator did not start; see %s\n", log);
            return -1;
        }
        sleep_ms(50);
    }
    if (!cl->url[0]) {
        fprintf(stderr, "millrace: the coordinator did not come up in 10 s; see %s\n", log);
        return -1;
    }
    for (int i = 0; i < nexec; i++) {
        char id[64];
        snprintf(id, sizeof id, "local-%d-%ld", i, (long)getpid());
        snprintf(log, sizeof log, "%s/executor-%d.log", cl->dir, i);
        char *eargv[] = {exec_bin, "--coordinator", cl->control, "--bind", "tcp://127.0.0.1:*",
                         "--data-root", (char *)data_root, "--id", id, "--curve-keys", keys, NULL};
        cl->executors[i] = spawn(eargv, log, verbose);
        cl->nexec++;
    }
    for (int i = 0; i < 200; i++) {
        if (alive_executors(cl) >= nexec)
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr, "millrace: executors did not register in 10 s; see the logs in %s\n", cl->dir);
    return -1;
}

static void stop_pid(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 60; i++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) != 0)
            return;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The run's keys go with the run, even when its logs are kept. */
static void remove_keys(const char *dir)
{
    const char *names[] = {"keys/authorized/run.key", "keys/authorized", "keys/public.key",
                           "keys/secret.key", "keys"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (unlink(p) != 0 && errno == EISDIR)
            rmdir(p);
    }
}

static void remove_dir(const char *dir)
{
    const char *names[] = {"coordinator.json", "coordinator.log"};
    char p[512];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    for (int i = 0; i < 1024; i++) {
        snprintf(p, sizeof p, "%s/executor-%d.log", dir, i);
        if (unlink(p) != 0 && errno == ENOENT && i > 64)
            break;
    }
    rmdir(dir);
}

void cli_cluster_stop(cli_cluster *cl, int keep)
{
    for (int i = 0; i < cl->nexec; i++)
        stop_pid(cl->executors[i]);
    stop_pid(cl->coordinator);
    free(cl->executors);
    cl->executors = NULL;
    if (cl->dir[0])
        remove_keys(cl->dir);
    if (!keep && cl->dir[0])
        remove_dir(cl->dir);
}
