/* hashagg_stats.c - the hash aggregate's states of variance/stddev
 * (count, mean, M2: Welford's update per value, the pairwise merge of Chan,
 * Golub and LeVeque for partial states), bool_and/bool_or, string_agg
 * (one growing buffer per group) and approx_count_distinct (a HyperLogLog
 * sketch per group): their updates over a batch and their output.
 * hashagg.c calls them from its per-kind dispatch.
 *
 * approx_count_distinct is HyperLogLog (Flajolet, Fusy, Gandouet and
 * Meunier, 2007) with 2^12 = 4096 registers and a 64-bit hash of each value
 * (its own seed, so it does not correlate with the shuffle's hash): the
 * first 12 bits pick a register, which keeps the largest rank (leading
 * zeros + 1) of the remaining 52 bits.  The estimate is the harmonic-mean
 * one, with linear counting (m ln(m / empty registers)) below 2.5 m, as in
 * the paper; no large-range correction is needed with a 64-bit hash.  Its
 * standard error is 1.04 / sqrt(4096) = 1.6%.  Registers merge by maximum,
 * so partial sketches from any number of tasks give the same sketch as one
 * task over all rows: the result does not depend on how the rows were
 * split.  A PARTIAL state is the 4096 registers as text, one character
 * each ('A' + rank), so it crosses the shuffle and spill files as any
 * string does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/op/hashagg_int.h"

/* variance/stddev: Welford's update of (count, mean, M2) with every
 * non-NULL value of c (int32, int64, decimal or float64). */
void hashagg__upd_var(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n)
{
    double div = c->type.id == MR_T_DECIMAL ? (double)mr_pow10[c->type.scale] : 1.0;
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(c, i))
            continue;
        double x;
        switch (c->type.id) {
        case MR_T_INT32: x = MR_COL_I32(c)[i]; break;
        case MR_T_FLOAT64: x = MR_COL_F64(c)[i]; break;
        default: x = (double)MR_COL_I64(c)[i] / div; break;
        }
        uint32_t g = gids[i];
        int64_t k = ++rt->count[g];
        double delta = x - rt->fsum[g];
        rt->fsum[g] += delta / (double)k;
        rt->m2[g] += delta * (x - rt->fsum[g]);
    }
}

/* variance/stddev in FINAL: merges partial (count, mean, M2) states with
 * Chan et al.'s pairwise formula. */
void hashagg__upd_var_merge(agg_rt *rt, const mr_column *cnt, const mr_column *mean,
                          const mr_column *m2, const uint32_t *gids, size_t n)
{
    const int64_t *cv = MR_COL_I64(cnt);
    const double *mv = MR_COL_F64(mean), *qv = MR_COL_F64(m2);
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(cnt, i) || cv[i] <= 0)
            continue;
        uint32_t g = gids[i];
        int64_t na = rt->count[g], nb = cv[i], nt = na + nb;
        double delta = mv[i] - rt->fsum[g];
        rt->fsum[g] += delta * ((double)nb / (double)nt);
        rt->m2[g] += qv[i] + delta * delta * ((double)na * (double)nb / (double)nt);
        rt->count[g] = nt;
    }
}

/* bool_and / bool_or over bools (the input, or PARTIAL results in FINAL:
 * the same merge).  mm holds "saw a false" for and, "saw a true" for or. */
void hashagg__upd_bool(agg_rt *rt, bool is_and, const mr_column *c, const uint32_t *gids, size_t n)
{
    const uint8_t *v = (const uint8_t *)c->data;
    uint8_t *seen = rt->mm;
    for (size_t i = 0; i < n; i++)
        if (mr_column_is_valid(c, i)) {
            rt->has[gids[i]] = 1;
            seen[gids[i]] |= is_and ? !v[i] : v[i] != 0;
        }
}

/* Appends n bytes to a group's string_agg buffer, growing it by doubling. */
static int sagg_append(agg_rt *rt, sagg *s, const char *p, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 16;
        while (cap < s->len + n)
            cap *= 2;
        char *q = realloc(s->p, cap);
        if (!q)
            return MR_ENOMEM;
        rt->sa_bytes += cap - s->cap;
        s->p = q;
        s->cap = cap;
    }
    if (n)
        memcpy(s->p + s->len, p, n);
    s->len += n;
    return 0;
}

/* string_agg: appends every non-NULL value (the input, or PARTIAL states in
 * FINAL: the same join), sep between values. */
int hashagg__upd_sagg(agg_rt *rt, const agg_def *d, const mr_column *c, const uint32_t *gids,
                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(c, i))
            continue;
        uint32_t g = gids[i];
        size_t len;
        const char *v = mr_column_str(c, i, &len);
        if ((rt->has[g] && sagg_append(rt, &rt->sa[g], d->sep, d->seplen) < 0) ||
            sagg_append(rt, &rt->sa[g], v, len) < 0)
            return MR_ENOMEM;
        rt->has[g] = 1;
    }
    return 0;
}

void hashagg__sagg_free(agg_rt *rt, size_t ngroups)
{
    if (!rt->sa)
        return;
    for (size_t g = 0; g < ngroups; g++)
        free(rt->sa[g].p);
    free(rt->sa);
    rt->sa = NULL;
    rt->sa_bytes = 0;
}

/* ---- approx_count_distinct: HyperLogLog ---------------------------------- */

#define HLL_P 12
#define HLL_M (1u << HLL_P)
#define HLL_SEED 0x6a09e667f3bcc909ULL

/* The group's registers, allocated zeroed at its first value. */
static uint8_t *hll_regs(agg_rt *rt, uint32_t g)
{
    sagg *s = &rt->sa[g];
    if (!s->p) {
        if (!(s->p = calloc(HLL_M, 1)))
            return NULL;
        s->len = s->cap = HLL_M;
        rt->sa_bytes += HLL_M;
    }
    return (uint8_t *)s->p;
}

/* A value's hash for the sketch: equal values (-0.0 and 0.0 too) hash
 * equal, whatever batch or task they come from. */
static uint64_t hll_hash(const mr_column *c, size_t i)
{
    if (c->type.id == MR_T_STRING) {
        size_t len;
        const char *s = mr_column_str(c, i, &len);
        return mr_hash_bytes(s, len, HLL_SEED);
    }
    uint64_t v = 0;
    switch (c->type.id) {
    case MR_T_BOOL: v = MR_COL_U8(c)[i]; break;
    case MR_T_INT32:
    case MR_T_DATE: v = (uint64_t)(int64_t)MR_COL_I32(c)[i]; break;
    case MR_T_FLOAT64: {
        double d = MR_COL_F64(c)[i];
        if (d == 0.0)
            d = 0.0;
        memcpy(&v, &d, 8);
        break;
    }
    default: v = (uint64_t)MR_COL_I64(c)[i]; break;
    }
    return mr_hash_mix(mr_hash_mix(v ^ HLL_SEED) + HLL_SEED);
}

int hashagg__upd_hll(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(c, i))
            continue;
        uint8_t *r = hll_regs(rt, gids[i]);
        if (!r)
            return MR_ENOMEM;
        uint64_t h = hll_hash(c, i);
        uint32_t idx = (uint32_t)(h >> (64 - HLL_P));
        uint64_t w = h << HLL_P;
        uint8_t rank = w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)(64 - HLL_P + 1);
        if (rank > r[idx])
            r[idx] = rank;
    }
    return 0;
}

int hashagg__upd_hll_merge(agg_rt *rt, const mr_column *c, const uint32_t *gids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!mr_column_is_valid(c, i))
            continue; /* a group that saw no value */
        size_t len;
        const char *s = mr_column_str(c, i, &len);
        if (len != HLL_M)
            return MR_EPROTO;
        uint8_t *r = hll_regs(rt, gids[i]);
        if (!r)
            return MR_ENOMEM;
        for (uint32_t k = 0; k < HLL_M; k++) {
            int v = s[k] - 'A';
            if (v < 0 || v > 64 - HLL_P + 1)
                return MR_EPROTO;
            if (v > r[k])
                r[k] = (uint8_t)v;
        }
    }
    return 0;
}

int hashagg__emit_hll_state(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    char text[HLL_M];
    for (size_t j = 0; j < m; j++) {
        const uint8_t *r = (const uint8_t *)rt->sa[from + j].p;
        if (!r) {
            mr_column_set_str_null(dst, j);
            continue;
        }
        for (uint32_t k = 0; k < HLL_M; k++)
            text[k] = (char)('A' + r[k]);
        if (mr_column_set_str(dst, j, text, HLL_M) < 0)
            return MR_ENOMEM;
    }
    return 0;
}

void hashagg__emit_hll(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    const double mm = HLL_M, alpha = 0.7213 / (1.0 + 1.079 / mm);
    int64_t *out = MR_COL_I64(dst);
    for (size_t j = 0; j < m; j++) {
        const uint8_t *r = (const uint8_t *)rt->sa[from + j].p;
        double est = 0;
        if (r) {
            double sum = 0;
            uint32_t zeros = 0;
            for (uint32_t k = 0; k < HLL_M; k++) {
                sum += ldexp(1.0, -(int)r[k]);
                zeros += r[k] == 0;
            }
            est = alpha * mm * mm / sum;
            if (est <= 2.5 * mm && zeros > 0)
                est = mm * log(mm / (double)zeros);
        }
        out[j] = (int64_t)llround(est);
        mr_column_set_valid(dst, j, true);
    }
}

/* ---- Output -------------------------------------------------------------- */

/* variance/stddev from (count, mean, M2): NULL below 2 values for the
 * sample ones and with no value for the population ones, as in PostgreSQL. */
void hashagg__emit_var(mr_agg_kind kind, mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    bool samp = kind == MR_AGG_VAR_SAMP || kind == MR_AGG_STDDEV_SAMP;
    bool sd = kind == MR_AGG_STDDEV_SAMP || kind == MR_AGG_STDDEV_POP;
    double *out = MR_COL_F64(dst);
    for (size_t j = 0; j < m; j++) {
        int64_t c = rt->count[from + j];
        bool ok = c >= (samp ? 2 : 1);
        double v = ok ? rt->m2[from + j] / (double)(samp ? c - 1 : c) : 0;
        if (v < 0) /* never negative, whatever the rounding */
            v = 0;
        out[j] = sd ? sqrt(v) : v;
        mr_column_set_valid(dst, j, ok);
    }
}

void hashagg__emit_var_state(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    memcpy(dst->data, rt->count + from, m * sizeof *rt->count);
    memcpy(dst[1].data, rt->fsum + from, m * sizeof(double));
    memcpy(dst[2].data, rt->m2 + from, m * sizeof(double));
    for (size_t j = 0; j < m; j++) {
        mr_column_set_valid(&dst[0], j, true);
        mr_column_set_valid(&dst[1], j, true);
        mr_column_set_valid(&dst[2], j, true);
    }
}

void hashagg__emit_bool(bool is_and, mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    uint8_t *out = (uint8_t *)dst->data;
    const uint8_t *seen = rt->mm;
    for (size_t j = 0; j < m; j++) {
        bool ok = rt->has[from + j] != 0;
        out[j] = ok ? (is_and ? !seen[from + j] : seen[from + j]) : 0;
        mr_column_set_valid(dst, j, ok);
    }
}

int hashagg__emit_sagg(mr_column *dst, const agg_rt *rt, size_t from, size_t m)
{
    for (size_t j = 0; j < m; j++) {
        const sagg *sg = &rt->sa[from + j];
        if (!rt->has[from + j])
            mr_column_set_str_null(dst, j);
        else if (mr_column_set_str(dst, j, sg->p, sg->len) < 0)
            return MR_ENOMEM;
    }
    return 0;
}
