/* Loads a jempp checkpoint and evaluates it on Fashion-MNIST's test set through the
 * library's evaluation modes (jempp/evaluate.h, the functions behind `jempp eval`): test
 * accuracy, expected calibration error (20 bins, as the reference) and the OOD AUROC of
 * log p(x) against the same images inverted. Nothing is written (target.out NULL).
 *
 *   eval_checkpoint CKPT [N_TEST (default 1000)]
 *
 * Build against an installed libjempp:
 *   cc eval_checkpoint.c $(pkg-config --cflags --libs jempp) -o eval_checkpoint
 * or with CMake: find_package(jempp) and target_link_libraries(... jempp::jempp)
 * (examples/CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>

#include <jempp/checkpoint.h>
#include <jempp/data.h>
#include <jempp/evaluate.h>

enum { BATCH = 100 };

static int fail(const jp_error *err)
{
    fprintf(stderr, "eval_checkpoint: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: eval_checkpoint CKPT [N_TEST]\n");
        return 2;
    }
    jp_error err = {0};
    jp_wrn *m = NULL;
    if (jp_ckpt_open_model(argv[1], BATCH, &m, &err)) return fail(&err);

    jp_data_config dc = jp_data_config_defaults(); /* Fashion-MNIST from Debian's folder */
    dc.n_valid = 0;
    dc.test_only = 1;
    jp_data d;
    if (jp_data_open(&d, &dc, &err)) return fail(&err);

    jp_eval_target t = jp_eval_target_init(m); /* seed 1, compute only */
    t.ckpt = argv[1];
    t.data = &d;
    t.split = &d.test;
    t.max_n = argc > 2 ? atoi(argv[2]) : 1000;
    t.quiet = 1;

    /* calibration: accuracy, ECE and NLL of the clean test images */
    jp_clf_opts co;
    jp_clf_opts_defaults(&co); /* no input noise, 20 bins */
    jp_calibration cal;
    if (jp_eval_cali(&t, &co, &cal, &err)) return fail(&err);

    /* OOD: log p(x) of the images against the same images inverted */
    jp_ood_opts oo;
    jp_ood_opts_defaults(&oo);
    if (jp_ood_parse_shifts(&oo, "invert", "shifts", &err)) return fail(&err);
    jp_ood_result ood;
    if (jp_eval_ood(&t, &oo, &ood, &err)) return fail(&err);

    printf("%s on %d test images of %s: accuracy %.4f, ECE %.4f, NLL %.4f, OOD AUROC log p(x) vs inverted %.4f\n",
           argv[1], cal.n, d.dataset, cal.acc, cal.ece, cal.nll, ood.sets[0].m[JP_SCORE_PX].auroc);
    jp_calibration_free(&cal);
    jp_ood_result_free(&ood);
    jp_data_close(&d);
    jp_wrn_free(m);
    return 0;
}
