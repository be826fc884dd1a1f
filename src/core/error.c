#include "jempp/core.h"

#include <stdarg.h>
#include <stdlib.h>

jp_status jp_fail(jp_error *err, jp_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *jp_status_name(jp_status s)
{
    switch (s) {
    case JP_OK: return "ok";
    case JP_ERR_IO: return "i/o error";
    case JP_ERR_FORMAT: return "bad format";
    case JP_ERR_SHAPE: return "shape mismatch";
    case JP_ERR_ARG: return "bad argument";
    case JP_ERR_NOMEM: return "out of memory";
    case JP_ERR_NUMERIC: return "numerical error";
    case JP_ERR_BACKEND: return "backend error";
    case JP_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

void jp_check_failed(const char *file, int line, const char *expr)
{
    fprintf(stderr, "jempp: internal check failed at %s:%d: %s\n", file, line, expr);
    abort();
}
