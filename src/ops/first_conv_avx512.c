/* "jempp-first"'s backward kernels on 16-channel blocks (nChw16c), compiled with
 * avx512's instructions (CMakeLists.txt); called only when ops/cpu_isa.h says the CPU
 * has them. */
#if defined(JEMPP_X86_KERNELS)
#define JP_VW 16
#include "ops/first_conv_kern.h"
#else
typedef int jp_first_conv_avx512_unused; /* not an x86-64 build: no kernels */
#endif
