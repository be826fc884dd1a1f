/* See testutil_wrn.h. */
#include "testutil_wrn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int64_t tu_rd_i64(const void *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int tu_wrn_load(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix, int want_params, int required)
{
    int nt, copied = 0;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    char full[JP_ST_MAX_NAME + 64];
    for (int i = 0; i < nt; i++) {
        const jp_tensor_info *x = &ti[i];
        if (x->kind == JP_T_PARAM && !want_params) continue;
        snprintf(full, sizeof full, "%s%s", prefix, x->name);
        const jp_st_entry *e = jp_st_find(f, full);
        if (!e) {
            if (required) {
                tu_check(t, 0, "tensor %s missing from %s", full, f->path);
                return -1;
            }
            continue;
        }
        jp_dtype want = x->kind == JP_T_COUNTER ? JP_I64 : JP_F32;
        if (e->dtype != want || e->end - e->begin != x->count * jp_dtype_size(want)) {
            tu_check(t, 0, "%s: dtype %s, %zu bytes; the model wants %s x %zu", full, jp_dtype_name(e->dtype),
                     e->end - e->begin, jp_dtype_name(want), x->count);
            return -1;
        }
        const void *src = jp_st_data(f, e);
        if (x->kind == JP_T_PARAM) memcpy(jp_wrn_params(m) + x->offset, src, x->count * 4);
        else if (x->kind == JP_T_BUFFER) memcpy(jp_wrn_buffers(m) + x->offset, src, x->count * 4);
        else
            for (size_t k = 0; k < x->count; k++)
                jp_wrn_counters(m)[x->offset + k] = tu_rd_i64((const char *)src + 8 * k);
        copied++;
    }
    jp_wrn_params_changed(m);
    return copied;
}

double tu_wrn_check_stats(tu_ctx *t, jp_wrn *m, const jp_st_file *f, const char *prefix, const char *label,
                          double atol, double rtol)
{
    int nt;
    const jp_tensor_info *ti = jp_wrn_tensors(m, &nt);
    char full[JP_ST_MAX_NAME + 64];
    double maxd = 0;
    int bad = 0, nbuf = 0, badc = 0, ncnt = 0;
    char worst[JP_ST_MAX_NAME + 64] = "";
    for (int i = 0; i < nt; i++) {
        const jp_tensor_info *x = &ti[i];
        if (x->kind == JP_T_PARAM) continue;
        snprintf(full, sizeof full, "%s%s", prefix, x->name);
        const jp_st_entry *e = jp_st_find(f, full);
        if (!e) {
            tu_check(t, 0, "%s: reference tensor %s missing", label, full);
            continue;
        }
        if (x->kind == JP_T_BUFFER) {
            nbuf++;
            const float *got = jp_wrn_buffers(m) + x->offset;
            const float *ref = (const float *)jp_st_data(f, e);
            for (size_t k = 0; k < x->count; k++) {
                float r;
                memcpy(&r, ref + k, 4);
                double d = fabs((double)got[k] - r);
                if (!(d <= atol + rtol * fabs(r))) bad++;
                if (!(d <= maxd)) {
                    maxd = isnan(d) ? INFINITY : d;
                    snprintf(worst, sizeof worst, "%s[%zu] got %.8g ref %.8g", x->name, k, got[k], r);
                }
            }
        } else {
            ncnt++;
            int64_t r = tu_rd_i64(jp_st_data(f, e)), g = jp_wrn_counters(m)[x->offset];
            if (r != g) {
                badc++;
                printf("        %s: num_batches_tracked %lld, reference %lld\n", x->name, (long long)g, (long long)r);
            }
        }
    }
    tu_check(t, bad == 0, "%-10s running statistics (%d tensors) max|diff| %.3g (atol %.0e rtol %.0e)%s%s", label,
             nbuf, maxd, atol, rtol, bad ? ", worst " : "", bad ? worst : "");
    tu_check(t, badc == 0 && ncnt > 0, "%-10s num_batches_tracked (%d counters) equal the reference", label, ncnt);
    return maxd;
}

