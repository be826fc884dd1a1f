/* Run-time choice of jempp's vector kernels (see cpu_isa.h). */
#include "ops/cpu_isa.h"

int jp_cpu_has_width(int vw)
{
#if defined(JEMPP_X86_KERNELS) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (vw == 8) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (vw == 16) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
                         __builtin_cpu_supports("fma");
#endif
    (void)vw;
    return 0;
}

const char *jp_cpu_width_isa(int vw) { return vw == 8 ? "avx2" : vw == 16 ? "avx512" : "none"; }
