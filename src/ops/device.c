/* What every device shares: arenas on a device's memory. */
#include "ops/device.h"

int jp_dev_arena_init(const jp_device *d, jp_arena *a, size_t bytes)
{
    a->size = bytes;
    a->used = 0;
    a->base = NULL;
    if (bytes == 0) return 0;
    a->base = jp_dev_alloc(d, bytes);
    return a->base ? 0 : -1;
}

void jp_dev_arena_free(const jp_device *d, jp_arena *a)
{
    jp_dev_release(d, a->base);
    a->base = NULL;
    a->size = a->used = 0;
}
