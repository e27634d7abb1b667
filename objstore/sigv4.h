/* sigv4.h - AWS Signature Version 4 for S3 requests, signed by millrace
 * itself where Debian's libcurl gets the canonical request wrong.
 *
 * libcurl 7.88 (Debian 12) signs with CURLOPT_AWS_SIGV4, and does so
 * rightly for a request without a query string (the path is sent, and
 * signed, exactly as millrace encodes it).  It does not sort the query
 * parameters and it signs a parameter without a value ("?uploads") in a
 * form S3 rejects, so ListObjectsV2 and the multipart calls are signed
 * here (tests/e2e/test_s3.py sends both kinds to a server that checks
 * signatures).  The canonical request follows the AWS specification: the
 * URI path encoded once (S3 does not normalise it), the query sorted by
 * encoded name, the headers lower-cased and sorted, the payload's
 * SHA-256. */
#ifndef MR_OBJSTORE_SIGV4_H
#define MR_OBJSTORE_SIGV4_H

#include <stddef.h>

/* One header to sign: name in lower case, value trimmed. */
typedef struct os_sig_header {
    const char *name;
    const char *value;
} os_sig_header;

/* Appends to out (cap bytes) the percent-encoding of s[0, n): every byte
 * but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash).  Returns the length
 * written, or -1 when it does not fit. */
long os_uri_encode(const char *s, size_t n, int keep_slash, char *out, size_t cap);

/* Hex SHA-256 of data[0, n) into hex (65 bytes). */
void os_sha256_hex(const void *data, size_t n, char hex[65]);

/* Writes the Authorization header value into out:
 *   AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/s3/aws4_request,
 *   SignedHeaders=..., Signature=...
 * method, the encoded path, the canonical (sorted, encoded) query, the
 * headers sorted by name, the payload hash and amz_date (YYYYMMDDTHHMMSSZ).
 * Returns 0, or -1 when out is too small. */
int os_sigv4_authorization(const char *method, const char *path, const char *query,
                           const os_sig_header *headers, size_t nheaders,
                           const char *payload_sha256, const char *amz_date, const char *region,
                           const char *key_id, const char *secret, char *out, size_t cap);

#endif
