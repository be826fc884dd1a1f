/* Logs of a run directory on resume: drop what a killed run wrote after its last
 * checkpoint, so a resumed run's metrics read as one uninterrupted run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../io/atomic_file.h"
#include "trainer_internal.h"

/* The line's counter: for JSON lines the integer after "key":, for CSV lines the first
 * field (metrics.csv starts with iter, epochs.csv with epoch). 0 when the line has none
 * (a header): such lines are kept. */
static int line_counter(const char *line, size_t len, const char *key, long long *out)
{
    char buf[64];
    const char *p = line;
    if (len && line[0] == '{') {
        snprintf(buf, sizeof buf, "\"%s\":", key);
        const char *hit = NULL;
        for (size_t i = 0; i + strlen(buf) <= len && !hit; i++)
            if (!memcmp(line + i, buf, strlen(buf))) hit = line + i;
        if (!hit) return 0;
        p = hit + strlen(buf);
    }
    char *end = NULL;
    long long v = strtoll(p, &end, 10);
    if (end == p || end > line + len || (*end != ',' && *end != '}')) return 0;
    *out = v;
    return 1;
}

jp_status jp_log_keep_until(const char *path, const char *key, long long limit, jp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? JP_OK : jp_fail(err, JP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        free(text);
        fclose(f);
        return jp_fail(err, JP_ERR_IO, "cannot read %s", path);
    }
    fclose(f);
    /* keep lines in place: copy each kept line down over the dropped ones */
    size_t out = 0, dropped = 0;
    for (size_t at = 0; at < (size_t)n;) {
        const char *nl = memchr(text + at, '\n', (size_t)n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) + 1 : (size_t)n - at;
        long long v;
        if (!nl || (line_counter(text + at, len, key, &v) && v > limit)) {
            dropped++; /* after the checkpoint, or a line cut short by the kill */
        } else {
            memmove(text + out, text + at, len);
            out += len;
        }
        at += len;
    }
    jp_status st = dropped ? jp_write_file_atomic(path, text, out, err) : JP_OK;
    free(text);
    return st;
}
