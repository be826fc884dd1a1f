#include "jempp/core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define JP_ALIGN 64
#define JP_HUGE_MIN (2u << 20)

void *jp_alloc(size_t bytes)
{
    if (bytes == 0) bytes = JP_ALIGN;
    size_t rounded = (bytes + JP_ALIGN - 1) / JP_ALIGN * JP_ALIGN;
    size_t align = rounded >= JP_HUGE_MIN ? JP_HUGE_MIN : JP_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, align, rounded) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (rounded >= JP_HUGE_MIN) madvise(p, rounded, MADV_HUGEPAGE);
#endif
    memset(p, 0, rounded);
    return p;
}

void jp_free(void *p) { free(p); }

int jp_arena_init(jp_arena *a, size_t bytes)
{
    a->size = bytes;
    a->used = 0;
    a->base = NULL;
    if (bytes == 0) return 0;
    a->base = jp_alloc(bytes);
    return a->base ? 0 : -1;
}

void *jp_arena_take(jp_arena *a, size_t bytes)
{
    size_t rounded = (bytes + JP_ALIGN - 1) / JP_ALIGN * JP_ALIGN;
    size_t at = a->used;
    a->used += rounded;
    if (!a->base) return NULL; /* measuring arena */
    JP_CHECK(a->used <= a->size);
    return a->base + at;
}

void jp_arena_free(jp_arena *a)
{
    jp_free(a->base);
    a->base = NULL;
    a->size = a->used = 0;
}
