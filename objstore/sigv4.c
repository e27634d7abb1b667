/* sigv4.c - the canonical request, string to sign and signature of AWS
 * Signature Version 4 (Nettle's SHA-256 and HMAC). */
#include "objstore/sigv4.h"

#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexd[] = "0123456789abcdef";

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = hexd[d[i] >> 4];
        hex[2 * i + 1] = hexd[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

long os_uri_encode(const char *s, size_t n, int keep_slash, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (o + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = "0123456789ABCDEF"[c >> 4];
            out[o++] = "0123456789ABCDEF"[c & 15];
        }
    }
    out[o] = '\0';
    return (long)o;
}

void os_sha256_hex(const void *data, size_t n, char hex[65])
{
    struct sha256_ctx ctx;
    unsigned char d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, n, data);
    sha256_digest(&ctx, sizeof d, d);
    to_hex(d, sizeof d, hex);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char *out)
{
    struct hmac_sha256_ctx ctx;
    hmac_sha256_set_key(&ctx, klen, key);
    hmac_sha256_update(&ctx, strlen(msg), (const unsigned char *)msg);
    hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

int os_sigv4_authorization(const char *method, const char *path, const char *query,
                           const os_sig_header *headers, size_t nheaders,
                           const char *payload_sha256, const char *amz_date, const char *region,
                           const char *key_id, const char *secret, char *out, size_t cap)
{
    char date[9];
    snprintf(date, sizeof date, "%.8s", amz_date);
    size_t need = strlen(method) + strlen(path) + strlen(query) + strlen(payload_sha256) + 64;
    for (size_t i = 0; i < nheaders; i++)
        need += 2 * strlen(headers[i].name) + strlen(headers[i].value) + 4;
    char *canon = malloc(need), *signed_h = malloc(need);
    if (!canon || !signed_h) {
        free(canon);
        free(signed_h);
        return -1;
    }
    size_t c = (size_t)snprintf(canon, need, "%s\n%s\n%s\n", method, path, query);
    size_t s = 0;
    signed_h[0] = '\0';
    for (size_t i = 0; i < nheaders; i++) {
        c += (size_t)snprintf(canon + c, need - c, "%s:%s\n", headers[i].name, headers[i].value);
        s += (size_t)snprintf(signed_h + s, need - s, "%s%s", i ? ";" : "", headers[i].name);
    }
    snprintf(canon + c, need - c, "\n%s\n%s", signed_h, payload_sha256);
    char canon_hex[65];
    os_sha256_hex(canon, strlen(canon), canon_hex);
    free(canon);

    char scope[128];
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, region);
    char to_sign[320];
    snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, canon_hex);

    /* the signing key: HMAC chain from "AWS4" + secret over date, region,
     * service and the terminator */
    size_t slen = strlen(secret);
    unsigned char *k0 = malloc(slen + 5), k[SHA256_DIGEST_SIZE], sig[SHA256_DIGEST_SIZE];
    if (!k0) {
        free(signed_h);
        return -1;
    }
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, slen);
    hmac(k0, slen + 4, date, k);
    memset(k0, 0, slen + 4); /* no copy of the secret lingers */
    free(k0);
    hmac(k, sizeof k, region, k);
    hmac(k, sizeof k, "s3", k);
    hmac(k, sizeof k, "aws4_request", k);
    hmac(k, sizeof k, to_sign, sig);
    memset(k, 0, sizeof k);
    char sig_hex[65];
    to_hex(sig, sizeof sig, sig_hex);
    int n = snprintf(out, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                     "Signature=%s", key_id, scope, signed_h, sig_hex);
    free(signed_h);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}
