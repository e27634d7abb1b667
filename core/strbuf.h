/* strbuf.h - a growable, NUL-terminated text buffer for building SQL
 * statements, COPY data, explain output and messages.
 *
 * Out-of-memory is sticky: after a failed growth every append is a no-op
 * and `oom` stays set, so a caller builds a whole text and checks once.
 * Init with {0}; mr_strbuf_free releases it (a freed buffer is {0} again).
 */
#ifndef MR_STRBUF_H
#define MR_STRBUF_H

#include <stddef.h>

typedef struct mr_strbuf {
    char *p;  /* the text, NUL-terminated once anything was appended */
    size_t n; /* its length */
    size_t cap;
    int oom;
} mr_strbuf;

/* Makes room for extra more bytes (and the NUL); 0, or -1 with oom set. */
int mr_strbuf_reserve(mr_strbuf *b, size_t extra);
void mr_strbuf_put(mr_strbuf *b, const char *s, size_t n);
void mr_strbuf_puts(mr_strbuf *b, const char *s);
void mr_strbuf_printf(mr_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s between two `quote` characters with every quote inside doubled:
 * an SQL identifier with '"', a string literal with '\''. */
void mr_strbuf_quoted(mr_strbuf *b, const char *s, char quote);
void mr_strbuf_free(mr_strbuf *b);

#endif
