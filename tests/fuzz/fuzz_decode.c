/* fuzz_decode.c - libFuzzer target for the compressed-input decoders
 * (core/formats/decode.h): gzip through zlib and zstd through libzstd, fed
 * arbitrary bytes.
 *
 * Not built by CMake: scripts/fuzz.sh builds and runs it.
 */
// fuzz-sources: core core/op core/formats
/*
 * Input layout: the first byte picks the decoder (even: gzip, odd: zstd)
 * and the size of each read (1 to 256 bytes, so output crosses many read
 * calls); the rest is the file, written to a memfd.
 *
 * Beyond "never crash, never leak": every read returns a count within the
 * buffer, or 0 once (the end, after which reads stay at 0), or a negative
 * code with a message that names the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/formats/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    mr_compression kind = (data[0] & 1) ? MR_COMPRESSION_ZSTD : MR_COMPRESSION_GZIP;
    size_t chunk = (size_t)(data[0] >> 1) * 2 + 1;
    int fd = memfd_create("fuzz_decode", 0);
    if (fd < 0)
        return 0;
    if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        return 0;
    }
    lseek(fd, 0, SEEK_SET);
    /* the decoder reads an mr_file (core/io.h): a local descriptor here */
    mr_file f = {.fd = fd, .size = size > 1 ? size - 1 : 0, .path = NULL};
    mr_decoder *d = mr_decoder_create(kind, &f, "input.bin");
    if (!d) {
        close(fd);
        return 0;
    }
    char buf[256];
    uint64_t total = 0;
    for (;;) {
        mr_err err;
        memset(&err, 0, sizeof err);
        long n = mr_decoder_read(d, buf, chunk, &err);
        if (n < 0) {
            if (!strstr(err.msg, "input.bin"))
                abort(); /* an error must name the file */
            break;
        }
        if ((size_t)n > chunk)
            abort();
        if (n == 0) {
            if (mr_decoder_read(d, buf, chunk, &err) != 0)
                abort(); /* the end is sticky */
            break;
        }
        total += (uint64_t)n;
        if (total > (64u << 20))
            break; /* a decompression bomb: enough */
    }
    if (mr_decoder_in_bytes(d) > size)
        abort();
    mr_decoder_destroy(d);
    close(fd);
    return 0;
}
