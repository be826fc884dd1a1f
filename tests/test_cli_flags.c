/* The command-line flag parser (tools/cli/flags.c, compiled into this test): booleans as
 * --flag, --flag=V and --flag V (V one of 0, 1, true, false), negated booleans, the other types, and the
 * errors for bad values, unknown flags and stray words; jp_args_parse's split of
 * positional arguments around a boolean's value. */
#include <string.h>

#include "../tools/cli/flags.h"
#include "testutil.h"

typedef struct {
    int wino, quiet, n, train_mode;
    float lr;
    char name[16];
} opts;

static jp_status parse(opts *o, int argc, char **argv, jp_error *err)
{
    *o = (opts){1, 0, 5, 1, 0.1f, "x"};
    jp_flag f[] = {
        {"winograd", FLAG_BOOL, &o->wino, 0, NULL, NULL, ""},
        {"quiet", FLAG_BOOL, &o->quiet, 0, NULL, NULL, ""},
        {"n", FLAG_INT, &o->n, 0, NULL, NULL, ""},
        {"lr", FLAG_FLOAT, &o->lr, 0, NULL, NULL, ""},
        {"name", FLAG_STR, o->name, sizeof o->name, NULL, NULL, ""},
        {"eval_mode", FLAG_BOOL_NOT, &o->train_mode, 0, NULL, NULL, ""},
    };
    return jp_flags_parse(f, 6, argc, argv, 1, err);
}

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__})
#define ARGC(...) ((int)(sizeof((char *[]){"prog", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(o, err, ...) parse(o, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err)

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cli_flags");
    opts o;
    jp_error err;
    tu_check(&t, PARSE(&o, &err, "--winograd", "0", "--quiet") == JP_OK && o.wino == 0 && o.quiet == 1,
             "--winograd 0 turns a default-on boolean off; --quiet alone turns one on");
    tu_check(&t, PARSE(&o, &err, "--winograd=false", "--quiet", "true", "--n", "7") == JP_OK && o.wino == 0 &&
                     o.quiet == 1 && o.n == 7,
             "--winograd=false, --quiet true, then an int");
    tu_check(&t, PARSE(&o, &err, "--quiet", "--n", "3") == JP_OK && o.quiet == 1 && o.n == 3,
             "a boolean followed by another flag takes no value");
    tu_check(&t, PARSE(&o, &err, "--winograd", "2") == JP_ERR_ARG && strstr(err.msg, "'2'"),
             "--winograd 2: 2 is no boolean word, so it is a stray argument (%s)", err.msg);
    tu_check(&t, PARSE(&o, &err, "--winograd=2") == JP_ERR_ARG && strstr(err.msg, "--winograd"),
             "--winograd=2: refused naming the flag (%s)", err.msg);
    tu_check(&t, PARSE(&o, &err, "--lr", "nan") == JP_ERR_ARG && strstr(err.msg, "--lr"),
             "--lr nan: refused (%s)", err.msg);
    tu_check(&t, PARSE(&o, &err, "--n", "4x") == JP_ERR_ARG && strstr(err.msg, "--n"), "--n 4x: refused (%s)",
             err.msg);
    tu_check(&t, PARSE(&o, &err, "--bogus") == JP_ERR_ARG && strstr(err.msg, "--bogus"),
             "an unknown flag is named (%s)", err.msg);
    tu_check(&t, PARSE(&o, &err, "--name", "abc", "--lr=0.5") == JP_OK && !strcmp(o.name, "abc") && o.lr == 0.5f,
             "--name abc --lr=0.5");

    tu_check(&t, PARSE(&o, &err, "--eval_mode", "--n", "2") == JP_OK && o.train_mode == 0 && o.n == 2,
             "a negated boolean: --eval_mode alone stores 0");
    tu_check(&t, PARSE(&o, &err, "--eval_mode", "false") == JP_OK && o.train_mode == 1,
             "--eval_mode false stores 1");
    tu_check(&t, PARSE(&o, &err, "--eval_mode=1") == JP_OK && o.train_mode == 0, "--eval_mode=1 stores 0");

    /* positional arguments around booleans (jempp report / compare) */
    int quiet = 0;
    jp_flag rf[] = {{"quiet", FLAG_BOOL, &quiet, 0, NULL, NULL, ""}};
    jp_args a;
    char **av = ARGV("dirA", "--quiet", "0", "dirB", "--quiet", "dirC");
    jp_status st = jp_args_parse(&a, rf, 1, ARGC("dirA", "--quiet", "0", "dirB", "--quiet", "dirC"), av, NULL, &err);
    int ok = st == JP_OK && a.n_pos == 3 && !strcmp(a.pos[0], "dirA") && !strcmp(a.pos[1], "dirB") &&
             !strcmp(a.pos[2], "dirC");
    tu_check(&t, ok, "jp_args_parse: '--quiet 0' keeps its 0, '--quiet dirC' leaves dirC positional (%d positional)",
             st == JP_OK ? a.n_pos : -1);
    if (st == JP_OK) {
        tu_check(&t, jp_flags_parse(rf, 1, a.n_rest, a.rest, 1, &err) == JP_OK && quiet == 1,
                 "the last --quiet wins: on");
    }
    jp_args_free(&a);
    return tu_finish(&t);
}
