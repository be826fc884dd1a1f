/* Which of jempp's own vector kernels this process can run: the library is built for
 * baseline x86-64, and the kernels of each vector width (ops/simd.h) are compiled in
 * files of their own with that width's instruction set; these checks, made at run time
 * from CPUID (and the OS's saved register state), say which may be called. Internal
 * header. */
#ifndef JEMPP_CPU_ISA_H
#define JEMPP_CPU_ISA_H

/* 1 when the kernels of vector width vw (8: AVX2 + FMA, 16: AVX-512F) are in this build
 * and the CPU runs them; 0 otherwise (any other vw too). */
int jp_cpu_has_width(int vw);
/* "avx2" (vw 8), "avx512" (16), "none" otherwise: the suffix of kernel names. */
const char *jp_cpu_width_isa(int vw);

#endif
