/* TensorBoard event files: what `tensorboard --logdir runs/` reads. A run's trainer
 * writes one per start (and resume) into its run folder; programs may write their own.
 *
 * Format (TensorFlow's): a file of records, each
 *     uint64 length (little-endian), uint32 masked_crc32c(length bytes),
 *     length bytes of data, uint32 masked_crc32c(data),
 * masked_crc32c(b) = ((c >> 15) | (c << 17)) + 0xa282ead8 with c the CRC-32C (Castagnoli)
 * of b. Each record is a serialized tensorflow.Event protocol buffer message:
 *     Event   { double wall_time = 1; int64 step = 2; string file_version = 3;
 *               Summary summary = 5; }
 *     Summary { repeated Value value = 1; }
 *     Value   { string tag = 1; float simple_value = 2; Image image = 4; }
 *     Image   { int32 height = 1; int32 width = 2; int32 colorspace = 3;
 *               bytes encoded_image_string = 4; }
 * The first record is the event with file_version "brain.Event:2". */
#ifndef JEMPP_TFEVENTS_H
#define JEMPP_TFEVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "jempp/core.h"

typedef struct jp_tfevents jp_tfevents;

/* Creates dir/events.out.tfevents.<unix time>.<host>.<pid>.jempp and writes the
 * file_version record; *path_out (may be NULL, len bytes) receives its path. */
jp_status jp_tfevents_open(jp_tfevents **out, const char *dir, char *path_out, size_t len, jp_error *err);
/* One event at `step` holding n scalars (tags[i], values[i]). */
jp_status jp_tfevents_scalars(jp_tfevents *w, int64_t step, int n, const char *const *tags, const double *values,
                              jp_error *err);
/* One event at `step` holding the image of a PNG file (its width, height and colour type
 * read from its header): what the trainer writes for its sample grids. */
jp_status jp_tfevents_png_file(jp_tfevents *w, int64_t step, const char *tag, const char *png_path, jp_error *err);
/* Flushes what was written to the file. */
jp_status jp_tfevents_flush(jp_tfevents *w, jp_error *err);
void jp_tfevents_close(jp_tfevents *w);

/* The CRC-32C (Castagnoli) of n bytes, and TensorFlow's masked form of it. */
uint32_t jp_crc32c(const void *p, size_t n);
uint32_t jp_crc32c_masked(const void *p, size_t n);

#endif
