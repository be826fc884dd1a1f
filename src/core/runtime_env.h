/* The runtime settings jempp's programs give themselves at their start (internal). */
#ifndef JEMPP_CORE_RUNTIME_ENV_H
#define JEMPP_CORE_RUNTIME_ENV_H

/* Settings that the runtimes read once, when they load, so that a program can only
 * change them by starting again (execv of /proc/self/exe keeps the process id, the
 * arguments and the open files):
 *  - OpenBLAS's kernels: where it picked kernels older than this CPU (its table predates
 *    Intel's AVX-512 Xeons: "Prescott", SGEMM 2048^3 at 31-65 GFLOP/s instead of 152)
 *    and the user set no OPENBLAS_CORETYPE, the right one (jp_blas_better_core);
 *  - OpenMP's waiting: where the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT,
 *    passive. libgomp's default spins up to 300000 times at every barrier, and beside
 *    another job on the same cores a spinning thread burns the slice its descheduled
 *    partner needs: the JEM++ iteration of the main job took 1.2-1.8 s instead of 0.68
 *    beside a 2-thread PyTorch training loop, and the same quiet (bench/busy.sh,
 *    docs/results.md).
 * Call first thing in main; when nothing needs setting it returns at once, and if the
 * new start fails the program goes on as it is. */
void jp_runtime_env_restart(char **argv);

#endif
