/* jp_mkdirs (mkdir -p): nested folders, an existing folder, a trailing slash, a file in
 * the way (JP_ERR_IO naming it), an empty or over-long name (JP_ERR_ARG). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "folders");
    char root[512], p[1024];
    tu_tmpdir(root, sizeof root, "folders");
    jp_error e;

    snprintf(p, sizeof p, "%s/a/b/c", root);
    jp_status st = jp_mkdirs(p, &e);
    tu_check(&t, st == JP_OK && is_dir(p), "nested a/b/c created (%s)", st ? e.msg : "ok");
    st = jp_mkdirs(p, &e);
    tu_check(&t, st == JP_OK, "an existing folder is fine");
    snprintf(p, sizeof p, "%s/a/d/", root);
    st = jp_mkdirs(p, &e);
    tu_check(&t, st == JP_OK && is_dir(p), "trailing slash");

    snprintf(p, sizeof p, "%s/a/file", root);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/a/file/below", root);
    st = jp_mkdirs(p, &e);
    tu_check(&t, st == JP_ERR_IO && strstr(e.msg, "a/file"), "a file in the way: JP_ERR_IO naming it (%s)",
             e.msg);
    snprintf(p, sizeof p, "%s/a/file", root);
    st = jp_mkdirs(p, &e);
    tu_check(&t, st == JP_ERR_IO && strstr(e.msg, "not a folder"), "the path itself a file: %s", e.msg);

    st = jp_mkdirs("", &e);
    tu_check(&t, st == JP_ERR_ARG, "empty name: %s", e.msg);
    static char longname[5000];
    memset(longname, 'x', sizeof longname - 1);
    st = jp_mkdirs(longname, &e);
    tu_check(&t, st == JP_ERR_ARG && strstr(e.msg, "too long"), "over-long name: JP_ERR_ARG");

    snprintf(p, sizeof p, "%s/a/file", root);
    remove(p);
    char *dirs[] = {"a/b/c", "a/b", "a/d", "a", ""};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        rmdir(p);
    }
    return tu_finish(&t);
}
