/* `jempp train --device`: a device that is not cpu, cuda, cuda:N or auto, and a GPU that
 * this machine or build cannot give, end with exit status 2 and a message naming the
 * flag and what is missing, before anything is written (no run folder); so do a bad
 * `--comm` and `--comm nccl` for a model that is not on a GPU, and
 * `jempp eval --device` with a bad value. `jempp env`
 * says whether the CUDA backend is built and what it finds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* Runs argv; its stdout and stderr together into out; the exit status. */
static int run(char *const argv[], char *out, size_t len) { return tu_run_capture(argv, NULL, 1, out, len); }

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int main(void)
{
    tu_ctx t;
    tu_begin(&t, "test_cli_device");
    const char *bdir = getenv("JEMPP_BIN");
    char bin[1024], tmp[1024], dir[1100], out[8192];
    snprintf(bin, sizeof bin, "%s/jempp", bdir ? bdir : "build");
    if (access(bin, X_OK)) return tu_skip(&t, "%s is not built", bin);
    tu_tmpdir(tmp, sizeof tmp, "cli_device");
    snprintf(dir, sizeof dir, "%s/run", tmp);

    int rc;
    const char *bad[] = {"gpu", "cuda:x", "cuda:", "CPU"};
    for (int i = 0; i < 4; i++) {
        char *argv[] = {bin, "train", "--device", (char *)bad[i], "--save_dir", dir, NULL};
        rc = run(argv, out, sizeof out);
        char want[64];
        snprintf(want, sizeof want, "--device %s: cpu, cuda, cuda:N or auto", bad[i]);
        tu_check(&t, rc == 2 && strstr(out, want) && !exists(dir), "--device %s: exit %d, \"%s\"%s", bad[i], rc,
                 strtok(out, "\n") ? out : "", exists(dir) ? " (a run folder was made)" : "");
    }

    /* --comm: a bad value, and NCCL for a model that is not on a GPU */
    const char *comm[][3] = {{"bogus", "cpu", "--comm bogus: auto, mpi or nccl"},
                             {"nccl", "cpu", "--comm nccl: NCCL works on GPU memory, and this run is on cpu"},
                             {"nccl", "cpu-copies", "this run is on cpu-copies"}};
    for (int i = 0; i < 3; i++) {
        char *argv[] = {bin, "train", "--comm", (char *)comm[i][0], "--device", (char *)comm[i][1], "--save_dir", dir,
                        NULL};
        rc = run(argv, out, sizeof out);
        tu_check(&t, rc == 2 && strstr(out, comm[i][2]) && !exists(dir), "--comm %s --device %s: exit %d, \"%s\"%s",
                 comm[i][0], comm[i][1], rc, strtok(out, "\n") ? out : "", exists(dir) ? " (a run folder was made)" : "");
    }

    char eval_dir[1200];
    snprintf(eval_dir, sizeof eval_dir, "%s/eval", tmp);
    char *ev[] = {bin, "eval", "--ckpt", "/nonexistent.safetensors", "--out", eval_dir, "--device", "tpu", NULL};
    rc = run(ev, out, sizeof out);
    tu_check(&t, rc == 2 && strstr(out, "--device tpu: cpu, cuda, cuda:N or auto") && !exists(eval_dir),
             "jempp eval --device tpu: exit %d, \"%s\"", rc, strtok(out, "\n") ? out : "");

    char *env[] = {bin, "env", NULL};
    rc = run(env, out, sizeof out);
    const char *cuda = strstr(out, "cuda=");
    tu_check(&t, rc == 0 && cuda != NULL, "jempp env names the CUDA backend: %.80s", cuda ? cuda : out);
    if (cuda && !strncmp(cuda, "cuda=yes", 8) && !strstr(cuda, "no GPU")) {
        printf("a GPU is present: --device cuda is not refused here (%.80s)\n", cuda);
    } else {
        char *argv[] = {bin, "train", "--device", "cuda", "--save_dir", dir, NULL};
        rc = run(argv, out, sizeof out);
        int named = strstr(out, "--device cuda") && (strstr(out, "driver") || strstr(out, "no CUDA device") ||
                                                    strstr(out, "without the CUDA backend"));
        tu_check(&t, rc == 2 && named && !exists(dir), "--device cuda without a GPU: exit %d, \"%s\"", rc,
                 strtok(out, "\n") ? out : "");
        char *autoargv[] = {bin, "train", "--device", "auto", "--preset", "fashion", "--max_iters", "0", "--help", NULL};
        rc = run(autoargv, out, sizeof out);
        tu_check(&t, rc == 0 && strstr(out, "--device"), "--help lists --device (exit %d)", rc);
    }
    return tu_finish(&t);
}
