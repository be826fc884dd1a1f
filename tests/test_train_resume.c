/* The real trainer (jp_train_run) on Fashion-MNIST, kept small (WRN-10-1, batch 16,
 * buffer 200, PYLD-2-2, 1000 validation images, a handful of iterations):
 *
 * a) exact resume: run A does 2N iterations; run B does N, then a second jp_train_run
 *    resumes from B's own last.safetensors up to 2N. A/last.safetensors and
 *    B/last.safetensors must be equal tensor by tensor, bit for bit (model weights,
 *    running statistics, counters, optimizer state, replay buffer, RNG, position,
 *    learning-rate scale and best validation accuracy). Twice: stopping in the middle
 *    of the first epoch, and (a 32-image training set: 2-iteration epochs) stopping at
 *    an epoch's end, the resumed run crossing into the next epochs. With 4 labels per
 *    class an epoch is still a pass over all training images, as in the reference.
 * b) divergence: a rollback restores the snapshot's buffer chains bit for bit, or draws
 *    fresh ones (the trainer's internals, on the CPU and on device copies);
 *    a hook's nan_iter = k poisons the loss once; the run rolls back, finishes,
 *    reports one recovery and a "recovered" event in metrics.jsonl, and its weights are
 *    finite. With max_recoveries = 0 the same run fails with JP_ERR_NUMERIC and names
 *    last.safetensors. A rollback across two epoch ends (NaN at iteration 4 of
 *    2-iteration epochs) counts the epochs again; metrics.csv and epochs.csv keep one
 *    row per iteration and epoch, metrics.jsonl the undone ones too.
 *    The gap detector's remedy (the gap hook) with gap_max_steps 4: the rollback doubles
 *    the sampler's outer steps and keeps the lr (event, checkpoint's steps scale);
 *    3 + resume + 1 iterations equal 4 uninterrupted ones, so the doubled steps survive a
 *    resume; past gap_max_steps the remedy halves the lr instead.
 *    And a run that dies (an injected NaN, no recoveries allowed) right after a
 *    mid-epoch save (save_every) with torn lines at the end of its logs resumes from
 *    its config.json to the same weights and the same per-iteration log as A.
 * a4) a stop on request (cfg.stop, what jempp train's Ctrl-C handler raises) saves after
 *    the iteration in progress; the resumed run ends bit-identical to A.
 *    Checkpoints of the formats before the gap detector (2 training scalars) and before
 *    its steps remedy (3) resume; a steps scale that is not a whole number >= 1 is refused.
 * d) --load_path: a run (lr 1e-30) from A's checkpoint starts at iteration 0 with A's
 *    weights and A's buffer chains (all but those one iteration writes back); a
 *    softmax-only checkpoint (no buffer) loads with fresh chains; another width, another
 *    buffer size or a missing file fail naming the tensor or the file, writing nothing.
 * e) a device that keeps its memory apart (the CPU's kernels on copies): the runs equal
 *    the CPU's bit for bit, resumed across devices too, and with one rank's device
 *    collectives (device_case).
 * f) checkpoints in parts of at most 1 MiB (--max_file_mb): a run resumed from its parts
 *    equals the uninterrupted one bit for bit.
 * c) bad input: --resume at a folder without last.safetensors fails with JP_ERR_IO naming
 *    the path; a truncated last.safetensors fails with JP_ERR_FORMAT and is left as it was.
 *
 * The data are /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist; env
 * JEMPP_TEST_FASHION names another folder). If they are absent the test reports SKIPPED
 * (ctest's skip code), or fails with JEMPP_REQUIRE_ALL=1 (CI). The runs read the training files through symbolic
 * links in the test's temporary folder (under JEMPP_BIN), so that the informative init's
 * Gaussian cache is written there, not next to the data or in $HOME (the first run
 * computes it, the others load it); the folder is removed when every check passed. The
 * training set is the real one; the test set is cut to its first N_TEST images, as every
 * run that finishes evaluates it once and the full 10000 would take most of the time.
 * JEMPP_TEST_VERBOSE=1 shows the trainer's own progress lines. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "jempp/checkpoint.h"
#include "jempp/core.h"
#include "jempp/data.h"
#include "jempp/eval.h"
#include "jempp/safetensors.h"
#include "jempp/train.h"
#include "ebm/train_hooks.h"
#include "ebm/trainer_internal.h"
#include "ops/device.h"
#include "testutil.h"

#define FASHION "/usr/share/datasets/fashion-mnist" /* JEMPP_TEST_FASHION overrides it */
#define N_HALF 3 /* run B stops after N_HALF iterations, run A does 2 * N_HALF */
#define N_TEST 100 /* test images: a run evaluates them at its end; 10000 would cost most of the time */
#define N_SMALL 1032 /* the small training set: 1000 validation + 32 training images */

static const char *const fashion_files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static char g_root[256], g_data[320], g_small[320];

static int file_exists(const char *p)
{
    struct stat s;
    return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

/* Writes the first n items of a gzipped IDX file (header of hdr bytes, the item count a
 * big-endian uint32 at byte 4) as an uncompressed IDX file holding those n items. */
static int idx_head(const char *src, const char *dst, int hdr, int n, int item_bytes, char *msg, size_t len)
{
    gzFile g = gzopen(src, "rb");
    if (!g) {
        snprintf(msg, len, "cannot open %s", src);
        return 0;
    }
    size_t body = (size_t)n * item_bytes;
    unsigned char *b = malloc((size_t)hdr + body);
    int got = gzread(g, b, (unsigned)(hdr + body));
    gzclose(g);
    if (got != (int)(hdr + body)) {
        snprintf(msg, len, "%s: read %d of %zu bytes", src, got, hdr + body);
        free(b);
        return 0;
    }
    b[4] = (unsigned char)(n >> 24);
    b[5] = (unsigned char)(n >> 16);
    b[6] = (unsigned char)(n >> 8);
    b[7] = (unsigned char)n;
    FILE *f = fopen(dst, "wb");
    int ok = f && fwrite(b, 1, hdr + body, f) == hdr + body;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) snprintf(msg, len, "cannot write %s", dst);
    free(b);
    return ok;
}

static void base_config(jp_train_config *c, const char *dir, int64_t max_iters)
{
    jp_train_config_defaults(c);
    snprintf(c->dataset, sizeof c->dataset, "fashionmnist");
    snprintf(c->data_root, sizeof c->data_root, "%s", g_data);
    c->n_valid = 1000;
    c->depth = 10;
    c->width = 1;
    c->batch_size = 16;
    c->buffer_size = 200;
    c->sampler.n_steps = 2;
    c->sampler.in_steps = 2;
    c->max_iters = max_iters;
    c->print_every = 1000000;
    c->quiet = !getenv("JEMPP_TEST_VERBOSE"); /* JEMPP_TEST_VERBOSE=1: the trainer's progress lines */
    c->seed = 5;
    /* JEMPP_TEST_TRAIN_CONV (set by CMake for a sanitizer build): --conv_impl's word */
    const char *conv = getenv("JEMPP_TEST_TRAIN_CONV");
    jp_error err;
    if (conv && *conv && jp_train_setting_parse(c, jp_train_setting_find("conv_impl"), conv, &err) != JP_OK) {
        fprintf(stderr, "JEMPP_TEST_TRAIN_CONV: %s\n", err.msg);
        exit(1);
    }
    snprintf(c->save_dir, sizeof c->save_dir, "%s/%s", g_root, dir);
}

/* jp_train_run, or with testing hooks (a NaN loss or the gap detector at an iteration) */
static jp_status run_h(const jp_train_config *c, const jp_train_hooks *h, jp_train_result *r, jp_error *e,
                       const char *label, double *secs)
{
    memset(e, 0, sizeof *e);
    double t0 = jp_now();
    jp_status st = h ? jp_train_run_hooked(c, h, r, e) : jp_train_run(c, r, e);
    double dt = jp_now() - t0;
    if (secs) *secs = dt;
    printf("   run %-28s %5.2f s: %s%s%s (iters %lld, recoveries %d)\n", label, dt, jp_status_name(st),
           st ? ": " : "", st ? e->msg : "", (long long)r->iters, r->recoveries);
    return st;
}

static jp_status run(const jp_train_config *c, jp_train_result *r, jp_error *e, const char *label, double *secs)
{
    return run_h(c, NULL, r, e, label, secs);
}

/* ---- comparison of two checkpoints ---------------------------------------------- */

static const char *kind_of(const char *name)
{
    if (!strcmp(name, "replay_buffer")) return "replay buffer";
    if (!strncmp(name, "train.", 6)) return "training state";
    if (!strncmp(name, "optim.", 6) || strstr(name, "momentum") || strstr(name, "exp_avg")) return "optimizer";
    if (strstr(name, "running_") || strstr(name, "num_batches")) return "BN statistics";
    return "model/other";
}

/* Every tensor of a equal, bit for bit, to b's; the same set of names; the same metadata.
 * Prints each tensor that differs with its largest difference. Returns the number of
 * differing tensors (names missing on either side count). */
static int compare_ckpt(tu_ctx *t, const char *pa, const char *pb)
{
    jp_st_file a, b;
    jp_error e;
    if (jp_st_read(&a, pa, &e)) {
        tu_check(t, 0, "read %s: %s", pa, e.msg);
        return -1;
    }
    if (jp_st_read(&b, pb, &e)) {
        tu_check(t, 0, "read %s: %s", pb, e.msg);
        jp_st_close(&a);
        return -1;
    }
    int ndiff = 0, same = 0;
    size_t bytes = 0;
    for (int i = 0; i < a.count; i++) {
        const jp_st_entry *ea = &a.entries[i], *eb = jp_st_find(&b, ea->name);
        if (!eb) {
            printf("        %s: only in %s\n", ea->name, pa);
            ndiff++;
            continue;
        }
        int shape_ok = ea->dtype == eb->dtype && ea->ndim == eb->ndim && ea->end - ea->begin == eb->end - eb->begin;
        for (int d = 0; shape_ok && d < ea->ndim; d++) shape_ok = ea->shape[d] == eb->shape[d];
        if (!shape_ok) {
            printf("        %s: dtype/shape differ (%s vs %s)\n", ea->name, jp_dtype_name(ea->dtype),
                   jp_dtype_name(eb->dtype));
            ndiff++;
            continue;
        }
        size_t nbytes = ea->end - ea->begin;
        const unsigned char *da = jp_st_data(&a, ea), *db = jp_st_data(&b, eb);
        bytes += nbytes;
        if (memcmp(da, db, nbytes) == 0) {
            same++;
            continue;
        }
        ndiff++;
        if (ea->dtype == JP_F32) {
            size_t n = nbytes / 4, nd = 0, first = 0;
            double md = 0;
            for (size_t k = 0; k < n; k++) {
                float x, y;
                memcpy(&x, da + 4 * k, 4);
                memcpy(&y, db + 4 * k, 4);
                if (memcmp(&x, &y, 4) != 0) {
                    if (!nd) first = k;
                    nd++;
                    double d = fabs((double)x - y);
                    if (!(d <= md)) md = isnan(d) ? INFINITY : d;
                }
            }
            printf("        DIFF %-44s (%s) %zu of %zu floats differ, max |diff| %.3g, first at [%zu]\n", ea->name,
                   kind_of(ea->name), nd, n, md, first);
        } else if (ea->dtype == JP_I64 || ea->dtype == JP_U64) {
            size_t n = nbytes / 8;
            printf("        DIFF %-44s (%s) %s:", ea->name, kind_of(ea->name), jp_dtype_name(ea->dtype));
            for (size_t k = 0; k < n && k < 12; k++) {
                int64_t x, y;
                memcpy(&x, da + 8 * k, 8);
                memcpy(&y, db + 8 * k, 8);
                if (x != y) printf(" [%zu] %lld vs %lld", k, (long long)x, (long long)y);
            }
            printf("\n");
        } else if (ea->dtype == JP_F64) {
            size_t n = nbytes / 8;
            printf("        DIFF %-44s (%s) F64:", ea->name, kind_of(ea->name));
            for (size_t k = 0; k < n && k < 8; k++) {
                double x, y;
                memcpy(&x, da + 8 * k, 8);
                memcpy(&y, db + 8 * k, 8);
                if (memcmp(&x, &y, 8)) printf(" [%zu] %.17g vs %.17g", k, x, y);
            }
            printf("\n");
        } else {
            printf("        DIFF %s (%s)\n", ea->name, jp_dtype_name(ea->dtype));
        }
    }
    for (int i = 0; i < b.count; i++)
        if (!jp_st_find(&a, b.entries[i].name)) {
            printf("        %s: only in %s\n", b.entries[i].name, pb);
            ndiff++;
        }
    int meta_diff = a.meta_count != b.meta_count;
    for (int i = 0; i < a.meta_count; i++) {
        const char *v = jp_st_meta(&b, a.meta_keys[i]);
        if (!v || strcmp(v, a.meta_vals[i])) {
            printf("        metadata %s: '%s' vs '%s'\n", a.meta_keys[i], a.meta_vals[i], v ? v : "(absent)");
            meta_diff = 1;
        }
    }
    tu_check(t, ndiff == 0, "resumed run equals the uninterrupted one: %d of %d tensors bitwise equal (%zu bytes), "
             "%d differ", same, a.count, bytes, ndiff);
    tu_check(t, !meta_diff, "same checkpoint metadata (%d entries)", a.meta_count);
    jp_st_close(&a);
    jp_st_close(&b);
    return ndiff;
}

static int64_t position(const char *path, int k)
{
    jp_st_file f;
    jp_error e;
    int64_t pos[8] = {-1, -1, -1, -1, -1, -1, -1, -1}, shape[1] = {8};
    if (jp_st_read(&f, path, &e)) return -1;
    jp_st_get(&f, "train.position", JP_I64, 1, shape, pos, &e);
    jp_st_close(&f);
    return pos[k];
}

static double scalar(const char *path, int k)
{
    jp_st_file f;
    jp_error e;
    /* lr scale, best validation accuracy, the LSE gap's mean, steps scale, the best
     * model's iteration, epoch and test accuracy */
    double v[7] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    int64_t shape[1] = {7};
    if (jp_st_read(&f, path, &e)) return NAN;
    jp_st_get(&f, "train.scalars", JP_F64, 1, shape, v, &e);
    jp_st_close(&f);
    return v[k];
}

/* All F32 tensors of a checkpoint finite; counts the floats checked. */
static int all_finite(const char *path, size_t *nfloats, char *bad, size_t badlen)
{
    jp_st_file f;
    jp_error e;
    *nfloats = 0;
    if (jp_st_read(&f, path, &e)) {
        snprintf(bad, badlen, "%s", e.msg);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < f.count && ok; i++) {
        const jp_st_entry *x = &f.entries[i];
        if (x->dtype != JP_F32) continue;
        const unsigned char *d = jp_st_data(&f, x);
        for (size_t k = 0; k < (x->end - x->begin) / 4; k++) {
            float v;
            memcpy(&v, d + 4 * k, 4);
            if (!isfinite(v)) {
                snprintf(bad, badlen, "%s[%zu] = %g", x->name, k, v);
                ok = 0;
                break;
            }
        }
        *nfloats += (x->end - x->begin) / 4;
    }
    jp_st_close(&f);
    return ok;
}

/* How many of the first `rows` rows of tensor `name` are bitwise equal in checkpoints a
 * and b (rows of equal size; -1 if either lacks it or the sizes differ). *nrows: the
 * rows compared. */
static int tensor_rows_equal(const char *pa, const char *pb, const char *name, int rows, int *nrows)
{
    jp_st_file a, b;
    jp_error e;
    int same = -1;
    if (nrows) *nrows = 0;
    if (jp_st_read(&a, pa, &e)) return -1;
    if (jp_st_read(&b, pb, &e)) {
        jp_st_close(&a);
        return -1;
    }
    const jp_st_entry *ea = jp_st_find(&a, name), *eb = jp_st_find(&b, name);
    size_t n = ea ? ea->end - ea->begin : 0;
    if (ea && eb && n == eb->end - eb->begin && n % (size_t)rows == 0) {
        size_t row = n / (size_t)rows;
        const unsigned char *da = jp_st_data(&a, ea), *db = jp_st_data(&b, eb);
        same = 0;
        for (int i = 0; i < rows; i++) same += memcmp(da + i * row, db + i * row, row) == 0;
        if (nrows) *nrows = rows;
    }
    jp_st_close(&a);
    jp_st_close(&b);
    return same;
}

static int file_contains(const char *path, const char *needle)
{
    char *s = tu_read_file(path, NULL);
    if (!s) return 0;
    int found = strstr(s, needle) != NULL;
    free(s);
    return found;
}

/* The first field of each data line of a CSV log (its header skipped): iter in
 * metrics.csv, epoch in epochs.csv. Returns how many, at most max. */
static int csv_first_fields(const char *path, long long *v, int max)
{
    char *s = tu_read_file(path, NULL);
    int n = 0;
    if (!s) return 0;
    const char *line = strchr(s, '\n');
    while (line && line[1] && n < max) {
        v[n++] = strtoll(line + 1, NULL, 10);
        line = strchr(line + 1, '\n');
    }
    free(s);
    return n;
}

/* How many times needle occurs in a file. */
static int file_count(const char *path, const char *needle)
{
    char *s = tu_read_file(path, NULL);
    int n = tu_count(s, needle);
    free(s);
    return n;
}

/* The per-iteration lines of a metrics.jsonl without their timing, one string ('\n'
 * separated). */
static char *metrics_lines(const char *path, int *nlines)
{
    size_t n;
    char *s = tu_read_file(path, &n);
    *nlines = 0;
    if (!s) return NULL;
    char *out = malloc(n + 1), *o = out;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "\"event\"")) continue;
        char *cut = strstr(line, ",\"sec_per_iter\"");
        if (cut) *cut = 0;
        o += sprintf(o, "%s\n", line);
        ++*nlines;
    }
    *o = 0;
    free(s);
    return out;
}

/* A 4-iteration run with a cosine to final_lr over `horizon` iterations, the length that
 * cosine_iters gives: every lr in its metrics.csv (row k: the k-th iteration done,
 * iteration i = k - 1) against the closed form
 * final + (base - final) (1 + cos(pi min(i, T) / T)) / 2 of iteration i. */
static void cosine_case(tu_ctx *t, const char *dir, int64_t cosine_iters, int64_t horizon)
{
    jp_train_config c;
    jp_train_result r;
    jp_error e;
    base_config(&c, dir, 4);
    c.lr_schedule = JP_LR_COSINE;
    c.cosine_iters = cosine_iters;
    c.warmup_iters = 0;
    c.lr = 0.1f;
    c.final_lr = 0.01f;
    char label[64], p[1400];
    snprintf(label, sizeof label, "%s (cosine_iters %lld)", dir, (long long)cosine_iters);
    jp_status st = run(&c, &r, &e, label, NULL);
    snprintf(p, sizeof p, "%s/%s/metrics.csv", g_root, dir);
    char *csv = st == JP_OK ? tu_read_file(p, NULL) : NULL;
    int rows = 0, good = 0;
    for (char *line = csv ? strchr(csv, '\n') : NULL; line && line[1]; line = strchr(line + 1, '\n')) {
        long long it;
        int epoch;
        double lr;
        if (sscanf(line + 1, "%lld,%d,%lf", &it, &epoch, &lr) != 3) continue;
        long long i = it - 1; /* the log counts iterations done; the lr is that of iteration i */
        double u = (double)(i < horizon ? i : horizon) / (double)horizon;
        double want = 0.01 + (0.1 - 0.01) * (1.0 + cos(acos(-1.0) * u)) / 2.0;
        int ok = fabs(lr - want) <= 1e-5 * want;
        rows++;
        good += ok;
        if (!ok) printf("  iteration %lld: lr %.7g, expected %.7g\n", it, lr, want);
    }
    tu_check(t, st == JP_OK && rows == 4 && good == rows, "cosine_iters %lld: the lr of %d/%d iterations follows a cosine over %lld",
             (long long)cosine_iters, good, rows, (long long)horizon);
    free(csv);
}

/* Run A: 2n iterations in dir a. Run B: n iterations in dir b, then resumed from b up to
 * 2n. The two last.safetensors must be equal bit for bit. data_root (NULL: the full
 * training set) may name the small data folder, whose epochs are 2 iterations long. */
/* e) The trainer on a device whose memory is not the CPU's in jempp's eyes: a copy of the
 * CPU device's operations (the same kernels, so the same numbers) that jempp does not
 * take for host memory, so every array the model touches is a separate device copy and
 * every upload and download of the trainer, the sampler, the evaluation, the chains, the
 * checkpoints, the snapshots and the optimiser's state happens. One that is missing
 * leaves the model reading stale or zero arrays. The run on it must equal the CPU run
 * bit for bit; a run started on it and resumed on the CPU (and the other way round) too. */
/* What a rollback puts into the replay buffer (through the trainer's internals):
 * after an accepted step the snapshot's chains come back bit for bit; fresh chains
 * replace nearly every value. On the CPU and on a device that keeps its memory apart. */
static void rollback_buffer_case(tu_ctx *t, const jp_device *dev, const char *where)
{
    jp_train_config c;
    base_config(&c, "RB", 2);
    c.kernels.device = dev;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/RB", g_root);
    mkdir(dir, 0755);
    jp_trainer tr;
    jp_error e;
    if (jp_trainer_init(&tr, &c, &e)) {
        tu_check(t, 0, "rollback (%s): jp_trainer_init: %s", where, e.msg);
        jp_trainer_free(&tr);
        return;
    }
    size_t n = (size_t)tr.buf.size * tr.buf.dim, moved = 0, kept = 0, fresh = 0;
    float *snap = malloc(n * sizeof(float));
    jp_trainer_snapshot_take(&tr);
    jp_trainer_buffer_down(&tr);
    memcpy(snap, tr.buf.x, n * sizeof(float));
    jp_iter_stats s;
    jp_status st = jp_trainer_step(&tr, &s);
    jp_trainer_buffer_down(&tr);
    for (size_t i = 0; i < n; i++) moved += tr.buf.x[i] != snap[i];
    char remedy[300];
    jp_trainer_recover(&tr, 1, remedy, sizeof remedy);
    jp_trainer_buffer_down(&tr);
    for (size_t i = 0; i < n; i++) kept += tr.buf.x[i] != snap[i];
    jp_trainer_recover(&tr, 0, remedy, sizeof remedy);
    jp_trainer_buffer_down(&tr);
    for (size_t i = 0; i < n; i++) fresh += tr.buf.x[i] != snap[i];
    tu_check(t, st == JP_OK && moved > 0 && kept == 0 && fresh > n / 2,
             "rollback (%s): a step moves %zu of %zu buffer values; the snapshot's chains restore them (%zu differ); "
             "fresh chains replace %zu", where, moved, n, kept, fresh);
    free(snap);
    jp_trainer_free(&tr);
}

/* A one-rank jp_dist with device collectives (as NCCL gives), counting its calls: a
 * trainer that takes it runs its collectives on the device's memory, none on host
 * copies, and (one rank) computes what it computes without it. */
typedef struct {
    int host_f32, dev_f32, dev_bcast;
    size_t dev_f32_n;
} one_rank_calls;

static jp_status one_f32(void *ctx, float *d, size_t n, jp_dist_op op, jp_error *e)
{
    (void)d, (void)n, (void)op, (void)e;
    ((one_rank_calls *)ctx)->host_f32++;
    return JP_OK;
}
static jp_status one_f64(void *ctx, double *d, size_t n, jp_dist_op op, jp_error *e)
{
    (void)ctx, (void)d, (void)n, (void)op, (void)e;
    return JP_OK;
}
static jp_status one_bcast(void *ctx, void *d, size_t bytes, int root, jp_error *e)
{
    (void)ctx, (void)d, (void)bytes, (void)root, (void)e;
    return JP_OK;
}
static jp_status one_copy(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *e)
{
    (void)ctx, (void)root, (void)e;
    memmove(recv, send, bytes);
    return JP_OK;
}
static void one_abort(void *ctx, int code)
{
    (void)ctx;
    exit(code);
}
static jp_status one_dev_f32(void *ctx, float *d, size_t n, jp_dist_op op, jp_error *e)
{
    (void)d, (void)op, (void)e;
    one_rank_calls *c = ctx;
    c->dev_f32++;
    c->dev_f32_n = n;
    return JP_OK;
}
static jp_status one_dev_bcast(void *ctx, void *d, size_t bytes, int root, jp_error *e)
{
    (void)d, (void)bytes, (void)root, (void)e;
    ((one_rank_calls *)ctx)->dev_bcast++;
    return JP_OK;
}

static void device_case(tu_ctx *t, int n)
{
    jp_device_ops ops = *jp_device_cpu()->ops;
    ops.name = "cpu-copies";
    jp_device dev = {&ops, NULL, NULL, NULL};
    jp_train_config c;
    jp_train_result r;
    jp_error e;
    jp_status st;
    char pa[1400], pb[1400];
    printf("-- e) a device with memory of its own (the CPU's kernels): G = %d iterations against A; "
           "GN with device collectives; U, GU: the uniform init; RN, GRN, RG, GRG: rollbacks; G2 = %d there + %d on the CPU; GP, GPD: the p(x|y) "
           "term on the CPU and there\n", 2 * n, n, n);
    base_config(&c, "G", 2 * n);
    c.kernels.device = &dev;
    st = run(&c, &r, &e, "G (2N, device copies)", NULL);
    tu_check(t, st == JP_OK && r.iters == 2 * n, "run G on the copying device finishes %d iterations (%s)", 2 * n,
             jp_status_name(st));
    snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
    snprintf(pb, sizeof pb, "%s/G/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
    one_rank_calls calls = {0, 0, 0, 0};
    jp_dist one = {0, 1, &calls, one_f32, one_f64, one_bcast, one_copy, one_copy, one_abort, one_dev_f32,
                   one_dev_bcast};
    base_config(&c, "GN", 2 * n);
    c.kernels.device = &dev;
    c.dist = &one;
    st = run(&c, &r, &e, "GN (device collectives)", NULL);
    tu_check(t, st == JP_OK && calls.dev_f32 == 2 * n && calls.dev_bcast == 2 * n && calls.host_f32 == 0 &&
                    calls.dev_f32_n > 0,
             "GN: one rank with device collectives: %d gradient all-reduces of %zu values and %d buffer broadcasts "
             "on the device (%d each expected), %d on host copies (0 expected)",
             calls.dev_f32, calls.dev_f32_n, calls.dev_bcast, 2 * n, calls.host_f32);
    snprintf(pb, sizeof pb, "%s/GN/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
    /* the uniform init's fresh chains (drawn on the host, uploaded) */
    base_config(&c, "U", 2);
    c.init = JP_INIT_UNIFORM;
    st = run(&c, &r, &e, "U (uniform init, CPU)", NULL);
    base_config(&c, "GU", 2);
    c.init = JP_INIT_UNIFORM;
    c.kernels.device = &dev;
    if (!st) st = run(&c, &r, &e, "GU (uniform init, device copies)", NULL);
    tu_check(t, st == JP_OK && r.iters == 2, "U and GU finish 2 iterations (%s)", jp_status_name(st));
    snprintf(pa, sizeof pa, "%s/U/last.safetensors", g_root);
    snprintf(pb, sizeof pb, "%s/GU/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
    rollback_buffer_case(t, &dev, "device copies");
    /* the rollbacks on the device: a NaN (fresh buffer chains, drawn there) and the gap
     * detector (the snapshot's chains, sent up) */
    for (int k = 0; k < 2; k++) {
        jp_train_hooks hk = k ? (jp_train_hooks){.gap_iter = 2} : (jp_train_hooks){.nan_iter = 2};
        const char *cpu_dir = k ? "RG" : "RN", *dev_dir = k ? "GRG" : "GRN";
        base_config(&c, cpu_dir, 3);
        c.gap_max_steps = 4;
        st = run_h(&c, &hk, &r, &e, k ? "RG (gap at 2, CPU)" : "RN (NaN at 2, CPU)", NULL);
        base_config(&c, dev_dir, 3);
        c.gap_max_steps = 4;
        c.kernels.device = &dev;
        if (!st) st = run_h(&c, &hk, &r, &e, k ? "GRG (gap at 2, device copies)" : "GRN (NaN at 2, device copies)", NULL);
        tu_check(t, st == JP_OK && r.iters == 3 && r.recoveries == 1, "%s and %s recover once and finish (%s)", cpu_dir,
                 dev_dir, jp_status_name(st));
        snprintf(pa, sizeof pa, "%s/%s/last.safetensors", g_root, cpu_dir);
        snprintf(pb, sizeof pb, "%s/%s/last.safetensors", g_root, dev_dir);
        compare_ckpt(t, pa, pb);
    }
    snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
    base_config(&c, "G2", n);
    c.kernels.device = &dev;
    st = run(&c, &r, &e, "G2 (N, device copies)", NULL);
    base_config(&c, "G2", 2 * n);
    snprintf(c.resume, sizeof c.resume, "%s/G2", g_root);
    if (!st) st = run(&c, &r, &e, "G2 resumed on the CPU", NULL);
    tu_check(t, st == JP_OK && r.iters == 2 * n, "G2: %d iterations on the device, resumed on the CPU to %d", n, 2 * n);
    snprintf(pb, sizeof pb, "%s/G2/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
    /* the p(x|y) term: conditional chains, labels on the device */
    base_config(&c, "GP", 2);
    c.p_x_y_weight = 1.0f;
    st = run(&c, &r, &e, "GP (p(x|y), CPU)", NULL);
    base_config(&c, "GPD", 1);
    c.p_x_y_weight = 1.0f;
    c.kernels.device = &dev;
    if (!st) st = run(&c, &r, &e, "GPD (p(x|y), device copies)", NULL);
    base_config(&c, "GPD", 2);
    c.p_x_y_weight = 1.0f;
    c.kernels.device = &dev;
    snprintf(c.resume, sizeof c.resume, "%s/GPD", g_root);
    if (!st) st = run(&c, &r, &e, "GPD resumed there", NULL);
    tu_check(t, st == JP_OK && r.iters == 2, "GP and GPD finish 2 iterations (%s)", jp_status_name(st));
    snprintf(pa, sizeof pa, "%s/GP/last.safetensors", g_root);
    snprintf(pb, sizeof pb, "%s/GPD/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
}

/* f) Checkpoints in parts (--max_file_mb 1): N iterations, then resumed from the parts
 * to 2N, equal to A bit for bit; every file of the run folder's checkpoints at most 1 MiB. */
static void parts_case(tu_ctx *t, int n)
{
    jp_train_config c;
    jp_train_result r;
    jp_error e;
    char pa[1400], pb[1400], dir[1400];
    printf("-- f) checkpoints in files of at most 1 MiB: MP = %d iterations, resumed from its parts to %d\n", n, 2 * n);
    base_config(&c, "MP", n);
    c.max_file_mb = 1;
    jp_status st = run(&c, &r, &e, "MP (N, files of 1 MiB)", NULL);
    base_config(&c, "MP", 2 * n);
    c.max_file_mb = 1;
    snprintf(c.resume, sizeof c.resume, "%s/MP", g_root);
    if (!st) st = run(&c, &r, &e, "MP resumed from parts", NULL);
    tu_check(t, st == JP_OK && r.iters == 2 * n, "MP: %d iterations, resumed from its parts to %d (%s)", n, 2 * n,
             jp_status_name(st));
    snprintf(dir, sizeof dir, "%s/MP", g_root);
    DIR *d = opendir(dir);
    int parts = 0, larger = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strstr(de->d_name, ".safetensors")) continue;
        char p[2900];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat sb;
        parts += strstr(de->d_name, ".part-") != NULL;
        larger += stat(p, &sb) == 0 && sb.st_size > (1 << 20);
    }
    if (d) closedir(d);
    tu_check(t, parts >= 2 && larger == 0, "MP's checkpoints: %d part files, %d files above 1 MiB", parts, larger);
    snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
    snprintf(pb, sizeof pb, "%s/MP/last.safetensors", g_root);
    compare_ckpt(t, pa, pb);
}

static void resume_case(tu_ctx *t, const char *da, const char *db, int n, const char *data_root)
{
    jp_train_config c;
    jp_train_result r;
    jp_error e;
    jp_status st;
    char pa[1400], pb[1400], label[96];
    printf("-- a) exact resume: %s = %d iterations; %s = %d, then resumed to %d (%s training set)\n", da, 2 * n,
           db, n, 2 * n, data_root ? "small" : "full");
    base_config(&c, da, 2 * n);
    if (data_root) snprintf(c.data_root, sizeof c.data_root, "%s", data_root);
    snprintf(label, sizeof label, "%s (2N)", da);
    st = run(&c, &r, &e, label, NULL);
    tu_check(t, st == JP_OK && r.iters == 2 * n, "run %s finishes %d iterations (%s)", da, 2 * n, jp_status_name(st));
    base_config(&c, db, n);
    if (data_root) snprintf(c.data_root, sizeof c.data_root, "%s", data_root);
    snprintf(label, sizeof label, "%s (N)", db);
    st = run(&c, &r, &e, label, NULL);
    tu_check(t, st == JP_OK && r.iters == n, "run %s finishes %d iterations", db, n);
    snprintf(pb, sizeof pb, "%s/%s/last.safetensors", g_root, db);
    tu_check(t, position(pb, 1) == n, "%s/last.safetensors holds iteration %lld after the first part (epoch %lld)", db,
             (long long)position(pb, 1), (long long)position(pb, 0));
    base_config(&c, db, 2 * n);
    if (data_root) snprintf(c.data_root, sizeof c.data_root, "%s", data_root);
    snprintf(c.resume, sizeof c.resume, "%s/%s", g_root, db);
    snprintf(label, sizeof label, "%s resumed (N -> 2N)", db);
    st = run(&c, &r, &e, label, NULL);
    tu_check(t, st == JP_OK && r.iters == 2 * n, "resumed run %s reaches %d iterations", db, 2 * n);
    snprintf(pa, sizeof pa, "%s/%s/last.safetensors", g_root, da);
    tu_check(t, position(pa, 1) == 2 * n && position(pb, 1) == 2 * n, "both last.safetensors hold iteration %d",
             2 * n);
    compare_ckpt(t, pa, pb);
    /* the same trajectory: every iteration's loss, cross-entropy, accuracy, energies */
    snprintf(pa, sizeof pa, "%s/%s/metrics.jsonl", g_root, da);
    snprintf(pb, sizeof pb, "%s/%s/metrics.jsonl", g_root, db);
    int la, lb;
    char *ma = metrics_lines(pa, &la), *mb = metrics_lines(pb, &lb);
    tu_check(t, ma && mb && la == 2 * n && lb == 2 * n && strcmp(ma, mb) == 0,
             "metrics.jsonl of %s and of %s (two parts) hold the same %d iterations (%d, %d lines)", da, db, 2 * n, la,
             lb);
    if (ma && mb && strcmp(ma, mb)) printf("%s:\n%s%s:\n%s", pa, ma, pb, mb);
    free(ma);
    free(mb);
}

/* A run that stops between epoch ends (--max_iters 3 with 2-iteration epochs): its
 * result is the final model's (last.safetensors, iteration 3), evaluated at the end, not
 * the epoch-1 evaluation's; the best model (best.safetensors) is named by its epoch and
 * iteration, in jp_train_result and result.json. */
static void final_model_case(tu_ctx *t)
{
    printf("-- a run stopped between epoch ends: its result is the final model's\n");
    jp_train_config c;
    jp_train_result r;
    jp_error e;
    base_config(&c, "FM", 3);
    snprintf(c.data_root, sizeof c.data_root, "%s", g_small);
    jp_status st = run(&c, &r, &e, "FM (max_iters 3, 2-iteration epochs)", NULL);
    tu_check(t, st == JP_OK && r.iters == 3 && r.best_iter == 2 && r.best_epoch == 1 && r.n_valid == 1000,
             "FM: 3 iterations, best.safetensors from the end of epoch 1 (iteration %lld, epoch %lld), %d valid images",
             (long long)r.best_iter, (long long)r.best_epoch, r.n_valid);
    char p[1400];
    snprintf(p, sizeof p, "%s/FM/last.safetensors", g_root);
    jp_wrn *m = NULL;
    jp_data d;
    jp_data_config dc = jp_data_config_defaults();
    dc.data_root = g_small;
    dc.n_valid = 1000;
    jp_clf_metrics fin, best;
    int ok = !st && jp_ckpt_open_model(p, 16, &m, &e) == JP_OK && jp_data_open(&d, &dc, &e) == JP_OK;
    if (ok) {
        ok = jp_eval_classifier(m, &d.test, &fin, NULL, &e) == JP_OK;
        jp_wrn_free(m);
        snprintf(p, sizeof p, "%s/FM/best.safetensors", g_root);
        ok = ok && jp_ckpt_open_model(p, 16, &m, &e) == JP_OK;
        ok = ok && jp_eval_classifier(m, &d.test, &best, NULL, &e) == JP_OK;
        jp_data_close(&d);
        jp_wrn_free(m);
    }
    tu_check(t, ok, "FM's two models evaluated (%s)", ok ? "ok" : e.msg);
    if (!ok) return;
    tu_check(t, fabs(r.test_acc - fin.acc) < 1e-9 && fabs(r.test_loss - fin.loss) < 1e-6,
             "FM's test accuracy %.4f (loss %.5f) is the final model's: %.4f (%.5f)", r.test_acc, r.test_loss, fin.acc,
             fin.loss);
    tu_check(t, fabs(r.best_test_acc - best.acc) < 1e-9, "FM's best_test_acc %.4f is best.safetensors': %.4f",
             r.best_test_acc, best.acc);
    snprintf(p, sizeof p, "%s/FM/result.json", g_root);
    char *json = tu_read_file(p, NULL);
    tu_check(t, json && strstr(json, "\"final\": {\"file\": \"last.safetensors\", \"iter\": 3,") &&
                    strstr(json, "\"best\": {\"file\": \"best.safetensors\", \"iter\": 2, \"epoch\": 1,"),
             "result.json names each model by file and iteration:\n%s", json ? json : "(missing)");
    free(json);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* OpenMP threads that spin while they wait burn the CPU their partner needs when the
     * machine is shared (2 threads on 2 busy cores: 2-3x slower, most of it in libgomp).
     * libgomp reads its settings at start-up, so re-run once with a passive wait policy
     * unless the caller chose one. Results do not depend on it. */
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
        /* exec failed: go on as we are */
    }
    tu_ctx t;
    tu_begin(&t, "test_train_resume");
    double t_start = jp_now();

    int have = 1;
    char p[1400];
    const char *fashion = getenv("JEMPP_TEST_FASHION") ? getenv("JEMPP_TEST_FASHION") : FASHION;
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", fashion, fashion_files[i]);
        if (!file_exists(p)) {
            printf("%s is missing\n", p);
            have = 0;
        }
    }
    if (!have)
        return tu_skip(&t, "Fashion-MNIST is not installed in %s (apt-get install dataset-fashion-mnist)", fashion);

    tu_tmpdir(g_root, sizeof g_root, "train_resume");
    snprintf(g_data, sizeof g_data, "%s/data", g_root);
    mkdir(g_data, 0755);
    for (int i = 0; i < 2; i++) {
        char src[1400], dst[1400];
        snprintf(src, sizeof src, "%s/%s", fashion, fashion_files[i]);
        snprintf(dst, sizeof dst, "%s/%s", g_data, fashion_files[i]);
        if (symlink(src, dst) != 0) {
            tu_check(&t, 0, "symlink %s -> %s: %s", dst, src, strerror(errno));
            return tu_finish(&t);
        }
    }
    /* the first N_TEST test images (each successful run evaluates the test set once) */
    char msg[1600];
    char src[1400];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", g_data);
    snprintf(src, sizeof src, "%s/%s", fashion, fashion_files[2]);
    int ok = idx_head(src, p, 16, N_TEST, 28 * 28, msg, sizeof msg);
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", g_data);
    snprintf(src, sizeof src, "%s/%s", fashion, fashion_files[3]);
    if (ok) ok = idx_head(src, p, 8, N_TEST, 1, msg, sizeof msg);
    /* the small data folder: the first N_SMALL training images (N_VALID_SMALL of them
     * split off for validation, 32 left: 2-iteration epochs at batch 16) and the same
     * test subset */
    snprintf(g_small, sizeof g_small, "%s/small", g_root);
    mkdir(g_small, 0755);
    static const struct {
        int file, hdr, n, bytes;
        const char *name;
    } small[4] = {{0, 16, N_SMALL, 28 * 28, "train-images-idx3-ubyte"},
                  {1, 8, N_SMALL, 1, "train-labels-idx1-ubyte"},
                  {2, 16, N_TEST, 28 * 28, "t10k-images-idx3-ubyte"},
                  {3, 8, N_TEST, 1, "t10k-labels-idx1-ubyte"}};
    for (int i = 0; i < 4 && ok; i++) {
        snprintf(p, sizeof p, "%s/%s", g_small, small[i].name);
        snprintf(src, sizeof src, "%s/%s", fashion, fashion_files[small[i].file]);
        ok = idx_head(src, p, small[i].hdr, small[i].n, small[i].bytes, msg, sizeof msg);
    }
    if (!ok) {
        tu_check(&t, 0, "test subset: %s", msg);
        return tu_finish(&t);
    }
    printf("work folder %s\n", g_root);

    jp_train_config c;
    jp_train_result r;
    jp_error e;
    jp_status st;
    double secs;
    char pb[1400];

    /* ---- a) exact resume */
    resume_case(&t, "A", "B", N_HALF, NULL); /* a stop in the middle of the first epoch */
    device_case(&t, N_HALF);
    parts_case(&t, N_HALF);
    snprintf(pb, sizeof pb, "%s/B/last.safetensors", g_root);
    /* the small training set: epochs of 2 iterations. B2 stops at the end of epoch 1
     * (evaluation, best.safetensors), the resumed run starts epoch 2 and crosses into
     * epoch 3; every epoch end evaluates (eval_every 1) in both runs. */
    resume_case(&t, "A2", "B2", 2, g_small);
    final_model_case(&t);

    /* Semi-supervised: an epoch is one pass over all training images (the p(x) stream),
     * as the reference's loop over dload_train, however few images are labelled: with 4
     * labels per class (40 images, 2.5 batches) 3 iterations stay in epoch 0. */
    base_config(&c, "S", 3);
    c.labels_per_class = 4;
    st = run(&c, &r, &e, "S (4 labels per class)", NULL);
    snprintf(p, sizeof p, "%s/S/last.safetensors", g_root);
    tu_check(&t, st == JP_OK && position(p, 1) == 3 && position(p, 0) == 0,
             "semi-supervised: 3 iterations are still epoch 0 (epoch %lld, iteration %lld)", (long long)position(p, 0),
             (long long)position(p, 1));

    cosine_case(&t, "CS", 3, 3);  /* an explicit length, shorter than the run */
    cosine_case(&t, "CR", -1, 4); /* -1: the run's length, max_iters */

    /* A run that dies right after a mid-epoch save (save_every), with half-written log
     * lines, continues from that save with its own config.json: the same weights and
     * the same per-iteration log as run A. */
    printf("-- a3) a run dies after a mid-epoch save; --resume with its config.json\n");
    base_config(&c, "K", 2 * N_HALF);
    c.save_every = N_HALF;
    jp_train_hooks hk;
    hk = (jp_train_hooks){.nan_iter = N_HALF + 1};
    c.max_recoveries = 0;
    st = run_h(&c, &hk, &r, &e, "K (dies at N+1)", NULL);
    snprintf(pb, sizeof pb, "%s/K/last.safetensors", g_root);
    tu_check(&t, st == JP_ERR_NUMERIC && position(pb, 1) == N_HALF,
             "the run stops at iteration %d with last.safetensors of iteration %lld (save_every %d)", N_HALF + 1,
             (long long)position(pb, 1), N_HALF);
    {
        static const char *const torn[2][2] = {{"metrics.jsonl", "{\"iter\":99,\"epoch\":0,\"lr"},
                                               {"metrics.csv", "99,0,0.1,2.3"}};
        for (int k = 0; k < 2; k++) { /* what a kill in the middle of a log write leaves */
            snprintf(p, sizeof p, "%s/K/%s", g_root, torn[k][0]);
            FILE *f = fopen(p, "ab");
            if (f) fputs(torn[k][1], f);
            if (f) fclose(f);
        }
        jp_train_config k;
        jp_train_config_defaults(&k);
        snprintf(p, sizeof p, "%s/K/config.json", g_root);
        st = jp_train_config_read_json(&k, p, &e);
        tu_check(&t, st == JP_OK && k.max_iters == 2 * N_HALF && k.batch_size == 16,
                 "K/config.json read back (%s)", st ? e.msg : "max_iters, batch size");
        snprintf(k.resume, sizeof k.resume, "%s/K", g_root);
        snprintf(k.save_dir, sizeof k.save_dir, "%s/K", g_root);
        k.quiet = c.quiet;
        st = run(&k, &r, &e, "K resumed from its save", NULL);
        tu_check(&t, st == JP_OK && r.iters == 2 * N_HALF, "resumed run K reaches %d iterations", 2 * N_HALF);
        char pa[1400];
        snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
        compare_ckpt(&t, pa, pb);
        snprintf(pa, sizeof pa, "%s/A/metrics.jsonl", g_root);
        snprintf(p, sizeof p, "%s/K/metrics.jsonl", g_root);
        int la, lk;
        char *ma = metrics_lines(pa, &la), *mk = metrics_lines(p, &lk);
        tu_check(&t, ma && mk && la == lk && strcmp(ma, mk) == 0,
                 "K's metrics.jsonl, cut back to its save and continued, equals A's (%d, %d lines)", la, lk);
        if (ma && mk && strcmp(ma, mk)) printf("%s:\n%s%s:\n%s", pa, ma, p, mk);
        free(ma);
        free(mk);
        snprintf(p, sizeof p, "%s/K/metrics.csv", g_root);
        tu_check(&t, !file_contains(p, "99,0,0.1,2.3"), "the torn metrics.csv line is gone");
    }

    /* A stop on request (what Ctrl-C does in jempp train): the run finishes the
     * iteration in progress, saves and returns JP_ERR_INTERRUPTED; resumed, it ends
     * where run A ends. */
    printf("-- a4) a stop on request after the first iteration, then --resume\n");
    {
        static volatile sig_atomic_t stop = 1; /* raised before the run starts */
        base_config(&c, "I", 2 * N_HALF);
        c.stop = &stop;
        st = run(&c, &r, &e, "I (stop requested)", NULL);
        snprintf(pb, sizeof pb, "%s/I/last.safetensors", g_root);
        tu_check(&t, st == JP_ERR_INTERRUPTED && position(pb, 1) == 1 && strstr(e.msg, "--resume"),
                 "the run stops after iteration 1 with JP_ERR_INTERRUPTED and last.safetensors of iteration %lld (%s)",
                 (long long)position(pb, 1), e.msg);
        snprintf(p, sizeof p, "%s/I/metrics.jsonl", g_root);
        tu_check(&t, file_contains(p, "\"event\":\"interrupted\""), "metrics.jsonl records an \"interrupted\" event");
        base_config(&c, "I", 2 * N_HALF);
        snprintf(c.resume, sizeof c.resume, "%s/I", g_root);
        st = run(&c, &r, &e, "I resumed", NULL);
        tu_check(&t, st == JP_OK && r.iters == 2 * N_HALF, "resumed run I reaches %d iterations", 2 * N_HALF);
        char pa[1400];
        snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
        compare_ckpt(&t, pa, pb);
    }

    /* ---- b) divergence injection and recovery */
    printf("-- b) divergence injected at iteration 2 of 4\n");
    base_config(&c, "D", 4);
    hk = (jp_train_hooks){.nan_iter = 2};
    st = run_h(&c, &hk, &r, &e, "D (NaN at 2)", &secs);
    tu_check(&t, st == JP_OK, "run with an injected NaN finishes (%s%s%s)", jp_status_name(st), st ? ": " : "",
             st ? e.msg : "");
    tu_check(&t, r.recoveries == 1, "one recovery reported (%d)", r.recoveries);
    tu_check(&t, r.iters == 4, "all 4 iterations done (%lld)", (long long)r.iters);
    snprintf(p, sizeof p, "%s/D/metrics.jsonl", g_root);
    tu_check(&t, file_contains(p, "\"event\":\"recovered\""), "metrics.jsonl records a \"recovered\" event");
    snprintf(p, sizeof p, "%s/D/last.safetensors", g_root);
    {
        size_t nf;
        char bad[1200] = "";
        int fin = all_finite(p, &nf, bad, sizeof bad);
        tu_check(&t, fin && nf > 0, "final weights, statistics, optimizer state and buffer finite (%zu floats)%s%s",
                 nf, fin ? "" : ": ", bad);
        tu_check(&t, position(p, 6) == 1, "checkpoint counts the recovery (train.position[6] = %lld)",
                 (long long)position(p, 6));
        tu_check(&t, scalar(p, 0) == 0.5, "checkpoint holds the halved learning-rate scale (%g)", scalar(p, 0));
    }

    /* A rollback across epoch ends (the small set: 2-iteration epochs; the snapshot is
     * that of iteration 0, the NaN comes at iteration 4): the run goes back to epoch 0
     * and counts its epochs again. metrics.csv and epochs.csv read as one run (each
     * iteration and epoch once, in order); metrics.jsonl keeps the undone iterations
     * before the "recovered" event. */
    base_config(&c, "D2", 6);
    snprintf(c.data_root, sizeof c.data_root, "%s", g_small);
    hk = (jp_train_hooks){.nan_iter = 4};
    st = run_h(&c, &hk, &r, &e, "D2 (NaN at 4, 2-iteration epochs)", NULL);
    tu_check(&t, st == JP_OK && r.iters == 6 && r.recoveries == 1, "D2 recovers once and finishes (%s)",
             st ? e.msg : "ok");
    {
        long long it[16], ep[16];
        snprintf(p, sizeof p, "%s/D2/metrics.csv", g_root);
        int ni = csv_first_fields(p, it, 16), in_order = ni == 6;
        for (int i = 0; i < ni; i++) in_order &= it[i] == i + 1;
        tu_check(&t, in_order, "D2/metrics.csv: iterations 1..6, each once (%d rows, first %lld, last %lld)", ni,
                 ni ? it[0] : -1, ni ? it[ni - 1] : -1);
        snprintf(p, sizeof p, "%s/D2/epochs.csv", g_root);
        int ne = csv_first_fields(p, ep, 16);
        tu_check(&t, ne == 3 && file_contains(p, "\n1,2,") && file_contains(p, "\n2,4,") && file_contains(p, "\n3,6,"),
                 "D2/epochs.csv: epochs 1, 2, 3 ending at iterations 2, 4, 6 (%d rows)", ne);
        snprintf(p, sizeof p, "%s/D2/last.safetensors", g_root);
        tu_check(&t, position(p, 0) == 3 && position(p, 1) == 6, "D2 ends at epoch 3, iteration 6 (%lld, %lld)",
                 (long long)position(p, 0), (long long)position(p, 1));
        snprintf(p, sizeof p, "%s/D2/metrics.jsonl", g_root);
        tu_check(&t, file_count(p, "{\"iter\":3,\"epoch\":1,") == 2,
                 "D2/metrics.jsonl keeps the undone iteration 3 beside its redo (%d lines)",
                 file_count(p, "{\"iter\":3,\"epoch\":1,"));
    }

    base_config(&c, "E", 4);
    hk = (jp_train_hooks){.nan_iter = 2};
    c.max_recoveries = 0;
    st = run_h(&c, &hk, &r, &e, "E (NaN at 2, no recoveries)", &secs);
    tu_check(&t, st == JP_ERR_NUMERIC, "without recoveries the run fails with JP_ERR_NUMERIC (%s)", jp_status_name(st));
    snprintf(p, sizeof p, "%s/E/last.safetensors", g_root);
    /* the message names the last good checkpoint when there is one, else says none exists */
    if (file_exists(p))
        tu_check(&t, strstr(e.msg, p) != NULL, "the message names the existing %s", p);
    else
        tu_check(&t, strstr(e.msg, "no checkpoint was written yet") != NULL && strstr(e.msg, p) == NULL,
                 "no checkpoint exists and the message says so (%s)", e.msg);
    snprintf(p, sizeof p, "%s/E/metrics.jsonl", g_root);
    tu_check(&t, file_contains(p, "\"event\":\"diverged\""), "metrics.jsonl records a \"diverged\" event");

    /* the other detectors, made to fire at once by their thresholds: the run gives up
     * (no recoveries) and says which one fired */
    static const struct {
        const char *dir, *needle, *flag;
        float energy, range, gap;
    } det[3] = {{"H0", "energies ran away", "energy", 1e-3f, 100.0f, 10.0f},
                {"H1", "samples left the valid range", "range", 1e4f, 0.5f, 10.0f},
                {"H2", "the sampler lost the data", "gap", 1e4f, 100.0f, 1e-6f}};
    for (int k = 0; k < 3; k++) {
        base_config(&c, det[k].dir, 2);
        c.diverge_energy = det[k].energy;
        c.diverge_range = det[k].range;
        c.diverge_gap = det[k].gap;
        c.max_recoveries = k == 2; /* the gap detector: one rollback, then it fires again */
        st = run(&c, &r, &e, det[k].dir, NULL);
        tu_check(&t, st == JP_ERR_NUMERIC && strstr(e.msg, det[k].needle) && strstr(e.msg, "at iteration 1"),
                 "--diverge_%s: the first iteration is refused, '%s' (%s)", det[k].flag, det[k].needle, e.msg);
    }
    snprintf(p, sizeof p, "%s/H2/metrics.jsonl", g_root);
    tu_check(&t, file_contains(p, "the snapshot's buffer chains") && !file_contains(p, "fresh buffer chains"),
             "the gap detector's rollback keeps the snapshot's buffer chains");
    snprintf(p, sizeof p, "%s/D/metrics.jsonl", g_root);
    tu_check(&t, file_contains(p, "fresh buffer chains"), "the NaN's rollback (run D) refills the buffer");

    rollback_buffer_case(&t, jp_device_cpu(), "CPU");

    /* the gap detector's remedy: longer chains, the lr kept, exact across a resume */
    printf("-- b2) the gap detector fires at iteration 2 (the gap hook): its remedy\n");
    char sa[1400], sb[1400];
    base_config(&c, "S", 4);
    hk = (jp_train_hooks){.gap_iter = 2};
    c.gap_max_steps = 4;
    st = run_h(&c, &hk, &r, &e, "S (gap at 2)", NULL);
    tu_check(&t, st == JP_OK && r.iters == 4 && r.recoveries == 1, "the run recovers once and finishes (%s)",
             st ? e.msg : "ok");
    snprintf(p, sizeof p, "%s/S/metrics.jsonl", g_root);
    tu_check(&t, file_contains(p, "sampler steps 2 -> 4, lr scale 1, the snapshot's buffer chains"),
             "the event says: sampler steps 2 -> 4, lr kept, the snapshot's chains");
    snprintf(sa, sizeof sa, "%s/S/last.safetensors", g_root);
    tu_check(&t, scalar(sa, 3) == 2 && scalar(sa, 0) == 1, "the checkpoint holds steps scale 2 (%g), lr scale 1 (%g)",
             scalar(sa, 3), scalar(sa, 0));
    base_config(&c, "S2", 3);
    hk = (jp_train_hooks){.gap_iter = 2};
    c.gap_max_steps = 4;
    st = run_h(&c, &hk, &r, &e, "S2 (gap at 2, 3 iterations)", NULL);
    base_config(&c, "S2", 4);
    snprintf(c.resume, sizeof c.resume, "%s/S2", g_root);
    if (!st) st = run_h(&c, &hk, &r, &e, "S2 resumed (3 -> 4)", NULL);
    tu_check(&t, st == JP_OK && r.iters == 4, "S2: 3 iterations, resumed to 4 (%s)", st ? e.msg : "ok");
    snprintf(sb, sizeof sb, "%s/S2/last.safetensors", g_root);
    compare_ckpt(&t, sa, sb);
    base_config(&c, "S3", 3);
    hk = (jp_train_hooks){.gap_iter = 2};
    c.gap_max_steps = 3; /* 2 x 2 steps would pass it (and the default 0 is off): the lr is halved */
    st = run_h(&c, &hk, &r, &e, "S3 (gap at 2, gap_max_steps 3)", NULL);
    snprintf(p, sizeof p, "%s/S3/last.safetensors", g_root);
    tu_check(&t, st == JP_OK && scalar(p, 3) == 1 && scalar(p, 0) == 0.5,
             "at gap_max_steps the remedy halves the lr: steps scale %g, lr scale %g", scalar(p, 3), scalar(p, 0));

    /* Checkpoints written before the gap detector hold 2 training scalars (lr scale, best
     * validation accuracy), before its steps remedy 3 (+ the gap's running mean), before
     * the best model's iteration, epoch and test accuracy 4: they still resume, with the
     * gap's running mean at 0, the steps scale at 1 and the best model unnamed. */
    for (int nsc = 2; nsc <= 4; nsc++) {
        snprintf(p, sizeof p, "%s/O", g_root);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/O/last.safetensors", g_root);
        jp_st_file old;
        int ok = jp_st_read(&old, pb, &e) == JP_OK;
        if (ok) {
            ok = tu_st_copy_edited(&old, p, "train.scalars", nsc, NULL, &e) == JP_OK;
            jp_st_close(&old);
        }
        tu_check(&t, ok, "O/last.safetensors: K's checkpoint with train.scalars cut to %d values", nsc);
        snprintf(p, sizeof p, "%s/K/config.json", g_root);
        jp_train_config o;
        jp_train_config_defaults(&o);
        st = jp_train_config_read_json(&o, p, &e);
        snprintf(o.resume, sizeof o.resume, "%s/O", g_root);
        snprintf(o.save_dir, sizeof o.save_dir, "%s/O", g_root);
        o.max_iters = 2 * N_HALF + 1;
        o.quiet = c.quiet;
        if (!st) st = run(&o, &r, &e, "O (old checkpoint) resumed", NULL);
        tu_check(&t, st == JP_OK && r.iters == 2 * N_HALF + 1, "an old-format checkpoint resumes (%s)",
                 st ? e.msg : "ok");
        snprintf(p, sizeof p, "%s/O/last.safetensors", g_root);
        tu_check(&t, scalar(p, 3) == 1, "... and runs its chains at the configured steps (scale %g)", scalar(p, 3));
    }

    /* A corrupt steps scale (not a whole number >= 1) is refused, naming the file. */
    {
        static const double bad_scale[3] = {1.5, 0.0, NAN};
        for (int k = 0; k < 3; k++) {
            double v[7] = {scalar(pb, 0), scalar(pb, 1), scalar(pb, 2), bad_scale[k], scalar(pb, 4), scalar(pb, 5),
                           scalar(pb, 6)};
            snprintf(p, sizeof p, "%s/O/last.safetensors", g_root);
            jp_st_file kf;
            int ok = jp_st_read(&kf, pb, &e) == JP_OK;
            if (ok) {
                ok = tu_st_copy_edited(&kf, p, "train.scalars", -1, v, &e) == JP_OK;
                jp_st_close(&kf);
            }
            jp_train_config o;
            jp_train_config_defaults(&o);
            char cj[1400];
            snprintf(cj, sizeof cj, "%s/K/config.json", g_root);
            st = ok ? jp_train_config_read_json(&o, cj, &e) : JP_ERR_IO;
            snprintf(o.resume, sizeof o.resume, "%s/O", g_root);
            snprintf(o.save_dir, sizeof o.save_dir, "%s/O", g_root);
            o.quiet = c.quiet;
            if (!st) st = run(&o, &r, &e, "O (steps scale corrupt)", NULL);
            tu_check(&t, st == JP_ERR_FORMAT && strstr(e.msg, p) && strstr(e.msg, "train.scalars[3]"),
                     "a steps scale of %g is refused naming the file and train.scalars[3] (%s)", bad_scale[k], e.msg);
        }
    }

    /* ---- d) --load_path: a run starts from another run's model (and buffer) */
    printf("-- d) --load_path\n");
    {
        char pa[1400], pl[1400];
        snprintf(pa, sizeof pa, "%s/A/last.safetensors", g_root);
        /* lr 1e-30: one update leaves the loaded (non-zero) weights as they are */
        base_config(&c, "L", 1);
        c.seed = 6; /* not A's: fresh chains and weights would differ from A's */
        snprintf(c.load_path, sizeof c.load_path, "%.500s", pa);
        c.lr = 1e-30f;
        st = run(&c, &r, &e, "L (--load_path A, lr 1e-30)", NULL);
        snprintf(pl, sizeof pl, "%s/L/last.safetensors", g_root);
        tu_check(&t, st == JP_OK && position(pl, 1) == 1 && position(pl, 0) == 0 && scalar(pl, 0) == 1,
                 "L starts afresh at iteration 0: iteration %lld, epoch %lld, lr scale %g (%s)",
                 (long long)position(pl, 1), (long long)position(pl, 0), scalar(pl, 0), st ? e.msg : "ok");
        snprintf(p, sizeof p, "%s/L/metrics.jsonl", g_root);
        tu_check(&t, file_contains(p, "\"event\":\"loaded\",\"detail\":\"model and replay buffer from "),
                 "metrics.jsonl records what was loaded");
        int same_w = tensor_rows_equal(pa, pl, "f.layer1.0.conv1.weight", 1, NULL);
        int same_b = 0, rows_b = 0;
        same_b = tensor_rows_equal(pa, pl, "replay_buffer", 200, &rows_b);
        tu_check(&t, same_w == 1, "a conv weight is A's (lr 1e-30)");
        /* one iteration of batch 16 writes back at most 16 of the 200 chains */
        tu_check(&t, rows_b == 200 && same_b >= 200 - 16, "%d of %d buffer chains are A's (>= 184)", same_b, rows_b);
        base_config(&c, "L0", 1);
        c.seed = 6;
        c.lr = 1e-30f;
        st = run(&c, &r, &e, "L0 (the same, no --load_path)", NULL);
        snprintf(p, sizeof p, "%s/L0/last.safetensors", g_root);
        tu_check(&t, st == JP_OK && tensor_rows_equal(pa, p, "f.layer1.0.conv1.weight", 1, NULL) == 0 &&
                 tensor_rows_equal(pa, p, "replay_buffer", 200, NULL) == 0,
                 "without --load_path the weights and chains are not A's");

        /* --clf_only, the reference's: one JEM++ iteration with a real learning rate moves
         * class_output and no other parameter (C0: the same run at lr 1e-30) */
        base_config(&c, "C0", 1);
        c.seed = 8, c.warmup_iters = 0, c.lr = 1e-30f;
        jp_status s0 = run(&c, &r, &e, "C0 (lr 1e-30)", NULL);
        base_config(&c, "C1", 1);
        c.seed = 8, c.warmup_iters = 0, c.lr = 0.1f, c.clf_only = 1;
        jp_status s1 = run(&c, &r, &e, "C1 (--clf_only, lr 0.1)", NULL);
        char p0[600], p1[600];
        snprintf(p0, sizeof p0, "%s/C0/last.safetensors", g_root);
        snprintf(p1, sizeof p1, "%s/C1/last.safetensors", g_root);
        static const char *const kept[] = {"f.conv1.weight", "f.layer1.0.conv1.weight", "f.layer3.0.bn2.weight",
                                           "f.bn1.weight", "energy_output.weight"};
        for (size_t k = 0; k < sizeof kept / sizeof *kept; k++)
            tu_check(&t, s0 == JP_OK && s1 == JP_OK && tensor_rows_equal(p0, p1, kept[k], 1, NULL) == 1,
                     "--clf_only: %s is the untrained one", kept[k]);
        {   /* every start writes a TensorBoard event file into the run folder */
            char d1[600];
            snprintf(d1, sizeof d1, "%s/C1", g_root);
            DIR *dd = opendir(d1);
            int events = 0;
            for (struct dirent *de; dd && (de = readdir(dd));) events += !strncmp(de->d_name, "events.out.tfevents.", 20);
            if (dd) closedir(dd);
            tu_check(&t, events == 1, "the run wrote %d TensorBoard event file (want 1)", events);
        }
        tu_check(&t, s0 == JP_OK && s1 == JP_OK && tensor_rows_equal(p0, p1, "class_output.weight", 1, NULL) == 0 &&
                 tensor_rows_equal(p0, p1, "class_output.bias", 1, NULL) == 0,
                 "--clf_only: class_output's weight and bias moved");

        /* a softmax-only checkpoint has no buffer: the JEM run starts fresh chains */
        base_config(&c, "L1", 1);
        c.softmax_only = 1;
        st = run(&c, &r, &e, "L1 (softmax only)", NULL);
        base_config(&c, "L2", 1);
        snprintf(c.load_path, sizeof c.load_path, "%s/L1/last.safetensors", g_root);
        if (!st) st = run(&c, &r, &e, "L2 (--load_path L1)", NULL);
        snprintf(p, sizeof p, "%s/L2/metrics.jsonl", g_root);
        tu_check(&t, st == JP_OK && file_contains(p, "no replay buffer in the file: a fresh one"),
                 "a checkpoint without a buffer loads; the event says the chains are fresh (%s)", st ? e.msg : "ok");

        /* bad input: another shape of model or buffer, a missing file; nothing written */
        static const struct {
            const char *dir, *label, *needle;
            int width, buffer;
            jp_status want;
        } bad[3] = {{"L3", "L3 (width 2 from width 1)", "f.layer1.0.conv1.weight", 2, 200, JP_ERR_SHAPE},
                    {"L4", "L4 (buffer 100 from 200)", "replay_buffer", 1, 100, JP_ERR_SHAPE},
                    {"L5", "L5 (missing file)", "/nonexistent.safetensors", 1, 200, JP_ERR_IO}};
        for (int k = 0; k < 3; k++) {
            base_config(&c, bad[k].dir, 1);
            c.width = bad[k].width;
            c.buffer_size = bad[k].buffer;
            snprintf(c.load_path, sizeof c.load_path, "%.500s", k == 2 ? "/nonexistent.safetensors" : pa);
            st = run(&c, &r, &e, bad[k].label, NULL);
            snprintf(p, sizeof p, "%s/%s/last.safetensors", g_root, bad[k].dir);
            tu_check(&t, st == bad[k].want && strstr(e.msg, bad[k].needle) && strstr(e.msg, c.load_path) &&
                     !file_exists(p), "%s: %s naming %s and the file, no checkpoint written (%s)", bad[k].label,
                     jp_status_name(bad[k].want), bad[k].needle, e.msg);
        }
    }

    /* ---- c) bad input */
    printf("-- c) bad input\n");
    snprintf(p, sizeof p, "%s/F", g_root);
    mkdir(p, 0755);
    base_config(&c, "F", 2);
    snprintf(c.resume, sizeof c.resume, "%s/F", g_root);
    st = run(&c, &r, &e, "F (--resume, no checkpoint)", &secs);
    snprintf(p, sizeof p, "%s/F/last.safetensors", g_root);
    tu_check(&t, st == JP_ERR_IO, "--resume at a folder without last.safetensors: JP_ERR_IO (%s)", jp_status_name(st));
    tu_check(&t, strstr(e.msg, p) != NULL, "the message names %s", p);

    size_t full_n = 0;
    unsigned char *full = (unsigned char *)tu_read_file(pb, &full_n);
    tu_check(&t, full && full_n > 1000, "read B/last.safetensors (%zu bytes)", full_n);
    /* cut inside the header, and inside the data */
    const size_t cuts[2] = {100, full_n * 3 / 5};
    for (int k = 0; k < 2 && full; k++) {
        char dir[16];
        snprintf(dir, sizeof dir, "G%d", k);
        snprintf(p, sizeof p, "%s/%s", g_root, dir);
        mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/%s/last.safetensors", g_root, dir);
        tu_write_file(p, full, cuts[k]);
        base_config(&c, dir, 2 * N_HALF + 2);
        snprintf(c.resume, sizeof c.resume, "%s/%s", g_root, dir);
        char label[96];
        snprintf(label, sizeof label, "%s (truncated to %zu B)", dir, cuts[k]);
        st = run(&c, &r, &e, label, &secs);
        tu_check(&t, st == JP_ERR_FORMAT, "last.safetensors cut to %zu of %zu bytes: JP_ERR_FORMAT (%s)", cuts[k],
                 full_n, jp_status_name(st));
        tu_check(&t, strstr(e.msg, p) != NULL, "the message names %s", p);
        size_t n2 = 0;
        unsigned char *after = (unsigned char *)tu_read_file(p, &n2);
        tu_check(&t, after && n2 == cuts[k] && memcmp(after, full, cuts[k]) == 0,
                 "the truncated file is left as it was (%zu bytes)", n2);
        free(after);
    }
    free(full);

    double total = jp_now() - t_start;
    printf("total %.1f s\n", total);
    int rc = tu_finish(&t);
    if (rc == 0) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
        if (system(cmd) != 0) printf("could not remove %s\n", g_root);
    } else {
        printf("kept %s for inspection\n", g_root);
    }
    return rc;
}
