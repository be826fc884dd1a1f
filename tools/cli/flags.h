/* Table-driven command-line flags: --name value or --name=value; booleans take no
 * value (--name) or an explicit 0/1/true/false; lists take comma- or space-separated
 * integers (--decay_epochs 50 100 125, as argparse's nargs="+"). Every value is checked:
 * a number must parse completely and be finite, a choice must be one of its words. */
#ifndef JEMPP_CLI_FLAGS_H
#define JEMPP_CLI_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"

/* FLAG_BOOL_NOT: a boolean whose int holds its negation (--eval_mode_sampling sets
 * sampler.train_mode to 0). */
typedef enum {
    FLAG_INT,
    FLAG_FLOAT,
    FLAG_U64,
    FLAG_I64,
    FLAG_STR,
    FLAG_BOOL,
    FLAG_BOOL_NOT,
    FLAG_CHOICE,
    FLAG_INTLIST
} jp_flag_type;

typedef struct {
    const char *name;    /* without the leading dashes */
    jp_flag_type type;
    void *ptr;           /* int*, float*, uint64_t*, int64_t*, char[size], int* (bool/bool_not/choice/list) */
    size_t size;         /* STR: buffer size; INTLIST: max entries */
    int *count;          /* INTLIST: receives the number of entries */
    const char *choices; /* CHOICE: "a|b|c", stored as the index */
    const char *help;
} jp_flag;

/* Parses argv[start..argc). Unknown flags, missing or bad values: JP_ERR_ARG with a
 * message naming the flag. */
jp_status jp_flags_parse(const jp_flag *flags, int n, int argc, char **argv, int start, jp_error *err);
/* Prints each flag with its help and its current value (the default when called before
 * parsing). */
void jp_flags_help(const jp_flag *flags, int n, FILE *out);
/* 1 if argv holds --help or -h. */
int jp_flags_want_help(int argc, char **argv);
/* The value of "--name" in argv (either form), or NULL. */
const char *jp_flags_peek(int argc, char **argv, const char *name);

/* Commands with positional arguments (jempp report, jempp compare): jp_flags_parse takes
 * neither positional arguments nor repeated flags, so argv[1..argc) is first split into
 * the positional arguments, the values of one repeatable flag, and the other flags,
 * each with its value when the table says it takes one ("--name value"); the other flags
 * are then parsed into the table (jp_flags_parse). */
typedef struct {
    const char **pos;  /* positional arguments, in order */
    int n_pos;
    const char **reps; /* values of the repeatable flag, in order */
    int n_reps;
    char **rest;       /* argv[0], then the other flags (as given to jp_flags_parse) */
    int n_rest;
} jp_args;

/* repeat: the name of the flag that may be given several times ("--name value" or
 * "--name=value"), or NULL. JP_ERR_ARG when it lacks its value or a flag is wrong (the
 * message of jp_flags_parse), JP_ERR_NOMEM. Call
 * jp_args_free afterwards, also after a failure. */
jp_status jp_args_parse(jp_args *a, const jp_flag *flags, int n, int argc, char **argv, const char *repeat,
                        jp_error *err);
void jp_args_free(jp_args *a);

#endif
