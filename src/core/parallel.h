/* When a loop is worth a parallel region. Opening one wakes the other threads: tens of
 * microseconds each time under OMP_WAIT_POLICY=passive, what `jempp` runs with (the main
 * job's iteration opens about 660 regions; docs/results.md, "On a busy machine"). Below
 * JP_PAR_MIN_ELEMS element-wise steps (a few flops on a float read and written) or
 * JP_PAR_MIN_EXPS exponentials in double, one thread finishes before the others would
 * have woken. Every loop gated by these computes each element the same way on any
 * number of threads. */
#ifndef JEMPP_CORE_PARALLEL_H
#define JEMPP_CORE_PARALLEL_H

enum { JP_PAR_MIN_ELEMS = 32768, JP_PAR_MIN_EXPS = 4096 };

#endif
