/* fuzz_s3xml.c - S3's XML answers (objstore/xml.c) under libFuzzer: a
 * listing parses into keys and sizes or is refused with MR_EPROTO, never
 * half-filled; an error answer gives a code of word characters only. */
// fuzz-sources: core core/op core/formats objstore/xml.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    os_s3_list_page p;
    int rc = os_s3_list_parse((const char *)data, size, &p);
    if (rc == 0) {
        for (size_t i = 0; i < p.n; i++)
            if (!p.keys[i])
                abort();
        if (p.next_token && !p.next_token[0])
            abort(); /* a truncated listing always says how to go on */
        os_s3_list_page_free(&p);
    } else if (rc != MR_EPROTO && rc != MR_ENOMEM) {
        abort();
    } else if (p.n || p.keys || p.next_token) {
        abort(); /* a refused listing holds nothing */
    }
    char code[128], msg[256];
    os_s3_error_parse((const char *)data, size, code, sizeof code, msg, sizeof msg);
    if (strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.") !=
        strlen(code))
        abort();
    free(os_s3_xml_text((const char *)data, size, "UploadId"));
    return 0;
}
