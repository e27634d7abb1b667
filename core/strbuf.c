/* strbuf.c - the growable text buffer. */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mr_strbuf_reserve(mr_strbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->n + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void mr_strbuf_put(mr_strbuf *b, const char *s, size_t n)
{
    if (mr_strbuf_reserve(b, n) < 0)
        return;
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void mr_strbuf_puts(mr_strbuf *b, const char *s)
{
    mr_strbuf_put(b, s, strlen(s));
}

void mr_strbuf_printf(mr_strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mr_strbuf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

void mr_strbuf_quoted(mr_strbuf *b, const char *s, char quote)
{
    mr_strbuf_put(b, &quote, 1);
    for (const char *q; (q = strchr(s, quote)) != NULL; s = q + 1) {
        mr_strbuf_put(b, s, (size_t)(q - s) + 1);
        mr_strbuf_put(b, &quote, 1);
    }
    mr_strbuf_puts(b, s);
    mr_strbuf_put(b, &quote, 1);
}

void mr_strbuf_free(mr_strbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
