/* config.json of a run: every setting written and read back unchanged (a configuration
 * far from the defaults, through text), settings absent from the file kept, and bad
 * files (unknown key, wrong type, bad choice, malformed JSON, missing file) refused with
 * a message naming the file and the key, the configuration left as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jempp/train.h"
#include "testutil.h"

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_train_config");
    char dir[256], path[400], path2[400];
    tu_tmpdir(dir, sizeof dir, "train_config");
    jp_error e = {0};

    /* a configuration where every field differs from the defaults */
    jp_train_config a;
    jp_train_preset(&a, "jem", &e);
    snprintf(a.dataset, sizeof a.dataset, "cifar100");
    snprintf(a.data_root, sizeof a.data_root, "/data/with \"quotes\" and \\ slash");
    a.n_valid = 123, a.labels_per_class = 40, a.flip = 0, a.sigma = 0.07f, a.depth = 16, a.width = 3;
    a.dropout_rate = 0.3f, a.winograd = 0, a.uncond = 1, a.p_x_weight = 0.5f, a.p_y_given_x_weight = 2.0f;
    a.p_x_y_weight = 0.25f, a.class_cond_p_x_sample = 1, a.sampler.kind = JP_SAMPLER_PROXIMAL;
    a.sampler.n_steps = 7, a.sampler.in_steps = 3, a.sampler.pyld_lr = 0.15f, a.sampler.eps = 0.01f;
    a.sampler.sgld_lr = 0.5f, a.sampler.sgld_std = 0.005f, a.sampler.train_mode = 1, a.sampler.clamp = 0;
    a.buffer_size = 777, a.reinit_freq = 0.1f, a.momentum = 0.8f, a.weight_decay = 5e-5f, a.warmup_iters = 33;
    a.n_decay = 3, a.decay_epochs[0] = 2, a.decay_epochs[1] = 5, a.decay_epochs[2] = 9, a.decay_rate = 0.3f;
    a.pad = 2, a.lr_schedule = JP_LR_COSINE, a.final_lr = 1e-3f, a.cosine_iters = 77;
    a.n_epochs = 11, a.batch_size = 48, a.max_iters = 5000000000LL, a.seed = 18446744073709551615ULL;
    a.ckpt_every = 2, a.save_every = 77, a.eval_every = 3, a.print_every = 9, a.n_sample_grid = 36;
    a.diverge_loss = 1e6f, a.max_recoveries = 2, a.diverge_energy = 321.5f, a.diverge_range = 7.25f, a.diverge_gap = 3.5f;
    a.gap_max_steps = 12, a.clf_only = 1, a.softmax_only = 1;
    a.kernels.vector_width = 8, a.kernels.conv = JP_CONV_ONEDNN_DIRECT, a.kernels.bnact = JP_BNACT_ONEDNN;
    snprintf(a.load_path, sizeof a.load_path, "runs/clf/best \"quoted\".safetensors");
    int shape[3] = {3, 32, 32};
    snprintf(path, sizeof path, "%s/config.json", dir);
    tu_check(&t, jp_train_config_write_json(&a, shape, 100, path, &e) == JP_OK, "write %s (%s)", path, e.msg);

    jp_train_config b;
    jp_train_config_defaults(&b);
    jp_status st = jp_train_config_read_json(&b, path, &e);
    tu_check(&t, st == JP_OK, "read it back (%s)", st ? e.msg : "ok");
    /* equal where it matters: the same text when written again (save_dir is not read) */
    snprintf(b.save_dir, sizeof b.save_dir, "%s", a.save_dir);
    snprintf(path2, sizeof path2, "%s/config2.json", dir);
    jp_train_config_write_json(&b, shape, 100, path2, &e);
    char *first = tu_read_file(path, NULL), *second = tu_read_file(path2, NULL);
    tu_check(&t, first && second && first[0] && !strcmp(first, second), "written, read and written again: the same text");
    tu_check(&t, b.seed == a.seed && b.max_iters == a.max_iters && b.sampler.kind == JP_SAMPLER_PROXIMAL &&
                 b.norm == JP_NORM_NONE && b.optimizer == JP_OPTIM_ADAM && b.n_decay == 3 && b.decay_epochs[2] == 9 &&
                 b.sampler.eps == 0.01f && b.sigma == 0.07f && b.pad == 2 &&
                 b.lr_schedule == JP_LR_COSINE && b.final_lr == 1e-3f && b.cosine_iters == 77 && !strcmp(b.data_root, a.data_root) &&
                 !strcmp(b.load_path, a.load_path) && b.kernels.vector_width == 8 &&
                 b.kernels.conv == JP_CONV_ONEDNN_DIRECT && b.kernels.bnact == JP_BNACT_ONEDNN,
             "seed, max_iters, choices, the decay list, floats, strings and the kernels exact");
    tu_check(&t, first && strstr(first, "\"sigma\": 0.07,") != NULL, "floats written in their shortest form (sigma 0.07)");
    tu_check(&t, first && strstr(first, "\"eval_mode_sampling\": 0,") && !strstr(first, "sample_train_mode") &&
                     strstr(first, "\"n_sample_grid\": 36,") && b.n_sample_grid == 36 && b.sampler.train_mode == 1,
             "the sampler's mode under its flag's name (eval_mode_sampling 0: train mode), n_sample_grid 36");
    free(first);
    free(second);

    /* one table: every setting has one name, its flag and its key; each written to
     * config.json is read back from it */
    {
        int n;
        const jp_train_setting *s = jp_train_settings(&n);
        int dup = 0, json = 0;
        for (int i = 0; i < n; i++) {
            json += s[i].in_json;
            for (int j = 0; j < i; j++) dup += !strcmp(s[i].name, s[j].name);
        }
        tu_check(&t, n > 50 && dup == 0, "%d settings, %d of them in config.json, no name twice", n, json);
    }

    /* the presets and the ranges come from the table: a preset's values, each number out
     * of its range refused naming the flag, a text that does not parse refused */
    {
        jp_train_config p;
        tu_check(&t, jp_train_preset(&p, "jem", &e) == JP_OK && p.sampler.kind == JP_SAMPLER_SGLD &&
                         p.sampler.n_steps == 20 && p.sampler.sgld_std == 0.01f && p.sampler.train_mode == 0 &&
                         p.sampler.clamp == 0 && p.norm == JP_NORM_NONE && p.optimizer == JP_OPTIM_ADAM &&
                         p.lr == 1e-4f && p.n_decay == 2 && p.decay_epochs[1] == 180 && p.init == JP_INIT_UNIFORM,
                 "preset jem: SGLD-20 (std 0.01, eval mode, no clamp), no norm, Adam 1e-4, decays at 160 and 180");
        tu_check(&t, jp_train_preset(&p, "fashion", &e) == JP_OK && p.max_iters == 550 && p.n_decay == 0 &&
                         p.lr_schedule == JP_LR_COSINE && p.cosine_iters == -1 && p.depth == 10 && p.width == 2,
                 "preset fashion: 550 iterations, no decay epochs, cosine over the run, WRN-10-2");
        tu_check(&t, jp_train_preset(&p, "nope", &e) == JP_ERR_ARG && strstr(e.msg, "nope"), "an unknown preset: %s",
                 e.msg);
        static const struct {
            const char *name, *value, *needle;
        } out[] = {{"batch_size", "1", "--batch_size 1: must be between 2 and 4096"},
                   {"lr", "0", "--lr 0: must be > 0"},
                   {"reinit_freq", "1.5", "--reinit_freq 1.5: must be between 0 and 1"},
                   {"flip", "2", "--flip 2"},
                   {"cosine_iters", "-2", "--cosine_iters -2: must be >= -1"}};
        for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
            jp_train_config_defaults(&p);
            const jp_train_setting *s = jp_train_setting_find(out[i].name);
            jp_status ps = s ? jp_train_setting_parse(&p, s, out[i].value, &e) : JP_ERR_ARG;
            jp_status cs = jp_train_config_check(&p, &e);
            tu_check(&t, ps == JP_OK && cs == JP_ERR_ARG && strstr(e.msg, out[i].needle), "%s %s refused: %s",
                     out[i].name, out[i].value, e.msg);
        }
        static const struct {
            const char *name, *value;
        } bad_text[] = {{"depth", "ten"}, {"depth", "10.5"}, {"lr", "nan"}, {"norm", "layer"},
                        {"decay_epochs", "5,-1"}, {"seed", "-1"}, {"uncond", "maybe"}};
        for (size_t i = 0; i < sizeof bad_text / sizeof *bad_text; i++) {
            jp_train_config_defaults(&p);
            jp_train_config before = p;
            jp_status ps = jp_train_setting_parse(&p, jp_train_setting_find(bad_text[i].name), bad_text[i].value, &e);
            tu_check(&t, ps == JP_ERR_ARG && strstr(e.msg, bad_text[i].name) && !memcmp(&p, &before, sizeof p),
                     "--%s '%s' refused, nothing changed: %s", bad_text[i].name, bad_text[i].value, e.msg);
        }
    }

    /* before version 4, sample_train_mode held the sampler's mode (the negation of
     * eval_mode_sampling) */
    {
        char vp[400];
        tu_write_text(dir, "legacy.json", "{\"config_version\": 3, \"sample_train_mode\": 0}\n");
        snprintf(vp, sizeof vp, "%s/legacy.json", dir);
        jp_train_config v;
        jp_train_config_defaults(&v);
        st = jp_train_config_read_json(&v, vp, &e);
        tu_check(&t, st == JP_OK && v.sampler.train_mode == 0, "config_version 3, sample_train_mode 0: train_mode %d (%s)",
                 v.sampler.train_mode, st ? e.msg : "ok");
    }

    /* before version 3, clf_only meant a plain softmax classifier (softmax_only now) */
    {
        static const char *const texts[2] = {"{\"config_version\": 2, \"clf_only\": 1}\n",
                                             "{\"config_version\": 3, \"clf_only\": 1}\n"};
        for (int k = 0; k < 2; k++) {
            char name[32], vp[400];
            snprintf(name, sizeof name, "clf%d.json", k);
            tu_write_text(dir, name, texts[k]);
            snprintf(vp, sizeof vp, "%s/%s", dir, name);
            jp_train_config v;
            jp_train_config_defaults(&v);
            st = jp_train_config_read_json(&v, vp, &e);
            tu_check(&t, st == JP_OK && v.clf_only == k && v.softmax_only == !k,
                     "config_version %d, clf_only 1: clf_only %d softmax_only %d", k + 2, v.clf_only, v.softmax_only);
        }
    }

    /* config_version: a file of version 1 (none written) ran PYLD without its sgld_lr
     * step, whatever sgld_lr held: it resumes with 0; version 2 keeps it; 5 is refused */
    {
        static const char *const texts[3] = {
            "{\"sampler\": \"pyld\", \"sgld_lr\": 1}\n",
            "{\"config_version\": 2, \"sampler\": \"pyld\", \"sgld_lr\": 0.5}\n",
            "{\"config_version\": 5, \"sampler\": \"pyld\"}\n"};
        float want[2] = {0.0f, 0.5f};
        for (int k = 0; k < 3; k++) {
            char name[32], vp[400];
            snprintf(name, sizeof name, "version%d.json", k + 1);
            tu_write_text(dir, name, texts[k]);
            snprintf(vp, sizeof vp, "%s/%s", dir, name);
            jp_train_config v;
            jp_train_config_defaults(&v);
            v.sampler.sgld_lr = 9;
            st = jp_train_config_read_json(&v, vp, &e);
            if (k < 2)
                tu_check(&t, st == JP_OK && v.sampler.sgld_lr == want[k], "config_version %d, PYLD: sgld_lr %g (want %g)",
                         k + 1, (double)v.sampler.sgld_lr, (double)want[k]);
            else
                tu_check(&t, st == JP_ERR_FORMAT && strstr(e.msg, "config_version"), "config_version 5 refused (%s)",
                         st ? e.msg : "accepted");
        }
    }

    /* a file with only some settings: the others stay */
    jp_train_config c;
    jp_train_config_defaults(&c);
    snprintf(path2, sizeof path2, "%s/partial.json", dir);
    tu_write_text(NULL, path2, "{\"n_epochs\": 8, \"decay_epochs\": [4, 6, 7], \"image_shape\": [1, 28, 28]}");
    st = jp_train_config_read_json(&c, path2, &e);
    tu_check(&t, st == JP_OK && c.n_epochs == 8 && c.n_decay == 3 && c.decay_epochs[1] == 6 && c.depth == 28 &&
                 c.lr == 0.1f,
             "a partial file sets what it holds and keeps the rest (%s)", st ? e.msg : "ok");

    /* bad files */
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"n_epochs\": 8, \"learning_rate\": 0.1}", "learning_rate"},
        {"{\"depth\": \"ten\"}", "depth"},
        {"{\"depth\": 10.5}", "depth"},
        {"{\"sampler\": \"langevin\"}", "sampler"},
        {"{\"decay_epochs\": [1, -2]}", "decay_epochs"},
        {"{\"seed\": -1}", "seed"},
        {"{\"n_epochs\": 8,}", "byte 15"},
        {"[1, 2]", "object"},
        {"", "byte 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jp_train_config d;
        jp_train_config_defaults(&d);
        jp_train_config before = d;
        tu_write_text(NULL, path2, bad[i].text);
        memset(&e, 0, sizeof e);
        st = jp_train_config_read_json(&d, path2, &e);
        tu_check(&t, st == JP_ERR_FORMAT && strstr(e.msg, path2) && strstr(e.msg, bad[i].needle) &&
                     !memcmp(&d, &before, sizeof d),
                 "'%s': refused, message names the file and '%s', configuration unchanged (%s)", bad[i].text,
                 bad[i].needle, e.msg);
    }
    snprintf(path2, sizeof path2, "%s/absent.json", dir);
    st = jp_train_config_read_json(&c, path2, &e);
    tu_check(&t, st == JP_ERR_IO && strstr(e.msg, path2), "a missing file: JP_ERR_IO naming it (%s)", e.msg);
    int rc = tu_finish(&t);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (rc == 0 && system(cmd) != 0) printf("could not remove %s\n", dir);
    return rc;
}
