/* store.h - s3:// URLs as core's object store (core/io.h): a daemon calls
 * os_store_install once at start-up and core's readers then open, read by
 * byte range and list s3:// paths like local ones. */
#ifndef MR_OBJSTORE_STORE_H
#define MR_OBJSTORE_STORE_H

#include "core/error.h"

/* Reads the AWS environment (objstore/s3.h) and plugs the store into
 * core.  Fails only on an unusable AWS_ENDPOINT_URL; s3:// paths then
 * fail with "no object store is configured". */
int os_store_install(mr_err *err);

/* Splits "s3://bucket/key" into its bucket and key (malloc'd; key may be
 * ""): 0, or MR_EINVAL with a message for a URL without a bucket. */
int os_url_split(const char *url, char **bucket, char **key, mr_err *err);

#endif
