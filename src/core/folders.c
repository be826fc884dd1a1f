#include "jempp/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* mkdir -p: every missing folder along path, mode 0755; existing ones are fine. */
jp_status jp_mkdirs(const char *path, jp_error *err)
{
    char buf[4096];
    if (!path || !path[0]) return jp_fail(err, JP_ERR_ARG, "empty folder name");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return jp_fail(err, JP_ERR_ARG, "folder name too long: %.80s...", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char save = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return jp_fail(err, JP_ERR_IO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = save;
        if (!save) break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return jp_fail(err, JP_ERR_IO, "%s exists and is not a folder", path);
    return JP_OK;
}
