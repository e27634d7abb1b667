/* log.c - timestamped, levelled, one-line log records on stderr. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_level = -1;

void mr_log_set_level(mr_log_level level)
{
    g_level = (int)level;
}

static int current_level(void)
{
    if (g_level < 0) {
        const char *e = getenv("MILLRACE_LOG");
        g_level = MR_LOG_INFO;
        if (e && strcmp(e, "debug") == 0)
            g_level = MR_LOG_DEBUG;
        else if (e && strcmp(e, "warn") == 0)
            g_level = MR_LOG_WARN;
        else if (e && strcmp(e, "error") == 0)
            g_level = MR_LOG_ERROR;
    }
    return g_level;
}

void mr_log(mr_log_level level, const char *component, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if ((int)level < current_level())
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)(tv.tv_usec / 1000), names[level], component);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line - 1)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
