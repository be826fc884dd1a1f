/* Run report: a fake run folder (config with markup in a value, result, metrics with an
 * event, epochs, PNGs, evaluation folders with the keys `jempp eval` writes, a corrupt
 * JSON file) turned into a page that is checked for its numbers, its embedded PNG bytes
 * (decoded back here), escaping, the event, the caps, and no leftover temporary; then
 * a run with only some pieces, and the argument errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jempp/png.h"
#include "jempp/report.h"
#include "testutil.h"


/* A small RGB picture whose bytes depend on seed, written with the project's writer. */
static void write_png(tu_ctx *t, const char *dir, const char *name, int w, int h, int seed)
{
    unsigned char px[64 * 64 * 3];
    for (int i = 0; i < w * h * 3; i++) px[i] = (unsigned char)(i * 37 + seed * 11);
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    jp_error err = {0};
    if (jp_png_write_rgb(p, px, w, h, 3, &err)) tu_check(t, 0, "write %s: %s", p, err.msg);
}

static int b64_value(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
}

/* Decodes base64 up to the first character outside the alphabet (the closing quote);
 * padding '=' ends the data. Returns the decoded length. */
static size_t b64_decode(const char *s, unsigned char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_value(*s);
        if (v < 0) break;
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < cap) out[n] = (unsigned char)(acc >> bits);
            n++;
        }
    }
    return n;
}

/* 1 when one of the page's data:image/png URIs decodes to exactly the file's bytes. */
static int page_embeds(const char *page, const char *file)
{
    size_t flen;
    char *want = tu_read_file(file, &flen);
    if (!want) return 0;
    unsigned char *got = malloc(flen + 16);
    int found = 0;
    const char *tag = "data:image/png;base64,";
    for (const char *p = strstr(page, tag); p && !found; p = strstr(p + 1, tag)) {
        size_t n = b64_decode(p + strlen(tag), got, flen + 16);
        found = n == flen && !memcmp(got, want, flen);
    }
    free(got);
    free(want);
    return found;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void make_run(tu_ctx *t, const char *run)
{
    mkdir(run, 0755);
    tu_write_text(run, "config.json",
               "{\n  \"dataset\": \"<script>alert('x')</script> & co\",\n  \"depth\": 10,\n  \"width\": 2,\n"
               "  \"norm\": \"batch\",\n  \"clf_only\": 0,\n  \"sampler\": \"pyld\",\n  \"n_steps\": 5,\n"
               "  \"in_steps\": 7,\n  \"init\": \"informative\",\n  \"decay_epochs\": [3, 4],\n"
               "  \"image_shape\": [1, 28, 28],\n  \"n_classes\": 10\n}\n");
    tu_write_text(run, "result.json",
               "{\"test_acc\": 0.8765, \"test_loss\": 0.35123, \"valid_acc\": 0.8812, \"best_valid_acc\": 0.8899, "
               "\"iters\": 120, \"seconds\": 240.5, \"seconds_per_iter\": 2.0042, \"recoveries\": 1}\n");
    char csv[20000] = "iter,epoch,lr,loss,ce,acc,lse_data,lse_sample,sec_per_iter\n";
    char jsonl[40000] = "";
    for (int i = 1; i <= 120; i++) {
        char line[256];
        snprintf(line, sizeof line, "%d,%d,0.1,%.4f,%.4f,%.4f,%.3f,%.3f,2.0\n", i, i / 60, 2.3 - i * 0.01,
                 2.2 - i * 0.01, 0.1 + i * 0.006, 1.0 + i * 0.05, 0.8 + i * 0.05);
        strcat(csv, line);
        snprintf(line, sizeof line, "{\"iter\":%d,\"epoch\":%d,\"lr\":0.1,\"loss\":%.4f}\n", i, i / 60, 2.3 - i * 0.01);
        strcat(jsonl, line);
        if (i == 60)
            strcat(jsonl, "{\"iter\":60,\"epoch\":1,\"event\":\"recovered\",\"detail\":\"loss 1e+09 at iteration 60: "
                          "rolled back to iteration 50 & lr scale 0.5\"}\n");
    }
    strcat(csv, "121,2,0.1,1.1"); /* a line still being written */
    tu_write_text(run, "metrics.csv", csv);
    tu_write_text(run, "metrics.jsonl", jsonl);
    tu_write_text(run, "epochs.csv", "epoch,iter,lr,train_acc,valid_acc,valid_loss,test_acc,test_loss,lse_valid,seconds\n"
                                  "1,60,0.1,0.7011,0.7522,0.61,0.7499,0.62,7.1,120.0\n"
                                  "2,120,0.1,0.8433,0.8812,0.36,0.8765,0.35,7.9,120.5\n");
    write_png(t, run, "curves_accuracy.png", 40, 30, 1);
    for (int k = 1; k <= 14; k++) {
        char name[64];
        snprintf(name, sizeof name, "samples_%06d.png", k * 100);
        write_png(t, run, name, 8, 8, 100 + k);
    }
}

static void make_evals(tu_ctx *t, const char *run, const char *extra)
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/eval", run);
    mkdir(dir, 0755);
    const char *head = "  \"checkpoint\": \"run/best.safetensors\",\n  \"seed\": 1,\n  \"dataset\": \"fashionmnist\",\n"
                       "  \"split\": \"test\",\n  \"n\": 200,\n  \"sigma\": 0,\n  \"n_steps\": 0,\n  \"sgld_lr\": 1,\n"
                       "  \"sgld_std\": 0.01,\n";
    char buf[4000];
    snprintf(buf, sizeof buf,
             "{\n  \"mode\": \"test_clf\",\n%s  \"accuracy\": 0.8523,\n  \"loss\": 0.4321,\n  \"mean_energy\": -7.25,\n"
             "  \"classes\": [\n    {\"index\": 0, \"name\": \"T-shirt/top\", \"n\": 100, \"accuracy\": 0.9},\n"
             "    {\"index\": 1, \"name\": \"Trouser\", \"n\": 100, \"accuracy\": 0.8046}\n  ],\n"
             "  \"confusion\": [[90, 10], [19, 81]],\n"
             "  \"confusion_rows\": \"true class; columns: predicted class\"\n}\n", head);
    tu_write_text(dir, "test_clf.json", buf);
    snprintf(buf, sizeof buf,
             "{\n  \"mode\": \"cali\",\n%s  \"ece\": 0.0321,\n  \"nll\": 0.4012,\n  \"accuracy\": 0.8523,\n"
             "  \"mean_confidence\": 0.8844,\n  \"n_bins\": 2,\n  \"bins\": [\n"
             "    {\"lower\": 0, \"upper\": 0.5, \"count\": 0, \"accuracy\": null, \"confidence\": null},\n"
             "    {\"lower\": 0.5, \"upper\": 1, \"count\": 200, \"accuracy\": 0.8523, "
             "\"confidence\": 0.8844}\n  ]\n}\n",
             head);
    tu_write_text(dir, "cali.json", buf);
    snprintf(buf, sizeof buf,
             "{\n  \"mode\": \"ood\",\n  \"checkpoint\": \"run/best.safetensors\",\n  \"seed\": 1,\n"
             "  \"dataset\": \"fashionmnist\",\n  \"split\": \"test\",\n  \"n\": 200,\n  \"sigma\": 0,\n"
             "  \"convention\": \"in-distribution images are the positive class\",\n"
             "  \"in_distribution\": {\"name\": \"fashionmnist/test\", \"n\": 200, "
             "\"mean\": {\"px\": 7.1, \"py\": 0.9, "
             "\"pxgrad\": -0.5}},\n  \"sets\": [\n    {\"name\": \"noise\", \"kind\": \"noise\", \"n\": 200, "
             "\"mean\": {\"px\": 3.2, \"py\": 0.5, \"pxgrad\": -2.5},\n"
             "     \"px\": {\"auroc\": 0.9512, \"aupr\": 0.9433, \"fpr95\": 0.2211},\n"
             "     \"py\": {\"auroc\": 0.8123, \"aupr\": 0.8011, \"fpr95\": 0.5544},\n"
             "     \"pxgrad\": {\"auroc\": 0.7012, \"aupr\": 0.6999, \"fpr95\": 0.6677}}\n  ]\n}\n");
    tu_write_text(dir, "ood.json", buf);
    write_png(t, dir, "confusion.png", 20, 20, 7);
    /* a second evaluation folder with a corrupt result file */
    snprintf(dir, sizeof dir, "%s/eval-bad", run);
    mkdir(dir, 0755);
    tu_write_text(dir, "attack.json", "{\"mode\": \"attack\", \"linf\": {\"points\": [1, 2");
    /* a folder outside the run, given as --eval */
    mkdir(extra, 0755);
    tu_write_text(extra, "fid.json",
               "{\n  \"mode\": \"fid\",\n  \"checkpoint\": \"run/last.safetensors\",\n  \"seed\": 1,\n"
               "  \"samples\": {\"source\": \"replay_buffer\", \"n\": 10000, \"select\": 0},\n"
               "  \"reference\": {\"name\": \"fashionmnist/all\", \"n\": 70000},\n  \"kid_subsets\": 100,\n"
               "  \"kid_subset_size\": 1000,\n  \"inception\": {\"features\": \"Inception-v3 pool3\", \"dim\": 2048, "
               "\"fid\": 35.125, \"kid_mean\": 0.01234, \"kid_std\": 0.00056, \"inception_score_mean\": 4.321, "
               "\"inception_score_std\": 0.05}\n}\n");
}

static void check_full(tu_ctx *t, const char *tmp)
{
    char run[700], extra[700], again[800], path[1200];
    snprintf(run, sizeof run, "%s/run", tmp);
    snprintf(extra, sizeof extra, "%s/fid-eval", tmp);
    snprintf(again, sizeof again, "%s/./eval/", run);
    make_run(t, run);
    make_evals(t, run, extra);
    const char *evals[2] = {extra, again}; /* the run's own eval folder again: shown once */
    jp_report_opts o;
    jp_report_opts_defaults(&o);
    o.run_dir = run;
    o.eval_dirs = evals;
    o.n_eval_dirs = 2;
    jp_report_info info;
    jp_error err = {0};
    jp_status st = jp_report_write(&o, &info, &err);
    tu_check(t, st == JP_OK, "report of a full run: %s", st ? err.msg : "ok");
    snprintf(path, sizeof path, "%s/report.html", run);
    size_t len = 0;
    char *page = tu_read_file(path, &len);
    tu_check(t, page && !strcmp(info.path, path) && info.bytes == len, "written to RUN_DIR/report.html (%zu bytes)",
             len);
    if (!page) return;
    tu_check(t, !strncmp(page, "<!DOCTYPE html>", 15), "starts with <!DOCTYPE html>");
    tu_check(t, strstr(page, "</html>") != NULL, "the page is complete");
    static const char *numbers[][2] = {
        {"87.65%", "result.json test_acc"},      {"88.99%", "result.json best_valid_acc"},
        {"WRN-10-2", "model from config"},      {"PYLD-5-7", "sampler PYLD-M-N from config"},
        {"85.23%", "test_clf.json accuracy"},   {"0.4321", "test_clf.json loss"},
        {"80.46%", "test_clf.json per-class"},  {"3.21%", "cali.json ECE"},
        {"0.4012", "cali.json NLL"},            {"0.9512", "ood.json px AUROC"},
        {"0.2211", "ood.json px FPR95"},        {"0.6677", "ood.json pxgrad FPR95"},
        {"35.125", "fid.json (--eval) FID"},    {"240.5 s", "result.json wall time"},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++)
        tu_check(t, strstr(page, numbers[i][0]) != NULL, "page shows %s (%s)", numbers[i][0], numbers[i][1]);

    snprintf(path, sizeof path, "%s/curves_accuracy.png", run);
    tu_check(t, page_embeds(page, path), "a data:image/png;base64 URI decodes to curves_accuracy.png's bytes");
    snprintf(path, sizeof path, "%s/eval/confusion.png", run);
    tu_check(t, page_embeds(page, path), "the evaluation's confusion.png is embedded byte for byte");

    tu_check(t, strstr(page, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co") != NULL,
             "the config value with markup is escaped");
    tu_check(t, strstr(page, "<script") == NULL, "no raw <script> anywhere");
    tu_check(t, !strstr(page, "http://") && !strstr(page, "https://") && !strstr(page, "src=\"/") &&
                 !strstr(page, "href=\"http"),
             "no external links or references");
    tu_check(t, strstr(page, "recovered") && strstr(page, "rolled back to iteration 50 &amp; lr scale 0.5"),
             "the event from metrics.jsonl is listed (escaped)");
    tu_check(t, strstr(page, "<svg") && strstr(page, "<polyline"), "inline SVG chart of the iterations");
    tu_check(t, strstr(page, "1 incomplete lines skipped") != NULL, "metrics.csv's unfinished line is skipped");

    tu_check(t, !strstr(page, "samples_000100.png") && !strstr(page, "samples_000200.png") &&
                 strstr(page, "samples_000300.png") && strstr(page, "samples_001400.png") &&
                 strstr(page, "2 earlier sample grids not shown"),
             "only the latest 12 of 14 sample grids are embedded");
    snprintf(path, sizeof path, "%s/samples_001400.png", run);
    tu_check(t, page_embeds(page, path), "the latest sample grid is embedded byte for byte");

    tu_check(t, info.eval_dirs == 3 && count(page, "<h2 id=\"eval-") == 3,
             "3 evaluation folders shown (eval, eval-bad, --eval), the repeated one once (%d)", info.eval_dirs);
    tu_check(t, strstr(page, "attack.json could not be read") && strstr(page, "at byte") && info.warnings >= 1,
             "the corrupt attack.json is named with the parse error (%d warnings)", info.warnings);
    tu_check(t, strstr(page, "problem") != NULL, "the problems box is there");
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q '\\.tmp\\.'", run);
    tu_check(t, system(cmd) != 0, "no temporary file left in the run folder");
    free(page);

    /* --out and --title */
    snprintf(path, sizeof path, "%s/custom.html", tmp);
    o.out = path;
    o.title = "My <run>";
    st = jp_report_write(&o, &info, &err);
    page = tu_read_file(path, NULL);
    tu_check(t, st == JP_OK && page && strstr(page, "<h1>My &lt;run&gt;</h1>"), "--out and an escaped --title");
    free(page);
}

/* A run that stopped early: metrics.csv only, a corrupt result.json, a buffer.png that
 * is no PNG and an image over the per-image cap. */
static void check_partial(tu_ctx *t, const char *tmp)
{
    char run[700], path[1200];
    snprintf(run, sizeof run, "%s/partial", tmp);
    mkdir(run, 0755);
    tu_write_text(run, "metrics.csv", "iter,epoch,lr,loss,ce,acc,lse_data,lse_sample,sec_per_iter\n"
                                   "1,0,0.1,2.3,2.3,0.1,0,0,1.5\n2,0,0.1,2.2,2.2,0.2,0,0,2.5\n");
    tu_write_text(run, "result.json", "{\"test_acc\": 0.9,");
    tu_write_text(run, "buffer.png", "not a picture");
    write_png(t, run, "curves_energy.png", 64, 64, 3);
    jp_report_opts o;
    jp_report_opts_defaults(&o);
    o.run_dir = run;
    snprintf(path, sizeof path, "%s/curves_energy.png", run);
    struct stat sb;
    o.max_image_bytes = stat(path, &sb) == 0 ? (size_t)sb.st_size - 1 : 0; /* one byte short */
    jp_report_info info;
    jp_error err = {0};
    jp_status st = jp_report_write(&o, &info, &err);
    snprintf(path, sizeof path, "%s/report.html", run);
    char *page = tu_read_file(path, NULL);
    tu_check(t, st == JP_OK && page, "a partial run still gives a page: %s", st ? err.msg : "ok");
    if (!page) return;
    tu_check(t, strstr(page, "result.json could not be read") != NULL, "corrupt result.json named in the page");
    tu_check(t, strstr(page, "config.json absent") != NULL, "absent config.json said");
    tu_check(t, strstr(page, "2 (from metrics.csv)") && strstr(page, "4.0 s"),
             "iterations and time taken from metrics.csv");
    tu_check(t, strstr(page, "is not a PNG file") != NULL, "a buffer.png that is no PNG is warned about");
    tu_check(t, strstr(page, "curves_energy.png (") && strstr(page, "not embedded: larger than"),
             "an image over the cap is named, not embedded");
    tu_check(t, info.images == 0 && info.warnings == 2, "no image embedded, 2 warnings (%d, %d)", info.images,
             info.warnings);
    tu_check(t, strstr(page, "No evaluation results") != NULL, "no evaluation folder said");
    free(page);
}

static void check_errors(tu_ctx *t, const char *tmp)
{
    char missing[700], file[700], empty[700], run[700];
    snprintf(missing, sizeof missing, "%s/no-such-run", tmp);
    snprintf(file, sizeof file, "%s/run/config.json", tmp);
    snprintf(empty, sizeof empty, "%s/empty", tmp);
    snprintf(run, sizeof run, "%s/run", tmp);
    mkdir(empty, 0755);
    jp_report_opts o;
    jp_report_opts_defaults(&o);
    jp_error err = {0};
    o.run_dir = missing;
    jp_status st = jp_report_write(&o, NULL, &err);
    tu_check(t, st == JP_ERR_ARG && strstr(err.msg, missing), "missing RUN_DIR: %s", err.msg);
    o.run_dir = file;
    st = jp_report_write(&o, NULL, &err);
    tu_check(t, st == JP_ERR_ARG && strstr(err.msg, file) && strstr(err.msg, "not a folder"), "a file: %s", err.msg);
    o.run_dir = empty;
    st = jp_report_write(&o, NULL, &err);
    tu_check(t, st == JP_ERR_ARG && strstr(err.msg, empty), "no run files: %s", err.msg);
    o.run_dir = NULL;
    tu_check(t, jp_report_write(&o, NULL, &err) == JP_ERR_ARG, "no run folder: %s", err.msg);
    const char *bad_eval[1] = {missing};
    o.run_dir = run;
    o.eval_dirs = bad_eval;
    o.n_eval_dirs = 1;
    st = jp_report_write(&o, NULL, &err);
    tu_check(t, st == JP_ERR_ARG && strstr(err.msg, missing), "missing --eval folder: %s", err.msg);
    char out[800];
    snprintf(out, sizeof out, "%s/no-such-folder/r.html", tmp);
    o.n_eval_dirs = 0;
    o.out = out;
    st = jp_report_write(&o, NULL, &err);
    tu_check(t, st == JP_ERR_IO && strstr(err.msg, out), "unwritable output: %s", err.msg);
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "report");
    char tmp[512];
    tu_tmpdir(tmp, sizeof tmp, "report");
    check_full(&t, tmp);
    check_partial(&t, tmp);
    check_errors(&t, tmp);
    printf("pages written under %s\n", tmp);
    return tu_finish(&t);
}
