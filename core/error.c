/* error.c - error code table and the error context helpers. */
#include "core/error.h"

#include <stdio.h>
#include <string.h>

const char *mr_strerror(int code)
{
    switch (code) {
    case MR_OK: return "success";
    case MR_ENOMEM: return "out of memory";
    case MR_EINVAL: return "invalid input";
    case MR_EIO: return "I/O error";
    case MR_EPARSE: return "parse error";
    case MR_ETYPE: return "type mismatch";
    case MR_EOVERFLOW: return "numeric overflow";
    case MR_EDIVZERO: return "division by zero";
    case MR_ENOTFOUND: return "not found";
    case MR_EPROTO: return "protocol error";
    case MR_ENOTSUP: return "not supported";
    case MR_ECANCELLED: return "cancelled";
    case MR_ECAST: return "invalid cast";
    case MR_EWAREHOUSE: return "warehouse error";
    case MR_ETOOBIG: return "too large";
    case MR_ETIMEDOUT: return "timed out";
    default: return "unknown error";
    }
}

int mr_err_set(mr_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->offset = -1;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mr_err_node(mr_err *err, int code, const char *node, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->offset = -1;
        int n = 0;
        if (node && node[0])
            n = snprintf(err->msg, sizeof err->msg, "node '%s': ", node);
        if (n < 0 || (size_t)n >= sizeof err->msg)
            n = 0;
        vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mr_err_oom(mr_err *err, const char *node)
{
    return mr_err_node(err, MR_ENOMEM, node, "out of memory");
}

void mr_err_prefix(mr_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char old[MR_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof err->msg - 2)
        return;
    size_t len = (size_t)n;
    memcpy(err->msg + len, ": ", 2);
    len += 2;
    size_t room = sizeof err->msg - len - 1, olen = strlen(old);
    if (olen > room)
        olen = room;
    memcpy(err->msg + len, old, olen);
    err->msg[len + olen] = '\0';
}

void mr_err_clear(mr_err *err)
{
    if (err) {
        err->code = 0;
        err->offset = -1;
        err->msg[0] = '\0';
    }
}
