/* Model checkpoints as safetensors with the PyTorch reference's state_dict names
 * (f.conv1.weight, f.layer1.0.bn1.running_mean, class_output.weight, ...), so a
 * PyTorch state_dict saved as safetensors loads directly and ours loads into PyTorch.
 * Metadata: format=jempp-checkpoint, depth, width, in_channels, image_size, n_classes,
 * norm; a file without it (a PyTorch state_dict) has its model inferred from the
 * tensors (jp_ckpt_config). Training state (optimizer, replay buffer, RNG, position)
 * rides along in the same file under other names (see src/ebm/trainer.c). */
#ifndef JEMPP_CHECKPOINT_H
#define JEMPP_CHECKPOINT_H

#include "jempp/safetensors.h"
#include "jempp/wrn.h"

/* Adds the model's tensors and metadata to w (pointers into the model: save before
 * changing it). */
void jp_ckpt_add_model(jp_st_writer *w, jp_wrn *m);
/* Reads the model configuration from a checkpoint's metadata into cfg (fields not in
 * the file keep their values). JP_ERR_FORMAT naming the file when something is missing
 * or not a number. */
jp_status jp_ckpt_read_config(const jp_st_file *f, jp_wrn_config *cfg, jp_error *err);

/* Where jp_ckpt_config took a checkpoint's model configuration from. */
typedef struct {
    int inferred;          /* 1: no jempp metadata; the architecture was inferred from the tensors */
    const char *size_from; /* image_size from "metadata" or "replay_buffer"; NULL: unknown (0) */
    char arch[160];        /* e.g. "WRN-16-4, 1 input channel, 10 classes, norm batch" */
} jp_ckpt_origin;

/* The model configuration of a checkpoint, into cfg (set to jp_wrn_config_defaults
 * first). A file with jempp metadata (format or depth) is read by jp_ckpt_read_config.
 * Otherwise (a PyTorch state_dict saved as safetensors) the architecture is inferred
 * from the tensors, as tools/convert_reference_ckpt.py does: depth 6n+4 from the n
 * blocks f.layer1.{0..n-1}, width from f.layer1.0.conv1.weight's output channels / 16,
 * in_channels from f.conv1.weight's shape[1], n_classes from class_output.weight's
 * shape[0], norm batch when f.layer1.0.bn1.weight exists (else none), uncond 0; a
 * missing or inconsistent tensor is JP_ERR_FORMAT naming the file and the tensor.
 * image_size: the metadata's when > 0, else the replay_buffer's (N, C, H, H) when the
 * file holds one, else 0: the caller decides (nothing is assumed). origin may be NULL. */
jp_status jp_ckpt_config(const jp_st_file *f, jp_wrn_config *cfg, jp_ckpt_origin *origin, jp_error *err);
/* Loads every model tensor from f after checking names, dtypes and shapes; the error
 * names the tensor and the expected vs found shape. The model is unchanged on error. */
jp_status jp_ckpt_load_model(const jp_st_file *f, jp_wrn *m, jp_error *err);
/* Convenience: read a checkpoint file, build a model of its configuration
 * (jp_ckpt_config) for the given batch size, load it. A file that does not give the
 * image size (no metadata image_size, no replay_buffer) is refused (JP_ERR_FORMAT):
 * build such a model with jp_ckpt_config, a chosen image_size and jp_wrn_create. */
jp_status jp_ckpt_open_model(const char *path, int batch, jp_wrn **out, jp_error *err);

#endif
