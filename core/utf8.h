/* utf8.h - the one UTF-8 module: validation, decoding, encoding, character
 * counting and the one policy for replacing bad bytes.
 *
 * Well-formed UTF-8 is as in Unicode 15 table 3-7: no overlong forms, no
 * UTF-16 surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
 *
 * Replacement policy (mr_utf8_clean, mr_utf8_decode): each MAXIMAL
 * SUBPART of an ill-formed sequence becomes one U+FFFD, as the Unicode
 * standard (section 3.9, "U+FFFD Substitution of Maximal Subparts") and the
 * WHATWG Encoding standard recommend, and as Python's
 * bytes.decode("utf-8", "replace") and browsers do.  A maximal subpart is
 * the longest prefix of a well-formed sequence (a lead byte followed by the
 * continuation bytes that are allowed after it), or else a single byte.  So
 * "\xE2\x82" followed by "A" is one U+FFFD then "A", and "\xC0\x80" (an
 * overlong NUL) is two. */
#ifndef MR_UTF8_H
#define MR_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when s[0..n) is well-formed UTF-8.  ASCII runs go eight bytes at a
 * time. */
bool mr_utf8_valid(const char *s, size_t n);

/* Offset of the first byte of s[0..n) that is not part of a well-formed
 * sequence, or n when s is well-formed. */
size_t mr_utf8_invalid_at(const char *s, size_t n);

/* Decodes the character at s[0..n) (n > 0).  Returns its length in bytes
 * (1..4) and *cp, or, when s does not start with a well-formed sequence,
 * the negated length of its maximal subpart (-1..-3) and *cp U+FFFD. */
int mr_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Writes the UTF-8 form of cp (<= U+10FFFF, not a surrogate) to o (room
 * for 4 bytes); returns its length. */
size_t mr_utf8_encode(char *o, uint32_t cp);

/* Bytes of the UTF-8 form of cp. */
static inline size_t mr_utf8_encoded_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Number of characters in s[0..n): bytes that are not continuation bytes
 * (for well-formed text, the code points). */
size_t mr_utf8_chars(const char *s, size_t n);

/* Byte offset of character k (0-based) of s[0..n), or n when s has no more
 * than k characters. */
size_t mr_utf8_advance(const char *s, size_t n, int64_t k);

/* A malloc'd, NUL-ended copy of s[0..n) that is well-formed UTF-8: each
 * maximal subpart of an ill-formed sequence becomes U+FFFD (see above).
 * Warehouses and JSON want valid text, and a rejected row's raw text may be
 * exactly what was wrong with it.  NULL when out of memory. */
char *mr_utf8_clean(const char *s, size_t n);

/* The same with repl (valid UTF-8 of at most 4 bytes, e.g. "?") in place
 * of U+FFFD: one repl per maximal subpart.  The REST API uses "?" so its
 * answers stay ASCII where clients sent garbage.  NULL when out of memory
 * or repl is longer. */
char *mr_utf8_clean_with(const char *s, size_t n, const char *repl);

#endif
