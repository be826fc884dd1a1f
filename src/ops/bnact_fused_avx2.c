/* jempp's fused batch norm + LeakyReLU kernels on 8-channel blocks (nChw8c),
 * compiled with avx2's instructions (CMakeLists.txt); called only when ops/cpu_isa.h
 * says the CPU has them. */
#if defined(JEMPP_X86_KERNELS)
#define JP_VW 8
#include "ops/bnact_fused_kern.h"
#else
typedef int jp_bnact_fused_avx2_unused; /* not an x86-64 build: no kernels */
#endif
