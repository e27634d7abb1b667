/* test_utf8.c - core/utf8: validation, decoding and the U+FFFD policy
 * (one per maximal subpart), on boundary tables and against a reference
 * built from the definition (every code point's encoding and its
 * prefixes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/utf8.h"

#define S(x) x, sizeof x - 1
#define FFFD "\xEF\xBF\xBD"

/* Boundary cases; the expected texts are what Python's
 * bytes.decode("utf-8", "replace") gives. */
static const struct {
    const char *in;
    size_t n;
    const char *clean;
} cases[] = {
    {S(""), ""},
    {S("plain ascii text, longer than eight"), "plain ascii text, longer than eight"},
    {S("\x7F"), "\x7F"},
    {S("\x80"), FFFD},
    {S("\xBF\x80"), FFFD FFFD},
    {S("\xC0\x80"), FFFD FFFD},               /* overlong NUL */
    {S("\xC1\xBF"), FFFD FFFD},               /* overlong */
    {S("\xC2\x80"), "\xC2\x80"},              /* U+0080 */
    {S("\xDF\xBF"), "\xDF\xBF"},              /* U+07FF */
    {S("\xC2"), FFFD},                        /* truncated */
    {S("\xC2" "A"), FFFD "A"},
    {S("\xE0\x80\x80"), FFFD FFFD FFFD},      /* overlong */
    {S("\xE0\x9F\xBF"), FFFD FFFD FFFD},      /* overlong U+07FF */
    {S("\xE0\xA0\x80"), "\xE0\xA0\x80"},      /* U+0800 */
    {S("\xED\x9F\xBF"), "\xED\x9F\xBF"},      /* U+D7FF */
    {S("\xED\xA0\x80"), FFFD FFFD FFFD},      /* surrogate U+D800 */
    {S("\xED\xBF\xBF"), FFFD FFFD FFFD},      /* surrogate U+DFFF */
    {S("\xEE\x80\x80"), "\xEE\x80\x80"},      /* U+E000 */
    {S("\xEF\xBF\xBF"), "\xEF\xBF\xBF"},      /* U+FFFF */
    {S("\xE2\x82"), FFFD},                    /* truncated 3-byte: one */
    {S("\xE2\x82" "A"), FFFD "A"},
    {S("\xE2\x82\xAC"), "\xE2\x82\xAC"},      /* euro sign */
    {S("\xF0\x80\x80\x80"), FFFD FFFD FFFD FFFD}, /* overlong */
    {S("\xF0\x8F\xBF\xBF"), FFFD FFFD FFFD FFFD}, /* overlong U+FFFF */
    {S("\xF0\x90\x80\x80"), "\xF0\x90\x80\x80"},  /* U+10000 */
    {S("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF"},  /* U+10FFFF */
    {S("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD}, /* U+110000 */
    {S("\xF5\x80\x80\x80"), FFFD FFFD FFFD FFFD},
    {S("\xFF"), FFFD},
    {S("\xFE\xFF"), FFFD FFFD},
    {S("\xF0\x9F\x98"), FFFD},                /* truncated 4-byte: one */
    {S("\xF0\x9F"), FFFD},
    {S("\xF0\x9F\x98" "x\xF0\x9F\x98\x80"), FFFD "x\xF0\x9F\x98\x80"},
    {S("a\xE2\x82\xF0\x9F\x98\x80"), "a" FFFD "\xF0\x9F\x98\x80"},
    {S("12345678\x80" "12345678"), "12345678" FFFD "12345678"},
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = mr_utf8_clean(cases[i].in, cases[i].n);
        assert_non_null(c);
        assert_string_equal(c, cases[i].clean);
        bool same = strlen(cases[i].clean) == cases[i].n &&
                    memcmp(cases[i].clean, cases[i].in, cases[i].n) == 0;
        assert_int_equal(mr_utf8_valid(cases[i].in, cases[i].n), same);
        assert_true(mr_utf8_valid(c, strlen(c)));
        free(c);
    }
}

/* The same table with "?" for U+FFFD: the REST API's cleaner. */
static void test_table_question_mark(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *c = mr_utf8_clean_with(cases[i].in, cases[i].n, "?");
        assert_non_null(c);
        char want[256];
        size_t w = 0;
        for (const char *p = cases[i].clean; *p;) {
            if (strncmp(p, FFFD, 3) == 0) {
                want[w++] = '?';
                p += 3;
            } else {
                want[w++] = *p++;
            }
        }
        want[w] = '\0';
        assert_string_equal(c, want);
        assert_true(mr_utf8_valid(c, strlen(c)));
        free(c);
    }
    assert_null(mr_utf8_clean_with("a", 1, "12345")); /* over four bytes */
}

static void test_decode_encode(void **state)
{
    (void)state;
    char b[4];
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t l = mr_utf8_encode(b, cp);
        assert_int_equal(l, mr_utf8_encoded_len(cp));
        uint32_t back = 0;
        assert_int_equal(mr_utf8_decode(b, l, &back), (int)l);
        assert_int_equal(back, cp);
        assert_true(mr_utf8_valid(b, l));
        assert_int_equal(mr_utf8_chars(b, l), 1);
    }
    uint32_t cp;
    assert_int_equal(mr_utf8_decode(S("\xE2\x82" "A"), &cp), -2);
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(mr_utf8_decode(S("\xED\xA0\x80"), &cp), -1);
    assert_int_equal(mr_utf8_invalid_at(S("abc\xC3\xA9\xFF")), 5);
    assert_int_equal(mr_utf8_advance(S("a\xC3\xA9" "b"), 2), 3);
    assert_int_equal(mr_utf8_advance(S("a\xC3\xA9" "b"), 9), 4);
}

/* The reference: a byte string is a well-formed sequence when it is the
 * encoding of a code point (written out here bit by bit, not with
 * core/utf8), and a prefix of one marks a maximal subpart. */
static uint8_t *prefix2; /* 65536 bits: two-byte prefixes of some encoding */
static uint8_t *prefix3; /* 2^24 bits: three-byte prefixes */
static uint8_t prefix1[32];

static size_t ref_encode(uint32_t cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    int n = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
    for (int k = n - 1; k > 0; k--) {
        o[k] = (unsigned char)(0x80 | (cp & 0x3F));
        cp >>= 6;
    }
    o[0] = (unsigned char)(lead[n] | cp);
    return (size_t)n;
}

#define SETBIT(a, i) ((a)[(i) >> 3] |= (uint8_t)(1u << ((i) & 7)))
#define GETBIT(a, i) (((a)[(i) >> 3] >> ((i) & 7)) & 1u)

static int ref_setup(void **state)
{
    (void)state;
    prefix2 = calloc(65536 / 8, 1);
    prefix3 = calloc((1u << 24) / 8, 1);
    if (!prefix2 || !prefix3)
        return -1;
    for (uint32_t cp = 0x80; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        unsigned char o[4];
        size_t l = ref_encode(cp, o);
        SETBIT(prefix1, o[0]);
        if (l > 2)
            SETBIT(prefix2, (unsigned)o[0] << 8 | o[1]);
        if (l > 3)
            SETBIT(prefix3, (unsigned)o[0] << 16 | (unsigned)o[1] << 8 | o[2]);
    }
    return 0;
}

static int ref_teardown(void **state)
{
    (void)state;
    free(prefix2);
    free(prefix3);
    return 0;
}

/* Length of the well-formed sequence at p (positive) or of the maximal
 * subpart (negative), from the tables and a decode-and-re-encode check. */
static int ref_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    int want = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (want && (size_t)want <= n) {
        uint32_t cp = p[0] & (0x7Fu >> want);
        for (int k = 1; k < want; k++)
            cp = cp << 6 | (p[k] & 0x3Fu);
        unsigned char o[4];
        bool cont = true;
        for (int k = 1; k < want; k++)
            cont = cont && (p[k] & 0xC0) == 0x80;
        if (cont && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
            ref_encode(cp, o) == (size_t)want && memcmp(o, p, (size_t)want) == 0)
            return want;
    }
    int sub = 1;
    if (GETBIT(prefix1, p[0]) && n >= 2 && GETBIT(prefix2, (unsigned)p[0] << 8 | p[1])) {
        sub = 2;
        if (n >= 3 && GETBIT(prefix3, (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2]))
            sub = 3;
    }
    return -sub;
}

static void test_against_reference(void **state)
{
    (void)state;
    /* bytes at every boundary of table 3-7, plus ASCII */
    static const unsigned char pick[] = {0x01, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                         0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                         0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
    uint32_t seed = 12345;
    unsigned char in[12];
    char want[64];
    for (int round = 0; round < 400000; round++) {
        size_t n = 1 + round % (sizeof in);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = pick[(seed >> 16) % sizeof pick];
        }
        size_t w = 0;
        bool valid = true;
        for (size_t i = 0; i < n;) {
            int l = ref_len(in + i, n - i);
            if (l > 0) {
                memcpy(want + w, in + i, (size_t)l);
                w += (size_t)l;
                i += (size_t)l;
            } else {
                memcpy(want + w, FFFD, 3);
                w += 3;
                i += (size_t)-l;
                valid = false;
            }
        }
        want[w] = '\0';
        char *got = mr_utf8_clean((const char *)in, n);
        assert_non_null(got);
        assert_int_equal(strlen(got), w);
        assert_memory_equal(got, want, w);
        assert_int_equal(mr_utf8_valid((const char *)in, n), valid);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_question_mark),
        cmocka_unit_test(test_decode_encode),
        cmocka_unit_test(test_against_reference),
    };
    return cmocka_run_group_tests(tests, ref_setup, ref_teardown);
}
