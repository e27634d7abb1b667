/* dbsrc.c - the plugged-in database source lookup (core/dbsrc.h). */
#include "core/dbsrc.h"

#include <stddef.h>

static const mr_dbsrc *plugged;

void mr_dbsrc_set(const mr_dbsrc *src)
{
    plugged = src;
}

const mr_dbsrc *mr_dbsrc_get(void)
{
    return plugged;
}
