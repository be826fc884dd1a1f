/* The safetensors reader's and writer's shared internals (internal header). */
#ifndef JEMPP_IO_SAFETENSORS_INTERNAL_H
#define JEMPP_IO_SAFETENSORS_INTERNAL_H

#include "jempp/safetensors.h"

/* One file as it is (jp_st_read without joining parts). */
jp_status jp_st_read_one(jp_st_file *f, const char *path, jp_error *err);
/* f holds a main file of a save in parts (metadata "jempp.parts"): its tensors become
 * those of its parts, joined (safetensors_parts.c). Errors name the part and what is
 * wrong: unreadable, of another save, pieces that do not continue each other. */
jp_status jp_st_join_parts(jp_st_file *f, jp_error *err);

#endif
