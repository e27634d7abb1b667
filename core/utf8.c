/* utf8.c - UTF-8 validation, decoding and the U+FFFD replacement policy. */
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

/* Length of the well-formed sequence at p[0..n), or minus the length of
 * its maximal subpart.  The second byte's range depends on the lead
 * (Unicode table 3-7): that is what rules out overlongs, surrogates and
 * code points past U+10FFFF without decoding. */
static int seq_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong below */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates above */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong below */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF above */
    } else {
        return -1; /* a continuation byte, C0, C1 or F5..FF */
    }
    if (n < 2 || p[1] < lo || p[1] > hi)
        return -1;
    for (int k = 2; k < need; k++)
        if ((size_t)k >= n || (p[k] & 0xC0) != 0x80)
            return -k;
    return need;
}

size_t mr_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i == n)
            break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int l = seq_len(p + i, n - i);
        if (l < 0)
            return i;
        i += (size_t)l;
    }
    return n;
}

bool mr_utf8_valid(const char *s, size_t n) { return mr_utf8_invalid_at(s, n) == n; }

int mr_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    int l = seq_len(p, n);
    switch (l) {
    case 1:
        *cp = p[0];
        break;
    case 2:
        *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3Fu);
        break;
    case 3:
        *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3Fu);
        break;
    case 4:
        *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
              ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3Fu);
        break;
    default:
        *cp = 0xFFFD;
    }
    return l;
}

size_t mr_utf8_encode(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t mr_utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

size_t mr_utf8_advance(const char *s, size_t n, int64_t k)
{
    size_t i = 0;
    while (i < n && k > 0) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

char *mr_utf8_clean_with(const char *s, size_t n, const char *repl)
{
    size_t rl = strlen(repl);
    /* each bad byte grows to at most rl (a maximal subpart is >= 1 byte) */
    if (rl > 4 || n > (SIZE_MAX - 1) / (rl > 1 ? rl : 1))
        return NULL;
    char *out = malloc(n * (rl > 1 ? rl : 1) + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t ok = mr_utf8_invalid_at(s + i, n - i);
        memcpy(o, p + i, ok);
        o += ok;
        i += ok;
        if (i == n)
            break;
        int l = seq_len(p + i, n - i);
        memcpy(o, repl, rl);
        o += rl;
        i += (size_t)-l;
    }
    *o = '\0';
    return out;
}

char *mr_utf8_clean(const char *s, size_t n)
{
    return mr_utf8_clean_with(s, n, "\xEF\xBF\xBD");
}
